"""Conformance cases (migra's FIXTURES, psqldef's YAML tests) and how one case is run.

Loading: :func:`migra_cases` and :func:`psqldef_cases` read the shared fixture directory
(``<repo>/../shared/conformance`` or ``$SCHEMASHIFT_CONFORMANCE_DIR``) into :class:`Case` objects:
``target_sql`` is the current schema, ``source_sql`` the desired one. A case that cannot apply
to us carries a ``skip_reason``, one for some server versions only their range. A missing
directory is an error (:class:`FixturesMissing`), never an empty list.

Running: :func:`run_case` loads both sides into throwaway databases taken from a
:class:`DatabasePool`, runs the engine (introspect, diff, generate), applies the statements to
the target and judges the result with the independent comparison of
:mod:`tests.conformance.snapshot_full` and with a re-diff by the engine. It returns an
:class:`Outcome` (passed / failed with a category / skipped), so that pytest and the report
share one code path. :func:`run_cases` runs many cases concurrently.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from schemashift.consumers.common.targets import TargetPools
from schemashift.consumers.comparator.diff import diff
from schemashift.consumers.comparator.introspect import introspect
from schemashift.consumers.generator.render import generate
from schemashift.schemas.operations import Statement
from tests.conformance.snapshot_full import compare, format_differences, snapshot_connection

REPO_ROOT = Path(__file__).resolve().parents[2]
ENV_DIR = "SCHEMASHIFT_CONFORMANCE_DIR"
MIGRA_ROLE = "schemainspect_test_role"
# What the sqldef tests run as `user: psqldef_user`: a role whose unqualified names land in
# schema foo (cmd/psqldef/psqldef_test.go). We emulate it with a search_path.
PSQLDEF_USER_PRELUDE = "CREATE SCHEMA IF NOT EXISTS foo; SET search_path = foo;\n"


class FixturesMissing(RuntimeError):
    """The shared conformance fixture directory (or a part of it) is not there."""


@dataclass(frozen=True)
class Case:
    """One conformance case: migrate a TARGET built by ``target_sql`` to ``source_sql``."""

    suite: str
    name: str
    target_sql: str
    source_sql: str
    skip_reason: str | None = None
    min_version: tuple[int, ...] | None = None  # the server versions the case is for
    max_version: tuple[int, ...] | None = None
    roles: tuple[str, ...] = ()  # cluster-wide roles the SQL refers to (created beforehand)
    privileges: bool = False  # compare privileges too (the case is about them)

    def version_skip(self, major: int) -> str | None:
        """Why the case does not apply on a server of major version ``major``, if it does not."""
        if self.min_version and self.min_version > (major, 99):
            return f"not applicable: needs PostgreSQL >= {'.'.join(map(str, self.min_version))}"
        if self.max_version and self.max_version < (major,):
            return f"not applicable: needs PostgreSQL <= {'.'.join(map(str, self.max_version))}"
        return None

    @property
    def id(self) -> str:
        """``suite/name``: the pytest id and the key of ``unsupported.UNSUPPORTED``."""
        return f"{self.suite}/{self.name}"


def conformance_dir() -> Path:
    """The shared fixture directory; raises :class:`FixturesMissing` when it does not exist."""
    configured = os.environ.get(ENV_DIR)
    path = Path(configured) if configured else REPO_ROOT.parent / "shared" / "conformance"
    if not path.is_dir():
        where = f"${ENV_DIR} names {path}" if configured else f"nothing at {path}"
        raise FixturesMissing(
            f"conformance fixtures are missing ({where}): set ${ENV_DIR} to the folder that "
            "holds migra/ and sqldef/, or put shared/conformance beside the clone"
        )
    return path


# --- roles -------------------------------------------------------------------------------------

_ROLE_LISTS = (
    re.compile(r"\bGRANT\b(?:(?!;).)*?\bTO\s+(.+?)(?:\bWITH\b|\bGRANTED\b|;|$)", re.I | re.S),
    re.compile(
        r"\bREVOKE\b(?:(?!;).)*?\bFROM\s+(.+?)(?:\bCASCADE\b|\bRESTRICT\b|;|$)", re.I | re.S
    ),
    re.compile(
        r"\bCREATE\s+POLICY\b(?:(?!;).)*?\bTO\s+(.+?)(?:\bUSING\b|\bWITH\b|;|$)", re.I | re.S
    ),
    re.compile(r"\bOWNER\s+TO\s+(\S+?)(?:;|\s|$)", re.I),
    re.compile(r"\bAUTHORIZATION\s+(\S+?)(?:;|\s|$)", re.I),
)
_NOT_ROLES = {"public", "current_user", "session_user", "current_role", "group"}


def referenced_roles(sql: str) -> set[str]:
    """Role names that GRANT/REVOKE/CREATE POLICY/OWNER TO/AUTHORIZATION in ``sql`` refer to."""
    roles: set[str] = set()
    for pattern in _ROLE_LISTS:
        for match in pattern.finditer(sql):
            for item in match.group(1).split(","):
                name = item.strip().removeprefix("GROUP ").strip()
                if name.startswith('"') and name.endswith('"') and len(name) > 1:
                    roles.add(name[1:-1].replace('""', '"'))
                elif (
                    re.fullmatch(r"[A-Za-z_][A-Za-z0-9_$]*", name)
                    and name.lower() not in _NOT_ROLES
                ):
                    roles.add(name.lower())
    return roles


def _is_about_privileges(sql: str) -> bool:
    return re.search(r"\b(GRANT|REVOKE)\b", sql, re.I) is not None


# --- migra -------------------------------------------------------------------------------------


def migra_cases() -> list[Case]:
    """Every folder of ``migra/``: ``a.sql`` (current) → TARGET, ``b.sql`` (desired) → SOURCE."""
    root = conformance_dir() / "migra"
    if not root.is_dir():
        raise FixturesMissing(f"{root} does not exist")
    cases = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        a, b = folder / "a.sql", folder / "b.sql"
        if not (a.exists() and b.exists()):
            continue
        target, source = a.read_text(), b.read_text()
        both = target + "\n" + source
        cases.append(
            Case(
                suite="migra",
                name=folder.name,
                target_sql=target,
                source_sql=source,
                roles=tuple(sorted(referenced_roles(both) | {MIGRA_ROLE})),
                privileges=folder.name == "privileges" or _is_about_privileges(both),
            )
        )
    if not cases:
        raise FixturesMissing(f"{root} holds no case folders")
    return cases


# --- psqldef -----------------------------------------------------------------------------------


def _yaml_scalar(text: str) -> Any:
    """A one-line YAML scalar of the subset the sqldef files use."""
    text = text.strip()
    if text.startswith('"'):
        end = text.rfind('"')
        return json.loads(text[: end + 1])
    if text.startswith("'"):
        end = text.rfind("'")
        return text[1:end].replace("''", "'")
    text = re.sub(r"\s+#.*$", "", text)
    if text in ("true", "false"):
        return text == "true"
    if text in ("null", "~"):
        return None
    if text == "[]":
        return []
    if text == "{}":
        return {}
    return text


def _yaml_nested(lines: list[str]) -> Any:
    """A nested block (a list of scalars, or anything else kept as its raw text)."""
    items = [line.strip() for line in lines if line.strip()]
    if items and all(item.startswith("- ") for item in items):
        return [_yaml_scalar(item[2:]) for item in items]
    return "\n".join(lines)


_TEXT_KEYS = frozenset({"current", "desired", "up", "down", "error"})


def parse_sqldef_yaml(text: str) -> dict[str, dict[str, Any]]:
    """Parse a sqldef test file: ``name:`` at column 0, then two-space-indented keys whose
    values are literal block scalars (``|``, ``|-``, ``|+``), one-line scalars, or nested
    blocks (lists of scalars; other nested mappings are kept as raw text).

    This is the subset those files use (checked against PyYAML); anything else raises
    ``ValueError`` rather than being misread.
    """
    lines = text.splitlines()
    cases: dict[str, dict[str, Any]] = {}
    current: dict[str, Any] | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            i += 1
            continue
        indent = len(line) - len(line.lstrip(" "))
        if indent == 0:
            name = re.sub(r"\s+#.*$", "", line.rstrip())
            if not name.endswith(":"):
                raise ValueError(f"line {i + 1}: expected 'name:', got {line!r}")
            current = cases.setdefault(str(_yaml_scalar(name[:-1])), {})
            i += 1
            continue
        if indent != 2 or current is None:
            raise ValueError(f"line {i + 1}: unexpected indentation: {line!r}")
        key, sep, rest = stripped.partition(":")
        if not sep:
            raise ValueError(f"line {i + 1}: expected 'key: value', got {line!r}")
        rest = rest.strip()
        i += 1
        block: list[str] = []
        while i < len(lines) and (
            not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip(" ")) > 2
        ):
            block.append(lines[i])
            i += 1
        header = re.sub(r"\s+#.*$", "", rest)
        if header in ("|", "|-", "|+"):
            current[key] = _literal_block(block, header)
        elif not header and key in _TEXT_KEYS:  # a multi-line plain scalar: folded
            current[key] = " ".join(b.strip() for b in block if b.strip())
        elif not header:
            while block and not block[-1].strip():
                block.pop()
            current[key] = _yaml_nested(block)
        else:
            if any(b.strip() for b in block):
                raise ValueError(f"line {i}: multi-line plain scalars are not supported")
            current[key] = _yaml_scalar(rest)
    return cases


def _literal_block(block: list[str], header: str) -> str:
    content = [b for b in block if b.strip()]
    if not content:
        return ""
    width = min(len(b) - len(b.lstrip(" ")) for b in content[:1])
    body = [b[width:] if b.strip() else "" for b in block]
    trailing = 0
    while body and body[-1] == "":
        body.pop()
        trailing += 1
    text = "\n".join(body)
    if header == "|-":
        return text
    if header == "|+":
        return text + "\n" * (trailing + 1)
    return text + "\n"


def _version(text: Any) -> tuple[int, ...]:
    return tuple(int(part) for part in str(text).split("."))


def _psqldef_skip(spec: dict[str, Any]) -> str | None:
    """Why a psqldef case does not apply to us on any server (None: it may apply)."""
    if "error" in spec:
        return f"not applicable: sqldef expects a refusal ({spec['error']})"
    if spec.get("offline"):
        return "not applicable: offline-only case (Aurora DSQL dialect)"
    flavor = spec.get("flavor")
    if flavor and not str(flavor).startswith("!"):
        return f"not applicable: needs the {flavor} flavor (extension not installed here)"
    return None


_CREATE_SCHEMA = re.compile(
    r"\bCREATE\s+SCHEMA\s+(?:IF\s+NOT\s+EXISTS\s+)?(?!AUTHORIZATION\b)(\"(?:[^\"]|\"\")+\"|[A-Za-z_][\w$]*)",
    re.I,
)


def _created_schemas(sql: str) -> set[str]:
    """The schemas ``sql`` creates, as written (quoted names keep their quotes)."""
    return {name if name.startswith('"') else name.lower() for name in _CREATE_SCHEMA.findall(sql)}


def psqldef_cases() -> list[Case]:
    """Every case of ``sqldef/psqldef/*.yml``: ``current`` → TARGET, ``desired`` → SOURCE.

    ``enable_drop``, ``manage``, ``config`` and ``legacy_ignore_quotes`` only change what sqldef
    prints; we always converge fully, so they are ignored. psqldef never drops schemas, so
    schemas that ``current`` creates and ``desired`` does not are added to the SOURCE.
    ``managed_roles`` roles are created and the case's privileges compared.
    ``user: psqldef_user`` is emulated by loading both sides with ``search_path = foo`` (what
    the sqldef test harness sets up for that user).
    """
    root = conformance_dir() / "sqldef" / "psqldef"
    files = sorted(root.glob("*.yml")) if root.is_dir() else []
    if not files:
        raise FixturesMissing(f"{root} holds no psqldef test files")
    cases = []
    for path in files:
        for name, spec in parse_sqldef_yaml(path.read_text()).items():
            target, source = spec.get("current") or "", spec.get("desired") or ""
            kept = _created_schemas(target) - _created_schemas(source)
            if kept:  # psqldef never drops schemas: those of `current` stay in the result
                source = "".join(f"CREATE SCHEMA IF NOT EXISTS {s};\n" for s in kept) + source
            if spec.get("user"):
                target, source = PSQLDEF_USER_PRELUDE + target, PSQLDEF_USER_PRELUDE + source
            both = target + "\n" + source
            managed = spec.get("managed_roles")
            managed_roles = {r for r in managed or () if str(r).lower() not in _NOT_ROLES}
            roles = referenced_roles(both) | managed_roles
            cases.append(
                Case(
                    suite="psqldef",
                    name=f"{path.stem}/{name}",
                    target_sql=target,
                    source_sql=source,
                    skip_reason=_psqldef_skip(spec),
                    min_version=_version(spec["min_version"]) if "min_version" in spec else None,
                    max_version=_version(spec["max_version"]) if "max_version" in spec else None,
                    roles=tuple(sorted(roles)),
                    privileges=_is_about_privileges(both) or "managed_roles" in spec,
                )
            )
    return cases


def all_cases() -> list[Case]:
    """The cases of every suite, migra first."""
    return migra_cases() + psqldef_cases()


# --- SQL loading -------------------------------------------------------------------------------

_DOLLAR = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")


def split_sql(sql: str) -> list[str]:
    """Split a script into statements at top-level semicolons (quotes, dollar quotes,
    comments and ``BEGIN ATOMIC ... END`` bodies respected)."""
    statements: list[str] = []
    start = i = 0
    atomic = 0
    n = len(sql)
    while i < n:
        ch = sql[i]
        if ch == "-" and sql.startswith("--", i):
            j = sql.find("\n", i)
            i = n if j < 0 else j + 1
        elif ch == "/" and sql.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if sql.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif sql.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
        elif ch in "'\"":
            backslash = ch == "'" and i > 0 and sql[i - 1] in "eE"
            i += 1
            while i < n:
                if backslash and sql[i] == "\\":
                    i += 2
                    continue
                if sql[i] == ch:
                    if i + 1 < n and sql[i + 1] == ch:
                        i += 2
                        continue
                    break
                i += 1
            i += 1
        elif ch == "$" and (m := _DOLLAR.match(sql, i)) and not (i and sql[i - 1].isalnum()):
            end = sql.find(m.group(0), m.end())
            i = n if end < 0 else end + len(m.group(0))
        elif ch.isalpha() or ch == "_":
            m = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*").match(sql, i)
            assert m is not None
            word = m.group(0).upper()
            if (word == "ATOMIC" and re.search(r"\bBEGIN\s*$", sql[start:i], re.I)) or (
                word in ("CASE", "BEGIN") and atomic
            ):
                atomic += 1
            elif word == "END" and atomic:
                atomic -= 1
            i = m.end()
        elif ch == ";" and not atomic:
            statements.append(sql[start : i + 1])
            i += 1
            start = i
        else:
            i += 1
    statements.append(sql[start:])
    return [s.strip() for s in statements if _has_code(s)]


def _has_code(statement: str) -> bool:
    text = re.sub(r"--[^\n]*", "", statement)
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return bool(text.strip(" \t\r\n;"))


_SESSION = {"statement_timeout": "60000", "lock_timeout": "20000"}
# After a fixture or a script ran on a harness connection: back to a clean session.
_CLEAN_SESSION = "RESET ROLE; SET SESSION AUTHORIZATION DEFAULT; RESET ALL"


class LoadError(Exception):
    """A fixture script does not load."""


async def load_sql(db: Database, sql: str) -> None:
    """Run a fixture script in ``db`` (which must be empty).

    First as one multi-statement batch (one implicit transaction, the fast path); if that
    fails, the database is emptied again and the script run statement by statement in
    autocommit mode, as the tools' own harnesses effectively do (CREATE INDEX CONCURRENTLY,
    enum values used after ``ALTER TYPE ... ADD VALUE``), in rounds: statements that fail are
    retried after the others until a round makes no progress. sqldef reads its files as
    declarations in any order (a foreign key before the table it references), and the rounds
    give that order independence. Raises :class:`LoadError` with the first remaining error.
    """
    if not sql.strip():
        return
    conn = await db.connection()
    try:
        await conn.execute(sql)
        return
    except asyncpg.PostgresError:
        pass
    finally:
        await _clean(conn)
    await db.pool.reset(db)
    conn = await db.connection()
    pending = split_sql(sql)
    try:
        while pending:  # rounds: retry what failed until nothing more succeeds
            failed: list[tuple[str, asyncpg.PostgresError]] = []
            for statement in pending:
                try:
                    await conn.execute(statement)
                except asyncpg.PostgresError as exc:
                    failed.append((statement, exc))
                    await _clean(conn)
            if len(failed) == len(pending):
                exc = failed[0][1]
                raise LoadError(f"{type(exc).__name__}: {exc}") from exc
            pending = [statement for statement, _ in failed]
    finally:
        await _clean(conn)


async def _clean(conn: asyncpg.Connection) -> None:
    if conn.is_in_transaction():  # a script may leave a BEGIN open
        await conn.execute("ROLLBACK")
    await conn.execute(_CLEAN_SESSION)


# --- throwaway databases -----------------------------------------------------------------------

# Empties a database back to what template0 gives (shared with the engine tests).
RESET_SQL = r"""
DO $reset$
DECLARE r record;
BEGIN
  FOR r IN SELECT evtname FROM pg_event_trigger LOOP
    EXECUTE format('DROP EVENT TRIGGER %I CASCADE', r.evtname);
  END LOOP;
  FOR r IN SELECT pubname FROM pg_publication LOOP
    EXECUTE format('DROP PUBLICATION %I', r.pubname);
  END LOOP;
  FOR r IN SELECT extname FROM pg_extension WHERE extname <> 'plpgsql' LOOP
    EXECUTE format('DROP EXTENSION IF EXISTS %I CASCADE', r.extname);
  END LOOP;
  FOR r IN SELECT fdwname FROM pg_foreign_data_wrapper LOOP
    EXECUTE format('DROP FOREIGN DATA WRAPPER IF EXISTS %I CASCADE', r.fdwname);
  END LOOP;
  FOR r IN SELECT nspname FROM pg_namespace
           WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
             AND nspname !~ '^pg_(toast_)?temp_' LOOP
    EXECUTE format('DROP SCHEMA IF EXISTS %I CASCADE', r.nspname);
  END LOOP;
  FOR r IN SELECT castsource::regtype AS s, casttarget::regtype AS t FROM pg_cast
           WHERE oid >= 16384 LOOP
    EXECUTE format('DROP CAST IF EXISTS (%s AS %s) CASCADE', r.s, r.t);
  END LOOP;
  FOR r IN SELECT lanname FROM pg_language WHERE oid >= 16384 AND lanname <> 'plpgsql' LOOP
    EXECUTE format('DROP LANGUAGE IF EXISTS %I CASCADE', r.lanname);
  END LOOP;
END
$reset$;
CREATE SCHEMA public AUTHORIZATION pg_database_owner;
GRANT USAGE ON SCHEMA public TO PUBLIC;
COMMENT ON SCHEMA public IS 'standard public schema';
"""

# Anything left that a database created from template0 would not have (public is recreated,
# temporary schemas are per backend); non-zero means "drop and recreate the database".
_RESIDUE = """
SELECT (SELECT count(*) FROM pg_class WHERE oid >= 16384)
     + (SELECT count(*) FROM pg_type WHERE oid >= 16384)
     + (SELECT count(*) FROM pg_proc WHERE oid >= 16384)
     + (SELECT count(*) FROM pg_namespace WHERE oid >= 16384 AND nspname <> 'public'
          AND nspname !~ '^pg_(toast_)?temp_')
     + (SELECT count(*) FROM pg_extension WHERE extname <> 'plpgsql')
     + (SELECT 1 - count(*) FROM pg_extension WHERE extname = 'plpgsql')
     + (SELECT count(*) FROM pg_event_trigger) + (SELECT count(*) FROM pg_publication)
     + (SELECT count(*) FROM pg_default_acl) + (SELECT count(*) FROM pg_foreign_data_wrapper)
     + (SELECT count(*) FROM pg_foreign_server) + (SELECT count(*) FROM pg_user_mapping)
     + (SELECT count(*) FROM pg_cast WHERE oid >= 16384)
     + (SELECT count(*) FROM pg_language WHERE oid >= 16384)
     + (SELECT count(*) FROM pg_collation WHERE oid >= 16384)
     + (SELECT count(*) FROM pg_operator WHERE oid >= 16384)
     + (SELECT count(*) FROM pg_opfamily WHERE oid >= 16384)
     + (SELECT count(*) FROM pg_am WHERE oid >= 16384)
     + (SELECT count(*) FROM pg_ts_config WHERE oid >= 16384)
     + (SELECT count(*) FROM pg_ts_dict WHERE oid >= 16384)
     + (SELECT count(*) FROM pg_conversion WHERE oid >= 16384)
     + (SELECT count(*) FROM pg_statistic_ext) + (SELECT count(*) FROM pg_transform)
     + (SELECT count(*) FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase
        WHERE d.datname = current_database())
     + (SELECT count(*) FROM pg_shdescription s JOIN pg_database d ON d.oid = s.objoid
        WHERE d.datname = current_database())
     + (SELECT count(*) FROM pg_description WHERE objoid >= 16384 AND objoid NOT IN
          (SELECT oid FROM pg_namespace WHERE nspname = 'public'))
"""


def _with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


@dataclass
class Database:
    """A pooled database: its URL (for the engine) and one warm harness connection.

    The harness connection serves loading, resetting, applying and snapshots: a new backend
    costs ~0.1 s of catalog-cache warm-up per catalog-heavy query batch, a warm one ~5 ms.
    """

    pool: DatabasePool
    name: str
    url: str
    conn: asyncpg.Connection | None = None

    async def connection(self) -> asyncpg.Connection:
        """The harness connection (opened if needed)."""
        if self.conn is None or self.conn.is_closed():
            self.conn = await asyncpg.connect(self.url, server_settings=_SESSION)
        return self.conn

    async def disconnect(self) -> None:
        """Close the harness connection."""
        if self.conn is not None and not self.conn.is_closed():
            await self.conn.close()
        self.conn = None


class DatabasePool:
    """Throwaway databases on one server, reused between cases.

    :meth:`acquire` hands out a database that is empty as if just created from template0:
    user schemas, extensions, event triggers, casts etc. are dropped and ``public`` recreated
    as template0 has it; if anything is still left (:data:`_RESIDUE`), the database is dropped
    and recreated. This costs a few milliseconds instead of ~0.2 s per CREATE/DROP DATABASE.
    """

    def __init__(self, admin_url: str, prefix: str = "ss_conf") -> None:
        self.admin_url = admin_url
        self.prefix = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self._free: list[Database] = []
        self._all: list[Database] = []
        self.recreated = 0
        self._major: int | None = None
        # The engine's own warm-connection pools (what the service uses), for introspect().
        self.engine_pools = TargetPools(max_size=2)

    async def _admin(self, sql: str) -> None:
        conn = await asyncpg.connect(self.admin_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    async def server_major(self) -> int:
        """The server's major version (e.g. 15)."""
        if self._major is None:
            conn = await asyncpg.connect(self.admin_url)
            try:
                self._major = int(await conn.fetchval("SHOW server_version_num")) // 10000
            finally:
                await conn.close()
        return self._major

    async def _recreate(self, db: Database, *, drop: bool) -> None:
        await db.disconnect()
        if drop:
            await self._admin(f'DROP DATABASE IF EXISTS "{db.name}" WITH (FORCE)')
        await self._admin(f'CREATE DATABASE "{db.name}" TEMPLATE template0')

    async def acquire(self) -> Database:
        """An empty database for the caller's exclusive use until :meth:`release`."""
        if self._free:
            db = self._free.pop()
        else:
            name = f"{self.prefix}_{len(self._all)}"
            db = Database(self, name, _with_database(self.admin_url, name))
            self._all.append(db)
            await self._recreate(db, drop=False)
        await self.reset(db)
        return db

    async def reset(self, db: Database) -> None:
        """Empty ``db`` (see the class docstring)."""
        if await self._try_reset(db):
            return
        self.recreated += 1
        await self._recreate(db, drop=True)
        if not await self._try_reset(db):
            raise RuntimeError(f"database {db.name} is not empty even after re-creation")

    async def _try_reset(self, db: Database) -> bool:
        try:
            conn = await db.connection()
            await _clean(conn)
            await conn.execute(RESET_SQL)
            return bool(await conn.fetchval(_RESIDUE) == 0)
        except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError):
            await db.disconnect()
            return False

    def release(self, db: Database) -> None:
        """Give a database back (it is emptied when next acquired)."""
        self._free.append(db)

    async def close(self) -> None:
        """Drop every database of the pool."""
        await self.engine_pools.close()
        for db in self._all:
            await db.disconnect()
            await self._admin(f'DROP DATABASE IF EXISTS "{db.name}" WITH (FORCE)')
        self._all.clear()
        self._free.clear()


_created_roles: set[str] = set()


async def ensure_roles(admin_url: str, roles: Iterable[str]) -> None:
    """Create the (NOLOGIN) roles that are missing, cluster-wide and idempotently."""
    missing = sorted(set(roles) - _created_roles)
    if not missing:
        return
    conn = await asyncpg.connect(admin_url)
    try:
        for role in missing:
            quoted = '"' + role.replace('"', '""') + '"'
            await conn.execute(
                f"DO $r$ BEGIN CREATE ROLE {quoted} NOLOGIN; "
                "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $r$"
            )
            _created_roles.add(role)
    finally:
        await conn.close()


# --- running a case ----------------------------------------------------------------------------


@dataclass
class Outcome:
    """The result of one case: ``status`` is passed, failed or skipped."""

    case: Case
    status: str
    category: str = ""  # e.g. "not converged: functions", "apply error: ...", "fixture: ..."
    detail: str = ""
    seconds: float = 0.0
    statements: list[str] = field(default_factory=list)

    @property
    def message(self) -> str:
        """Category and detail, for assertion and skip messages."""
        return f"{self.category}\n{self.detail}".strip()


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class ApplyError(Exception):
    """A generated statement failed on the target."""

    def __init__(self, statement: Statement, error: asyncpg.PostgresError) -> None:
        super().__init__(f"{statement.sql!r} failed: {type(error).__name__}: {error}")
        self.statement = statement
        self.error = error


async def apply_statements(conn: asyncpg.Connection, statements: list[Statement]) -> None:
    """Apply a script as the harness brief says: every transactional statement in one
    transaction, then the non-transactional ones one by one (autocommit).

    Raises :class:`ApplyError` naming the failing statement.
    """
    try:
        transactional = [s for s in statements if s.transactional]
        if transactional:
            async with conn.transaction():
                for statement in transactional:
                    await _execute(conn, statement)
        for statement in statements:
            if not statement.transactional:
                await _execute(conn, statement)
    finally:
        await _clean(conn)


async def _execute(conn: asyncpg.Connection, statement: Statement) -> None:
    try:
        await conn.execute(statement.sql)
    except asyncpg.PostgresError as exc:
        raise ApplyError(statement, exc) from exc


async def run_case(case: Case, pool: DatabasePool) -> Outcome:
    """Run one case end to end and judge it (see the module docstring)."""
    started = time.monotonic()
    outcome = await _run(case, pool)
    outcome.seconds = time.monotonic() - started
    return outcome


async def _run(case: Case, pool: DatabasePool) -> Outcome:
    major = await pool.server_major()
    reason = case.skip_reason or case.version_skip(major)
    if reason:
        return Outcome(case, "skipped", reason)
    await ensure_roles(pool.admin_url, case.roles)
    taken: list[Database] = []
    try:
        for side, sql in (("target", case.target_sql), ("source", case.source_sql)):
            db = await pool.acquire()
            taken.append(db)
            try:
                await load_sql(db, sql)
            except LoadError as exc:
                detail = f"{side} SQL fails on PostgreSQL {major}: {exc}"
                return Outcome(case, "skipped", f"fixture: SQL fails to load on PG {major}", detail)
        target, source = taken
        return await _judge(case, source, target)
    finally:
        for db in taken:
            pool.release(db)


class _EngineFailure(Exception):
    def __init__(self, category: str, detail: str) -> None:
        super().__init__(category)
        self.category, self.detail = category, detail


async def _stage(name: str, call: Callable[[], Any]) -> Any:
    """Run an engine stage; an exception becomes an :class:`_EngineFailure`."""
    try:
        result = call()
        if asyncio.iscoroutine(result):
            result = await result
        return result
    except Exception as exc:
        raise _EngineFailure(
            f"engine error ({name}): {type(exc).__name__}", _one_line(f"{exc}", 600)
        ) from exc


async def _judge(case: Case, source_db: Database, target_db: Database) -> Outcome:
    pools = source_db.pool.engine_pools
    try:
        source = await _stage("introspect", lambda: introspect(source_db.url, pools=pools))
        target = await _stage("introspect", lambda: introspect(target_db.url, pools=pools))
        ops = await _stage("diff", lambda: diff(source, target, privileges=case.privileges))
        script = await _stage("generate", lambda: generate(ops))
    except _EngineFailure as failure:
        return Outcome(case, "failed", failure.category, failure.detail)
    sqls = [s.sql for s in script.statements]
    try:
        await apply_statements(await target_db.connection(), script.statements)
    except ApplyError as exc:
        category = f"apply error: {type(exc.error).__name__} ({exc.statement.kind})"
        return Outcome(case, "failed", category, _one_line(str(exc), 600), statements=sqls)
    differences = compare(
        await snapshot_connection(await source_db.connection(), privileges=case.privileges),
        await snapshot_connection(await target_db.connection(), privileges=case.privileges),
    )
    try:
        after = await _stage("re-introspect", lambda: introspect(target_db.url, pools=pools))
        leftover = await _stage("re-diff", lambda: diff(source, after, privileges=case.privileges))
    except _EngineFailure as failure:
        return Outcome(case, "failed", failure.category, failure.detail, statements=sqls)
    labels = sorted({op.label for op in leftover})
    if differences:
        kinds = "+".join(differences)
        seen = "engine sees no difference" if not leftover else "re-diff: " + ",".join(labels)
        return Outcome(
            case,
            "failed",
            f"not converged: {kinds}",
            f"({seen})\n{format_differences(differences, limit=4)}",
            statements=sqls,
        )
    if leftover:
        return Outcome(
            case,
            "failed",
            "re-diff not empty: " + ",".join(labels),
            "; ".join(f"{op.label} {op.qualified_name}" for op in leftover[:8]),
            statements=sqls,
        )
    return Outcome(case, "passed", statements=sqls)


async def run_cases(
    cases: Iterable[Case],
    admin_url: str,
    *,
    concurrency: int = 6,
    progress: Callable[[Outcome], None] | None = None,
    stats: dict[str, int] | None = None,
) -> list[Outcome]:
    """Run the cases ``concurrency`` at a time on one pool; outcomes in the cases' order.

    ``stats``, if given, receives the pool's counters (``databases``, ``recreated``).
    """
    pool = DatabasePool(admin_url)
    semaphore = asyncio.Semaphore(concurrency)

    async def one(case: Case) -> Outcome:
        async with semaphore:
            try:
                outcome = await run_case(case, pool)
            except Exception as exc:  # the harness itself, not the engine: still report it
                outcome = Outcome(
                    case, "failed", f"harness error: {type(exc).__name__}", _one_line(str(exc))
                )
        if progress:
            progress(outcome)
        return outcome

    try:
        return list(await asyncio.gather(*(one(case) for case in cases)))
    finally:
        if stats is not None:
            stats.update(databases=len(pool._all), recreated=pool.recreated)
        await pool.close()

"""The engine's round trip on a real MySQL or MariaDB server, and an independent snapshot.

Two throwaway databases (``ss_my_<hex>_src`` and ``_tgt``) on the server of
``SCHEMASHIFT_MARIADB_URL``: load DDL into both, diff, generate, apply the script through the
executor's apply path (lock, history, statement by statement), then compare both databases by
:func:`snapshot`, plain ``information_schema`` queries written apart from the engine's
introspector, and diff again: nothing may be left.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiomysql
import pytest

from schemashift.consumers.common.drivers.mysql import DRIVER, parse_url
from schemashift.consumers.comparator.diff import diff
from schemashift.consumers.comparator.introspect.mysql import introspect_connection
from schemashift.consumers.executor.apply import Applied, apply_script
from schemashift.consumers.executor.mysql import ADAPTER
from schemashift.consumers.generator.render import generate
from schemashift.schemas.catalog import Catalog
from schemashift.schemas.dialects import Dialect
from schemashift.schemas.operations import Script, Statement
from schemashift.schemas.reserved import MYSQL_HISTORY_TABLE
from tests.support.infra import infra_env, with_database

URL_ENV = "SCHEMASHIFT_MARIADB_URL"


def server_url() -> str:
    """The MariaDB server's URL; skips the test when it is not set (fails under ``CI=true``)."""
    url = infra_env().get(URL_ENV)
    if url:
        return url
    message = f"{URL_ENV} is not set: start the MariaDB server (`schemashift infra up`)"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message)
    pytest.skip(message)


def split_statements(sql: str) -> list[str]:
    """``sql`` cut at the semicolons outside quotes and comments (no DELIMITER support)."""
    statements, current, i = [], [], 0
    while i < len(sql):
        ch = sql[i]
        if ch in "'\"`":
            j = i + 1
            while j < len(sql):
                if sql[j] == "\\" and ch != "`":
                    j += 2
                    continue
                if sql[j] == ch:
                    if sql[j + 1 : j + 2] == ch:
                        j += 2
                        continue
                    break
                j += 1
            current.append(sql[i : j + 1])
            i = j + 1
            continue
        if sql.startswith("--", i) or ch == "#":
            end = sql.find("\n", i)
            i = len(sql) if end < 0 else end
            continue
        if sql.startswith("/*", i) and not sql.startswith("/*!", i):
            end = sql.find("*/", i + 2)
            i = len(sql) if end < 0 else end + 2
            continue
        if ch == ";" and not _in_compound("".join(current)):
            statements.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
        i += 1
    statements.append("".join(current).strip())
    return [s for s in statements if s]


def _in_compound(text: str) -> bool:
    """Whether ``text`` (a statement so far) is inside a trigger's or routine's BEGIN ... END."""
    if not re.match(r"\s*CREATE\b[^;]*?\b(TRIGGER|PROCEDURE|FUNCTION|EVENT)\b", text, re.I | re.S):
        return False
    depth = len(re.findall(r"\bBEGIN\b", text, re.I))
    depth -= len(re.findall(r"\bEND\b(?!\s+(IF|LOOP|REPEAT|WHILE|CASE)\b)", text, re.I))
    return depth > 0


async def execute(conn: Any, sql: str) -> None:
    """Run each statement of ``sql``."""
    async with conn.cursor() as cur:
        for statement in split_statements(sql):
            await cur.execute(statement)


async def rows(conn: Any, sql: str, *args: Any) -> list[dict[str, Any]]:
    async with conn.cursor(aiomysql.DictCursor) as cur:
        await cur.execute(sql, args or None)
        return list(await cur.fetchall())


def _norm_rule(rule: str) -> str:
    return "RESTRICT" if rule == "NO ACTION" else rule


async def snapshot(conn: Any) -> dict[str, Any]:
    """The schema of ``conn``'s database as plain data, from information_schema alone: tables
    with their options, columns (by name), the columns ``SELECT *`` returns, indexes,
    constraints, foreign keys and checks; views, triggers (with their ACTION_ORDER), routines
    and their parameters, and events (:func:`_events`).
    ``NO ACTION`` counts as ``RESTRICT`` (InnoDB treats them alike)."""
    db = (await rows(conn, "SELECT DATABASE() AS db"))[0]["db"]
    out: dict[str, Any] = {}
    for t in await rows(
        conn,
        "SELECT TABLE_NAME, ENGINE, TABLE_COLLATION, CREATE_OPTIONS, TABLE_COMMENT "
        "FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_TYPE = 'BASE TABLE'",
        db,
    ):
        if t["TABLE_NAME"] != MYSQL_HISTORY_TABLE:
            out[t["TABLE_NAME"]] = {
                "options": (t["ENGINE"], t["TABLE_COLLATION"], t["CREATE_OPTIONS"]),
                "comment": t["TABLE_COMMENT"],
                "columns": {},
                "indexes": {},
                "constraints": {},
                "foreign_keys": {},
                "checks": {},
            }
    for c in await rows(
        conn, "SELECT * FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s", db
    ):
        if c["TABLE_NAME"] in out:
            out[c["TABLE_NAME"]]["columns"][c["COLUMN_NAME"]] = tuple(
                str(c.get(k))
                for k in (
                    "COLUMN_TYPE",
                    "IS_NULLABLE",
                    "COLUMN_DEFAULT",
                    "EXTRA",
                    "CHARACTER_SET_NAME",
                    "COLLATION_NAME",
                    "COLUMN_COMMENT",
                    "GENERATION_EXPRESSION",
                )
            )
    for name, table in out.items():
        # Visibility seen as a query sees it, apart from EXTRA's INVISIBLE.
        async with conn.cursor() as cur:
            await cur.execute("SELECT * FROM `{}` LIMIT 0".format(name.replace("`", "``")))
            table["visible"] = sorted(d[0] for d in cur.description)
    for s in await rows(
        conn,
        "SELECT * FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = %s "
        "ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX",
        db,
    ):
        if s["TABLE_NAME"] in out:
            index = out[s["TABLE_NAME"]]["indexes"].setdefault(
                s["INDEX_NAME"],
                {
                    "non_unique": int(s["NON_UNIQUE"]),
                    "type": s["INDEX_TYPE"],
                    "comment": s.get("INDEX_COMMENT"),
                    "ignored": s.get("IGNORED"),
                    "parts": [],
                },
            )
            index["parts"].append((s["COLUMN_NAME"], s["SUB_PART"], s["COLLATION"]))
    for c in await rows(
        conn, "SELECT * FROM information_schema.TABLE_CONSTRAINTS WHERE TABLE_SCHEMA = %s", db
    ):
        if c["TABLE_NAME"] in out:
            out[c["TABLE_NAME"]]["constraints"][c["CONSTRAINT_NAME"]] = c["CONSTRAINT_TYPE"]
    refs = {
        (r["TABLE_NAME"], r["CONSTRAINT_NAME"]): r
        for r in await rows(
            conn,
            "SELECT * FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = %s",
            db,
        )
    }
    for k in await rows(
        conn,
        "SELECT * FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = %s "
        "AND REFERENCED_TABLE_NAME IS NOT NULL ORDER BY CONSTRAINT_NAME, ORDINAL_POSITION",
        db,
    ):
        if k["TABLE_NAME"] in out:
            rule = refs[(k["TABLE_NAME"], k["CONSTRAINT_NAME"])]
            fk = out[k["TABLE_NAME"]]["foreign_keys"].setdefault(
                k["CONSTRAINT_NAME"],
                {
                    "ref": k["REFERENCED_TABLE_NAME"],
                    "on_update": _norm_rule(rule["UPDATE_RULE"]),
                    "on_delete": _norm_rule(rule["DELETE_RULE"]),
                    "columns": [],
                },
            )
            fk["columns"].append((k["COLUMN_NAME"], k["REFERENCED_COLUMN_NAME"]))
    for c in await rows(
        conn, "SELECT * FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = %s", db
    ):
        if c.get("TABLE_NAME") in out:
            out[c["TABLE_NAME"]]["checks"][c["CONSTRAINT_NAME"]] = c["CHECK_CLAUSE"]
    for part in await rows(
        conn,
        "SELECT * FROM information_schema.PARTITIONS WHERE TABLE_SCHEMA = %s "
        "AND PARTITION_NAME IS NOT NULL ORDER BY TABLE_NAME, PARTITION_ORDINAL_POSITION",
        db,
    ):
        if part["TABLE_NAME"] in out:
            out[part["TABLE_NAME"]].setdefault("partitions", []).append(
                tuple(
                    str(part[k])
                    for k in (
                        "PARTITION_NAME",
                        "PARTITION_METHOD",
                        "PARTITION_EXPRESSION",
                        "PARTITION_DESCRIPTION",
                        "SUBPARTITION_METHOD",
                        "SUBPARTITION_EXPRESSION",
                    )
                )
            )
    # Views without the database's name (it differs between source and target) and definer.
    for v in await rows(conn, "SELECT * FROM information_schema.VIEWS WHERE TABLE_SCHEMA = %s", db):
        out[("view", v["TABLE_NAME"])] = (
            v["VIEW_DEFINITION"].replace(f"`{db}`.", ""),
            v["CHECK_OPTION"],
            v["SECURITY_TYPE"],
            v.get("ALGORITHM"),
        )
    for t in await rows(
        conn, "SELECT * FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = %s", db
    ):
        out[("trigger", t["TRIGGER_NAME"])] = tuple(
            str(t[k])
            for k in (
                "EVENT_OBJECT_TABLE",
                "ACTION_TIMING",
                "EVENT_MANIPULATION",
                "ACTION_ORDER",
                "ACTION_STATEMENT",
            )
        )
    # Routines without the definer (who created them) and the database's name in their body.
    for r in await rows(
        conn, "SELECT * FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = %s", db
    ):
        out[(r["ROUTINE_TYPE"].lower(), r["ROUTINE_NAME"])] = tuple(
            str(r[k]).replace(f"`{db}`.", "")
            for k in (
                "ROUTINE_DEFINITION",
                "DTD_IDENTIFIER",
                "CHARACTER_SET_NAME",
                "COLLATION_NAME",
                "IS_DETERMINISTIC",
                "SQL_DATA_ACCESS",
                "SECURITY_TYPE",
                "ROUTINE_COMMENT",
            )
        )
    for p in await rows(
        conn,
        "SELECT * FROM information_schema.PARAMETERS WHERE SPECIFIC_SCHEMA = %s "
        "ORDER BY ORDINAL_POSITION",
        db,
    ):
        routine = (p["ROUTINE_TYPE"].lower(), p["SPECIFIC_NAME"])
        out.setdefault(("parameters", *routine), []).append(
            tuple(
                str(p[k])
                for k in (
                    "PARAMETER_MODE",
                    "PARAMETER_NAME",
                    "DTD_IDENTIFIER",
                    "CHARACTER_SET_NAME",
                    "COLLATION_NAME",
                )
            )
        )
    out.update(await _events(conn, db))
    return out


async def _events(conn: Any, db: str) -> dict[Any, Any]:
    """Each event's type, times in UTC (STARTS only when it is neither the creation nor the
    last change, the server's default), interval, state, completion, comment and body (without
    the database's name); not its definer."""
    events = await rows(
        conn,
        "SELECT EVENT_NAME, EVENT_TYPE, INTERVAL_VALUE, INTERVAL_FIELD, STATUS, ON_COMPLETION, "
        "EVENT_COMMENT, EVENT_DEFINITION, "
        "CONVERT_TZ(EXECUTE_AT, TIME_ZONE, '+00:00') AS at_utc, "
        "CONVERT_TZ(ENDS, TIME_ZONE, '+00:00') AS ends_utc, "
        "CASE WHEN CONVERT_TZ(STARTS, TIME_ZONE, '+00:00') IN ("
        "CONVERT_TZ(CREATED, @@session.time_zone, '+00:00'), "
        "CONVERT_TZ(LAST_ALTERED, @@session.time_zone, '+00:00')) THEN NULL "
        "ELSE CONVERT_TZ(STARTS, TIME_ZONE, '+00:00') END AS starts_utc "
        "FROM information_schema.EVENTS WHERE EVENT_SCHEMA = %s",
        db,
    )
    return {
        ("event", e["EVENT_NAME"]): tuple(
            str(e[k]).replace(f"`{db}`.", "")
            for k in (
                "EVENT_TYPE",
                "at_utc",
                "INTERVAL_VALUE",
                "INTERVAL_FIELD",
                "starts_utc",
                "ends_utc",
                "STATUS",
                "ON_COMPLETION",
                "EVENT_COMMENT",
                "EVENT_DEFINITION",
            )
        )
        for e in events
    }


@dataclass
class MyPair:
    """A source and a target database with one connection each."""

    server: str = field(repr=False)  # its URL holds the password
    names: tuple[str, str]
    source: Any
    target: Any

    @property
    def source_url(self) -> str:
        return with_database(self.server, self.names[0])

    @property
    def target_url(self) -> str:
        return with_database(self.server, self.names[1])

    async def reset(self) -> None:
        """Both databases empty."""
        for conn, name in ((self.source, self.names[0]), (self.target, self.names[1])):
            await execute(conn, f"DROP DATABASE IF EXISTS `{name}`; CREATE DATABASE `{name}`")
            await conn.select_db(name)

    async def load(self, source_sql: str, target_sql: str) -> tuple[Catalog, Catalog]:
        """Empty both databases, run the DDL in them, introspect them."""
        await self.reset()
        await execute(self.source, source_sql)
        await execute(self.target, target_sql)
        return await introspect_connection(self.source), await introspect_connection(self.target)


@contextlib.asynccontextmanager
async def open_pair(server: str) -> AsyncIterator[MyPair]:
    """Two new databases on ``server``, dropped on exit."""
    hexa = uuid.uuid4().hex[:12]
    names = (f"ss_my_{hexa}_src", f"ss_my_{hexa}_tgt")
    async with DRIVER.connect(server, timeout=10) as admin:
        await execute(admin, "; ".join(f"CREATE DATABASE `{n}`" for n in names))
    async with (
        DRIVER.connect(with_database(server, names[0]), timeout=10) as source,
        DRIVER.connect(with_database(server, names[1]), timeout=10) as target,
    ):
        try:
            yield MyPair(server, names, source, target)
        finally:
            await execute(source, "; ".join(f"DROP DATABASE IF EXISTS `{n}`" for n in names))


async def apply(conn: Any, statements: list[Statement], migration_id: uuid.UUID | None = None):
    """Run ``statements`` through the executor's apply path; returns its result."""

    async def fingerprint() -> str:
        return (await introspect_connection(conn)).fingerprint()

    async def progress(index: int, total: int, sql: str, ms: float) -> None:
        return None

    return await apply_script(
        ADAPTER,
        conn,
        migration_id or uuid.uuid4(),
        statements,
        "checksum-" + str(len(statements)),
        expected_fingerprint=None,
        fingerprint=fingerprint,
        on_progress=progress,
    )


async def assert_converged(pair: MyPair) -> None:
    """Both databases have the same snapshot, and the engine sees no difference left."""
    source, target = await snapshot(pair.source), await snapshot(pair.target)
    assert target == source
    left = diff(await introspect_connection(pair.source), await introspect_connection(pair.target))
    assert left == [], [f"{o.label} {o.qualified_name}" for o in left]


async def migrate(
    pair: MyPair, source_sql: str, target_sql: str, *, reverse: bool = True
) -> Script:
    """Migrate TARGET to SOURCE and check convergence; then undo it with the reverse script
    and check that the target is back where it was. Returns the script."""
    source, target = await pair.load(source_sql, target_sql)
    before = await snapshot(pair.target)
    ops = diff(source, target)
    assert ops, "the schemas differ, so there must be operations"
    script = generate(ops, Dialect.MYSQL)
    result = await apply(pair.target, script.statements)
    assert isinstance(result, Applied), (result, script.sql())
    await assert_converged(pair)
    if reverse:
        result = await apply(pair.target, script.reverse_statements)
        assert isinstance(result, Applied), (result, script.sql(reverse=True))
        assert await snapshot(pair.target) == before, script.sql(reverse=True)
    return script


def sql_of(script: Script) -> str:
    """The forward statements' SQL, one per line (whitespace collapsed), for assertions."""
    return "\n".join(re.sub(r"\s+", " ", s.sql) for s in script.statements)


async def run_client(url: str, script: str, *options: str) -> tuple[int, str]:
    """Feed ``script`` to the ``mariadb`` client on the database of ``url``; the password goes
    in a defaults file only the test can read, never on the command line."""
    client = shutil.which("mariadb") or shutil.which("mysql")
    if client is None:
        pytest.skip("no mariadb or mysql client on this machine")
    address = parse_url(url)
    with tempfile.NamedTemporaryFile("w", suffix=".cnf") as defaults:
        os.chmod(defaults.name, 0o600)
        defaults.write(
            f"[client]\nhost={address.host}\nport={address.port}\nuser={address.user}\n"
            f"password={address.password}\n"
        )
        defaults.flush()
        process = await asyncio.create_subprocess_exec(
            client,
            f"--defaults-file={defaults.name}",
            *options,
            address.database,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await process.communicate(script.encode())
    return process.returncode or 0, err.decode()

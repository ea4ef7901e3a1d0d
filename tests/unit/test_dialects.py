"""The dialect registry: each dialect's driver, introspector and executor adapter, found by name.

Everything here runs without a database or a broker; the PostgreSQL adapter against a real
server is tested in tests/executor/postgres/test_adapter.py.
"""

from __future__ import annotations

import ast
import re
import uuid
from contextlib import asynccontextmanager
from typing import Any

import pytest

from schemashift.consumers.common import connections
from schemashift.consumers.common.deadletter import _is_infrastructure_error
from schemashift.consumers.common.drivers import (
    DRIVERS,
    AuthenticationFailed,
    IntrospectionError,
    Unreachable,
    UnsupportedDialect,
    driver_for_dialect,
    driver_for_url,
    supported_schemes,
)
from schemashift.consumers.common.drivers.mysql import MysqlDriver, parse_url
from schemashift.consumers.common.drivers.postgres import PostgresDriver
from schemashift.consumers.common.drivers.sqlite import SQLiteDriver
from schemashift.consumers.comparator import introspect as introspect_module
from schemashift.consumers.comparator.rules import RULES as VERSION_RULES
from schemashift.consumers.executor.adapters import DatabaseError, ExecutorAdapter, HistoryRecord
from schemashift.consumers.executor.apply import (
    Applied,
    Failed,
    apply_script,
    connection_failure,
    segments,
)
from schemashift.consumers.executor.mysql import MysqlExecutor
from schemashift.consumers.executor.postgres import PostgresExecutor
from schemashift.consumers.executor.registry import ADAPTERS, adapter_for
from schemashift.consumers.generator.render import RENDERERS
from schemashift.schemas.catalog import Catalog
from schemashift.schemas.dialects import Dialect
from schemashift.schemas.operations import Statement
from tests.support.infra import REPO_ROOT

# --- registry lookups ---------------------------------------------------------------------


def test_every_dialect_is_registered_at_every_stage():
    for dialect in Dialect:
        assert DRIVERS[dialect].dialect is dialect
        assert dialect in introspect_module.INTROSPECTORS
        assert VERSION_RULES[dialect].dialect is dialect
        assert RENDERERS[dialect].dialect is dialect
        assert ADAPTERS[dialect].dialect is dialect


def test_drivers_are_found_by_url_scheme():
    assert supported_schemes() == {
        "postgres": Dialect.POSTGRESQL,
        "postgresql": Dialect.POSTGRESQL,
        "sqlite": Dialect.SQLITE,
        "mysql": Dialect.MYSQL,
        "mariadb": Dialect.MYSQL,
    }
    for url in ("postgresql://u:pw@h/db", "postgres://h/db", "PostgreSQL://h/db"):
        assert isinstance(driver_for_url(url), PostgresDriver)
    assert isinstance(driver_for_url("sqlite:///srv/app.db"), SQLiteDriver)
    for url in ("mysql://u:pw@h/db", "mariadb://h:3307/db", "MariaDB://h/db"):
        assert isinstance(driver_for_url(url), MysqlDriver)


def test_registered_connections_accept_the_schemes_of_the_registered_drivers():
    assert connections.SUPPORTED_SCHEMES == {
        "postgres": "postgresql",
        "postgresql": "postgresql",
        "sqlite": "sqlite",
        "mysql": "mysql",
        "mariadb": "mysql",
    }
    assert connections.dialect_of("postgres://u:pw@h/db") == "postgresql"
    assert connections.dialect_of("sqlite:///srv/app.db") == "sqlite"
    assert connections.dialect_of("mariadb://u:pw@h/db") == "mysql"
    with pytest.raises(ValueError, match="unsupported URL scheme 'oracle'; supported: mariadb, "):
        connections.dialect_of("oracle://u:pw@h/db")


def test_an_unknown_scheme_is_named_without_the_password():
    with pytest.raises(UnsupportedDialect) as info:
        driver_for_url("oracle://root:hunter2@localhost/db?password=hunter3")
    assert "'oracle'" in info.value.reason
    assert "oracle://root:***@localhost/db" in info.value.reason
    assert "hunter2" not in str(info.value) and "hunter3" not in str(info.value)


async def test_introspect_refuses_an_unknown_scheme_before_connecting():
    with pytest.raises(UnsupportedDialect, match="unsupported database URL scheme 'oracle'"):
        await introspect_module.introspect("oracle://scott:tiger@h/db")


def test_drivers_and_adapters_are_found_by_dialect():
    assert isinstance(driver_for_dialect(Dialect.POSTGRESQL), PostgresDriver)
    assert isinstance(driver_for_dialect("postgresql"), PostgresDriver)
    with pytest.raises(UnsupportedDialect, match="oracle"):
        driver_for_dialect("oracle")
    assert isinstance(adapter_for(Dialect.POSTGRESQL), PostgresExecutor)
    assert isinstance(driver_for_dialect("mysql"), MysqlDriver)
    assert isinstance(adapter_for(Dialect.MYSQL), MysqlExecutor)
    assert adapter_for("oracle") is None


def test_dialect_values_keep_the_json_of_catalogs():
    assert Catalog().model_dump(mode="json")["dialect"] == "postgresql"
    assert Catalog.model_validate({"dialect": "postgresql"}).dialect is Dialect.POSTGRESQL
    assert Catalog().fingerprint() == Catalog.trusted(dialect=Dialect.POSTGRESQL).fingerprint()


def test_introspection_errors_stay_importable_from_the_introspect_package():
    assert introspect_module.IntrospectionError is IntrospectionError
    assert introspect_module.Unreachable is Unreachable
    assert introspect_module.AuthenticationFailed is AuthenticationFailed
    assert introspect_module.UnsupportedDialect is UnsupportedDialect


# --- the PostgreSQL driver's error translation --------------------------------------------

URL = "postgresql://app:S3cret%21pw@db.example:5432/app"


def test_postgres_driver_translates_errors_with_the_password_redacted():
    import asyncpg

    driver = PostgresDriver()
    auth = driver.translate_error(
        asyncpg.InvalidPasswordError('password authentication failed for "app" S3cret!pw'), URL
    )
    assert isinstance(auth, AuthenticationFailed)
    assert auth.reason.startswith("authentication failed for postgresql://app:***@db.example")
    refused = driver.translate_error(ConnectionRefusedError(111, f"refused\n{URL}"), URL)
    assert isinstance(refused, Unreachable)
    assert "\n" not in refused.reason and "S3cret" not in refused.reason
    assert isinstance(driver.translate_error(TimeoutError(), URL), Unreachable)
    other = driver.translate_error(asyncpg.PostgresError("boom"), URL)
    assert type(other) is IntrospectionError
    assert (
        other.reason == "cannot read the schema of postgresql://app:***@db.example:5432/app: boom"
    )
    assert driver.translate_error(ValueError("not a database error"), URL) is None


def test_lost_connections_count_as_infrastructure_errors():
    import asyncpg

    assert PostgresDriver().is_connection_lost(asyncpg.exceptions.ConnectionDoesNotExistError())
    assert _is_infrastructure_error(asyncpg.exceptions.ConnectionDoesNotExistError())
    assert not _is_infrastructure_error(asyncpg.exceptions.UniqueViolationError())


# --- the PostgreSQL executor adapter's classifications ------------------------------------


def test_postgres_adapter_classifies_transient_sqlstates():
    adapter = PostgresExecutor()
    for sqlstate in ("40001", "40P01", "55P03", "57P01", "53300", "08006", "08001"):
        assert adapter.is_transient(sqlstate), sqlstate
    for sqlstate in ("42601", "23505", "42P07", "", None):
        assert not adapter.is_transient(sqlstate), sqlstate


def test_postgres_adapter_reads_connection_failures():
    import asyncpg

    adapter = PostgresExecutor()
    assert adapter.connection_error(OSError("refused")) == DatabaseError("08006", "refused")
    assert adapter.connection_error(Unreachable("cannot reach x")).sqlstate == "08006"
    assert adapter.connection_error(AuthenticationFailed("bad pw")) == DatabaseError(None, "bad pw")
    assert adapter.connection_error(asyncpg.InterfaceError("closed")).sqlstate == "08006"
    lock = asyncpg.exceptions.LockNotAvailableError("canceling statement due to lock timeout")
    assert adapter.connection_error(lock).sqlstate == "55P03"
    assert adapter.connection_error(ValueError("x")) is None
    failed = connection_failure(adapter, adapter.connection_error(OSError(URL)), URL)
    assert failed == Failed(
        reason="cannot reach the target: postgresql://app:***@db.example:5432/app",
        sqlstate="08006",
        transient=True,
    )


def test_postgres_adapter_reads_statement_errors():
    import asyncpg

    adapter = PostgresExecutor()
    error = adapter.database_error(asyncpg.exceptions.DuplicateTableError('relation "t" exists '))
    assert error == DatabaseError("42P07", 'relation "t" exists')
    assert adapter.database_error(OSError("x")) is None


# --- the dialect-neutral apply loop, with a recording adapter -----------------------------


class RecordingAdapter(ExecutorAdapter):
    """An adapter whose target is a list of calls; ``fail_on`` makes one statement fail."""

    dialect = Dialect.POSTGRESQL
    transactional_ddl = True

    def __init__(self, *, history: HistoryRecord | None = None, fail_on: str = "") -> None:
        self.calls: list[str] = []
        self.history = history
        self.fail_on = fail_on

    async def configure(self, conn: Any, *, lock_timeout_ms: int, statement_timeout_ms: int):
        self.calls.append(f"configure {lock_timeout_ms} {statement_timeout_ms}")

    async def acquire_lock(self, conn: Any) -> None:
        self.calls.append("lock")

    async def release_lock(self, conn: Any) -> None:
        self.calls.append("unlock")

    async def ensure_history(self, conn: Any) -> None:
        self.calls.append("ensure history")

    async def read_history(self, conn: Any, migration_id: uuid.UUID) -> HistoryRecord | None:
        return self.history

    async def write_history(self, conn, migration_id, checksum, statements, completed) -> None:
        self.calls.append(f"history {completed}/{statements}")

    def transaction(self, conn: Any):
        @asynccontextmanager
        async def transaction():
            self.calls.append("begin")
            try:
                yield
            except BaseException:
                self.calls.append("rollback")
                raise
            self.calls.append("commit")

        return transaction()

    async def execute(self, conn: Any, sql: str) -> None:
        if sql == self.fail_on:
            raise KeyError(sql)  # stands for the driver's own error
        self.calls.append(sql)

    def resume_from(self, recorded: HistoryRecord) -> int:
        return recorded.completed

    def database_error(self, exc: BaseException) -> DatabaseError | None:
        return DatabaseError("XX001", f"refused {exc}") if isinstance(exc, KeyError) else None

    def connection_error(self, exc: BaseException) -> DatabaseError | None:
        return None

    def is_transient(self, sqlstate: str | None) -> bool:
        return sqlstate == "XX001"


def _statements(*sqls: str) -> list[Statement]:
    return [
        Statement(sql=sql.lstrip("!"), kind="k", object="o", transactional=not sql.startswith("!"))
        for sql in sqls
    ]


async def _apply(adapter: ExecutorAdapter, statements: list[Statement], **kwargs: Any):
    async def fingerprint() -> str:
        return "fp"

    async def progress(index: int, total: int, sql: str, duration_ms: float) -> None:
        adapter.calls.append(f"progress {index + 1}/{total}")

    options: dict[str, Any] = {
        "expected_fingerprint": "fp",
        "fingerprint": fingerprint,
        "lock_timeout_ms": 5,
    }
    options.update(kwargs)
    return await apply_script(
        adapter,
        object(),
        uuid.uuid4(),
        statements,
        "sum",
        on_progress=progress,
        **options,
    )


async def test_statements_and_history_commit_together_under_the_lock():
    adapter = RecordingAdapter()
    result = await _apply(adapter, _statements("a", "!b", "c"))
    assert isinstance(result, Applied) and result.statements_applied == 3
    assert adapter.calls == [
        "configure 5 0",
        "lock",
        "ensure history",
        "begin",
        "a",
        "progress 1/3",
        "history 1/3",
        "commit",
        "b",
        "progress 2/3",
        "begin",
        "history 2/3",
        "commit",
        "begin",
        "c",
        "progress 3/3",
        "history 3/3",
        "commit",
        "unlock",
    ]


async def test_without_transactional_ddl_every_statement_commits_on_its_own():
    assert [(t, [i for i, _ in run]) for t, run in segments(_statements("a", "b"))] == [
        (True, [0, 1])
    ]
    split = segments(_statements("a", "b"), transactional_ddl=False)
    assert [(t, [i for i, _ in run]) for t, run in split] == [
        (False, [0]),
        (False, [1]),
        (True, []),
    ]


async def test_a_partly_applied_script_resumes_where_the_adapter_says():
    adapter = RecordingAdapter(history=HistoryRecord("sum", 3, 2))
    result = await _apply(adapter, _statements("a", "!b", "c"), expected_fingerprint="other")
    assert isinstance(result, Applied)
    assert "a" not in adapter.calls and "b" not in adapter.calls and "c" in adapter.calls
    other = RecordingAdapter(history=HistoryRecord("another sum", 3, 2))
    assert await _apply(other, _statements("a")) == Failed(
        reason="a different script of this migration was partly applied"
    )
    assert other.calls[-1] == "unlock"


async def test_a_refused_statement_is_reported_with_the_adapters_classification():
    adapter = RecordingAdapter(fail_on="c")
    result = await _apply(adapter, _statements("!a", "b", "c"))
    assert result == Failed(
        reason="statement 3 failed: refused 'c' (SQLSTATE XX001); statements 1-1 were "
        "committed before it and stay applied",
        statement="c",
        statement_index=2,
        database_error="refused 'c' (SQLSTATE XX001)",
        sqlstate="XX001",
        transient=True,
    )
    assert adapter.calls[-2:] == ["rollback", "unlock"]


async def test_other_errors_propagate_and_release_the_lock():
    adapter = RecordingAdapter()

    async def broken() -> str:
        raise Unreachable("cannot reach the target")

    with pytest.raises(Unreachable):
        await _apply(adapter, _statements("a"), fingerprint=broken)
    assert adapter.calls[-1] == "unlock"


# --- only a dialect's own modules use its database libraries ------------------------------

# Folders of the code that reads and changes registered databases.
ENGINE_ROOTS = (
    "consumers/comparator",
    "consumers/generator",
    "consumers/executor",
    "consumers/common",
)
# Each dialect's database libraries: only modules whose path names the dialect import them.
DIALECT_LIBRARIES = {
    "asyncpg": "postgres",
    "pglast": "postgres",
    "aiosqlite": "sqlite",
    "sqlite3": "sqlite",
    "aiomysql": "mysql",
    "pymysql": "mysql",
}
# Functions and casts only PostgreSQL has, as SQL text or SQLAlchemy ``func.<name>``.
POSTGRES_ONLY_NAMES = re.compile(
    r"\bpg_\w+|\b(?:hashtext\w*|format_type|obj_description|col_description|to_reg\w+"
    r"|current_setting|set_config)\b|::reg\w+",
    re.IGNORECASE,
)
# SQLite's catalog tables and PRAGMAs, as SQL text.
SQLITE_ONLY_NAMES = re.compile(
    r"\bsqlite_(?:schema|master|sequence|version)\b|\bPRAGMA\b|\bpragma_\w+"
)
# MySQL's named locks and SHOW statements, as SQL text.
MYSQL_ONLY_NAMES = re.compile(
    r"\b(?:GET_LOCK|RELEASE_LOCK|IS_USED_LOCK)\b|\bSHOW\s+(?:CREATE|FULL|TABLE)\b", re.I
)
ONLY_NAMES = {
    "postgres": POSTGRES_ONLY_NAMES,
    "sqlite": SQLITE_ONLY_NAMES,
    "mysql": MYSQL_ONLY_NAMES,
}
# Modules that work on the metadata database, which is always PostgreSQL, and name its
# functions. None now: the comparator's queue takes its advisory lock in a function of the
# metadata schema (infra/alembic/versions/0005_queue_step.py).
METADATA_DB_MODULES: set[str] = set()


def _docstrings(tree: ast.Module) -> set[int]:
    owners = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    return {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, owners)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }


def dialect_specifics(source: str, own: str | None = None) -> list[str]:
    """What in ``source`` belongs to a dialect other than ``own``: imports of its libraries,
    its catalog names in code and SQL text (docstrings and comments may mention them)."""
    tree = ast.parse(source)
    docstrings = _docstrings(tree)
    patterns = [pattern for dialect, pattern in ONLY_NAMES.items() if dialect != own]
    found = []
    for node in ast.walk(tree):
        modules: list[str] = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            modules = [node.module]
        found += [
            f"line {node.lineno}: imports {m}"
            for m in modules
            if DIALECT_LIBRARIES.get(m.split(".")[0], own) != own
        ]
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) not in docstrings:
                for pattern in patterns:
                    found += [f"line {node.lineno}: {m}" for m in pattern.findall(node.value)]
        elif (
            isinstance(node, ast.Attribute)
            and own != "postgres"
            and POSTGRES_ONLY_NAMES.fullmatch(node.attr)
        ):
            found.append(f"line {node.lineno}: {node.attr}")
    return sorted(found)


def test_the_scan_sees_imports_and_dialect_names_but_not_docstrings():
    source = '"""pg_get_viewdef() text."""\nimport asyncpg\nfrom pglast import parse_sql\n'
    source += "def f():\n    '''pg_class'''\n    return func.pg_notify('x'), 'SELECT pg_sleep(1)'\n"
    source += "import aiosqlite, sqlite3\nq = 'SELECT name FROM sqlite_schema'\n"
    postgres = [
        "line 2: imports asyncpg",
        "line 3: imports pglast",
        "line 6: pg_notify",
        "line 6: pg_sleep",
    ]
    sqlite = ["line 7: imports aiosqlite", "line 7: imports sqlite3", "line 8: sqlite_schema"]
    assert dialect_specifics(source) == sorted(postgres + sqlite)
    assert dialect_specifics(source, "sqlite") == postgres
    assert dialect_specifics(source, "postgres") == sqlite


def _own_dialect(relative: str) -> str | None:
    """The dialect a module's path names (its own modules), if any."""
    return next((d for d in ONLY_NAMES if d in relative), None)


def test_only_a_dialects_modules_use_its_libraries_and_catalog_names():
    offending: dict[str, list[str]] = {}
    for root in ENGINE_ROOTS:
        for path in sorted((REPO_ROOT / root).rglob("*.py")):
            relative = path.relative_to(REPO_ROOT).as_posix()
            found = dialect_specifics(path.read_text(), _own_dialect(relative))
            if found:
                offending[relative] = found
    allowed = METADATA_DB_MODULES
    unexpected = {path: found for path, found in offending.items() if path not in allowed}
    assert unexpected == {}, "move this into the dialect's modules (a path naming it)"
    stale = allowed - offending.keys()
    assert stale == set(), "these need no exemption any more: remove them from the allow-lists"


def test_the_scan_covers_the_modules_that_were_moved():
    moved = [
        "consumers/executor/apply.py",
        "consumers/executor/app.py",
        "consumers/common/targets.py",
        "consumers/comparator/introspect/__init__.py",
    ]
    for relative in moved:
        assert (REPO_ROOT / relative).is_file()
        assert dialect_specifics((REPO_ROOT / relative).read_text()) == []
    for dialect in ("postgres", "sqlite", "mysql"):
        module = REPO_ROOT / f"consumers/executor/{dialect}.py"
        assert module.is_file()
        assert dialect_specifics(module.read_text())
        assert dialect_specifics(module.read_text(), dialect) == []


# --- the MySQL driver and executor adapter, without a server ------------------------------

MY_URL = "mariadb://app:S3cret%21pw@db.example:33306/shop"


def test_mysql_urls_name_one_database_with_the_password_decoded():
    address = parse_url(MY_URL)
    assert (address.host, address.port, address.user) == ("db.example", 33306, "app")
    assert (address.password, address.database) == ("S3cret!pw", "shop")
    assert parse_url("mysql://u@h/d").port == 3306
    assert parse_url("mysql://u@h/d?unix_socket=/run/s.sock").unix_socket == "/run/s.sock"
    options = parse_url(MY_URL).options(timeout=3)
    assert options["autocommit"] is True and options["db"] == "shop"
    with pytest.raises(ValueError, match="names one database: mariadb://app:\\*\\*\\*@"):
        parse_url("mariadb://app:S3cret%21pw@db.example/")


def test_mysql_driver_translates_errors_with_the_password_redacted():
    import pymysql

    driver = MysqlDriver()
    denied = pymysql.err.OperationalError(
        1045, "Access denied for user 'app'@'x' (using password: YES) S3cret!pw"
    )
    auth = driver.translate_error(denied, MY_URL)
    assert isinstance(auth, AuthenticationFailed)
    assert auth.reason.startswith("authentication failed for mariadb://app:***@db.example")
    assert "S3cret" not in auth.reason
    refused = driver.translate_error(
        pymysql.err.OperationalError(2003, f"Can't connect to MySQL server\n{MY_URL}"), MY_URL
    )
    assert isinstance(refused, Unreachable) and "\n" not in refused.reason
    assert "S3cret" not in refused.reason
    assert isinstance(driver.translate_error(TimeoutError(), MY_URL), Unreachable)
    assert isinstance(
        driver.translate_error(ConnectionRefusedError(111, "no"), MY_URL), Unreachable
    )
    unknown = driver.translate_error(pymysql.err.OperationalError(1049, "Unknown database"), MY_URL)
    assert type(unknown) is IntrospectionError
    assert unknown.reason == (
        "cannot read the schema of mariadb://app:***@db.example:33306/shop: "
        "the database does not exist"
    )
    other = driver.translate_error(pymysql.err.ProgrammingError(1146, "no such table"), MY_URL)
    assert type(other) is IntrospectionError and other.reason.endswith(": no such table")
    assert driver.translate_error(KeyError("not a database error"), MY_URL) is None
    assert driver.quote("order") == "`order`" and driver.quote("plain") == "plain"


def test_mysql_lost_connections_count_as_infrastructure_errors():
    import pymysql

    driver = MysqlDriver()
    gone = pymysql.err.OperationalError(2006, "MySQL server has gone away")
    assert driver.is_connection_lost(gone) and _is_infrastructure_error(gone)
    assert driver.is_connection_lost(pymysql.err.InterfaceError(0, ""))
    assert not driver.is_connection_lost(pymysql.err.OperationalError(1205, "lock wait"))


def test_mysql_adapter_classifies_error_numbers():
    import pymysql

    from schemashift.consumers.executor.mysql import LockNotTaken

    adapter = MysqlExecutor()
    assert adapter.transactional_ddl is False
    for code in ("1213", "1205", "2006", "2013", "2003"):
        assert adapter.is_transient(code), code
    for code in ("1064", "1062", "1050", "", None, "40001"):
        assert not adapter.is_transient(code), code
    error = adapter.database_error(pymysql.err.OperationalError(1213, "Deadlock found "))
    assert error == DatabaseError("1213", "Deadlock found")
    assert adapter.database_error(LockNotTaken("held")) == DatabaseError("1205", "held")
    assert adapter.database_error(OSError("x")) is None
    assert adapter.connection_error(OSError("refused")) == DatabaseError("2003", "refused")
    assert adapter.connection_error(Unreachable("cannot reach x")).sqlstate == "2003"
    assert adapter.connection_error(ValueError("x")) is None
    assert adapter.resume_from(HistoryRecord("sum", 5, 3)) == 3

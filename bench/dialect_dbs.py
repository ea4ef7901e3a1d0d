"""The benchmark's MariaDB and SQLite databases: made, loaded, reached, removed.

A :class:`Backend` makes the databases of one benchmark run (MariaDB: on the server of
``SCHEMASHIFT_MARIADB_URL``, named ``bench_engine_<run>_<name>``; SQLite: files in a temporary
folder of the run) and says how a command-line tool reaches them.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.measure import REPO
from schemashift.consumers.common.drivers.mysql import DRIVER as MYSQL_DRIVER
from schemashift.consumers.common.drivers.mysql import parse_url
from schemashift.infra import envfile

MARIADB_URL_ENV = "SCHEMASHIFT_MARIADB_URL"


class Backend(ABC):
    """Where one dialect's databases live."""

    label: str  # the server's name in the report
    dialect: str  # the engine's name of the dialect
    sqldef: str  # the name of sqldef's command for it

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id

    @abstractmethod
    async def load(self, name: str, statements: list[str]) -> str:
        """A new database ``name`` holding ``statements``; its URL."""

    @abstractmethod
    async def drop_all(self) -> None:
        """Remove every database :meth:`load` made."""

    @abstractmethod
    def sqldef_args(self, url: str) -> list[str]:
        """sqldef's arguments that reach the database of ``url``; the last one names it."""

    @abstractmethod
    async def server(self) -> str:
        """The server's (or library's) name and version."""

    def tool_env(self) -> dict[str, str] | None:
        """The environment of the tools that connect (None: this process's)."""
        return None

    def secrets(self) -> list[str]:
        """Texts to mask in anything shown (passwords)."""
        return []


def with_database(url: str, name: str) -> str:
    """``url`` naming database ``name`` instead."""
    return urlsplit(url)._replace(path=f"/{name}").geturl()


class MariaDB(Backend):
    """Databases on the MariaDB server of ``SCHEMASHIFT_MARIADB_URL``, named after the run."""

    label, dialect, sqldef = "MariaDB", "mysql", "mysqldef"

    def __init__(self, run_id: str, server_url: str) -> None:
        super().__init__(run_id)
        self.server_url = server_url
        self.address = parse_url(server_url)
        self.created: list[str] = []

    async def _run(self, url: str, statements: list[str]) -> Any:
        """Run ``statements`` on the database of ``url``; the first row of the last one."""
        async with MYSQL_DRIVER.connect(url, timeout=30) as conn, conn.cursor() as cur:
            for sql in statements:
                await cur.execute(sql)
            return await cur.fetchone()

    async def load(self, name: str, statements: list[str]) -> str:
        database = f"bench_engine_{self.run_id}_{name}"
        await self._run(self.server_url, [f"CREATE DATABASE `{database}`"])
        self.created.append(database)
        url = with_database(self.server_url, database)
        await self._run(url, statements)
        return url

    async def drop_all(self) -> None:
        if self.created:
            drops = [f"DROP DATABASE IF EXISTS `{d}`" for d in self.created]
            await self._run(self.server_url, drops)
        self.created.clear()

    def sqldef_args(self, url: str) -> list[str]:
        a = self.address
        return ["-u", a.user, "-h", a.host, "-P", str(a.port), parse_url(url).database]

    def tool_env(self) -> dict[str, str]:
        # mysqldef reads the password from the environment: a command line is visible to
        # every local user.
        return {**os.environ, "MYSQL_PWD": self.address.password}

    def secrets(self) -> list[str]:
        return [self.address.password] if self.address.password else []

    async def server(self) -> str:
        (version,) = await self._run(self.server_url, ["SELECT VERSION()"])
        return f"MariaDB {version}"


class SQLite(Backend):
    """Database files in a temporary folder of this run."""

    label, dialect, sqldef = "SQLite", "sqlite", "sqlite3def"

    def __init__(self, run_id: str) -> None:
        super().__init__(run_id)
        self.folder = Path(tempfile.mkdtemp(prefix=f"bench_engine_{run_id}_"))

    async def load(self, name: str, statements: list[str]) -> str:
        path = self.folder / f"{name}.db"
        conn = sqlite3.connect(path)
        try:
            # One transaction: one commit (and sync) for the file rather than one a statement.
            conn.executescript("BEGIN;\n" + ";\n".join(statements) + ";\nCOMMIT;")
        finally:
            conn.close()
        return f"sqlite://{path}"

    async def drop_all(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def sqldef_args(self, url: str) -> list[str]:
        return [url.removeprefix("sqlite://")]

    async def server(self) -> str:
        return f"SQLite {sqlite3.sqlite_version} (Python's sqlite3; sqlite3def links its own)"


def mariadb_url() -> str:
    """The MariaDB server's URL: the environment's, else that of the env file ``infra up``
    wrote."""
    url = os.environ.get(MARIADB_URL_ENV)
    url = url or envfile.read(REPO / ".schemashift" / "env").get(MARIADB_URL_ENV)
    if not url:
        raise SystemExit(f"{MARIADB_URL_ENV} is not set: the MariaDB server's URL is needed")
    return url


def make_backend(dialect: str, run_id: str) -> Backend:
    """The backend of ``dialect`` (``mariadb`` or ``sqlite``)."""
    return MariaDB(run_id, mariadb_url()) if dialect == "mariadb" else SQLite(run_id)

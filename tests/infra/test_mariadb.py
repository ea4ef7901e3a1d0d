"""`infra up` runs a real MariaDB server: up, queries through aiomysql, idempotent up, down.

Its own state directory (under /tmp) and port (33316), so it never meets the server of the
repository's ``.schemashift``; Kafka and PostgreSQL are left alone, and their ports are moved to
free ones so that ``status`` finds them stopped without asking anything real. Installs
``mariadb-server`` with apt-get when it is missing (as ``infra up`` does).
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import socket
import stat
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiomysql
import pytest

from schemashift.infra import __main__ as infra_cli
from schemashift.infra import envfile, manager, processes
from schemashift.infra import mariadb as mdb
from schemashift.infra.components.interface import State
from schemashift.infra.components.mariadb import MARIADB_ENV, MariaDBServer
from schemashift.infra.state import StateDir

pytestmark = pytest.mark.integration

PORT = 33316


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Started:
    """What the first ``up`` of the module left."""

    state: StateDir
    env: dict[str, str]
    output: str  # what it printed, stdout and stderr
    seconds: float

    @property
    def url(self) -> str:
        return self.env[MARIADB_ENV]

    @property
    def password(self) -> str:
        return mdb.parse_url(self.url).password


def _up(root: Path) -> tuple[dict[str, str], str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        env = manager.up(root, kafka=False, postgres=False)
    return env, out.getvalue()


@pytest.fixture(scope="module")
def started() -> Iterator[Started]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(mdb.PORT_ENV, str(PORT))
        patch.delenv(MARIADB_ENV, raising=False)
        patch.setenv("SCHEMASHIFT_KAFKA_PORT", str(_free_port()))
        patch.setenv("SCHEMASHIFT_PG_PORT", str(_free_port()))
        # No external service and no extra PostgreSQL version for `status` to look at.
        patch.delenv("SCHEMASHIFT_PG_VERSIONS", raising=False)
        for name in list(os.environ):
            if name.startswith(("SCHEMASHIFT_DATABASE_URL", "SCHEMASHIFT_KAFKA_BOOTSTRAP")):
                patch.delenv(name)
        root = Path(tempfile.mkdtemp(prefix="schemashift-mariadb-", dir="/tmp"))
        # mkdtemp makes it 0700: the `mysql` user must traverse it to keep the data inside.
        root.chmod(0o755)
        if mdb.find_server() is None:
            mdb.install_mariadb()  # outside the timing and the captured output
        try:
            begin = time.monotonic()
            env, output = _up(root)
            yield Started(StateDir.open(root), env, output, time.monotonic() - begin)
        finally:
            # Whatever a failed test left running; then the files (owned by `mysql`).
            with contextlib.suppress(Exception):
                MariaDBServer().down(StateDir.open(root))
            shutil.rmtree(root, ignore_errors=True)
            shutil.rmtree(mdb.fallback_root(root), ignore_errors=True)


def test_up_starts_a_running_mariadb(started: Started) -> None:
    assert started.url.startswith(f"mariadb://schemashift:{started.password}@127.0.0.1:{PORT}/")
    assert envfile.read(started.state.env_file)[MARIADB_ENV] == started.url
    record = started.state.read_record("mariadb")
    assert record is not None and record["port"] == PORT
    # Inside the state dir, owned by the server's user, not in the /var/tmp fallback.
    assert Path(record["root"]) == started.state.root / "mariadb"
    assert "mariadb:  started   pid " in started.output
    status = MariaDBServer().status(started.state)
    assert status.state is State.RUNNING, status
    assert status.pid == record["pid"]
    assert status.version is not None and status.version.startswith("MariaDB 1"), status
    assert status.env == {MARIADB_ENV: started.url}
    assert stat.S_IMODE(mdb.password_file(started.state.root).stat().st_mode) == 0o600
    assert started.seconds < 40, f"up took {started.seconds:.1f}s"


async def test_queries_through_aiomysql_with_the_url_of_the_env_file(started: Started) -> None:
    conn = await aiomysql.connect(**mdb.parse_url(started.url).as_kwargs(), autocommit=True)
    scratch = f"ss_test_{uuid.uuid4().hex[:10]}"
    try:
        async with conn.cursor() as cursor:
            await cursor.execute("SELECT DATABASE(), CURRENT_USER()")
            assert await cursor.fetchone() == ("schemashift", "schemashift@%")
            # Tests create and drop throwaway databases.
            await cursor.execute(f"CREATE DATABASE `{scratch}`")
            await cursor.execute(f"CREATE TABLE `{scratch}`.t (id INT PRIMARY KEY, v TEXT)")
            await cursor.execute(f"INSERT INTO `{scratch}`.t VALUES (1, 'one'), (2, 'two')")
            await cursor.execute(f"SELECT v FROM `{scratch}`.t ORDER BY id")
            assert await cursor.fetchall() == (("one",), ("two",))
            await cursor.execute(f"DROP DATABASE `{scratch}`")
    finally:
        conn.close()


def test_the_password_is_never_shown(
    started: Started, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    password = started.password
    assert len(password) >= 32
    assert password not in started.output
    statuses = manager.status(started.state.root)
    assert all(password not in s.detail and password not in repr(s) for s in statuses)
    # What `make test` reads: $1 the name, $2 the state.
    assert infra_cli.main(["--state-dir", str(started.state.root), "status"]) == 1
    rows = capsys.readouterr().out.splitlines()
    assert password not in "\n".join(rows)
    assert [row.split()[:2] for row in rows] == [
        ["kafka", "stopped"],
        ["postgres", "stopped"],
        ["mariadb", "running"],
    ]


def test_up_again_reuses_the_same_server(started: Started) -> None:
    pid = started.state.read_record("mariadb")["pid"]  # type: ignore[index]
    env, output = _up(started.state.root)
    assert env[MARIADB_ENV] == started.url
    assert f"mariadb:  running   pid {pid} on 127.0.0.1:{PORT}" in output
    assert started.password not in output
    assert MariaDBServer().status(started.state).pid == pid


def test_up_adopts_its_server_when_the_pid_record_is_lost(started: Started) -> None:
    record = started.state.read_record("mariadb")
    assert record is not None
    started.state.drop_record("mariadb")
    status = MariaDBServer().status(started.state)
    assert status.state is State.STOPPED
    assert f"pid {record['pid']} serves {record['data_dir']} without a pid record" in status.detail
    _, output = _up(started.state.root)
    assert f"mariadb:  adopted   pid {record['pid']} on 127.0.0.1:{PORT}" in output
    assert started.state.read_record("mariadb")["pid"] == record["pid"]  # type: ignore[index]


def test_down_stops_it_and_a_second_down_has_nothing_to_stop(
    started: Started, capsys: pytest.CaptureFixture[str]
) -> None:
    record = started.state.read_record("mariadb")
    assert record is not None
    pid = record["pid"]
    manager.down(started.state.root, only=["mariadb"])
    assert capsys.readouterr().out.splitlines() == [f"mariadb:  stopped (pid {pid})"]
    assert not processes.pid_alive(pid)
    assert not processes.port_open(PORT)
    assert MariaDBServer().status(started.state).state is State.STOPPED
    assert MariaDBServer().down(started.state) is False


async def test_up_after_down_keeps_the_data(started: Started) -> None:
    scratch = f"ss_keep_{uuid.uuid4().hex[:10]}"
    env, _ = _up(started.state.root)  # a fresh start on the existing data directory
    params = mdb.parse_url(env[MARIADB_ENV])
    conn = await aiomysql.connect(**params.as_kwargs(), autocommit=True)
    try:
        async with conn.cursor() as cursor:
            await cursor.execute(f"CREATE DATABASE `{scratch}`")
    finally:
        conn.close()
    assert MariaDBServer().down(started.state) is True
    env, _ = _up(started.state.root)
    conn = await aiomysql.connect(**params.as_kwargs(), autocommit=True)
    try:
        async with conn.cursor() as cursor:
            await cursor.execute("SHOW DATABASES LIKE %s", (scratch,))
            assert await cursor.fetchall() == ((scratch,),)
            await cursor.execute(f"DROP DATABASE `{scratch}`")
    finally:
        conn.close()
    assert MariaDBServer().down(started.state) is True

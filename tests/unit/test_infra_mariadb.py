"""The MariaDB component without a server: URLs, versions, credentials, layout, env handling.

The server itself (install, start, queries, stop) is tested in tests/infra/test_mariadb.py.
"""

from __future__ import annotations

import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from schemashift.infra import manager, processes
from schemashift.infra import mariadb as mdb
from schemashift.infra.components.interface import InfraError, State, Status
from schemashift.infra.components.mariadb import MARIADB_ENV, MariaDBServer
from schemashift.infra.state import StateDir


@pytest.fixture
def free_port(monkeypatch: pytest.MonkeyPatch) -> int:
    """MariaDB on a port nothing listens on; no external server configured."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    monkeypatch.setenv(mdb.PORT_ENV, str(port))
    monkeypatch.delenv(MARIADB_ENV, raising=False)
    return port


@pytest.fixture
def foreign_server(free_port: int) -> Iterator[int]:
    """Something we did not start listening on MariaDB's port."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", free_port))
        sock.listen()
        yield free_port


# --------------------------------------------------------------------------- URLs, versions


def test_urls_of_either_scheme_are_parsed_with_encoded_credentials() -> None:
    params = mdb.parse_url("mariadb://app:p%40ss%2Fw@db.example:3307/shop?ssl=0")
    assert params == mdb.ConnectParams("db.example", 3307, "app", "p@ss/w", "shop")
    assert params.as_kwargs() == {
        "host": "db.example",
        "port": 3307,
        "user": "app",
        "password": "p@ss/w",
        "db": "shop",
    }
    assert "p@ss/w" not in repr(params)
    assert mdb.parse_url("mysql://root@127.0.0.1/") == mdb.ConnectParams(
        "127.0.0.1", 3306, "root", "", None
    )
    assert mdb.parse_url("MySQL+aiomysql://u:x@h/d").port == 3306


def test_other_urls_are_refused_without_their_password() -> None:
    with pytest.raises(mdb.MariaDBError, match="scheme 'postgresql'") as info:
        mdb.parse_url("postgresql://u:Sekr1t@h/db")
    assert "Sekr1t" not in str(info.value)
    with pytest.raises(mdb.MariaDBError, match="port") as info:
        mdb.parse_url("mariadb://u:Sekr1t@h:port/db")
    assert "Sekr1t" not in str(info.value)


def test_the_url_of_our_server() -> None:
    assert mdb.database_url("pw", 33306) == "mariadb://schemashift:pw@127.0.0.1:33306/schemashift"
    params = mdb.parse_url(mdb.database_url("a-b_c", 33316))
    assert (params.user, params.password, params.port, params.database) == (
        "schemashift",
        "a-b_c",
        33316,
        "schemashift",
    )


def test_version_labels_name_the_product() -> None:
    assert mdb.version_label("10.11.19-MariaDB-0+deb12u1") == "MariaDB 10.11.19"
    assert mdb.version_label("11.4.5-MariaDB-ubu2404") == "MariaDB 11.4.5"
    assert mdb.version_label("8.4.3") == "MySQL 8.4.3"


def test_the_password_hash_is_mysql_native_passwords() -> None:
    # SELECT PASSWORD('password') on MariaDB.
    assert mdb.native_password_hash("password") == "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19"


# --------------------------------------------------------------------------- settings


def test_the_port_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(mdb.PORT_ENV, raising=False)
    assert mdb.client_port() == 33306
    monkeypatch.setenv(mdb.PORT_ENV, "33316")
    assert mdb.client_port() == MariaDBServer().port == 33316
    monkeypatch.setenv(mdb.PORT_ENV, "many")
    with pytest.raises(InfraError, match="SCHEMASHIFT_MARIADB_PORT='many' is not a port"):
        _ = MariaDBServer().port
    monkeypatch.setenv(mdb.PORT_ENV, "70000")
    with pytest.raises(mdb.MariaDBError, match="out of range"):
        mdb.client_port()


def test_the_password_is_generated_once_and_kept_private(tmp_path: Path) -> None:
    assert mdb.read_password(tmp_path) is None
    password = mdb.ensure_password(tmp_path)
    assert len(password) >= 32
    assert password.replace("-", "").replace("_", "").isalnum()  # safe unquoted in a URL
    assert mdb.ensure_password(tmp_path) == password
    path = mdb.password_file(tmp_path)
    assert path == tmp_path / "mariadb.cnf"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # A [client] option file: `mariadb --defaults-extra-file=<it>` logs in with it.
    assert "[client]\nuser=schemashift\n" in path.read_text()


def test_our_own_url_in_the_environment_is_not_an_external_server(
    tmp_path: Path, free_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = StateDir.open(tmp_path)
    server = MariaDBServer()
    assert server.own_url(state) is None
    monkeypatch.setenv(MARIADB_ENV, "mariadb://schemashift:x@127.0.0.1:1/schemashift")
    assert server.external_url(state) == "mariadb://schemashift:x@127.0.0.1:1/schemashift"
    password = mdb.ensure_password(state.root)
    own = f"mariadb://schemashift:{password}@127.0.0.1:{free_port}/schemashift"
    assert server.own_url(state) == own
    # Sourcing <state>/env exports our own URL; that must not turn `up` into a no-op.
    monkeypatch.setenv(MARIADB_ENV, own)
    assert server.external_url(state) is None


# --------------------------------------------------------------------------- layout


def test_the_layout_lives_in_the_state_dir_or_var_tmp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    layout = mdb.MariaDBLayout(tmp_path / "mariadb")
    assert (layout.config.name, layout.data.name, layout.socket.name, layout.pid_file.name) == (
        "my.cnf",
        "data",
        "mariadb.sock",
        "mariadb.pid",
    )
    assert mdb.existing_layout(tmp_path) is None
    fallback = mdb.fallback_root(tmp_path)
    assert fallback.parent == Path("/var/tmp")
    assert fallback.name.startswith("schemashift-") and fallback.name.endswith("-mariadb")
    assert mdb.fallback_root(tmp_path) == fallback
    # A socket path longer than sun_path takes the fallback, whoever may traverse the state dir.
    deep = tmp_path / ("d" * 100)
    assert mdb.choose_layout(deep).root == mdb.fallback_root(deep)
    monkeypatch.setattr(mdb, "_running_as_root", lambda: False)
    assert mdb.choose_layout(tmp_path).root == tmp_path.resolve() / "mariadb"


def test_the_option_file_binds_to_loopback_on_our_port(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mdb, "_running_as_root", lambda: False)  # no chown to `mysql`
    layout = mdb.MariaDBLayout(tmp_path / "mariadb")
    assert mdb.configured_port(layout) is None
    mdb.write_config(layout, 33316)
    text = layout.config.read_text()
    assert text.splitlines()[1] == "[mysqld]"
    for line in (
        "port=33316",
        "bind-address=127.0.0.1",
        f"socket={layout.socket}",
        f"datadir={layout.data}",
        f"pid-file={layout.pid_file}",
        "skip-name-resolve",
    ):
        assert line in text.splitlines()
    assert mdb.configured_port(layout) == 33316
    assert not layout.initialised


def test_processes_that_are_not_our_server_are_never_ours(tmp_path: Path) -> None:
    layout = mdb.MariaDBLayout(tmp_path / "mariadb")
    assert not processes.pid_alive(2**22 + 1)  # pid_max is at most 2**22
    assert processes.pid_alive(1)
    # Alive, but not a server reading our my.cnf (e.g. a recycled pid).
    assert not mdb.is_our_server(1, layout)
    assert mdb.server_pid(layout) is None
    layout.run_dir.mkdir(parents=True)
    layout.pid_file.write_text("1\n")
    assert mdb.server_pid(layout) is None


# --------------------------------------------------------------------------- component


def test_stopped_in_an_empty_state_dir(tmp_path: Path, free_port: int) -> None:
    state = StateDir.open(tmp_path)
    assert MariaDBServer().status(state) == Status("mariadb", State.STOPPED, "not started")


def test_a_foreign_server_on_our_port_is_refused_before_installing_anything(
    tmp_path: Path, foreign_server: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_install() -> Path:
        raise AssertionError("would have run apt-get")

    monkeypatch.setattr(mdb, "install_mariadb", no_install)
    state = StateDir.open(tmp_path)
    status = MariaDBServer().status(state)
    assert (status.state, status.detail) == (
        State.STOPPED,
        f"not started; port {foreign_server} is in use by a server we did not start",
    )
    with pytest.raises(InfraError, match=f"port {foreign_server} is already in use"):
        MariaDBServer().up(state)
    assert state.read_record("mariadb") is None
    assert not (tmp_path / "mariadb").exists()


def test_an_external_server_is_only_checked(
    tmp_path: Path,
    free_port: int,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = "mysql://schemashift:Sekr1t@127.0.0.1:33307/schemashift"
    monkeypatch.setenv(MARIADB_ENV, url)
    probed: list[str] = []

    async def probe(target: str, timeout_s: float = 5.0) -> str:
        probed.append(target)
        return "MySQL 8.4.3"

    monkeypatch.setattr(mdb, "probe", probe)
    state = StateDir.open(tmp_path)
    status = MariaDBServer().up(state)
    assert (status.state, status.version, dict(status.env)) == (
        State.EXTERNAL,
        "MySQL 8.4.3",
        {MARIADB_ENV: url},
    )
    assert status.detail == "mysql://schemashift:***@127.0.0.1:33307/schemashift (MySQL 8.4.3)"
    assert probed == [url]
    assert MariaDBServer().status(state).state is State.EXTERNAL
    captured = capsys.readouterr()
    assert "Sekr1t" not in captured.out + captured.err
    # Nothing of ours was started or recorded; `down` leaves the external server alone.
    assert state.recorded_components() == []
    assert MariaDBServer().down(state) is False


def test_an_external_server_that_does_not_answer_is_unreachable(
    tmp_path: Path, free_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MARIADB_ENV, f"mariadb://u:Sekr1t@127.0.0.1:{free_port}/db")
    status = MariaDBServer().status(StateDir.open(tmp_path))
    assert (status.state, status.detail) == (
        State.UNREACHABLE,
        f"mariadb://u:***@127.0.0.1:{free_port}/db does not answer",
    )


def test_down_drops_a_stale_record_without_signalling_anyone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = StateDir.open(tmp_path)
    # pid 1 is alive but is not our server: it must not be signalled.
    state.write_record("mariadb", {"pid": 1, "port": 1, "root": str(tmp_path / "mariadb")})
    manager.down(tmp_path, only=["mariadb"])
    assert capsys.readouterr().out.splitlines() == ["mariadb:  not running (pid 1)"]
    assert state.read_record("mariadb") is None
    manager.down(tmp_path, only=["mariadb"])
    assert capsys.readouterr().out.splitlines() == [
        "mariadb:  nothing to stop (not started by schemashift)"
    ]


def test_down_names_mariadb_among_the_components(tmp_path: Path) -> None:
    with pytest.raises(InfraError, match=r"unknown component\(s\) maria: .* or mariadb"):
        manager.down(tmp_path, only=["mariadb", "maria"])

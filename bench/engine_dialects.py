"""Engine benchmark on MariaDB and SQLite: Schemashift against sqldef, on the same databases.

``bench/engine.py --dialect mariadb|sqlite`` runs this module. For each size (number of
tables) it generates a schema pair with :mod:`bench.schemagen_dialects` (seeded, so
deterministic), loads the source (desired) and the target (to migrate, about 5 % of its
objects differ) into two fresh databases (MariaDB: on the server of ``SCHEMASHIFT_MARIADB_URL``;
SQLite: files in a temporary folder), then measures, interleaved, ``--repeat`` times each:

* **Schemashift, whole process**: ``schemashift diff SRC TGT`` (as
  ``python -m schemashift.gateway.cli``) in a fresh subprocess, interpreter start, imports and
  printing the script included;
* **Schemashift, in-process**: introspect, diff and generate in this process, step by step;
* **sqldef, whole processes**: ``mysqldef --export SRC > desired.sql``, then
  ``mysqldef --dry-run --enable-drop-table TGT < desired.sql`` (``sqlite3def`` alike on the
  files), which is what comparing two live databases takes with sqldef. Its time is the sum of
  the two processes', its peak memory the larger of the two; the dry run is reported alone too.
  ``--enable-drop-table``, because Schemashift's script drops the tables the source lacks.

Wall times are medians; peak memory is a process's maximum resident set size as GNU
``/usr/bin/time`` reports it, median over the runs; client CPU time (user + sys) is reported
too. The database server's own work (MariaDB) is in no process's CPU time.

At every size it first checks convergence: Schemashift's script, applied through the
executor's own apply path to a fresh copy of the target, must leave a re-diff empty (the run
stops with an error otherwise); sqldef applies its own script (the same command without
``--dry-run``) to another copy, and what Schemashift's re-diff still finds there is reported
(information: sqldef may leave differences or fail on some changes).

The MariaDB password reaches mysqldef as ``MYSQL_PWD`` in its environment, never on a command
line, and every error text shown is redacted. Results are printed as markdown and written to
``bench/results/engine-<dialect>.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.measure import REPO, ProcessRun, measure_process, run_engine
from bench.schemagen_dialects import build_pair
from schemashift.consumers.common.drivers import driver_for_url
from schemashift.consumers.common.drivers.mysql import DRIVER as MYSQL_DRIVER
from schemashift.consumers.common.drivers.mysql import parse_url
from schemashift.consumers.common.redact import redact_text
from schemashift.consumers.comparator.diff import diff
from schemashift.consumers.comparator.introspect import introspect
from schemashift.consumers.executor.apply import Applied, apply_script
from schemashift.consumers.executor.registry import adapter_for
from schemashift.infra import envfile
from schemashift.schemas.operations import Operation, Script

RESULTS = REPO / "bench" / "results"
MARIADB_URL_ENV = "SCHEMASHIFT_MARIADB_URL"


class BenchError(Exception):
    """A step of the benchmark failed; the message is already redacted."""


# --- the databases of one dialect -----------------------------------------------------------


class Backend(ABC):
    """Where one dialect's databases live, and how sqldef reaches them."""

    label: str  # the server's name in the report
    dialect: str  # the engine's name of the dialect
    tool: str  # the sqldef command of the dialect

    def __init__(self, sqldef: str, run_id: str) -> None:
        self.sqldef = sqldef
        self.run_id = run_id

    @abstractmethod
    async def load(self, name: str, statements: list[str]) -> str:
        """A new database ``name`` holding ``statements``; its URL."""

    @abstractmethod
    async def drop_all(self) -> None:
        """Remove every database :meth:`load` made."""

    @abstractmethod
    def sqldef_args(self, url: str) -> list[str]:
        """sqldef's arguments that name the database of ``url`` (and how to reach it)."""

    @abstractmethod
    async def server(self) -> str:
        """The server's (or library's) name and version."""

    def sqldef_env(self) -> dict[str, str] | None:
        """sqldef's environment (None: this process's)."""
        return None

    def secrets(self) -> list[str]:
        """Texts to mask in anything shown (passwords)."""
        return []

    def export_cmd(self, url: str) -> list[str]:
        """sqldef dumping the schema of ``url`` as SQL."""
        *reach, database = self.sqldef_args(url)
        return [self.sqldef, *reach, "--export", database]

    def apply_cmd(self, url: str, *, dry_run: bool) -> list[str]:
        """sqldef migrating ``url`` to the SQL on its standard input (or only printing it)."""
        *reach, database = self.sqldef_args(url)
        dry = ["--dry-run"] if dry_run else []
        return [self.sqldef, *reach, *dry, "--enable-drop-table", database]


def with_database(url: str, name: str) -> str:
    """``url`` naming database ``name`` instead."""
    return urlsplit(url)._replace(path=f"/{name}").geturl()


class MariaDB(Backend):
    """Databases on the MariaDB server of ``SCHEMASHIFT_MARIADB_URL``, named after the run."""

    label, dialect, tool = "MariaDB", "mysql", "mysqldef"

    def __init__(self, sqldef: str, run_id: str, server_url: str) -> None:
        super().__init__(sqldef, run_id)
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

    def sqldef_env(self) -> dict[str, str]:
        # The password in the environment: a command line is visible to every local user.
        return {**os.environ, "MYSQL_PWD": self.address.password}

    def secrets(self) -> list[str]:
        return [self.address.password] if self.address.password else []

    async def server(self) -> str:
        (version,) = await self._run(self.server_url, ["SELECT VERSION()"])
        return f"MariaDB {version}"


class SQLite(Backend):
    """Database files in a temporary folder of this run."""

    label, dialect, tool = "SQLite", "sqlite", "sqlite3def"

    def __init__(self, sqldef: str, run_id: str) -> None:
        super().__init__(sqldef, run_id)
        self.folder = Path(tempfile.mkdtemp(prefix=f"bench_engine_{run_id}_"))

    async def load(self, name: str, statements: list[str]) -> str:
        path = self.folder / f"{name}.db"
        conn = sqlite3.connect(path)
        try:
            conn.executescript(";\n".join(statements) + ";")
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
    """The MariaDB server's URL: the environment's, else the env file's ``infra up`` wrote."""
    url = os.environ.get(MARIADB_URL_ENV) or envfile.read(REPO / ".schemashift" / "env").get(
        MARIADB_URL_ENV
    )
    if not url:
        raise SystemExit(f"{MARIADB_URL_ENV} is not set: the MariaDB server's URL is needed")
    return url


def find_sqldef(explicit: str | None, name: str) -> str:
    """The sqldef command ``name`` to benchmark: ``explicit``, else the one on ``PATH``."""
    found = explicit or shutil.which(name)
    if found and Path(found).is_file() and os.access(found, os.X_OK):
        return found
    raise SystemExit(
        f"{name} not found: install sqldef's {name} (a Go program: go install "
        f"github.com/sqldef/sqldef/cmd/{name}@VERSION) on PATH, or pass --{name} PATH"
    )


def sqldef_version(path: str) -> str:
    """sqldef's version: what ``--version`` prints, else the module version Go recorded."""
    out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30)
    if out.stdout.strip():
        return out.stdout.strip()
    go = shutil.which("go")
    if go:
        info = subprocess.run([go, "version", "-m", path], capture_output=True, text=True)
        for line in info.stdout.splitlines():
            parts = line.split()
            if parts[:1] == ["mod"] and len(parts) >= 3:
                return f"{parts[1]} {parts[2]}"
    return "unknown (built without a version)"


def make_backend(args: argparse.Namespace, run_id: str) -> Backend:
    """The backend of ``args.dialect`` with its sqldef command."""
    if args.dialect == "mariadb":
        return MariaDB(find_sqldef(args.mysqldef, "mysqldef"), run_id, mariadb_url())
    return SQLite(find_sqldef(args.sqlite3def, "sqlite3def"), run_id)


# --- one run of each tool -------------------------------------------------------------------


@dataclass
class SqldefRun:
    """sqldef's two processes of one comparison."""

    export: ProcessRun
    dry_run: ProcessRun

    @property
    def wall_s(self) -> float:
        """Both processes, one after the other."""
        return self.export.wall_s + self.dry_run.wall_s

    @property
    def cpu_s(self) -> float:
        """CPU time of both processes."""
        return self.export.cpu_s + self.dry_run.cpu_s

    @property
    def peak_mb(self) -> float:
        """The larger peak of the two (they never run at once)."""
        return max(self.export.peak_mb, self.dry_run.peak_mb)


def _checked(backend: Backend, run: ProcessRun, what: str) -> ProcessRun:
    """``run``, or :class:`BenchError` with its (redacted) error output when it failed."""
    if run.returncode != 0:
        detail = redact_text(run.stderr[-2000:], *backend.secrets())
        raise BenchError(f"{what} failed ({run.returncode}): {detail}")
    return run


def run_sqldef(
    backend: Backend, source_url: str, target_url: str, folder: Path, timeout: float
) -> SqldefRun:
    """sqldef's export of the source, then its dry run against the target."""
    env = backend.sqldef_env()
    export = _checked(
        backend,
        measure_process(backend.export_cmd(source_url), timeout, env=env),
        f"{backend.tool} --export",
    )
    desired = folder / "desired.sql"
    desired.write_text(export.stdout)
    dry_run = _checked(
        backend,
        measure_process(
            backend.apply_cmd(target_url, dry_run=True), timeout, stdin=desired, env=env
        ),
        f"{backend.tool} --dry-run",
    )
    return SqldefRun(export, dry_run)


def count_sqldef_statements(sql: str) -> int:
    """Statements in sqldef's output: lines ending with ``;``, comments and BEGIN/COMMIT aside."""
    lines = (line.strip() for line in sql.splitlines())
    return sum(
        1
        for line in lines
        if line.endswith(";") and not line.startswith("--") and line not in ("BEGIN;", "COMMIT;")
    )


# --- convergence ----------------------------------------------------------------------------


def summarize(left: list[Operation]) -> str:
    """What a re-diff still finds, counted by kind of operation and object."""
    counts = collections.Counter(f"{o.kind} {o.object_type}" for o in left)
    return ", ".join(f"{n} {kind}" for kind, n in counts.most_common())


async def apply_ours(url: str, script: Script, dialect: str) -> str | None:
    """Apply ``script`` to ``url`` through the executor's apply path; the failure, if any."""
    adapter = adapter_for(dialect)
    if adapter is None:
        return f"no executor for {dialect}"

    async def fingerprint() -> str:
        return (await introspect(url)).fingerprint()

    async def progress(index: int, total: int, sql: str, ms: float) -> None:
        return None

    async with driver_for_url(url).connect(url, timeout=30) as conn:
        result = await apply_script(
            adapter,
            conn,
            uuid.uuid4(),
            script.statements,
            "bench",
            expected_fingerprint=None,
            fingerprint=fingerprint,
            on_progress=progress,
        )
    if isinstance(result, Applied):
        return None
    return f"{result.reason}: {result.statement!r}: {result.database_error}"


async def left_after(source_url: str, url: str) -> list[Operation]:
    """What Schemashift still finds between the source and ``url``."""
    source, target = await asyncio.gather(introspect(source_url), introspect(url))
    return diff(source, target)


@dataclass
class Convergence:
    """Whether each tool's script makes a copy of the target match the source."""

    ours: str | None  # the failure, None when it converges
    sqldef_ok: bool
    sqldef: str  # a one-line account of sqldef's outcome


async def check_convergence(
    backend: Backend,
    size: int,
    source_url: str,
    target_ddl: list[str],
    script: Script,
    desired: Path,
    timeout: float,
) -> Convergence:
    """Apply each tool's script to its own fresh copy of the target, then re-diff."""
    ours_url, theirs_url = await asyncio.gather(
        backend.load(f"{size}_converge_ours", target_ddl),
        backend.load(f"{size}_converge_sqldef", target_ddl),
    )
    failure = await apply_ours(ours_url, script, backend.dialect)
    if failure is None and (left := await left_after(source_url, ours_url)):
        failure = f"re-diff not empty ({len(left)} operations): {summarize(left)}"

    run = measure_process(
        backend.apply_cmd(theirs_url, dry_run=False),
        timeout,
        stdin=desired,
        env=backend.sqldef_env(),
    )
    left = await left_after(source_url, theirs_url)
    if run.returncode != 0:
        error = redact_text(run.stderr.strip()[-300:], *backend.secrets())
        account = f"{backend.tool}'s script fails to apply ({run.returncode}): {error}"
    elif not left:
        account = f"{backend.tool}'s script converges (Schemashift re-diff empty)"
    else:
        account = (
            f"{backend.tool}'s script applies but leaves {len(left)} differences "
            f"(Schemashift re-diff): {summarize(left)}"
        )
    return Convergence(failure, run.returncode == 0 and not left, account)


# --- the benchmark --------------------------------------------------------------------------


@dataclass
class SizeResult:
    """Everything measured at one size."""

    tables: int
    objects: int
    changed: int
    changes: dict[str, int]
    load_s: float
    ss_wall: list[float] = field(default_factory=list)
    ss_peak: list[float] = field(default_factory=list)
    ss_cpu: list[float] = field(default_factory=list)
    ss_inproc: list[dict[str, Any]] = field(default_factory=list)
    sqldef_wall: list[float] = field(default_factory=list)
    sqldef_peak: list[float] = field(default_factory=list)
    sqldef_cpu: list[float] = field(default_factory=list)
    dry_run_wall: list[float] = field(default_factory=list)
    dry_run_peak: list[float] = field(default_factory=list)
    export_wall: list[float] = field(default_factory=list)
    ss_statements: int = 0
    ss_ops: int = 0
    sqldef_statements: int = 0
    convergence: Convergence | None = None

    def median(self, name: str) -> float:
        """Median of a list attribute (or of an in-process step's times)."""
        if name.startswith("inproc."):
            return statistics.median(r[name[7:]] for r in self.ss_inproc)
        return statistics.median(getattr(self, name))


def _record(res: SizeResult, ss: ProcessRun, sd: SqldefRun, inproc: dict[str, Any]) -> None:
    res.ss_wall.append(ss.wall_s)
    res.ss_peak.append(ss.peak_mb)
    res.ss_cpu.append(ss.cpu_s)
    res.sqldef_wall.append(sd.wall_s)
    res.sqldef_peak.append(sd.peak_mb)
    res.sqldef_cpu.append(sd.cpu_s)
    res.export_wall.append(sd.export.wall_s)
    res.dry_run_wall.append(sd.dry_run.wall_s)
    res.dry_run_peak.append(sd.dry_run.peak_mb)
    res.sqldef_statements = count_sqldef_statements(sd.dry_run.stdout)
    res.ss_inproc.append({k: v for k, v in inproc.items() if k not in ("sql", "script")})


async def bench_size(
    args: argparse.Namespace, backend: Backend, size: int, folder: Path
) -> SizeResult:
    """Load one schema pair, check convergence, time both tools ``--repeat`` times."""
    pair = build_pair(size, args.seed, args.dialect)
    start = time.perf_counter()
    source_url, target_url = await asyncio.gather(
        backend.load(f"{size}_src", pair.source_ddl),
        backend.load(f"{size}_tgt", pair.target_ddl),
    )
    res = SizeResult(size, pair.objects, pair.changed, pair.changes, time.perf_counter() - start)
    print(
        f"\n== {backend.label}, {size} tables: {pair.objects} objects, {pair.changed} changed "
        f"({100 * pair.changed / pair.objects:.1f} %), loaded in {res.load_s:.1f} s",
        flush=True,
    )
    ss_cmd = [sys.executable, "-m", "schemashift.gateway.cli", "diff", source_url, target_url]
    warm = await run_engine(source_url, target_url, backend.dialect)  # warm-up; the script
    res.ss_statements, res.ss_ops = warm["statements"], warm["ops"]
    if not args.no_check:
        run_sqldef(backend, source_url, target_url, folder, args.timeout)  # desired.sql
        res.convergence = await check_convergence(
            backend, size, source_url, pair.target_ddl, warm["script"],
            folder / "desired.sql", args.timeout,
        )  # fmt: skip
        if res.convergence.ours:
            raise BenchError(
                f"Schemashift's script does not converge at {size} tables: {res.convergence.ours}"
            )
        print(f"  convergence: Schemashift's script converges; {res.convergence.sqldef}")
    for i in range(args.repeat):
        ss = measure_process(ss_cmd, args.timeout)
        if ss.returncode != 0:
            detail = redact_text(ss.stderr[-2000:], *backend.secrets())
            raise BenchError(f"schemashift diff failed ({ss.returncode}): {detail}")
        sd = run_sqldef(backend, source_url, target_url, folder, args.timeout)
        inproc = await run_engine(source_url, target_url, backend.dialect)
        _record(res, ss, sd, inproc)
        print(
            f"  run {i + 1}: schemashift {ss.wall_s:.2f} s (cpu {ss.cpu_s:.2f}) / "
            f"{ss.peak_mb:.0f} MB (in-process {inproc['total_s']:.2f} s: introspect "
            f"{inproc['introspect_s']:.2f} diff {inproc['diff_s']:.2f} generate "
            f"{inproc['generate_s']:.2f}); {backend.tool} {sd.wall_s:.2f} s = export "
            f"{sd.export.wall_s:.2f} + dry run {sd.dry_run.wall_s:.2f} (cpu {sd.cpu_s:.2f}) / "
            f"{sd.peak_mb:.0f} MB",
            flush=True,
        )
    return res


# --- the report -----------------------------------------------------------------------------


def _converges(res: SizeResult) -> str:
    if res.convergence is None:
        return "not checked"
    return f"yes / {'yes' if res.convergence.sqldef_ok else 'no'}"


def report(results: list[SizeResult], backend: Backend) -> str:
    """The markdown report: one table, then CPU, in-process steps, changes, convergence."""
    tool = backend.tool
    lines = [
        f"| tables | objects | changed | schemashift wall s | schemashift peak MB "
        f"| {tool} wall s (export + dry run) | {tool} dry run alone s | {tool} peak MB "
        f"| ratio ({tool} / schemashift) | statements (ours / {tool}) "
        f"| converges (ours / {tool}) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        ss, sd = r.median("ss_wall"), r.median("sqldef_wall")
        lines.append(
            f"| {r.tables:,} | {r.objects:,} | {r.changed:,} | {ss:.2f} "
            f"| {r.median('ss_peak'):.0f} | {sd:.2f} | {r.median('dry_run_wall'):.2f} "
            f"| {r.median('sqldef_peak'):.0f} | {sd / ss:.2f}x "
            f"| {r.ss_statements:,} / {r.sqldef_statements:,} | {_converges(r)} |"
        )
    lines += [
        "",
        "Client CPU time (user + sys, median s; the server's work is not in it): "
        + "; ".join(
            f"{r.tables:,} tables: schemashift {r.median('ss_cpu'):.2f}, {tool} "
            f"{r.median('sqldef_cpu'):.2f} (export {r.median('export_wall'):.2f} s wall)"
            for r in results
        ),
        "",
        "Schemashift in-process (medians, s): "
        + "; ".join(
            f"{r.tables:,} tables: total {r.median('inproc.total_s'):.3f} = introspect "
            f"{r.median('inproc.introspect_s'):.3f} + diff {r.median('inproc.diff_s'):.3f} "
            f"+ generate {r.median('inproc.generate_s'):.3f} ({r.ss_ops:,} operations)"
            for r in results
        ),
        "",
        "Ratio of the dry run alone to schemashift's whole process: "
        + "; ".join(
            f"{r.tables:,} tables: {r.median('dry_run_wall') / r.median('ss_wall'):.2f}x"
            for r in results
        ),
    ]
    for r in results:
        kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(r.changes.items()))
        lines += ["", f"Changes at {r.tables:,} tables ({r.changed:,}): {kinds}."]
        if r.convergence is not None:
            lines += [
                "",
                f"Convergence at {r.tables:,} tables: Schemashift's script converges "
                f"(re-diff empty); {r.convergence.sqldef}.",
            ]
    return "\n".join(lines) + "\n"


async def _header(backend: Backend, args: argparse.Namespace, load_before: float) -> str:
    return (
        f"# Engine benchmark, {backend.label} ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)\n\n"
        f"{await backend.server()}; Schemashift on Python {platform.python_version()}; "
        f"{backend.tool}: {sqldef_version(backend.sqldef)}; seed {args.seed}, median of "
        f"{args.repeat} runs; wall times are whole-process (interpreter start included), "
        f"measured in one run, the tools side by side. Host: {os.cpu_count()} CPUs, load "
        f"average {load_before:.1f} at start, {os.getloadavg()[0]:.1f} at end"
        + (" (the database server runs on the same host)" if backend.dialect == "mysql" else "")
        + ".\n\n"
    )


async def main_async(args: argparse.Namespace) -> None:
    """Run every size of ``args.dialect``, print and write the report."""
    os.chdir(REPO)
    backend = make_backend(args, uuid.uuid4().hex[:8])
    load_before = os.getloadavg()[0]
    results: list[SizeResult] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for size in args.sizes:
                results.append(await bench_size(args, backend, size, Path(tmp)))
    except BenchError as exc:
        print(f"\nERROR: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    finally:
        if not args.keep:
            await backend.drop_all()
    text = report(results, backend)
    header = await _header(backend, args, load_before)
    print("\n" + text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"engine-{args.dialect}.md"
    path.write_text(header + text)
    print(f"written to {path.relative_to(REPO)}")

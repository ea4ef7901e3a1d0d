"""Engine benchmark on MariaDB and SQLite: Schemashift against sqldef and Alembic.

``bench/engine.py --dialect mariadb|sqlite`` runs this module. For each size (number of
tables) it generates a schema pair with :mod:`bench.schemagen_dialects` (seeded, so
deterministic), loads the source (desired) and the target (to migrate, about 5 % of its
objects differ) into two fresh databases (:mod:`bench.dialect_dbs`), then measures,
interleaved, ``--repeat`` times each:

* **Schemashift, whole process**: ``schemashift diff SRC TGT`` (as
  ``python -m schemashift.gateway.cli``) in a fresh subprocess, interpreter start, imports and
  printing the script included;
* **Schemashift, in-process**: introspect, diff and generate in this process, step by step;
* **the anchors** (:mod:`bench.anchors`), whole processes: sqldef's export of the source plus
  its dry run against the target (``mysqldef`` or ``sqlite3def``), and, unless
  ``--no-alembic``, Alembic's autogenerate.

Wall times are medians; peak memory is a process's maximum resident set size as GNU
``/usr/bin/time`` reports it, median over the runs; client CPU time (user + sys) is reported
too. The database server's own work (MariaDB) is in no process's CPU time.

At every size it first checks convergence: Schemashift's script, applied through the
executor's own apply path to a fresh copy of the target, must leave a re-diff empty (the run
stops with an error otherwise); each anchor applies its own script to another copy (sqldef:
the same command without ``--dry-run``), and what Schemashift's re-diff still finds there is
reported (information: an anchor may fail on, or leave, some changes).

The MariaDB password reaches mysqldef as ``MYSQL_PWD`` in its environment, never on its
command line, and every error text shown is redacted. Results are printed as markdown and
written to ``bench/results/engine-<dialect>.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import platform
import re
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.anchors import Alembic, Anchor, AnchorRun, BenchError, Sqldef, find_sqldef
from bench.dialect_dbs import Backend, make_backend
from bench.measure import REPO, ProcessRun, measure_process, run_engine
from bench.schemagen_dialects import build_pair
from schemashift.consumers.common.drivers import driver_for_url
from schemashift.consumers.common.redact import redact_text
from schemashift.consumers.comparator.diff import diff
from schemashift.consumers.comparator.introspect import introspect
from schemashift.consumers.executor.apply import Applied, apply_script
from schemashift.consumers.executor.registry import adapter_for
from schemashift.schemas.operations import Operation, Script

RESULTS = REPO / "bench" / "results"
EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Warning)\b: ")


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


def error_line(stderr: str) -> str:
    """The line of ``stderr`` that says what failed: a Python traceback's exception line, a
    Go program's last line."""
    lines = stderr.strip().splitlines() or ["(no error output)"]
    raised = [line for line in lines if EXCEPTION_LINE.match(line)]
    return (raised or lines)[-1]


@dataclass(frozen=True)
class Outcome:
    """Whether an anchor's script made its copy of the target match the source."""

    converges: bool
    account: str  # one line: applied or failed, and what the re-diff still finds


async def anchor_outcome(
    anchor: Anchor, backend: Backend, source_url: str, copy_url: str
) -> Outcome:
    """Let ``anchor`` apply its script to ``copy_url``, then re-diff with Schemashift."""
    how = anchor.applying(source_url, copy_url)
    run = measure_process(how.cmd, anchor.timeout, stdin=how.stdin, env=how.env)
    left = await left_after(source_url, copy_url)
    still = f"; Schemashift's re-diff then finds {len(left)}: {summarize(left)}" if left else ""
    if run.returncode != 0:
        error = redact_text(error_line(run.stderr)[:400], *backend.secrets())
        return Outcome(False, f"{anchor.name}'s script fails to apply: {error}{still}")
    if not left:
        return Outcome(True, f"{anchor.name}'s script converges (Schemashift re-diff empty)")
    return Outcome(False, f"{anchor.name}'s script applies but leaves differences{still}")


async def check_convergence(
    backend: Backend,
    anchors: list[Anchor],
    size: int,
    source_url: str,
    target_ddl: list[str],
    script: Script,
) -> dict[str, Outcome]:
    """Apply each tool's script to its own fresh copy of the target, then re-diff; the
    anchors' outcomes by name. :class:`BenchError` if Schemashift's does not converge."""
    copies = await asyncio.gather(
        *(backend.load(f"{size}_converge_{k}", target_ddl) for k in range(1 + len(anchors)))
    )
    failure = await apply_ours(copies[0], script, backend.dialect)
    if failure is None and (left := await left_after(source_url, copies[0])):
        failure = f"re-diff not empty ({len(left)} operations): {summarize(left)}"
    if failure:
        detail = redact_text(failure, *backend.secrets())
        raise BenchError(f"Schemashift's script does not converge at {size} tables: {detail}")
    return {
        a.name: await anchor_outcome(a, backend, source_url, url)
        for a, url in zip(anchors, copies[1:], strict=True)
    }


# --- the benchmark --------------------------------------------------------------------------


@dataclass
class Timings:
    """What one tool's medians are taken from: wall, peak and CPU of each run (and of its
    last step alone)."""

    wall: list[float] = field(default_factory=list)
    peak: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    last_wall: list[float] = field(default_factory=list)
    last_peak: list[float] = field(default_factory=list)
    last_cpu: list[float] = field(default_factory=list)
    statements: int = 0

    def add(self, run: ProcessRun | AnchorRun) -> None:
        """Record one run."""
        self.wall.append(run.wall_s)
        self.peak.append(run.peak_mb)
        self.cpu.append(run.cpu_s)
        if isinstance(run, AnchorRun):
            self.last_wall.append(run.last.wall_s)
            self.last_peak.append(run.last.peak_mb)
            self.last_cpu.append(run.last.cpu_s)


@dataclass
class SizeResult:
    """Everything measured at one size."""

    tables: int
    objects: int
    changed: int
    changes: dict[str, int]
    load_s: float
    ours: Timings = field(default_factory=Timings)
    inproc: list[dict[str, Any]] = field(default_factory=list)
    anchors: dict[str, Timings] = field(default_factory=dict)
    ops: int = 0
    outcomes: dict[str, Outcome] | None = None
    failures: dict[str, str] = field(default_factory=dict)  # anchors that failed to run

    def inproc_median(self, name: str) -> float:
        """Median of an in-process step's times."""
        return statistics.median(r[name] for r in self.inproc)


def make_anchors(args: argparse.Namespace, backend: Backend, folder: Path) -> list[Anchor]:
    """sqldef of the dialect, and Alembic unless ``--no-alembic``."""
    explicit = args.mysqldef if backend.sqldef == "mysqldef" else args.sqlite3def
    anchors: list[Anchor] = [
        Sqldef(backend, folder, args.timeout, find_sqldef(explicit, backend.sqldef))
    ]
    if not args.no_alembic:
        anchors.append(Alembic(backend, folder, args.timeout))
    return anchors


def _print_run(i: int, ss: ProcessRun, inproc: dict[str, Any], runs: dict[str, AnchorRun]) -> None:
    line = (
        f"  run {i + 1}: schemashift {ss.wall_s:.2f} s (cpu {ss.cpu_s:.2f}) / {ss.peak_mb:.0f} MB"
        f" (in-process {inproc['total_s']:.2f} s: introspect {inproc['introspect_s']:.2f} diff "
        f"{inproc['diff_s']:.2f} generate {inproc['generate_s']:.2f})"
    )
    for name, run in runs.items():
        steps = " + ".join(f"{s.wall_s:.2f}" for s in run.steps)
        line += f"; {name} {run.wall_s:.2f} s ({steps}; cpu {run.cpu_s:.2f}) / {run.peak_mb:.0f} MB"
    print(line, flush=True)


def _warm_up(
    anchors: list[Anchor], res: SizeResult, source_url: str, target_url: str
) -> list[Anchor]:
    """Run each anchor once (a warm-up, which also writes the files its applying reads); the
    anchors that ran. One that fails is left out at this size, its failure recorded."""
    running = []
    for a in anchors:
        try:
            a.measure(source_url, target_url)
        except BenchError as exc:
            what, _, detail = str(exc).partition(": ")  # "<command> failed (<code>): ..."
            res.failures[a.name] = f"{what}: {error_line(detail)[:400]}"
            print(f"  {a.name} fails to run: {res.failures[a.name]}", flush=True)
        else:
            running.append(a)
    return running


async def bench_size(
    args: argparse.Namespace, backend: Backend, anchors: list[Anchor], size: int
) -> SizeResult:
    """Load one schema pair, check convergence, time every tool ``--repeat`` times."""
    pair = build_pair(size, args.seed, args.dialect)
    start = time.perf_counter()
    source_url, target_url = await asyncio.gather(
        backend.load(f"{size}_src", pair.source_ddl),
        backend.load(f"{size}_tgt", pair.target_ddl),
    )
    res = SizeResult(size, pair.objects, pair.changed, pair.changes, time.perf_counter() - start)
    res.anchors = {a.name: Timings() for a in anchors}
    print(
        f"\n== {backend.label}, {size} tables: {pair.objects} objects, {pair.changed} changed "
        f"({100 * pair.changed / pair.objects:.1f} %), loaded in {res.load_s:.1f} s",
        flush=True,
    )
    ss_cmd = [sys.executable, "-m", "schemashift.gateway.cli", "diff", source_url, target_url]
    warm = await run_engine(source_url, target_url, backend.dialect)  # warm-up; the script
    res.ours.statements, res.ops = warm["statements"], warm["ops"]
    running = _warm_up(anchors, res, source_url, target_url)
    if not args.no_check:
        res.outcomes = await check_convergence(
            backend, running, size, source_url, pair.target_ddl, warm["script"]
        )
        for outcome in res.outcomes.values():
            print(f"  convergence: {outcome.account}", flush=True)
    for i in range(args.repeat):
        ss = measure_process(ss_cmd, args.timeout)
        if ss.returncode != 0:
            detail = redact_text(ss.stderr[-2000:], *backend.secrets())
            raise BenchError(f"schemashift diff failed ({ss.returncode}): {detail}")
        res.ours.add(ss)
        runs = {a.name: a.measure(source_url, target_url) for a in running}
        for a in running:
            res.anchors[a.name].add(runs[a.name])
            res.anchors[a.name].statements = a.count_statements(runs[a.name].last.stdout)
        inproc = await run_engine(source_url, target_url, backend.dialect)
        res.inproc.append({k: v for k, v in inproc.items() if k not in ("sql", "script")})
        _print_run(i, ss, inproc, runs)
    return res


# --- the report -----------------------------------------------------------------------------


def _row(tables: str, tool: str, t: Timings, ours_wall: float, converges: str, last: bool) -> str:
    wall = statistics.median(t.last_wall if last else t.wall)
    peak = statistics.median(t.last_peak if last else t.peak)
    cpu = statistics.median(t.last_cpu if last else t.cpu)
    statements = f"{t.statements:,}" if not last else ""
    ratio = f"{wall / ours_wall:.2f}x"
    return (
        f"| {tables} | {tool} | {wall:.2f} | {peak:.0f} | {cpu:.2f} | {ratio} | {statements} "
        f"| {converges} |"
    )


def _converges(res: SizeResult, name: str) -> str:
    if res.outcomes is None:
        return "not checked"
    return "yes" if res.outcomes[name].converges else "no"


def report(results: list[SizeResult], anchors: list[Anchor]) -> str:
    """The markdown report: the table, then in-process steps, changes and convergence."""
    lines = [
        "| tables | tool | wall s | peak MB | CPU s | wall vs schemashift | statements "
        "| converges |",
        "|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        ours_wall = statistics.median(r.ours.wall)
        checked = "yes" if r.outcomes is not None else "not checked"
        lines.append(_row(f"{r.tables:,}", "schemashift diff", r.ours, ours_wall, checked, False))
        for a in anchors:
            if a.name in r.failures:
                lines.append(f"|  | {a.name} | - | - | - | - | - | fails to run |")
                continue
            t, converges = r.anchors[a.name], _converges(r, a.name)
            steps = " (export + dry run)" if a.last_step else ""
            lines.append(_row("", f"{a.name}{steps}", t, ours_wall, converges, False))
            if a.last_step:
                lines.append(_row("", f"{a.name}, {a.last_step} alone", t, ours_wall, "", True))
    lines += [
        "",
        "Schemashift in-process (medians, s): "
        + "; ".join(
            f"{r.tables:,} tables: total {r.inproc_median('total_s'):.3f} = introspect "
            f"{r.inproc_median('introspect_s'):.3f} + diff {r.inproc_median('diff_s'):.3f} "
            f"+ generate {r.inproc_median('generate_s'):.3f} ({r.ops:,} operations)"
            for r in results
        ),
    ]
    for r in results:
        kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(r.changes.items()))
        lines += [
            "",
            f"Pair at {r.tables:,} tables: {r.objects:,} objects, {r.changed:,} changed "
            f"({kinds}); loaded in {r.load_s:.1f} s.",
        ]
        for name, failure in r.failures.items():
            lines += ["", f"{name} fails to run at {r.tables:,} tables: {failure}."]
        if r.outcomes is not None:
            accounts = "; ".join(o.account for o in r.outcomes.values())
            lines += [
                "",
                f"Convergence at {r.tables:,} tables: Schemashift's script converges (applied "
                f"by the executor, re-diff empty); {accounts}.",
            ]
    return "\n".join(lines) + "\n"


async def _header(
    backend: Backend, anchors: list[Anchor], args: argparse.Namespace, load_before: float
) -> str:
    versions = "; ".join(f"{a.name}: {a.version()}" for a in anchors)
    same_host = " (the database server runs on the same host)" if backend.label == "MariaDB" else ""
    return (
        f"# Engine benchmark, {backend.label} ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)\n\n"
        f"{await backend.server()}; Schemashift on Python {platform.python_version()}; "
        f"{versions}; seed {args.seed}, median of {args.repeat} runs; wall times are "
        "whole-process (interpreter start included), the tools measured side by side in one "
        f"run. Host: {os.cpu_count()} CPUs, load average {load_before:.1f} at start, "
        f"{os.getloadavg()[0]:.1f} at end{same_host}.\n\n"
    )


async def main_async(args: argparse.Namespace) -> None:
    """Run every size of ``args.dialect``, print and write the report."""
    os.chdir(REPO)
    backend = make_backend(args.dialect, uuid.uuid4().hex[:8])
    load_before = os.getloadavg()[0]
    results: list[SizeResult] = []
    with tempfile.TemporaryDirectory() as tmp:
        anchors = make_anchors(args, backend, Path(tmp))
        try:
            for size in args.sizes:
                results.append(await bench_size(args, backend, anchors, size))
        except BenchError as exc:
            print(f"\nERROR: {exc}", file=sys.stderr)
            raise SystemExit(1) from None
        finally:
            if not args.keep:
                await backend.drop_all()
        header = await _header(backend, anchors, args, load_before)
    text = report(results, anchors)
    print("\n" + text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"engine-{args.dialect}.md"
    path.write_text(header + text)
    print(f"written to {path.relative_to(REPO)}")

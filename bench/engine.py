"""Engine benchmark: Schemashift's compare + generate against migra, on the same databases.

For each size (number of tables) it generates a realistic schema pair with
:mod:`bench.schemagen` (seeded, so deterministic), loads the source (desired) and the target
(to migrate, about 5 % of its objects differ) into two fresh databases of the local PostgreSQL
server, then measures, interleaved, ``--repeat`` times each:

* **Schemashift, whole process**: ``schemashift diff SRC TGT`` (the command line users run,
  as ``python -m schemashift.gateway.cli``) in a fresh subprocess, interpreter start, imports
  and printing the script included: introspect both databases concurrently, diff, generate;
* **Schemashift, in-process**: the same three steps in this process (after one warm-up run),
  with the time of each step;
* **migra, whole process**: ``migra --unsafe TGT SRC`` in a fresh subprocess (migra's FROM is
  the database to migrate, its TO the desired one).

Wall times are medians; peak memory is the process's maximum resident set size as GNU
``/usr/bin/time`` reports it, median over the runs; client CPU time (user + sys) is reported
too, as it is robust to a busy host where wall times are not.

At the smallest size it first checks that the Schemashift script, applied to a copy of the
target, converges (a re-diff is empty) and stops with an error if it does not; it also reports
whether migra's script converges (information only).

Results are printed as a markdown table and written to ``bench/results/engine.md``.

Usage (from the repository root, with the infrastructure up)::

    /tmp/venv/bin/python bench/engine.py [--sizes 100,1000,3000] [--repeat 3] [--seed 42]
        [--migra PATH] [--profile] [--keep]
    /tmp/venv/bin/python bench/engine.py --dialect mariadb|sqlite [--sizes 1000]
        [--mysqldef PATH | --sqlite3def PATH] [--no-alembic] [--repeat 3] [--keep]

``--dialect mariadb`` and ``--dialect sqlite`` run the same comparison on MariaDB and SQLite
pairs against sqldef's ``mysqldef`` and ``sqlite3def`` and Alembic's autogenerate
(:mod:`bench.engine_dialects`, which says how); the default, ``postgres``, is what the rest
of this text describes.

migra (``pip install migra psycopg2-binary``) runs with SQLAlchemy 2.x provided it is given a
``postgresql+psycopg2://`` URL (SQLAlchemy 2 maps a bare ``postgresql://`` to psycopg 3). By
default the ``migra`` next to this interpreter is used, else ``bench/.venv-migra/bin/migra``,
else the one on ``PATH``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SELF = Path(__file__).resolve()
REPO = SELF.parent.parent
RESULTS = REPO / "bench" / "results"
sys.path.insert(0, str(REPO))

import asyncpg  # noqa: E402

from bench.measure import measure_process, run_engine  # noqa: E402
from schemashift.consumers.comparator.diff import diff  # noqa: E402
from schemashift.consumers.comparator.introspect import introspect  # noqa: E402

DB_PREFIX = "bench_engine"


# --- process measurement --------------------------------------------------------------------


def startup_cpu() -> float:
    """CPU seconds of a process that starts the interpreter and imports the whole engine."""
    imports = (
        "import schemashift.gateway.cli, schemashift.consumers.comparator.introspect, "
        "schemashift.consumers.comparator.diff, schemashift.consumers.generator.render"
    )
    run = measure_process([sys.executable, "-c", imports], timeout=60)
    if run.returncode != 0:
        _fail(f"importing the engine failed: {run.stderr[-2000:]}")
    return run.cpu_s


def count_migra_statements(sql: str) -> int:
    """Statements in migra's output: lines ending with ``;`` (the schema has no functions)."""
    return sum(1 for line in sql.splitlines() if line.rstrip().endswith(";"))


def psycopg2_url(url: str) -> str:
    """The same URL for SQLAlchemy + psycopg2 (what migra needs, with SQLAlchemy 1.4 or 2)."""
    scheme, _, rest = url.partition("://")
    return f"postgresql+psycopg2://{rest}" if scheme in ("postgresql", "postgres") else url


def find_migra(explicit: str | None) -> str:
    """The migra executable to benchmark (see the module docstring)."""
    candidates = [
        explicit,
        str(Path(sys.executable).with_name("migra")),
        str(REPO / "bench" / ".venv-migra" / "bin" / "migra"),
        shutil.which("migra"),
    ]
    for c in candidates:
        if c and Path(c).is_file() and os.access(c, os.X_OK):
            return c
    raise SystemExit("migra not found: pip install migra psycopg2-binary (or pass --migra PATH)")


# --- databases ------------------------------------------------------------------------------


def db_url(admin_url: str, name: str) -> str:
    """``admin_url`` pointing at database ``name``."""
    return f"{admin_url.rpartition('/')[0]}/{name}"


async def create_db(
    admin_url: str, name: str, ddl: list[str] | None = None, template: str | None = None
) -> str:
    """(Re)create database ``name``, empty, from ``template`` or loaded with ``ddl``.

    Each batch of ``ddl`` is one multi-statement execute; the catalogs are then vacuumed and
    analyzed, as on a database in use (fresh catalog statistics, no autovacuum pending).
    """
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        suffix = f' TEMPLATE "{template}"' if template else ""
        await admin.execute(f'CREATE DATABASE "{name}"{suffix}')
    finally:
        await admin.close()
    url = db_url(admin_url, name)
    if ddl:
        conn = await asyncpg.connect(url)
        try:
            for batch in ddl:
                await conn.execute(batch)  # multi-statement, simple query protocol
            await conn.execute("VACUUM ANALYZE")
        finally:
            await conn.close()
    return url


async def drop_dbs(admin_url: str, names: list[str]) -> None:
    """Drop the databases ``names`` (those that exist)."""
    admin = await asyncpg.connect(admin_url)
    try:
        for name in names:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


# --- convergence ----------------------------------------------------------------------------


async def check_convergence(
    admin_url: str, source_url: str, target_db: str, ours: list[str], migra_sql: str
) -> tuple[str | None, str]:
    """Apply each tool's script to a copy of the target, then re-diff against the source.

    Returns (our failure or None, a one-line account of migra's outcome).
    """
    copy_db = f"{DB_PREFIX}_converge"
    failure: str | None = None
    try:
        url = await create_db(admin_url, copy_db, template=target_db)
        conn = await asyncpg.connect(url)
        try:
            for sql in ours:
                try:
                    await conn.execute(sql)
                except asyncpg.PostgresError as exc:
                    failure = f"statement failed: {sql!r}: {exc}"
                    break
        finally:
            await conn.close()
        if failure is None:
            left = diff(*await asyncio.gather(introspect(source_url), introspect(url)))
            if left:
                shown = "; ".join(f"{o.kind} {o.object_type} {o.name}" for o in left[:10])
                failure = f"re-diff not empty ({len(left)} operations): {shown}"

        url = await create_db(admin_url, copy_db, template=target_db)
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(migra_sql)
        except asyncpg.PostgresError as exc:
            migra_outcome = f"migra's script fails to apply: {type(exc).__name__}: {exc}"
        else:
            left = diff(*await asyncio.gather(introspect(source_url), introspect(url)))
            migra_outcome = (
                "migra's script converges (Schemashift re-diff empty)"
                if not left
                else f"migra's script leaves {len(left)} differences (Schemashift re-diff): "
                + "; ".join(f"{o.kind} {o.object_type} {o.name}" for o in left[:5])
            )
        finally:
            await conn.close()
    finally:
        await drop_dbs(admin_url, [copy_db])
    return failure, migra_outcome


# --- profiling ------------------------------------------------------------------------------


def _backend_cpu(pid: int) -> float:
    """CPU seconds (user + sys) of a local server process, from /proc (0 if not readable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def time_queries(url: str) -> dict[str, tuple[float, float]]:
    """(wall s, server backend CPU s) of each introspection query (``*_SQL`` constants)."""
    from schemashift.consumers.comparator.introspect import postgres

    queries = {
        k: v
        for k, v in vars(postgres).items()
        if k.endswith("_SQL") and not k.startswith("_") and "$1" not in v
    }
    conn = await asyncpg.connect(url)
    times: dict[str, tuple[float, float]] = {}
    try:
        pid = await conn.fetchval("SELECT pg_backend_pid()")
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            await conn.execute("SELECT set_config('search_path', '', true)")
            for name, sql in queries.items():
                cpu, start = _backend_cpu(pid), time.perf_counter()
                await conn.fetch(sql)
                times[name] = (time.perf_counter() - start, _backend_cpu(pid) - cpu)
    finally:
        await conn.close()
    return times


async def profile(source_url: str, target_url: str, size: int) -> list[str]:
    """Per-query times and a pyinstrument profile of one in-process run; report lines."""
    lines = [f"### Profile at {size} tables", ""]
    for label, url in (("source", source_url), ("target", target_url)):
        times = await time_queries(url)
        wall, cpu = sum(w for w, _ in times.values()), sum(c for _, c in times.values())
        top = sorted(times.items(), key=lambda kv: -kv[1][0])
        lines.append(
            f"- introspection queries on the {label} alone (wall s / server CPU s): total "
            f"{wall:.3f} / {cpu:.2f} = "
            + ", ".join(f"{k} {w:.3f} / {c:.2f}" for k, (w, c) in top if w >= 0.01)
        )
    # Python-side cost of turning rows into a Catalog, and of diff/generate, by function.
    try:
        from pyinstrument import Profiler
    except ImportError:
        lines.append("- pyinstrument not installed: no function profile")
        return lines
    profiler = Profiler(async_mode="enabled")
    profiler.start()
    result = await run_engine(source_url, target_url)
    profiler.stop()
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = profiler.output_text(unicode=False, color=False, show_all=False)
    path = RESULTS / f"engine-profile-{size}.txt"
    path.write_text(text)
    (RESULTS / f"engine-profile-{size}.html").write_text(profiler.output_html())
    lines.append(
        f"- profiled run (wall / client CPU s): introspect {result['introspect_s']:.3f} / "
        f"{result['introspect_cpu_s']:.3f}, diff {result['diff_s']:.3f} / "
        f"{result['diff_cpu_s']:.3f}, generate {result['generate_s']:.3f} / "
        f"{result['generate_cpu_s']:.3f} (pyinstrument: {path.relative_to(REPO)})"
    )
    return lines


# --- the benchmark --------------------------------------------------------------------------


@dataclass
class SizeResult:
    """Everything measured at one size."""

    tables: int
    objects: int
    changed: int
    load_s: float
    ss_wall: list[float] = field(default_factory=list)
    ss_peak: list[float] = field(default_factory=list)
    ss_cpu: list[float] = field(default_factory=list)
    ss_inproc: list[dict[str, Any]] = field(default_factory=list)
    migra_wall: list[float] = field(default_factory=list)
    migra_peak: list[float] = field(default_factory=list)
    migra_cpu: list[float] = field(default_factory=list)
    ss_statements: int = 0
    ss_ops: int = 0
    migra_statements: int = 0

    def median(self, name: str) -> float:
        """Median of a list attribute (or of an in-process step's times)."""
        if name.startswith("inproc."):
            return statistics.median(r[name[7:]] for r in self.ss_inproc)
        return statistics.median(getattr(self, name))


def _fail(message: str) -> None:
    print(f"\nERROR: {message}", file=sys.stderr)
    raise SystemExit(1)


async def bench_size(
    args: argparse.Namespace, admin_url: str, size: int, migra: str, smallest: bool
) -> tuple[SizeResult, list[str]]:
    """Load one schema pair, check it (smallest size), time both tools, profile if asked."""
    from bench.schemagen import build_pair

    pair = build_pair(size, args.seed)
    src_db, tgt_db = f"{DB_PREFIX}_{size}_src", f"{DB_PREFIX}_{size}_tgt"
    notes: list[str] = []
    start = time.perf_counter()
    source_url, target_url = await asyncio.gather(
        create_db(admin_url, src_db, pair.source_ddl),
        create_db(admin_url, tgt_db, pair.target_ddl),
    )
    res = SizeResult(size, pair.objects, pair.changed, time.perf_counter() - start)
    print(
        f"\n== {size} tables: {pair.objects} objects, {pair.changed} changed "
        f"({100 * pair.changed / pair.objects:.1f} %), loaded in {res.load_s:.1f} s",
        flush=True,
    )
    try:
        migra_cmd = [migra, "--unsafe", psycopg2_url(target_url), psycopg2_url(source_url)]
        ss_cmd = [sys.executable, "-m", "schemashift.gateway.cli", "diff", source_url, target_url]

        warm = await run_engine(source_url, target_url)  # warm-up, and the script to check
        res.ss_statements, res.ss_ops = warm["statements"], warm["ops"]
        if smallest and not args.no_check:
            first = measure_process(migra_cmd, args.timeout)
            failure, migra_outcome = await check_convergence(
                admin_url, source_url, tgt_db, warm["sql"], first.stdout
            )
            if failure:
                _fail(f"Schemashift's script does not converge at {size} tables: {failure}")
            line = f"convergence at {size} tables: Schemashift's script converges; {migra_outcome}"
            print(line, flush=True)
            notes.append(line)

        for i in range(args.repeat):
            ss = measure_process(ss_cmd, args.timeout)
            if ss.returncode != 0:
                _fail(f"schemashift diff failed ({ss.returncode}): {ss.stderr[-2000:]}")
            res.ss_wall.append(ss.wall_s)
            res.ss_peak.append(ss.peak_mb)
            res.ss_cpu.append(ss.cpu_s)
            mg = measure_process(migra_cmd, args.timeout)
            if mg.returncode not in (0, 2):
                _fail(f"migra failed ({mg.returncode}): {mg.stderr[-2000:]}")
            res.migra_wall.append(mg.wall_s)
            res.migra_peak.append(mg.peak_mb)
            res.migra_cpu.append(mg.cpu_s)
            res.migra_statements = count_migra_statements(mg.stdout)
            inproc = await run_engine(source_url, target_url)
            inproc.pop("sql")
            inproc.pop("script")
            res.ss_inproc.append(inproc)
            print(
                f"  run {i + 1}: schemashift {ss.wall_s:.2f} s (cpu {ss.cpu_s:.2f}) / "
                f"{ss.peak_mb:.0f} MB "
                f"(in-process {inproc['total_s']:.2f} s: introspect {inproc['introspect_s']:.2f}"
                f" diff {inproc['diff_s']:.2f} generate {inproc['generate_s']:.2f}); "
                f"migra {mg.wall_s:.2f} s (cpu {mg.cpu_s:.2f}) / {mg.peak_mb:.0f} MB",
                flush=True,
            )
        if args.profile and size == max(args.sizes):
            notes += await profile(source_url, target_url, size)
    finally:
        if not args.keep:
            await drop_dbs(admin_url, [src_db, tgt_db])
    return res, notes


def _per_added(a: SizeResult, b: SizeResult, name: str) -> float:
    """Milliseconds of ``name`` (a median) per table added from size ``a`` to size ``b``."""
    return 1000 * (b.median(name) - a.median(name)) / (b.tables - a.tables)


def report(
    results: list[SizeResult], notes: list[str], args: argparse.Namespace, import_cpu: float
) -> str:
    """The markdown report: table, per-table growth, in-process breakdown, notes."""
    lines = [
        "| tables | objects | schemashift wall s | schemashift peak MB | migra wall s "
        "| migra peak MB | speed-up (migra/schemashift) | statements (ours) "
        "| statements (migra) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        ss, mg = r.median("ss_wall"), r.median("migra_wall")
        lines.append(
            f"| {r.tables:,} | {r.objects:,} | {ss:.2f} | {r.median('ss_peak'):.0f} | {mg:.2f} "
            f"| {r.median('migra_peak'):.0f} | {mg / ss:.1f}x | {r.ss_statements:,} "
            f"| {r.migra_statements:,} |"
        )
    lines += [
        "",
        "Growth, wall time per table (ms): "
        + "; ".join(
            f"{r.tables:,} tables: schemashift {1000 * r.median('ss_wall') / r.tables:.2f}, "
            f"in-process {1000 * r.median('inproc.total_s') / r.tables:.2f}, "
            f"migra {1000 * r.median('migra_wall') / r.tables:.2f}"
            for r in results
        ),
        "",
        # Linear growth shows as a constant cost per added table between sizes.
        "Wall time per added table between sizes (ms): "
        + "; ".join(
            f"{a.tables:,} -> {b.tables:,}: schemashift {_per_added(a, b, 'ss_wall'):.2f}, "
            f"migra {_per_added(a, b, 'migra_wall'):.2f}"
            for a, b in itertools.pairwise(results)
        ),
        "",
        "Client CPU time (user + sys of the process, median s; the server's work is not in "
        "it): "
        + "; ".join(
            f"{r.tables:,} tables: schemashift {r.median('ss_cpu'):.2f} (in-process run "
            f"{r.median('inproc.cpu_s'):.2f} = introspect {r.median('inproc.introspect_cpu_s'):.2f}"
            f" + diff {r.median('inproc.diff_cpu_s'):.2f} + generate "
            f"{r.median('inproc.generate_cpu_s'):.2f}), migra {r.median('migra_cpu'):.2f}"
            for r in results
        )
        + f". A process that only starts Python and imports the engine takes "
        f"{import_cpu:.2f} s of CPU "
        "(schemashift diff loads most of it in a thread while the servers answer).",
        "",
        "Schemashift in-process (medians, s): "
        + "; ".join(
            f"{r.tables:,} tables: total {r.median('inproc.total_s'):.3f} = introspect "
            f"{r.median('inproc.introspect_s'):.3f} + diff {r.median('inproc.diff_s'):.3f} "
            f"+ generate {r.median('inproc.generate_s'):.3f} ({r.ss_ops:,} operations)"
            for r in results
        ),
        "",
        "Changed objects: "
        + "; ".join(f"{r.tables:,} tables: {r.changed:,} of {r.objects:,}" for r in results),
    ]
    big = results[-1]
    speedup = big.median("migra_wall") / big.median("ss_wall")
    less_memory = big.median("ss_peak") <= big.median("migra_peak")
    met = speedup >= 5 and less_memory
    lines += [
        "",
        f"Goal at {big.tables:,} tables (>= 5x faster than migra, no more memory): "
        f"{'met' if met else 'NOT met'} ({speedup:.1f}x, "
        f"{big.median('ss_peak'):.0f} MB vs {big.median('migra_peak'):.0f} MB).",
    ]
    if notes:
        lines += ["", *notes]
    return "\n".join(lines) + "\n"


def _versions(migra: str) -> str:
    probe = (
        "import importlib.metadata as m, sys;"
        "print(sys.version.split()[0], *(f'{p} {m.version(p)}' for p in "
        "('migra', 'schemainspect', 'sqlbag', 'SQLAlchemy', 'psycopg2-binary')), sep=', ')"
    )
    python = Path(migra).with_name("python")
    try:
        out = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, timeout=60)
        return out.stdout.strip() or out.stderr.strip()[-200:]
    except OSError as exc:
        return f"unknown ({exc})"


async def main_async(args: argparse.Namespace) -> None:
    """Run every size, print and write the report."""
    os.chdir(REPO)  # settings read .schemashift/env relative to the working directory
    from schemashift.consumers.common.settings import get_settings

    admin_url = get_settings().database_url
    migra = find_migra(args.migra)
    load_before = os.getloadavg()[0]
    results: list[SizeResult] = []
    notes: list[str] = []
    for size in args.sizes:
        res, size_notes = await bench_size(args, admin_url, size, migra, size == args.sizes[0])
        results.append(res)
        notes += size_notes
    admin = await asyncpg.connect(admin_url)
    try:
        server = await admin.fetchval("SHOW server_version")
    finally:
        await admin.close()
    # The same at every size: measured once, median of three.
    import_cpu = statistics.median(startup_cpu() for _ in range(3))
    text = report(results, notes, args, import_cpu)
    header = (
        f"# Engine benchmark ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)\n\n"
        f"PostgreSQL {server}; Schemashift on Python {platform.python_version()}; migra env: "
        f"{_versions(migra)}; seed {args.seed}, median of {args.repeat} runs; wall times are "
        "whole-process (interpreter start included). Host: "
        f"{os.cpu_count()} CPUs, load average {load_before:.1f} at start, "
        f"{os.getloadavg()[0]:.1f} at end (the database server runs on the same host).\n\n"
    )
    print("\n" + text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "engine.md").write_text(header + text)
    print(f"written to {(RESULTS / 'engine.md').relative_to(REPO)}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument(
        "--dialect",
        choices=("postgres", "mariadb", "sqlite"),
        default="postgres",
        help="the engine to benchmark on (mariadb, sqlite: against sqldef)",
    )
    p.add_argument(
        "--sizes",
        help="table counts, comma-separated (default 100,1000,3000; 1000 for mariadb and sqlite)",
    )
    p.add_argument("--repeat", type=int, default=3, help="runs per tool and size (median)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--migra", help="migra executable (default: see above)")
    p.add_argument("--mysqldef", help="sqldef's mysqldef executable (default: on PATH)")
    p.add_argument("--sqlite3def", help="sqldef's sqlite3def executable (default: on PATH)")
    p.add_argument("--no-alembic", action="store_true", help="mariadb, sqlite: leave Alembic out")
    p.add_argument("--timeout", type=float, default=1800, help="seconds per process run")
    p.add_argument("--profile", action="store_true", help="profile at the largest size")
    p.add_argument("--no-check", action="store_true", help="skip the convergence check")
    p.add_argument("--keep", action="store_true", help="keep the databases (debugging)")
    args = p.parse_args(argv)
    sizes = args.sizes or ("100,1000,3000" if args.dialect == "postgres" else "1000")
    args.sizes = sorted(int(s) for s in sizes.split(",") if s.strip())
    return args


def main() -> None:
    """Entry point: the PostgreSQL benchmark, or that of another dialect."""
    args = parse_args()
    if args.dialect == "postgres":
        asyncio.run(main_async(args))
    else:
        from bench import engine_dialects

        asyncio.run(engine_dialects.main_async(args))


if __name__ == "__main__":
    main()

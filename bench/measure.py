"""What the engine benchmarks measure: the engine's steps in this process, and whole processes.

:func:`run_engine` times introspect, diff and generate in this process; :func:`measure_process`
runs a command in a fresh process and reports its wall time, CPU time and peak memory, the
clock and the memory a user of a command line sees.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schemashift.consumers.common.gcpause import gc_paused
from schemashift.consumers.comparator.diff import diff
from schemashift.consumers.comparator.introspect import introspect
from schemashift.consumers.generator.render import generate

REPO = Path(__file__).resolve().parent.parent
TIME = "/usr/bin/time"  # GNU time (Debian package "time")


async def run_engine(
    source_url: str, target_url: str, dialect: str = "postgresql"
) -> dict[str, Any]:
    """Introspect both databases concurrently, diff, generate; the time of each step.

    ``sql`` holds the statements' text and ``script`` the generated script itself.
    """
    with gc_paused():  # as `schemashift diff` does
        return await _run_engine(source_url, target_url, dialect)


async def _run_engine(source_url: str, target_url: str, dialect: str) -> dict[str, Any]:
    c0, t0 = time.process_time(), time.perf_counter()
    source, target = await asyncio.gather(introspect(source_url), introspect(target_url))
    c1, t1 = time.process_time(), time.perf_counter()
    ops = diff(source, target)
    c2, t2 = time.process_time(), time.perf_counter()
    script = generate(ops, dialect)
    c3, t3 = time.process_time(), time.perf_counter()
    return {
        "introspect_s": t1 - t0,
        "diff_s": t2 - t1,
        "generate_s": t3 - t2,
        "total_s": t3 - t0,
        "cpu_s": c3 - c0,
        "introspect_cpu_s": c1 - c0,
        "diff_cpu_s": c2 - c1,
        "generate_cpu_s": c3 - c2,
        "ops": len(ops),
        "statements": len(script.statements),
        "sql": [s.sql for s in script.statements],
        "script": script,
    }


@dataclass
class ProcessRun:
    """One subprocess run: wall time, CPU time (user + sys), peak RSS, exit code, output."""

    wall_s: float
    cpu_s: float
    peak_mb: float
    returncode: int
    stdout: str
    stderr: str


def measure_process(
    cmd: list[str],
    timeout: float,
    *,
    stdin: Path | None = None,
    env: dict[str, str] | None = None,
) -> ProcessRun:
    """Run ``cmd`` in a fresh process: wall time from spawn to exit, CPU and peak RSS.

    ``stdin`` is a file the process reads as its standard input; ``env`` its whole
    environment (default: this one's).

    Peak RSS and CPU come from GNU ``/usr/bin/time`` wrapped around ``cmd``: the rusage of a
    direct child is useless here, because Linux starts a forked child's ``ru_maxrss`` at the RSS
    of its parent (this benchmark, which holds catalogs), exec notwithstanding.
    """
    with tempfile.TemporaryDirectory() as tmp:
        stats, out_path, err_path = Path(tmp, "time"), Path(tmp, "out"), Path(tmp, "err")
        wrapped = [TIME, "-f", "%M %U %S", "-o", str(stats), *cmd]
        with contextlib.ExitStack() as files:
            out, err = (
                files.enter_context(out_path.open("w")),
                files.enter_context(err_path.open("w")),
            )
            given = files.enter_context(stdin.open("rb")) if stdin else None
            start = time.perf_counter()
            proc = subprocess.run(
                wrapped, stdin=given, stdout=out, stderr=err, cwd=REPO, env=env, timeout=timeout
            )
            wall = time.perf_counter() - start
        rss_kb, user, system = stats.read_text().split()[-3:]
        return ProcessRun(
            wall,
            float(user) + float(system),
            int(rss_kb) / 1024,
            proc.returncode,
            out_path.read_text(),
            err_path.read_text(),
        )

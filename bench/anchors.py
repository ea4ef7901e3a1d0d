"""The tools the MariaDB and SQLite benchmarks compare Schemashift with: sqldef and Alembic.

An :class:`Anchor` measures one comparison of a source with a target the way its users run it
(whole processes, :class:`AnchorRun`), and gives the command that applies its own script to
a target, for the convergence check.

* :class:`Sqldef`: ``mysqldef --export SRC > desired.sql``, then ``mysqldef --dry-run
  --enable-drop-table TGT < desired.sql`` (``sqlite3def`` alike on files). Comparing two live
  databases takes both steps; the dry run is also reported alone. ``--enable-drop-table``,
  because Schemashift's script drops the tables the source lacks.
* :class:`Alembic`: ``python bench/alembic_diff.py SRC TGT``, autogenerate comparing the
  source's reflected tables with the target (:mod:`bench.alembic_diff`).
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

from bench.dialect_dbs import Backend
from bench.measure import REPO, ProcessRun, measure_process
from schemashift.consumers.common.redact import redact_text


class BenchError(Exception):
    """A step of the benchmark failed; the message is already redacted."""


@dataclass
class AnchorRun:
    """The processes of one comparison by an anchor, run one after the other."""

    steps: list[ProcessRun]

    @property
    def wall_s(self) -> float:
        """All the steps' wall time."""
        return sum(s.wall_s for s in self.steps)

    @property
    def cpu_s(self) -> float:
        """All the steps' CPU time."""
        return sum(s.cpu_s for s in self.steps)

    @property
    def peak_mb(self) -> float:
        """The largest peak of the steps (they never run at once)."""
        return max(s.peak_mb for s in self.steps)

    @property
    def last(self) -> ProcessRun:
        """The step that prints the migration."""
        return self.steps[-1]


@dataclass(frozen=True)
class Applying:
    """A command that applies an anchor's script: argv, standard input, environment."""

    cmd: list[str]
    stdin: Path | None = None
    env: dict[str, str] | None = None


class Anchor(ABC):
    """A tool that compares two databases and prints (or applies) the migration."""

    name: str  # as the report names it
    last_step: str | None = None  # the name of the last step when it is reported alone

    def __init__(self, backend: Backend, folder: Path, timeout: float) -> None:
        self.backend = backend
        self.folder = folder  # for the files the steps exchange
        self.timeout = timeout

    @abstractmethod
    def measure(self, source_url: str, target_url: str) -> AnchorRun:
        """One comparison, whole processes; :class:`BenchError` if a step fails."""

    @abstractmethod
    def applying(self, source_url: str, target_url: str) -> Applying:
        """The command applying the script to ``target_url`` (after a :meth:`measure`)."""

    @abstractmethod
    def version(self) -> str:
        """The tool's version."""

    def count_statements(self, sql: str) -> int:
        """Statements in the printed migration: lines ending with ``;`` (comments and
        BEGIN/COMMIT aside)."""
        lines = (line.strip() for line in sql.splitlines())
        return sum(
            1
            for line in lines
            if line.endswith(";")
            and not line.startswith("--")
            and line not in ("BEGIN;", "COMMIT;")
        )

    def _step(self, cmd: list[str], what: str, stdin: Path | None = None) -> ProcessRun:
        """Run one step; :class:`BenchError` with its (redacted) error output if it fails."""
        run = measure_process(cmd, self.timeout, stdin=stdin, env=self.backend.tool_env())
        if run.returncode != 0:
            detail = redact_text(run.stderr[-2000:], *self.backend.secrets())
            raise BenchError(f"{what} failed ({run.returncode}): {detail}")
        return run


def find_sqldef(explicit: str | None, name: str) -> str:
    """The sqldef command ``name`` to benchmark: ``explicit``, else the one on ``PATH``."""
    found = explicit or shutil.which(name)
    if found and Path(found).is_file() and os.access(found, os.X_OK):
        return found
    raise SystemExit(
        f"{name} not found: install sqldef's {name} (a Go program: go install "
        f"github.com/sqldef/sqldef/cmd/{name}@VERSION) on PATH, or pass --{name} PATH"
    )


class Sqldef(Anchor):
    """sqldef: export the source as SQL, then a dry run of the target against it."""

    last_step = "dry run"

    def __init__(self, backend: Backend, folder: Path, timeout: float, path: str) -> None:
        super().__init__(backend, folder, timeout)
        self.path = path
        self.name = backend.sqldef
        self.desired = folder / "desired.sql"

    def _cmd(self, url: str, *flags: str) -> list[str]:
        *reach, database = self.backend.sqldef_args(url)
        return [self.path, *reach, *flags, database]

    def measure(self, source_url: str, target_url: str) -> AnchorRun:
        export = self._step(self._cmd(source_url, "--export"), f"{self.name} --export")
        self.desired.write_text(export.stdout)
        dry_run = self._step(
            self._cmd(target_url, "--dry-run", "--enable-drop-table"),
            f"{self.name} --dry-run",
            stdin=self.desired,
        )
        return AnchorRun([export, dry_run])

    def applying(self, source_url: str, target_url: str) -> Applying:
        cmd = self._cmd(target_url, "--enable-drop-table")
        return Applying(cmd, self.desired, self.backend.tool_env())

    def version(self) -> str:
        """What ``--version`` prints, else the module version Go recorded in the binary."""
        out = subprocess.run([self.path, "--version"], capture_output=True, text=True)
        if out.stdout.strip():
            return out.stdout.strip()
        go = shutil.which("go")
        if go:
            info = subprocess.run([go, "version", "-m", self.path], capture_output=True, text=True)
            for line in info.stdout.splitlines():
                parts = line.split()
                if parts[:1] == ["mod"] and len(parts) >= 3:
                    return f"{parts[1]} {parts[2]}"
        return "unknown (built without a version)"


class Alembic(Anchor):
    """Alembic's autogenerate, from the source's reflected tables to the target."""

    name = "Alembic autogenerate"
    SCRIPT = REPO / "bench" / "alembic_diff.py"

    def measure(self, source_url: str, target_url: str) -> AnchorRun:
        cmd = [sys.executable, str(self.SCRIPT), source_url, target_url]
        return AnchorRun([self._step(cmd, "alembic_diff.py")])

    def applying(self, source_url: str, target_url: str) -> Applying:
        return Applying([sys.executable, str(self.SCRIPT), "--apply", source_url, target_url])

    def version(self) -> str:
        """Alembic's and SQLAlchemy's versions."""
        return ", ".join(
            f"{p} {importlib.metadata.version(p)}" for p in ("alembic", "SQLAlchemy", "PyMySQL")
        )

"""The state directory of the local infrastructure: its location, lock and pid records.

Layout (``<repo>/.schemashift`` by default, ``SCHEMASHIFT_STATE_DIR`` overrides)::

    .lock                held by ``up`` and ``down`` while they run
    env                  see infra/envfile.py
    run/<component>.json pid record of what ``up`` started (removed by ``down``)

Everything else inside belongs to one component (``kafka/``, ``postgres/``, ...).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schemashift.infra.console import progress

STATE_ENV = "SCHEMASHIFT_STATE_DIR"


def default_state_dir() -> Path:
    """``$SCHEMASHIFT_STATE_DIR``, else ``<repo root>/.schemashift``.

    The repo root is the directory holding ``pyproject.toml`` next to the ``infra`` package
    (editable install / checkout); for a regular install it is searched upwards from the cwd.
    """
    override = os.environ.get(STATE_ENV, "").strip()
    if override:
        return Path(override).expanduser().resolve()
    package_parent = Path(__file__).resolve().parent.parent
    if (package_parent / "pyproject.toml").is_file():
        return package_parent / ".schemashift"
    cwd = Path.cwd().resolve()
    for candidate in (cwd, *cwd.parents):
        if (candidate / "pyproject.toml").is_file() or (candidate / ".git").exists():
            return candidate / ".schemashift"
    return cwd / ".schemashift"


def write_private(path: Path, text: str) -> None:
    """Replace ``path`` with ``text``, readable by its owner only (mode 0600)."""
    # Create with 0600 from the start (no window where a secret is world-readable), then
    # rename over the old file atomically.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


@dataclass(frozen=True)
class StateDir:
    """One state directory; components keep their files and pid records in it."""

    root: Path

    @classmethod
    def open(cls, state_dir: Path | str | None = None) -> StateDir:
        """The state directory ``state_dir`` (default :func:`default_state_dir`), created."""
        root = Path(state_dir).expanduser().resolve() if state_dir else default_state_dir()
        # 0755, not 0700: the postgres OS user must be able to traverse into <state>/postgres.
        # Secrets inside (env, pgpass) are 0600 files.
        root.mkdir(parents=True, exist_ok=True, mode=0o755)
        (root / "run").mkdir(exist_ok=True)
        return cls(root)

    @property
    def env_file(self) -> Path:
        """The ``KEY=VALUE`` file ``up`` writes (see infra/envfile.py)."""
        return self.root / "env"

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Serialise up/down on this directory (two `up`s racing would start two brokers)."""
        lock_file = self.root / ".lock"
        with open(lock_file, "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                progress(f"waiting for another infra command holding {lock_file}...")
                fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # ----------------------------------------------------------------------- pid records

    def record_path(self, component: str) -> Path:
        """``run/<component>.json``."""
        return self.root / "run" / f"{component}.json"

    def read_record(self, component: str) -> dict[str, Any] | None:
        """The pid record of ``component``, or None if there is none or it is unreadable."""
        try:
            record = json.loads(self.record_path(component).read_text())
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) and isinstance(record.get("pid"), int) else None

    def write_record(self, component: str, record: dict[str, Any]) -> None:
        """Record what ``up`` started for ``component`` (a ``pid`` and component details)."""
        record = {**record, "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        self.record_path(component).write_text(json.dumps(record, indent=2) + "\n")

    def drop_record(self, component: str) -> None:
        """Forget ``component``'s pid record (it was stopped, or its process is gone)."""
        self.record_path(component).unlink(missing_ok=True)

    def recorded_components(self) -> list[str]:
        """Names of the components with a pid record file, sorted."""
        return sorted(path.stem for path in (self.root / "run").glob("*.json"))

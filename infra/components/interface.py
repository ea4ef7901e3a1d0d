"""What every infrastructure component offers: ``up``, ``down`` and ``status``.

A component is one service the local infrastructure runs or uses: the Kafka broker, one
PostgreSQL cluster. Its methods are synchronous (they run their own event loop when they need
an async client, see :func:`run_sync`), print their outcome line (see infra/console.py) and
raise :class:`InfraError` with a readable message when something fails.
"""

from __future__ import annotations

import abc
import asyncio
import concurrent.futures
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

from schemashift.consumers.common.redact import redact_url
from schemashift.infra.console import report
from schemashift.infra.state import StateDir

T = TypeVar("T")

# Minimum width of the name column of the status table.
NAME_WIDTH = 9
# Width of the state column: the longest state, "unreachable".
STATE_WIDTH = 11


class InfraError(RuntimeError):
    """Local infrastructure could not be brought up, inspected or stopped."""


class State(StrEnum):
    """What ``status`` found a component to be."""

    RUNNING = "running"  # started by us, pid alive, answers
    EXTERNAL = "external"  # not ours (env var or foreign server on our port), answers
    UNHEALTHY = "unhealthy"  # our pid is alive but the service does not answer
    UNREACHABLE = "unreachable"  # external service configured but it does not answer
    STOPPED = "stopped"  # nothing of ours is running

    @property
    def healthy(self) -> bool:
        """True for the states in which clients can use the component."""
        return self in (State.RUNNING, State.EXTERNAL)


@dataclass(frozen=True)
class Status:
    """One component's state, as ``up`` left it or ``status`` found it.

    ``detail`` is the human-readable rest of the status line and never holds a password;
    ``env`` holds the env-file entries through which clients reach the component (its URLs
    may hold passwords, so it stays out of ``repr``).
    """

    name: str
    state: State
    detail: str
    pid: int | None = None  # the process we started (or adopted), if any
    address: str | None = None  # host:port clients connect to
    version: str | None = None  # what the server says it is, e.g. "PostgreSQL 15.14"
    env: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def healthy(self) -> bool:
        """True if clients can use the component (running or external)."""
        return self.state.healthy

    def row(self, name_width: int = NAME_WIDTH) -> str:
        """The status-table line: name, state, detail (``make test`` reads the first two)."""
        return f"{self.name:<{name_width}} {self.state:<{STATE_WIDTH}} {self.detail}"


def table(statuses: Iterable[Status]) -> list[str]:
    """The lines of ``infra status``: one :meth:`Status.row` per component, names aligned."""
    statuses = list(statuses)
    width = max([NAME_WIDTH, *(len(status.name) for status in statuses)])
    return [status.row(width) for status in statuses]


class Component(abc.ABC):
    """A service of the local infrastructure, managed through its state directory."""

    #: The name ``status`` reports and ``down --only`` takes; also its pid record's name.
    name: str

    @abc.abstractmethod
    def up(self, state: StateDir) -> Status:
        """Make it usable (reuse, adopt or start it, or check the external one answers)."""

    @abc.abstractmethod
    def down(self, state: StateDir) -> bool:
        """Stop what ``up`` started, never anything else; True if there was something."""

    @abc.abstractmethod
    def status(self, state: StateDir) -> Status:
        """What it is now; changes nothing."""


def run_sync(coro_factory: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion from sync code, even if a loop is already running."""

    async def main() -> T:
        return await coro_factory()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    # Called from async code (e.g. a pytest-asyncio test): a nested asyncio.run() is not
    # allowed, so use a private loop in a worker thread.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, main()).result()


def wait_answer(
    what: str,
    url: str,
    probe: Callable[[str, float], Awaitable[str | None]],
    timeout: float = 30.0,
) -> str:
    """What ``probe(url, timeout_s)`` reads from the server (its version, e.g.
    ``"PostgreSQL 15.14"``) once it answers; InfraError naming ``what`` if it does not within
    ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        version = run_sync(lambda: probe(url, 5.0))
        if version:
            return version
        if time.monotonic() > deadline:
            raise InfraError(f"{what} at {redact_url(url)} does not answer")
        time.sleep(0.3)


def running_server(
    name: str,
    action: str,
    pid: int,
    address: str,
    version: str,
    *,
    env: Mapping[str, str],
    database: str,
    took: float | None = None,
    log: object = None,
) -> Status:
    """Report that the database server ``name`` is ``action`` (started, running, adopted...)
    and return its RUNNING status; a fresh start also says how long it took, the database
    clients use and where its log is."""
    detail = f"pid {pid} on {address} ({version})"
    if took is not None:
        detail = f"pid {pid} on {address} in {took:.1f}s ({version}; db {database}, log {log})"
    report(name, f"{action:<9} {detail}")
    return Status(name, State.RUNNING, detail, pid=pid, address=address, version=version, env=env)


@contextlib.contextmanager
def raised_as_infra_error(*error_types: type[Exception]) -> Iterator[None]:
    """Re-raise ``error_types`` as :class:`InfraError` with the same message.

    The low-level modules (infra/kafka.py, infra/postgres.py) raise their own error types;
    callers of the components only need to catch one.
    """
    try:
        yield
    except error_types as exc:
        raise InfraError(str(exc)) from exc

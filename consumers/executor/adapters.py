"""What the executor needs of a dialect to change a target: :class:`ExecutorAdapter`.

:mod:`.apply` runs a script with an adapter and knows no dialect: it takes the target's lock,
reads and writes the target's history table, runs the statements in transactions where the
dialect allows it, and turns the target's errors into a :class:`~.apply.Failed` report. A
dialect's adapter lives in a module named after it (:mod:`.postgres`) and is registered in
:mod:`.registry`.
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import ClassVar

from schemashift.consumers.common.drivers import Connection
from schemashift.schemas.dialects import Dialect
from schemashift.schemas.operations import Statement


@dataclass(frozen=True)
class HistoryRecord:
    """A migration's row in the target's history table."""

    checksum: str
    statements: int  # how many statements the script has
    completed: int  # how many of them are committed


@dataclass(frozen=True)
class DatabaseError:
    """What the target said when it refused something."""

    sqlstate: str | None  # the SQLSTATE code, if the dialect reports one
    message: str  # one human-readable message, without the code


class ExecutorAdapter(ABC):
    """One dialect's way of changing a target, on a connection of the same dialect's driver.

    Every method but the classifications runs SQL on the target; its errors are the driver's
    own, which :meth:`database_error` and :meth:`connection_error` then read.
    """

    dialect: ClassVar[Dialect]
    # Whether DDL statements can share a transaction (with the history row): then a failed
    # script leaves the target unchanged. Without it, every statement commits on its own.
    transactional_ddl: ClassVar[bool]

    @abstractmethod
    async def configure(
        self, conn: Connection, *, lock_timeout_ms: int, statement_timeout_ms: int
    ) -> None:
        """Set the session's lock and statement timeouts (0: no limit) before anything runs."""

    @abstractmethod
    async def acquire_lock(self, conn: Connection) -> None:
        """Wait for (at most the lock timeout) and take the per-target migration lock."""

    @abstractmethod
    async def release_lock(self, conn: Connection) -> None:
        """Release the lock taken by :meth:`acquire_lock`; nothing if ``conn`` is closed (the
        server released it with the session)."""

    @abstractmethod
    async def ensure_history(self, conn: Connection) -> None:
        """Create the target's history table if it does not exist."""

    @abstractmethod
    async def read_history(self, conn: Connection, migration_id: uuid.UUID) -> HistoryRecord | None:
        """The history row of ``migration_id``, if the target has one."""

    async def open_history(self, conn: Connection, migration_id: uuid.UUID) -> HistoryRecord | None:
        """Create the history table if it does not exist, then read ``migration_id``'s row."""
        await self.ensure_history(conn)
        return await self.read_history(conn, migration_id)

    @abstractmethod
    async def write_history(
        self,
        conn: Connection,
        migration_id: uuid.UUID,
        checksum: str,
        statements: int,
        completed: int,
    ) -> None:
        """Insert or update the history row: ``completed`` of ``statements`` are committed (the
        migration is applied when they are equal). Runs inside :meth:`transaction`."""

    @abstractmethod
    def transaction(self, conn: Connection) -> AbstractAsyncContextManager[object]:
        """A transaction on ``conn``: committed on leaving, rolled back on an error."""

    @abstractmethod
    async def execute(self, conn: Connection, sql: str) -> None:
        """Run one statement of the script."""

    @abstractmethod
    def resume_from(self, recorded: HistoryRecord) -> int:
        """The index of the first statement to run when the history shows this very script
        (same checksum) partly applied: an earlier attempt stopped between statements that
        could not share a transaction."""

    @abstractmethod
    def database_error(self, exc: BaseException) -> DatabaseError | None:
        """What the target said, if ``exc`` is the target refusing a statement; None for any
        other error (it is raised as it is)."""

    @abstractmethod
    def connection_error(self, exc: BaseException) -> DatabaseError | None:
        """``exc`` as a failure to reach or keep the target (connecting, a lost connection, an
        error outside any statement), or None for an error that is not one."""

    @abstractmethod
    def is_transient(self, sqlstate: str | None) -> bool:
        """Whether an error with ``sqlstate`` may not recur if the migration is tried again
        (lock conflicts, a server starting or stopping, a lost connection, ...)."""

    def changes_target(self, statement: Statement) -> bool:
        """Whether ``statement``, committed, leaves a change in the target (a statement that
        only sets the session up does not); failure reports count those that do."""
        return True

    def effect_present(self, error: DatabaseError) -> bool:
        """Whether ``error``, raised by running again the statement an interrupted attempt
        may have committed last, says that the statement's effect is already there (the
        object it creates exists, the one it drops is gone). False where DDL is
        transactional: the history row then commits with the statements it counts."""
        return False

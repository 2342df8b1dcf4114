"""What every connector's import and export workers share: a run committed together with its object's state.

Each commit writes the run (its checkpoint, counts and the API calls used since the last commit) and, with
`with_state`, the object's state and heartbeat, at the versions read; a second worker holding the same run stops
at its first commit (Stale). A run redriven from the dead-letter queue is running again; a run that stops is
parked (retrying later may help: the message waits in the DLQ) or failed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Generic, Protocol, TypeVar

from roster.connectors.core.state import Status
from roster.profiles.values import format_time
from roster.store.salesforce import Stale

#: A running sync or export whose heartbeat is this old lost its worker (Lambda's maximum is 15 minutes).
STUCK_AFTER = timedelta(hours=2)


def parse_stamp(stamp: str) -> datetime:
    """A stored ISO time (…Z or with an offset) as an aware UTC datetime."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(UTC)


def heartbeat_lost(heartbeat: str | None, now: datetime) -> bool:
    return not heartbeat or now - parse_stamp(heartbeat) > STUCK_AFTER


class _Counter(Protocol):
    """A connection to the external system that counts the API calls made through it."""

    @property
    def calls(self) -> int: ...


class _Run(Protocol):
    status: Status
    error: str | None
    error_code: str | None
    finished_at: str | None
    api_calls: int


class _State(Protocol):
    status: Status
    error: str | None
    heartbeat: str | None


R = TypeVar("R", bound=_Run)
S = TypeVar("S", bound=_State)


class _Store(Protocol[R, S]):
    def commit(self, run: R, state: S | None = None) -> tuple[R, S | None]: ...


@dataclass(kw_only=True)
class RunWorker(Generic[R, S]):
    """One invocation's work on a run: the live run and state, the connection, and the commits between them."""

    store: _Store[R, S]
    run: R
    state: S
    remaining: Callable[[], float]
    reserve_seconds: float
    clock: Callable[[], datetime]
    connection: _Counter | None = None
    counted: int = 0

    def resume_parked(self) -> bool:
        """A run redriven from the dead-letter queue runs again; True if it was parked."""
        if self.run.status is not Status.PARKED:
            return False
        self.run.status = self.state.status = Status.RUNNING
        self.state.error = None
        return True

    def near_deadline(self) -> bool:
        return self.remaining() < self.reserve_seconds

    def commit(self, *, with_state: bool = False) -> None:
        if self.connection is not None:
            self.run.api_calls += self.connection.calls - self.counted
            self.counted = self.connection.calls
        if with_state:
            self.state.heartbeat = format_time(self.clock())
        run, state = self.store.commit(self.run, self.state if with_state else None)
        self.run = run
        if state is not None:
            self.state = state

    def halt(self, code: str, reason: str, parked: bool) -> None:
        """Record why the run stopped: parked (it resumes when redriven) or failed (it is over)."""
        status = Status.PARKED if parked else Status.FAILED
        self.run.status, self.run.error, self.run.error_code = status, reason, code
        self.state.status, self.state.error = status, reason
        if not parked:
            self.run.finished_at = format_time(self.clock())
        with contextlib.suppress(Stale):  # another worker took the run over; its status stands
            self.commit(with_state=True)

"""The run loop every connector's import and export share: a run committed together with its object's state.

An adapter's operations (a `RunLoop`) start runs and hand each queue message to a worker (a `RunWorker`) that
knows its own system; the loop, leases and commits are here. Starting a run commits it with its object's state
marked running (two starts race on the version: one wins). Each commit writes the run (its checkpoint, counts
and the API calls used since the last commit) and, with `with_state`, the object's state and heartbeat, at the
versions read; a second worker holding the same run stops at its first commit (Stale). A run redriven from the
dead-letter queue is running again; a run that stops is parked (retrying later may help: the message waits in
the DLQ) or failed.
"""

from __future__ import annotations

import contextlib
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, Protocol, TypeVar

from aws_lambda_powertools import Logger
from pydantic import BaseModel
from tenacity import wait_exponential
from tenacity.wait import WaitBaseT
from ulid import ULID

from roster.connectors.core.state import ImportRun, ImportState, Mode, Run, RunState, Schedule, Status
from roster.profiles.values import format_time
from roster.store.salesforce import Stale

#: A running sync or export whose heartbeat is this old lost its worker (Lambda's maximum is 15 minutes).
STUCK_AFTER = timedelta(hours=2)
SCHEDULE_GRACE = timedelta(minutes=1)  # the scheduler ticks on a rate; do not miss a tick by a few seconds


def parse_stamp(stamp: str) -> datetime:
    """A stored ISO time (…Z or with an offset) as an aware UTC datetime."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(UTC)


def heartbeat_lost(heartbeat: str | None, now: datetime) -> bool:
    return not heartbeat or now - parse_stamp(heartbeat) > STUCK_AFTER


def busy(state: RunState, now: datetime) -> bool:
    """True while an object's run is running and its worker alive (a silent one is stuck: a new run may start)."""
    return state.status is Status.RUNNING and not heartbeat_lost(state.heartbeat, now)


class Scheduled(Protocol):
    """An adapter's import items as the scheduler reads them: what is switched on, its schedule and states."""

    def enabled(self) -> Sequence[tuple[str, Any]]: ...
    def config(self, workspace: str) -> Schedule: ...
    def states(self, workspace: str) -> Sequence[ImportState]: ...


@dataclass(frozen=True)
class DueSync:
    workspace: str
    object: Any
    mode: Mode


def due_syncs(store: Scheduled, now: datetime) -> list[DueSync]:
    """What the scheduler should start now: a full sync first and then weekly, incrementals in between."""
    due: list[DueSync] = []
    by_workspace: dict[str, set[str]] = {}
    for workspace, obj in store.enabled():
        by_workspace.setdefault(workspace, set()).add(obj)
    for workspace, objects in sorted(by_workspace.items()):
        config = store.config(workspace)
        for state in store.states(workspace):
            if state.object not in objects or not state.enabled:
                continue
            if busy(state, now):
                continue
            started = parse_stamp(state.last_started) if state.last_started else None
            full_due = (
                state.watermark is None
                or state.last_full_sync is None
                or now - parse_stamp(state.last_full_sync) >= timedelta(days=config.full_days) - SCHEDULE_GRACE
            )
            if started is not None and now - started < timedelta(minutes=config.incremental_minutes) - SCHEDULE_GRACE:
                continue
            due.append(DueSync(workspace, state.object, Mode.FULL if full_due else Mode.INCREMENTAL))
    return due


class _Counter(Protocol):
    """A connection to the external system that counts the API calls made through it."""

    @property
    def calls(self) -> int: ...


class _Message(Protocol):
    """A queue message naming one run; `object` is the adapter's own object type."""

    @property
    def workspace(self) -> str: ...
    @property
    def object(self) -> Any: ...
    @property
    def run_id(self) -> str: ...


R = TypeVar("R", bound=Run)
S = TypeVar("S", bound=RunState)
M = TypeVar("M", bound=_Message)
V = TypeVar("V", bound=BaseModel)


class RunStore(Protocol[R, S]):
    """An adapter's runs and object states (objects typed by the adapter, hence Any here)."""

    def commit(self, run: R, state: S | None = None) -> tuple[R, S | None]: ...

    def state(self, workspace: str, obj: Any) -> S: ...
    def run(self, workspace: str, obj: Any, run_id: str) -> R | None: ...
    def runs(self, workspace: str, obj: Any, limit: int = 20) -> list[R]: ...


@dataclass(kw_only=True)
class RunWorker(ABC, Generic[R, S, M]):
    """One invocation's work on a run: the live run and state, the connection, and the commits between them."""

    loop: RunLoop[R, S, M]
    run: R
    state: S
    message: M
    remaining: Callable[[], float]
    connection: _Counter | None = None
    counted: int = 0

    @property
    def store(self) -> RunStore[R, S]:
        return self.loop.store

    @property
    def clock(self) -> Callable[[], datetime]:
        return self.loop.clock

    @abstractmethod
    def go(self) -> M | None:
        """Work until the run is done (None) or must continue later (the message to queue)."""

    @abstractmethod
    def stop(self, error: Exception) -> Exception:
        """Record why the run stopped (`halt`) and return the failure the handler raises."""

    def resume_parked(self) -> bool:
        """A run redriven from the dead-letter queue runs again; True if it was parked."""
        if self.run.status is not Status.PARKED:
            return False
        self.run.status = self.state.status = Status.RUNNING
        self.state.error = None
        return True

    def near_deadline(self) -> bool:
        return self.remaining() < self.loop.reserve_seconds

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


@dataclass(kw_only=True)
class Pacing:
    """How a run loop paces itself: the time kept back before the Lambda deadline to commit and continue, how
    often it polls the external system's jobs, how often and how patiently it retries a call, and its clock."""

    reserve_seconds: float = 60.0
    poll_seconds: float = 2.0
    attempts: int = 4
    wait: WaitBaseT = field(default_factory=lambda: wait_exponential(multiplier=2, max=60))
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


class PageFailed(Exception, Generic[M]):
    """A run stopped on a failure retries did not fix; the handler lets its message go to the DLQ."""

    def __init__(self, message: M, code: str, reason: str, parked: bool) -> None:
        super().__init__(f"{message.workspace} {message.object} run {message.run_id}: {code}: {reason}")
        self.message, self.code, self.reason, self.parked = message, code, reason, parked


class SyncRefused(Exception):
    """A sync that cannot start (import sync is off for the object)."""


class RunLoop(Pacing, ABC, Generic[R, S, M]):
    """An adapter's operations on its runs: start one, work on a message of one, read the latest one."""

    store: RunStore[R, S]

    @abstractmethod
    def worker(self, run: R, state: S, message: M, remaining: Callable[[], float]) -> RunWorker[R, S, M]:
        """The adapter's worker for one invocation on `run`."""

    def begin(self, run: R, state: S) -> bool:
        """Commit a new run with its object's state marked running; False when another start won the race."""
        state.status, state.run_id = Status.RUNNING, run.run_id
        state.last_started = state.heartbeat = run.started_at
        try:
            self.store.commit(run, state)
        except Stale:
            return False  # another scheduler tick or API call started it first
        return True

    def run(self, message: M, remaining_seconds: Callable[[], float]) -> M | None:
        """Work on a run until it is done (None) or must continue later (the message to queue). Raises the
        worker's failure; a message of a run that is finished or superseded is ignored."""
        state = self.store.state(message.workspace, message.object)
        run = self.store.run(message.workspace, message.object, message.run_id)
        if run is None or state.run_id != run.run_id or run.status not in (Status.RUNNING, Status.PARKED):
            return None
        worker = self.worker(run, state, message, remaining_seconds)
        try:
            return worker.go()
        except Stale:
            return None  # another worker holds this run now
        except Exception as error:
            raise worker.stop(error) from error

    def last_run(self, state: S) -> R | None:
        return self.store.run(state.workspace, state.object, state.run_id) if state.run_id else None

    def view(self, view: type[V], state: S) -> V:
        """What the API shows of one object: the fields of its state the view names, and its latest run."""
        return view.model_validate({**state.model_dump(), "last_run": self.last_run(state)})

    def history(self, workspace: str, obj: Any, limit: int = 20) -> list[R]:
        """Past runs, newest first."""
        return self.store.runs(workspace, obj, limit)


IS = TypeVar("IS", bound=ImportState)
IR = TypeVar("IR", bound=ImportRun)


class ImportRuns(RunStore[IR, IS], Protocol[IR, IS]):
    """An import's runs and object states, whose toggle can be saved."""

    def put_state(self, state: IS) -> IS: ...


def fields_added_since_full(fields_added_at: str | None, last_full_sync: str | None) -> bool:
    """Whether fields were mapped after the last full sync: records read before hold no value for them, so the
    next run reads them all again and what export compares against (the CRM's values) is complete."""
    return bool(fields_added_at) and (not last_full_sync or str(fields_added_at) > last_full_sync)


class ImportLoop(RunLoop[IR, IS, M]):
    """What every CRM's import does alike: its per-object toggle, starting a run, and the refresh an export
    runs first."""

    store: ImportRuns[IR, IS]

    @abstractmethod
    def new_run(self, run_id: str, workspace: str, obj: Any, mode: Mode, started_at: str) -> IR:
        """The adapter's run record for a run being started."""

    @abstractmethod
    def message(self, run: IR, mode: Mode) -> M:
        """The queue message that starts `run`."""

    def blocked(self, workspace: str, obj: Any, now: datetime) -> bool:
        """Whether another object's running sync keeps this one from starting (none by default)."""
        return False

    def enable(self, workspace: str, obj: Any, enabled: bool = True) -> IS:
        """Turn import sync for an object on or off (the scheduler starts with a full sync). A run in progress
        finishes its current batch and stops at its next commit when the toggle changes under it."""
        state = self.store.state(workspace, obj)
        if state.enabled == enabled and state.version is not None:
            return state
        return self.store.put_state(state.model_copy(update={"enabled": enabled}))

    def start(self, workspace: str, obj: Any, mode: Mode | None = None) -> M | None:
        """Begin a run and return the message to queue, or None when one is already running. Without a mode (and
        always before a first full sync) the run is full when the object has no mark."""
        state = self.store.state(workspace, obj)
        if not state.enabled:
            raise SyncRefused(f"import sync is off for {obj}")
        now = self.clock()
        if busy(state, now) or self.blocked(workspace, obj, now):
            return None
        if mode is None or state.watermark is None:
            mode = Mode.FULL if state.watermark is None else Mode.INCREMENTAL
        run = self.new_run(str(ULID()), workspace, obj, mode, format_time(now))
        if not self.begin(run, state):
            return None
        return self.message(run, mode)

    def start_refresh(self, workspace: str, obj: Any) -> str | None:
        """Start the incremental import an export runs first (or join the one running): its run id, or None
        when import sync is off for the object (the export then compares against what the last import saw)."""
        state = self.store.state(workspace, obj)
        if not state.enabled:
            return None
        message = self.start(workspace, obj, Mode.INCREMENTAL)
        return message.run_id if message else state.run_id

    def finish_refresh(self, workspace: str, obj: Any, run_id: str, remaining: Callable[[], float]) -> bool:
        """Drive that import on; True once it is over, False while it continues (here or in another worker).
        Raises RefreshFailed when it stopped."""
        refresh = self.store.run(workspace, obj, run_id)
        if refresh is not None and refresh.status in (Status.RUNNING, Status.PARKED):
            try:
                following = self.run(self.message(refresh, refresh.mode), remaining)
            except PageFailed as failed:
                raise RefreshFailed(f"the import before the export stopped: {failed.reason}") from failed
            if following is not None:
                return False
            refresh = self.store.run(workspace, obj, run_id)
            if refresh is not None and refresh.status is Status.RUNNING:
                return False  # another worker holds it; look again later
        if refresh is not None and refresh.status is Status.FAILED:
            raise RefreshFailed(f"the import before the export failed: {refresh.error}")
        return True


O_contra = TypeVar("O_contra", contravariant=True)


class Refresh(Protocol[O_contra]):
    """The import an export runs first, so it compares against what the CRM holds now (an adapter's importer)."""

    def start_refresh(self, workspace: str, obj: O_contra) -> str | None: ...
    def finish_refresh(self, workspace: str, obj: O_contra, run_id: str, remaining: Callable[[], float]) -> bool: ...


class RefreshFailed(Exception):
    """The import that refreshes the CRM values before an export did not finish."""


def work_on(
    loop: RunLoop[R, S, M], message: M, remaining: Callable[[], float], send: Callable[[M], Any], logger: Logger
) -> None:
    """A sync queue handler's work on one message: run it, queue what continues, log the outcome. A run that
    stopped raises PageFailed, so the message is retried and then parked in the DLQ."""
    try:
        following = loop.run(message, remaining)
    except PageFailed as failed:
        logger.warning("sync stopped", extra={"run_id": message.run_id, "code": failed.code, "reason": failed.reason})
        raise
    if following is not None:
        send(following)
    logger.info("sync worked", extra={"workspace": message.workspace, "object": message.object, "done": not following})

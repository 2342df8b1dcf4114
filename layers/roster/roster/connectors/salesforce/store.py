"""The Salesforce connector's configuration, mappings, sync state and run history, as the sync sees them.

Their items, keys and versioned writes are `roster.store.salesforce`'s; here they get their types. The
scheduler reads the objects with import sync on from one index partition rather than scanning. A batch
commits its run checkpoint and the object's high-water mark together, each at the version read, so two
workers holding one run can never both count a batch (Stale). `RunItems` keeps the states and runs of one kind
of job over its `JobKeys`; the import's `SyncStore` and the export's `ExportStore` are both one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from pydantic import BaseModel, Field

from roster.connectors.core.state import Run, RunState
from roster.connectors.salesforce.describe import ObjectMapping, SalesforceObject
from roster.store import jobs
from roster.store.jobs import Key
from roster.store.salesforce import RunKeys, SalesforceItems


class Mode(StrEnum):
    FULL = "full"
    INCREMENTAL = "incremental"


class SyncConfig(BaseModel):
    """A workspace's schedule: incremental every 15 minutes, full weekly, 10 minutes of lookback; and how many
    records one Bulk query job (one window of SystemModstamp) aims to read."""

    incremental_minutes: int = Field(default=15, ge=5, le=24 * 60)
    full_days: int = Field(default=7, ge=1, le=90)
    overlap_minutes: int = Field(default=10, ge=0, le=24 * 60)
    window_records: int = Field(default=500_000, ge=1, le=50_000_000)


class Watermark(BaseModel):
    """The newest (SystemModstamp, Id) committed; ISO text in Salesforce's Bulk format sorts as time."""

    stamp: str
    id: str


class ObjectState(RunState):
    object: SalesforceObject
    enabled: bool = False
    watermark: Watermark | None = None
    #: Id → SystemModstamp of the records committed within the lookback window below the mark, so the
    #: overlap re-reads of the next incremental sync are recognised and skipped (bounded, see importer.py).
    recent: dict[str, str] = Field(default_factory=dict)
    last_full_sync: str | None = None


class RunCounts(BaseModel):
    read: int = 0
    created: int = 0
    updated: int = 0
    merged: int = 0
    unchanged: int = 0
    deleted: int = 0
    skipped: int = 0  # overlap re-reads already committed by an earlier sync
    dropped_values: int = 0  # values that could not be stored (a malformed e-mail, say); the record still imports
    rejected: int = 0  # records too large to store (see roster.profiles.limits); the reason is in the problems

    def add(self, other: RunCounts) -> RunCounts:
        return RunCounts(**{name: getattr(self, name) + getattr(other, name) for name in RunCounts.model_fields})


class SyncRun(Run):
    """One sync of one object: its counts and the checkpoint a continuation resumes from."""

    object: SalesforceObject
    mode: Mode
    counts: RunCounts = Field(default_factory=RunCounts)
    since: str | None = None  # incremental: the SystemModstamp the query started from
    until: str | None = None  # when the windows were planned: the last window is open past it
    window_from: str | None = None  # the window being read: SystemModstamp >= window_from (None: no lower bound)
    window_to: str | None = None  # … and < window_to (None: the last window, open-ended)
    window_seconds: int | None = None  # the span of the next window (None: one window covers the run)
    window_read: int = 0  # records read in the window so far
    window_newest: Watermark | None = None  # the newest (SystemModstamp, Id) read in the window: the next mark
    job_id: str | None = None
    job_attempts: int = 0  # jobs of this window that failed
    job_failure: str | None = None  # why the last of them failed
    locator: str | None = None  # the results page being read ("" is the first page)
    batch: int = 0  # the next batch of that page to process
    problems: list[str] = Field(default_factory=list)  # the first few dropped values, for the status view


R = TypeVar("R", bound=Run)
S = TypeVar("S", bound=RunState)
ObjectT = TypeVar("ObjectT", bound=str)


@dataclass(frozen=True)
class JobKeys:
    """Where one kind of job (import or export) keeps its object states and runs, and what errors call them."""

    state: Callable[[str, str], Key]
    run: Callable[[str, str, str], Key]
    runs: Callable[[str], str]  # the sort-key prefix of an object's runs
    enabled: str  # the index partition of the objects switched on
    state_name: str
    run_name: str


class RunItems(Generic[R, S, ObjectT]):
    """The object states and runs of one kind of job; writes are conditional on the version read (Stale)."""

    def __init__(self, run: type[R], state: type[S], keys: JobKeys) -> None:
        self._items = SalesforceItems()
        self._run, self._state, self._keys = run, state, keys

    def state(self, workspace: str, obj: ObjectT) -> S:
        state = self._items.read(self._state, self._keys.state(workspace, obj))
        return state or self._state(workspace=workspace, object=obj)

    def enabled(self) -> list[tuple[str, ObjectT]]:
        """Every (workspace, object) switched on, from the one index partition."""
        return [(entry["workspace"], entry["object"]) for entry in self._items.enabled(self._keys.enabled)]

    def _put_state(self, state: S, enabled: bool) -> S:
        """Write the state at the version read (raises Stale) and keep the scheduler's index in step."""
        what = f"{state.workspace} {state.object} {self._keys.state_name}"
        saved = self._items.put_versioned(self._keys.state(state.workspace, state.object), state, what)
        self._items.set_enabled(self._keys.enabled, state.workspace, state.object, enabled)
        return saved

    def run(self, workspace: str, obj: ObjectT, run_id: str) -> R | None:
        return self._items.read(self._run, self._keys.run(workspace, obj, run_id))

    def runs(self, workspace: str, obj: ObjectT, limit: int = 20) -> list[R]:
        """History, newest first."""
        return self._items.read_all(self._run, workspace, self._keys.runs(obj), newest_first=True, limit=limit)

    def commit(self, run: R, state: S | None = None) -> tuple[R, S | None]:
        """Write a run (and the object's state) at the versions read, all or nothing; raises Stale."""
        keys = RunKeys(
            self._keys.run(run.workspace, run.object, run.run_id),
            self._keys.state(run.workspace, run.object),
            run.started_at,
            f"{self._keys.run_name} {run.run_id} of {run.workspace} {run.object}",
        )
        return self._items.commit(keys, run, state)


class SyncStore(RunItems[SyncRun, ObjectState, SalesforceObject]):
    """The import's items: its configuration and mappings beside its object states and runs."""

    def __init__(self) -> None:
        super().__init__(SyncRun, ObjectState, IMPORT_KEYS)

    def config(self, workspace: str) -> SyncConfig:
        return self._items.read(SyncConfig, jobs.salesforce_config(workspace)) or SyncConfig()

    def put_config(self, workspace: str, config: SyncConfig) -> None:
        self._items.put(jobs.salesforce_config(workspace), config)

    def mapping(self, workspace: str, obj: SalesforceObject) -> ObjectMapping | None:
        return self._items.read(ObjectMapping, jobs.salesforce_mapping(workspace, obj))

    def put_mapping(self, workspace: str, mapping: ObjectMapping) -> None:
        self._items.put(jobs.salesforce_mapping(workspace, mapping.object), mapping)

    def states(self, workspace: str) -> list[ObjectState]:
        return self._items.read_all(ObjectState, workspace, jobs.SALESFORCE_STATES)

    def put_state(self, state: ObjectState) -> ObjectState:
        return self._put_state(state, state.enabled)


IMPORT_KEYS = JobKeys(
    jobs.salesforce_state, jobs.salesforce_run, jobs.salesforce_runs, jobs.SALESFORCE_ENABLED, "state", "run"
)

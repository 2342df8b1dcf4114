"""The Salesforce connector's configuration, mappings, sync state and run history, as the sync sees them.

Their items, keys and versioned writes are `roster.store.salesforce`'s; here they get their types. The
scheduler reads the objects with import sync on from one index partition rather than scanning. A batch
commits its run checkpoint and the object's high-water mark together, each at the version read, so two
workers holding one run can never both count a batch (Stale).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

from roster.connectors.core.state import Status
from roster.connectors.salesforce.describe import ObjectMapping, SalesforceObject
from roster.store import jobs
from roster.store.salesforce import RunKeys, SalesforceItems


class Mode(StrEnum):
    FULL = "full"
    INCREMENTAL = "incremental"


class SyncConfig(BaseModel):
    """A workspace's schedule: incremental every 15 minutes, full weekly, 10 minutes of lookback."""

    incremental_minutes: int = Field(default=15, ge=5, le=24 * 60)
    full_days: int = Field(default=7, ge=1, le=90)
    overlap_minutes: int = Field(default=10, ge=0, le=24 * 60)


class Watermark(BaseModel):
    """The newest (SystemModstamp, Id) committed; ISO text in Salesforce's Bulk format sorts as time."""

    stamp: str
    id: str


class ObjectState(BaseModel):
    workspace: str
    object: SalesforceObject
    enabled: bool = False
    status: Status = Status.IDLE
    watermark: Watermark | None = None
    #: Id → SystemModstamp of the records committed within the lookback window below the mark, so the
    #: overlap re-reads of the next incremental sync are recognised and skipped (bounded, see sync.py).
    recent: dict[str, str] = Field(default_factory=dict)
    run_id: str | None = None
    last_started: str | None = None
    last_full_sync: str | None = None
    heartbeat: str | None = None  # the last commit of the running sync (a silent worker is declared stuck)
    error: str | None = None
    version: int | None = None


class RunCounts(BaseModel):
    read: int = 0
    created: int = 0
    updated: int = 0
    merged: int = 0
    unchanged: int = 0
    deleted: int = 0
    skipped: int = 0  # overlap re-reads already committed by an earlier sync
    dropped_values: int = 0  # values that could not be stored (a malformed e-mail, say); the record still imports

    def add(self, other: RunCounts) -> RunCounts:
        return RunCounts(**{name: getattr(self, name) + getattr(other, name) for name in RunCounts.model_fields})


class SyncRun(BaseModel):
    """One sync of one object: its counts, API calls, outcome and the checkpoint a continuation resumes from."""

    run_id: str
    workspace: str
    object: SalesforceObject
    mode: Mode
    status: Status = Status.RUNNING
    started_at: str
    finished_at: str | None = None
    counts: RunCounts = Field(default_factory=RunCounts)
    api_calls: int = 0
    error: str | None = None
    error_code: str | None = None
    since: str | None = None  # incremental: the SystemModstamp the query started from
    job_id: str | None = None
    job_attempts: int = 0
    locator: str | None = None  # the results page being read ("" is the first page)
    batch: int = 0  # the next batch of that page to process
    problems: list[str] = Field(default_factory=list)  # the first few dropped values, for the status view
    version: int | None = None


class SyncStore:
    """The connector's items; writes of state and runs are conditional on the version read."""

    def __init__(self) -> None:
        self._items = SalesforceItems()

    def config(self, workspace: str) -> SyncConfig:
        return self._items.read(SyncConfig, jobs.salesforce_config(workspace)) or SyncConfig()

    def put_config(self, workspace: str, config: SyncConfig) -> None:
        self._items.put(jobs.salesforce_config(workspace), config)

    def mapping(self, workspace: str, obj: SalesforceObject) -> ObjectMapping | None:
        return self._items.read(ObjectMapping, jobs.salesforce_mapping(workspace, obj))

    def put_mapping(self, workspace: str, mapping: ObjectMapping) -> None:
        self._items.put(jobs.salesforce_mapping(workspace, mapping.object), mapping)

    def state(self, workspace: str, obj: SalesforceObject) -> ObjectState:
        state = self._items.read(ObjectState, jobs.salesforce_state(workspace, obj))
        return state or ObjectState(workspace=workspace, object=obj)

    def states(self, workspace: str) -> list[ObjectState]:
        return self._items.read_all(ObjectState, workspace, jobs.SALESFORCE_STATES)

    def enabled(self) -> list[tuple[str, SalesforceObject]]:
        """Every (workspace, object) with import sync on, from the one index partition."""
        return [(entry["workspace"], entry["object"]) for entry in self._items.enabled(jobs.SALESFORCE_ENABLED)]

    def put_state(self, state: ObjectState) -> ObjectState:
        """Write the state at the version read (raises Stale) and keep the scheduler's index in step."""
        what = f"{state.workspace} {state.object} state"
        saved = self._items.put_versioned(jobs.salesforce_state(state.workspace, state.object), state, what)
        self._items.set_enabled(jobs.SALESFORCE_ENABLED, state.workspace, state.object, state.enabled)
        return saved

    def run(self, workspace: str, obj: SalesforceObject, run_id: str) -> SyncRun | None:
        return self._items.read(SyncRun, jobs.salesforce_run(workspace, obj, run_id))

    def runs(self, workspace: str, obj: SalesforceObject, limit: int = 20) -> list[SyncRun]:
        """History, newest first."""
        return self._items.read_all(SyncRun, workspace, jobs.salesforce_runs(obj), newest_first=True, limit=limit)

    def commit(self, run: SyncRun, state: ObjectState | None = None) -> tuple[SyncRun, ObjectState | None]:
        """Write a run (and the object's state) at the versions read, all or nothing; raises Stale."""
        keys = RunKeys(
            jobs.salesforce_run(run.workspace, run.object, run.run_id),
            jobs.salesforce_state(run.workspace, run.object),
            run.started_at,
            f"run {run.run_id} of {run.workspace} {run.object}",
        )
        return self._items.commit(keys, run, state)

"""The Salesforce connector's configuration, mappings, sync state and run history, as the sync sees them.

Their items, keys and versioned writes are `roster.store.salesforce`'s; here they get their types. The
scheduler reads the objects with import sync on from one index partition rather than scanning. A batch
commits its run checkpoint and the object's high-water mark together, each at the version read, so two
workers holding one run can never both count a batch (Stale). The import's `SyncStore` and the export's
`ExportStore` are both the core's `RunItems`.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from roster.connectors.core.items import JobKeys, RunItems
from roster.connectors.core.state import ImportRun, ImportState, Mode, RunCounts, Schedule
from roster.connectors.salesforce.describe import ObjectMapping, SalesforceObject
from roster.store import jobs

__all__ = ["Mode", "ObjectState", "RunCounts", "SyncConfig", "SyncRun", "SyncStore", "Watermark"]


class SyncConfig(Schedule):
    """A workspace's schedule (incremental every 15 minutes, full weekly), 10 minutes of lookback; and how many
    records one Bulk query job (one window of SystemModstamp) aims to read."""

    overlap_minutes: int = Field(default=10, ge=0, le=24 * 60)
    window_records: int = Field(default=500_000, ge=1, le=50_000_000)


class Watermark(BaseModel):
    """The newest (SystemModstamp, Id) committed; ISO text in Salesforce's Bulk format sorts as time."""

    stamp: str
    id: str


class ObjectState(ImportState):
    object: SalesforceObject
    watermark: Watermark | None = None
    #: Id → SystemModstamp of the records committed within the lookback window below the mark, so the
    #: overlap re-reads of the next incremental sync are recognised and skipped (bounded, see importer.py).
    recent: dict[str, str] = Field(default_factory=dict)


class SyncRun(ImportRun):
    """One sync of one object: its counts and the checkpoint a continuation resumes from."""

    object: SalesforceObject
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
        return self._items.read_all(ObjectState, workspace, jobs.SALESFORCE_IMPORT.states)

    def put_state(self, state: ObjectState) -> ObjectState:
        return self._put_state(state, state.enabled)


IMPORT_KEYS = JobKeys(jobs.SALESFORCE_IMPORT, "state", "run")

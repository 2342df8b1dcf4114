"""Where the Salesforce connector keeps its configuration, mappings, sync state and run history.

One PynamoDB model on the jobs table. Per workspace (`pk` = workspace): `salesforce#config`,
`salesforce#mapping#{Object}`, `salesforce#state#{Object}` and `salesforce#run#{Object}#{run id}` (ULIDs, so
history pages newest first). The scheduler reads one partition, `salesforce#enabled`, listing enabled
objects, rather than scanning. A batch commits its run checkpoint and the object's high-water mark in one
transaction, each at the version read, so two workers holding one run can never both count a batch.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TypeVar

from pydantic import BaseModel, Field
from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError
from pynamodb.transactions import TransactWrite

from roster.config import settings
from roster.profiles.values import utc_now
from roster.sources.salesforce.mapping import ObjectMapping, SalesforceObject
from roster.store.jobs import SalesforceItem

ENABLED_PARTITION = "salesforce#enabled"
HISTORY_DAYS = 90


class Mode(StrEnum):
    FULL = "full"
    INCREMENTAL = "incremental"


class Status(StrEnum):
    IDLE = "idle"
    RUNNING = "running"
    FAILED = "failed"  # stopped by something retrying cannot fix (credentials, a bad mapping)
    PARKED = "parked"  # a page kept failing; its message waits in the dead-letter queue
    SUCCEEDED = "succeeded"  # runs only


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


class Stale(Exception):
    """Another worker moved the run or the state on first: this worker must stop."""


def _state_key(obj: str) -> str:
    return f"salesforce#state#{obj}"


def _run_key(obj: str, run_id: str) -> str:
    return f"salesforce#run#{obj}#{run_id}"


def model_item(pk: str, sk: str, model: BaseModel, expires_at: int | None = None) -> SalesforceItem:
    data = model.model_dump(mode="json", exclude={"version"})
    item = SalesforceItem(pk, sk, data=data, created_at=utc_now(), expires_at=expires_at)
    version = getattr(model, "version", None)
    if version is not None:
        item.version = version
    return item


def get_item(pk: str, sk: str) -> SalesforceItem | None:
    try:
        return SalesforceItem.get(pk, sk, consistent_read=True)
    except DoesNotExist:
        return None


class SyncStore:
    """The connector's items; writes of state and runs are conditional on the version read."""

    def __init__(self) -> None:
        self._connection = Connection(region=settings().region)

    def config(self, workspace: str) -> SyncConfig:
        item = get_item(workspace, "salesforce#config")
        return SyncConfig.model_validate(item.data) if item else SyncConfig()

    def put_config(self, workspace: str, config: SyncConfig) -> None:
        put_model(workspace, "salesforce#config", config)

    def mapping(self, workspace: str, obj: SalesforceObject) -> ObjectMapping | None:
        item = get_item(workspace, f"salesforce#mapping#{obj}")
        return ObjectMapping.model_validate(item.data) if item else None

    def put_mapping(self, workspace: str, mapping: ObjectMapping) -> None:
        put_model(workspace, f"salesforce#mapping#{mapping.object}", mapping)

    def state(self, workspace: str, obj: SalesforceObject) -> ObjectState:
        item = get_item(workspace, _state_key(obj))
        if item is None:
            return ObjectState(workspace=workspace, object=obj)
        return ObjectState.model_validate({**item.data, "version": item.version})

    def states(self, workspace: str) -> list[ObjectState]:
        items = SalesforceItem.query(workspace, SalesforceItem.sk.startswith("salesforce#state#"))
        return [ObjectState.model_validate({**item.data, "version": item.version}) for item in items]

    def enabled(self) -> list[tuple[str, SalesforceObject]]:
        """Every (workspace, object) with import sync on, from the one index partition."""
        pairs: list[tuple[str, SalesforceObject]] = []
        for item in SalesforceItem.query(ENABLED_PARTITION):
            pairs.append((item.data["workspace"], item.data["object"]))
        return pairs

    def put_state(self, state: ObjectState) -> ObjectState:
        """Write the state at the version read (raises Stale) and keep the scheduler's index in step."""
        item = model_item(state.workspace, _state_key(state.object), state)
        save_versioned(item, f"{state.workspace} {state.object} state")
        index_enabled(ENABLED_PARTITION, state.workspace, state.object, state.enabled)
        return state.model_copy(update={"version": item.version})

    def run(self, workspace: str, obj: SalesforceObject, run_id: str) -> SyncRun | None:
        return read_run(SyncRun, workspace, _run_key(obj, run_id))

    def runs(self, workspace: str, obj: SalesforceObject, limit: int = 20) -> list[SyncRun]:
        """History, newest first."""
        return read_runs(SyncRun, workspace, f"salesforce#run#{obj}#", limit)

    def commit(self, run: SyncRun, state: ObjectState | None = None) -> tuple[SyncRun, ObjectState | None]:
        """Write a run (and the object's state) at the versions read, all or nothing; raises Stale."""
        what = f"run {run.run_id} of {run.workspace} {run.object}"
        keys = RunKeys(run.workspace, _run_key(run.object, run.run_id), _state_key(run.object), run.started_at, what)
        return commit_run(self._connection, keys, run, state)


RunT = TypeVar("RunT", bound=BaseModel)
StateT = TypeVar("StateT", bound=BaseModel)


def read_run(model: type[RunT], workspace: str, sk: str) -> RunT | None:
    item = get_item(workspace, sk)
    return model.model_validate({**item.data, "version": item.version}) if item else None


def read_runs(model: type[RunT], workspace: str, prefix: str, limit: int) -> list[RunT]:
    """Runs whose key starts with `prefix`, newest first (run ids are ULIDs)."""
    items = SalesforceItem.query(workspace, SalesforceItem.sk.startswith(prefix), scan_index_forward=False, limit=limit)
    return [model.model_validate({**item.data, "version": item.version}) for item in items]


@dataclass(frozen=True)
class RunKeys:
    """Where a run and its object's state live, and what a Stale error calls the run."""

    workspace: str
    run: str
    state: str
    started_at: str  # the run expires from history HISTORY_DAYS after it
    what: str


def commit_run(connection: Connection, keys: RunKeys, run: RunT, state: StateT | None) -> tuple[RunT, StateT | None]:
    """Write a run (and its object's state) at the versions read, all or nothing; raises Stale."""
    run_item = model_item(keys.workspace, keys.run, run, history_expiry(keys.started_at))
    state_item = model_item(keys.workspace, keys.state, state) if state is not None else None
    transact(connection, [run_item, state_item], keys.what)
    saved = state.model_copy(update={"version": state_item.version}) if state and state_item else None
    return run.model_copy(update={"version": run_item.version}), saved


def save_versioned(item: SalesforceItem, what: str) -> None:
    """Save an item at the version it was read at; Stale when another writer moved it on."""
    try:
        item.save()
    except PutError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            raise Stale(f"{what} changed meanwhile") from error
        raise


def transact(connection: Connection, items: Iterable[SalesforceItem | None], what: str) -> None:
    """Save items at their versions read, all or nothing; Stale when another writer moved one on."""
    try:
        with TransactWrite(connection=connection) as transaction:
            for item in items:
                if item is not None:
                    transaction.save(item)
    except TransactWriteError as error:
        if error.cause_response_code == "TransactionCanceledException":
            raise Stale(f"{what} moved on meanwhile") from error
        raise


def index_enabled(partition: str, workspace: str, obj: str, enabled: bool) -> None:
    """Keep one index partition listing what is switched on, so a scheduler reads it instead of scanning."""
    index = SalesforceItem(
        partition, f"{workspace}#{obj}", data={"workspace": workspace, "object": obj}, created_at=utc_now()
    )
    if enabled:
        index.save(add_version_condition=False)
    else:
        index.delete(add_version_condition=False)


def put_model(workspace: str, sk: str, model: BaseModel) -> None:
    item = SalesforceItem(workspace, sk, data=model.model_dump(mode="json"), created_at=utc_now())
    item.save(add_version_condition=False)


def history_expiry(started_at: str) -> int:
    """Runs expire from history after HISTORY_DAYS (the table's TTL attribute)."""
    return int(datetime.fromisoformat(started_at.replace("Z", "+00:00")).timestamp()) + HISTORY_DAYS * 86_400

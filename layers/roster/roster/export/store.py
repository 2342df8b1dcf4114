"""Where the Salesforce export keeps its settings, state, run history and the membership changes it owes.

Items on the jobs table, beside the import's (`sources.salesforce.store`): per workspace `export#state#{Object}`
(settings, status, mark) and `export#run#{Object}#{run id}` (history, newest first); `export#enabled` lists
the objects whose export sync is on, for the scheduler; `{workspace}#export#pending#{kind}` holds the profiles
whose membership of an exported segment changed since the last export (membership does not touch a profile,
so the profile's own `updated_at` cannot tell). State and runs are written at the version read, so two
workers on one run can never both commit a batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Literal

from pydantic import BaseModel, Field
from pynamodb.connection import Connection

from roster.config import settings
from roster.profiles.fields import Kind
from roster.sources.salesforce.store import (
    RunKeys,
    Status,
    commit_run,
    get_item,
    index_enabled,
    model_item,
    read_run,
    read_runs,
    save_versioned,
)
from roster.store.jobs import SalesforceItem

ExportObject = Literal["Account", "Contact"]
EXPORT_OBJECTS: dict[ExportObject, Kind] = {"Account": Kind.COMPANIES, "Contact": Kind.PEOPLE}
Phase = Literal["refresh", "profiles", "pending", "done"]
ENABLED_PARTITION = "export#enabled"
MAX_REJECTIONS = 200  # kept per run (all are counted); the rest are in the counts


class ExportSettings(BaseModel):
    """What a user turns on for one object. Export sync and record creation are both off by default."""

    enabled: bool = False
    create_new: bool = False
    #: The external-id field holding the Roster id, so creating is an upsert and a retry never duplicates.
    external_id_field: str = Field(default="Roster_Id__c", pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    #: Create records only for members of this segment (None: every active profile without a record).
    create_segment: str | None = None
    every_hours: int = Field(default=24, ge=1, le=24 * 7)


class ExportState(BaseModel):
    workspace: str
    object: ExportObject
    settings: ExportSettings = Field(default_factory=ExportSettings)
    status: Status = Status.IDLE
    run_id: str | None = None
    #: The start of the last successful export: the next one considers profiles changed after it.
    mark: str | None = None
    last_started: str | None = None
    heartbeat: str | None = None
    error: str | None = None
    version: int | None = None


class ExportCounts(BaseModel):
    considered: int = 0  # profiles looked at
    unchanged: int = 0  # linked records with nothing the rules allow to change (not sent)
    updated: int = 0
    created: int = 0
    rejected: int = 0
    fields_written: int = 0

    def add(self, other: ExportCounts) -> ExportCounts:
        return ExportCounts(**{name: getattr(self, name) + getattr(other, name) for name in ExportCounts.model_fields})


class Rejection(BaseModel):
    """A record Salesforce refused: which profile and record, which fields, and Salesforce's own words."""

    profile_id: str
    salesforce_id: str | None
    code: str
    message: str
    fields: list[str]


class ExportRun(BaseModel):
    """One export of one object: where it is (phase and profile cursor), what it sent and what was refused."""

    run_id: str
    workspace: str
    object: ExportObject
    full: bool
    status: Status = Status.RUNNING
    started_at: str
    finished_at: str | None = None
    since: str | None = None  # incremental: profiles changed after this moment
    phase: Phase = "refresh"
    refresh_run: str | None = None  # the import run that refreshes the CRM values first
    cursor: str | None = None  # the next profile page (phase profiles) or pending item (phase pending)
    counts: ExportCounts = Field(default_factory=ExportCounts)
    api_calls: int = 0
    jobs: int = 0
    csv_bytes: int = 0
    rejections: list[Rejection] = Field(default_factory=list)
    error: str | None = None
    error_code: str | None = None
    version: int | None = None


def _state_key(obj: str) -> str:
    return f"export#state#{obj}"


def _run_key(obj: str, run_id: str) -> str:
    return f"export#run#{obj}#{run_id}"


def _pending_partition(workspace: str, kind: Kind) -> str:
    return f"{workspace}#export#pending#{kind}"


class ExportStore:
    """The export's items; state and run writes are conditional on the version read (Stale otherwise)."""

    def __init__(self) -> None:
        self._connection = Connection(region=settings().region)

    def state(self, workspace: str, obj: ExportObject) -> ExportState:
        item = get_item(workspace, _state_key(obj))
        if item is None:
            return ExportState(workspace=workspace, object=obj)
        return ExportState.model_validate({**item.data, "version": item.version})

    def enabled(self) -> list[tuple[str, ExportObject]]:
        return [(item.data["workspace"], item.data["object"]) for item in SalesforceItem.query(ENABLED_PARTITION)]

    def put_state(self, state: ExportState) -> ExportState:
        item = model_item(state.workspace, _state_key(state.object), state)
        save_versioned(item, f"{state.workspace} {state.object} export")
        index_enabled(ENABLED_PARTITION, state.workspace, state.object, state.settings.enabled)
        return state.model_copy(update={"version": item.version})

    def run(self, workspace: str, obj: ExportObject, run_id: str) -> ExportRun | None:
        return read_run(ExportRun, workspace, _run_key(obj, run_id))

    def runs(self, workspace: str, obj: ExportObject, limit: int = 20) -> list[ExportRun]:
        """History, newest first."""
        return read_runs(ExportRun, workspace, f"export#run#{obj}#", limit)

    def commit(self, run: ExportRun, state: ExportState | None = None) -> tuple[ExportRun, ExportState | None]:
        """Write a run (and the object's state) at the versions read, all or nothing; raises Stale."""
        what = f"export run {run.run_id} of {run.workspace} {run.object}"
        keys = RunKeys(run.workspace, _run_key(run.object, run.run_id), _state_key(run.object), run.started_at, what)
        return commit_run(self._connection, keys, run, state)

    # -- membership changes owed to the next export ----------------------------------------------------

    def note_pending(self, workspace: str, kind: Kind, profile_ids: Iterable[str], noted_at: str) -> int:
        """Remember profiles whose exported-segment membership changed (idempotent: one item per profile)."""
        count = 0
        with SalesforceItem.batch_write() as batch:
            for profile_id in sorted(set(profile_ids)):
                batch.save(
                    SalesforceItem(
                        _pending_partition(workspace, kind),
                        profile_id,
                        data={"noted_at": noted_at},
                        created_at=noted_at,
                    )
                )
                count += 1
        return count

    def pending(self, workspace: str, kind: Kind, after: str | None = None) -> Iterator[tuple[str, str]]:
        """(profile id, noted at) of the pending changes, in profile id order after `after`."""
        condition = SalesforceItem.sk > after if after else None
        for item in SalesforceItem.query(_pending_partition(workspace, kind), range_key_condition=condition):
            yield item.sk, str(item.data.get("noted_at", ""))

    def clear_pending(self, workspace: str, kind: Kind, up_to: str) -> None:
        """Forget the changes noted before `up_to` (the start of an export that covered them)."""
        for item in SalesforceItem.query(_pending_partition(workspace, kind)):
            if str(item.data.get("noted_at", "")) < up_to:
                item.delete(add_version_condition=False)

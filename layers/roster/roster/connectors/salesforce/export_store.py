"""The Salesforce export's settings, state, run history and the membership changes it owes, as the export
sees them.

Their items, keys and versioned writes are `roster.store.salesforce`'s, beside the import's; here they get
their types. The objects whose export sync is on are listed in one index partition for the scheduler. The
profiles whose membership of an exported segment changed since the last export are kept apart (membership
does not touch a profile, so the profile's own `updated_at` cannot tell). State and runs are written at the
version read, so two workers on one run can never both commit a batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Literal

from pydantic import BaseModel, Field

from roster.connectors.core.state import Status
from roster.profiles.fields import Kind
from roster.store import jobs
from roster.store.salesforce import RunKeys, SalesforceItems

ExportObject = Literal["Account", "Contact"]
EXPORT_OBJECTS: dict[ExportObject, Kind] = {"Account": Kind.COMPANIES, "Contact": Kind.PEOPLE}
Phase = Literal["refresh", "profiles", "pending", "done"]
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


class ExportStore:
    """The export's items; state and run writes are conditional on the version read (Stale otherwise)."""

    def __init__(self) -> None:
        self._items = SalesforceItems()

    def state(self, workspace: str, obj: ExportObject) -> ExportState:
        state = self._items.read(ExportState, jobs.export_state(workspace, obj))
        return state or ExportState(workspace=workspace, object=obj)

    def enabled(self) -> list[tuple[str, ExportObject]]:
        return [(entry["workspace"], entry["object"]) for entry in self._items.enabled(jobs.EXPORT_ENABLED)]

    def put_state(self, state: ExportState) -> ExportState:
        what = f"{state.workspace} {state.object} export"
        saved = self._items.put_versioned(jobs.export_state(state.workspace, state.object), state, what)
        self._items.set_enabled(jobs.EXPORT_ENABLED, state.workspace, state.object, state.settings.enabled)
        return saved

    def run(self, workspace: str, obj: ExportObject, run_id: str) -> ExportRun | None:
        return self._items.read(ExportRun, jobs.export_run(workspace, obj, run_id))

    def runs(self, workspace: str, obj: ExportObject, limit: int = 20) -> list[ExportRun]:
        """History, newest first."""
        return self._items.read_all(ExportRun, workspace, jobs.export_runs(obj), newest_first=True, limit=limit)

    def commit(self, run: ExportRun, state: ExportState | None = None) -> tuple[ExportRun, ExportState | None]:
        """Write a run (and the object's state) at the versions read, all or nothing; raises Stale."""
        keys = RunKeys(
            jobs.export_run(run.workspace, run.object, run.run_id),
            jobs.export_state(run.workspace, run.object),
            run.started_at,
            f"export run {run.run_id} of {run.workspace} {run.object}",
        )
        return self._items.commit(keys, run, state)

    # -- membership changes owed to the next export ----------------------------------------------------

    def note_pending(self, workspace: str, kind: Kind, profile_ids: Iterable[str], noted_at: str) -> int:
        """Remember profiles whose exported-segment membership changed (idempotent: one item per profile)."""
        return self._items.note_pending(jobs.export_pending(workspace, kind), profile_ids, noted_at)

    def pending(self, workspace: str, kind: Kind, after: str | None = None) -> Iterator[tuple[str, str]]:
        """(profile id, noted at) of the pending changes, in profile id order after `after`."""
        return self._items.pending(jobs.export_pending(workspace, kind), after)

    def clear_pending(self, workspace: str, kind: Kind, up_to: str) -> None:
        """Forget the changes noted before `up_to` (the start of an export that covered them)."""
        self._items.clear_pending(jobs.export_pending(workspace, kind), up_to)

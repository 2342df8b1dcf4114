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

from roster.connectors.core.items import JobKeys, RunItems
from roster.connectors.core.state import ExportCounts, Run, RunState
from roster.profiles.fields import Kind
from roster.store import jobs

EXPORT_KEYS = JobKeys(jobs.export_state, jobs.export_run, jobs.export_runs, jobs.EXPORT_ENABLED, "export", "export run")
ExportObject = Literal["Account", "Contact"]
EXPORT_OBJECTS: dict[ExportObject, Kind] = {"Account": Kind.COMPANIES, "Contact": Kind.PEOPLE}
Phase = Literal["refresh", "profiles", "pending", "done"]
MAX_REJECTIONS = 200  # kept per run (all are counted); the rest are in the counts


class ExportSettings(BaseModel):
    """What a user turns on for one object. Export sync and record creation are both off by default."""

    enabled: bool = False
    create_new: bool = False
    #: The external-id field holding the Roster id, so creating is an upsert and a retry never duplicates.
    external_id_field: str = Field(default="Roster_Id__c", max_length=80, pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    #: Create records only for members of this segment (None: every active profile without a record).
    create_segment: str | None = Field(default=None, max_length=64)
    every_hours: int = Field(default=24, ge=1, le=24 * 7)


class ExportState(RunState):
    object: ExportObject
    settings: ExportSettings = Field(default_factory=ExportSettings)
    #: The start of the last successful export: the next one considers profiles changed after it.
    mark: str | None = None


class Rejection(BaseModel):
    """A record Salesforce refused: which profile and record, which fields, and Salesforce's own words."""

    profile_id: str
    salesforce_id: str | None
    code: str
    message: str
    fields: list[str]


class ExportRun(Run):
    """One export of one object: where it is (phase and profile cursor), what it sent and what was refused."""

    object: ExportObject
    full: bool
    since: str | None = None  # incremental: profiles changed after this moment
    phase: Phase = "refresh"
    refresh_run: str | None = None  # the import run that refreshes the CRM values first
    cursor: str | None = None  # the next profile page (phase profiles) or pending item (phase pending)
    counts: ExportCounts = Field(default_factory=ExportCounts)
    jobs: int = 0
    csv_bytes: int = 0
    rejections: list[Rejection] = Field(default_factory=list)


class ExportStore(RunItems[ExportRun, ExportState, ExportObject]):
    """The export's items: its object states and runs, and the membership changes owed to the next export."""

    def __init__(self) -> None:
        super().__init__(ExportRun, ExportState, EXPORT_KEYS)

    def put_state(self, state: ExportState) -> ExportState:
        return self._put_state(state, state.settings.enabled)

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

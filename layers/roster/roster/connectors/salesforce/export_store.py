"""The Salesforce export's settings, state, run history and the membership changes it owes, as the export
sees them.

Their items, keys and versioned writes are `roster.store.salesforce`'s, beside the import's, kept by the core's
`ExportItems`; here they get their Salesforce types. The objects whose export sync is on are listed in one index
partition for the scheduler. The profiles whose membership of an exported segment changed since the last export
are kept apart (membership does not touch a profile, so the profile's own `updated_at` cannot tell). State and
runs are written at the version read, so two workers on one run can never both commit a batch.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from roster.connectors.core import export as core
from roster.connectors.core.export import MAX_REJECTIONS, ExportItems, Phase
from roster.connectors.core.items import JobKeys
from roster.profiles.fields import Kind
from roster.store import jobs

__all__ = ["MAX_REJECTIONS", "Phase"]

EXPORT_KEYS = JobKeys(jobs.SALESFORCE_EXPORT, "export", "export run")
ExportObject = Literal["Account", "Contact"]
EXPORT_OBJECTS: dict[ExportObject, Kind] = {"Account": Kind.COMPANIES, "Contact": Kind.PEOPLE}


class ExportSettings(core.ExportSettings):
    """What a user turns on for one object. Export sync and record creation are both off by default."""

    #: The external-id field holding the Roster id, so creating is an upsert and a retry never duplicates.
    external_id_field: str = Field(default="Roster_Id__c", max_length=80, pattern=r"^[A-Za-z][A-Za-z0-9_]*$")


class ExportState(core.ExportState):
    object: ExportObject
    settings: ExportSettings = Field(default_factory=ExportSettings)


class Rejection(core.Rejection):
    """A record Salesforce refused: which profile and record, which fields, and Salesforce's own words."""

    salesforce_id: str | None


class ExportRun(core.ExportRun):
    """One export of one object: where it is, what it sent (ingest jobs, CSV bytes) and what was refused."""

    object: ExportObject
    jobs: int = 0
    csv_bytes: int = 0
    rejections: list[Rejection] = Field(default_factory=list)  # type: ignore[assignment]


class ExportStore(ExportItems[ExportRun, ExportState, ExportObject]):
    """The export's items: its object states and runs, and the membership changes owed to the next export."""

    def __init__(self) -> None:
        super().__init__(ExportRun, ExportState, EXPORT_KEYS, jobs.export_pending)

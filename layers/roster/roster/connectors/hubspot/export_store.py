"""The HubSpot export's settings, state, run history and the membership changes it owes (keys in
`roster.store.jobs`), kept by the core's `ExportItems` like Salesforce's."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from roster.connectors.core import export as core
from roster.connectors.core.export import ExportItems
from roster.connectors.core.items import JobKeys
from roster.profiles.fields import Kind
from roster.store import jobs

ExportObject = Literal["contacts", "companies"]
EXPORT_OBJECTS: dict[ExportObject, Kind] = {"companies": Kind.COMPANIES, "contacts": Kind.PEOPLE}
#: The unique property a created record is upserted on when the settings name none.
DEFAULT_ID_PROPERTY: dict[ExportObject, str] = {"contacts": "email", "companies": "roster_id"}
EXPORT_KEYS = JobKeys(
    jobs.HUBSPOT_EXPORT,
    "HubSpot export",
    "HubSpot export run",
)


class ExportSettings(core.ExportSettings):
    """What a user turns on for one object. Export sync and record creation are both off by default."""

    #: The unique property a created record is upserted on, so a retried export never duplicates: contacts by
    #: `email` (the default); companies by a unique custom property holding the Roster id (`roster_id` by
    #: default), or by `domain` where the portal keeps domains unique.
    id_property: str | None = Field(default=None, max_length=100, pattern=r"^[a-z][a-z0-9_]*$")

    def key_property(self, obj: ExportObject) -> str:
        return self.id_property or DEFAULT_ID_PROPERTY[obj]


class ExportState(core.ExportState):
    object: ExportObject
    settings: ExportSettings = Field(default_factory=ExportSettings)


class Rejection(core.Rejection):
    """A record HubSpot refused (a 207 answer's error for it): which profile and record, which properties, and
    HubSpot's own words."""

    hubspot_id: str | None


class ExportRun(core.ExportRun):
    """One export of one object: where it is, how many batch calls it wrote with, and what was refused."""

    object: ExportObject
    batches: int = 0
    rejections: list[Rejection] = Field(default_factory=list)  # type: ignore[assignment]


class ExportStore(ExportItems[ExportRun, ExportState, ExportObject]):
    def __init__(self) -> None:
        super().__init__(ExportRun, ExportState, EXPORT_KEYS, jobs.hubspot_export_pending)

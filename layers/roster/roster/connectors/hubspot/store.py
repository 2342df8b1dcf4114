"""The HubSpot import's configuration, mappings, object states and runs on the jobs table (keys in
`roster.store.jobs`), kept by the core's `RunItems` like Salesforce's."""

from __future__ import annotations

from typing import Literal

from dateutil import tz
from pydantic import Field, field_validator

from roster.connectors.core.items import JobKeys, RunItems
from roster.connectors.core.state import ImportRun, ImportState, RunCounts, Schedule
from roster.connectors.hubspot.budget import Tier
from roster.connectors.hubspot.describe import HubSpotObject, ObjectMapping
from roster.store import jobs

Phase = Literal["records", "archived", "done"]


class HubSpotConfig(Schedule):
    """A workspace's HubSpot schedule (incremental every 15 minutes, full weekly) and the overlap each incremental
    reads again below the mark, so records sharing a modified time, or indexed late by search, are never missed;
    and the portal's API limits Roster keeps to."""

    overlap_minutes: int = Field(default=10, ge=1, le=24 * 60)
    tier: Tier = Field(default="starter", description="The portal's subscription, which sets HubSpot's API limits")
    reserve_percent: int = Field(
        default=20, ge=0, le=90, description="Share of the daily API allowance left for the portal's other apps"
    )
    time_zone: str = Field(
        default="UTC",
        max_length=64,
        pattern=r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+){0,2}$",  # an IANA name, never a path
        description="The portal's time zone (IANA name): HubSpot's day resets at its midnight",
    )

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        if not value or tz.gettz(value) is None:
            raise ValueError(f"unknown time zone {value!r}: an IANA name such as America/New_York or UTC")
        return value


class HubSpotState(ImportState):
    object: HubSpotObject
    watermark: int | None = None  # epoch ms: the start of the last run that read to its end
    archived_mark: int | None = None  # epoch ms: the start of the last run that listed archived records


class HubSpotRun(ImportRun):
    """One import of one object, and the checkpoint a continuation resumes from: the phase, the last
    `hs_object_id` committed (the keyset of an incremental's search), the list's cursor (a full run) and the
    archived list's cursor."""

    object: HubSpotObject
    counts: RunCounts = Field(default_factory=RunCounts)
    since: int | None = None  # incremental: records modified at or after this epoch ms (mark - overlap)
    until: int | None = None  # when the run planned: the next mark
    phase: Phase = "records"
    last_id: int = 0  # records: the highest hs_object_id committed
    list_after: str | None = None  # records of a full run: the list's next page cursor
    lists_archived: bool = True  # full runs, and an incremental a day: list archived records after the records
    archived_since: int | None = None  # unlink those archived at or after this epoch ms (None: all)
    archived_after: str | None = None  # archived: the next page's cursor
    problems: list[str] = Field(default_factory=list)


IMPORT_KEYS = JobKeys(jobs.HUBSPOT_IMPORT, "HubSpot state", "HubSpot run")


class HubSpotStore(RunItems[HubSpotRun, HubSpotState, HubSpotObject]):
    def __init__(self) -> None:
        super().__init__(HubSpotRun, HubSpotState, IMPORT_KEYS)

    def config(self, workspace: str) -> HubSpotConfig:
        return self._items.read(HubSpotConfig, jobs.hubspot_config(workspace)) or HubSpotConfig()

    def put_config(self, workspace: str, config: HubSpotConfig) -> None:
        self._items.put(jobs.hubspot_config(workspace), config)

    def mapping(self, workspace: str, obj: HubSpotObject) -> ObjectMapping | None:
        return self._items.read(ObjectMapping, jobs.hubspot_mapping(workspace, obj))

    def put_mapping(self, workspace: str, mapping: ObjectMapping) -> None:
        self._items.put(jobs.hubspot_mapping(workspace, mapping.object), mapping)

    def states(self, workspace: str) -> list[HubSpotState]:
        return self._items.read_all(HubSpotState, workspace, jobs.HUBSPOT_IMPORT.states)

    def put_state(self, state: HubSpotState) -> HubSpotState:
        return self._put_state(state, state.enabled)

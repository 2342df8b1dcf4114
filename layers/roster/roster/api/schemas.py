"""Request and response bodies of the API (the OpenAPI document is generated from these)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from roster.connectors.core.mapping import FieldMapping
from roster.connectors.core.state import Mode
from roster.identity.aliases import AliasType
from roster.identity.records import SOURCE_NAME
from roster.profiles.fields import FIELD_NAME, FieldType, Kind
from roster.profiles.limits import HISTORY_KEPT, MAX_FIELDS, MAX_RECORD_ID, MAX_UPSERT_RECORDS
from roster.segments.filters import Group

MAX_INLINE_CSV_BYTES = 5 * 1024 * 1024
WORKSPACE_ID = r"^[a-z0-9][a-z0-9-]{1,39}$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UpsertRecord(Strict):
    source: str = Field(pattern=SOURCE_NAME, description="Where the record comes from, e.g. `api` or `webinar-2026`")
    object: str | None = Field(default=None, pattern=SOURCE_NAME, description="The source's object; default: kind")
    id: str | None = Field(default=None, max_length=MAX_RECORD_ID, description="The record's id in its source")
    observed_at: datetime | None = Field(default=None, description="When the source saw these values; default now")
    fields: dict[str, Any] = Field(min_length=1, max_length=MAX_FIELDS)


class UpsertRequest(Strict):
    records: list[UpsertRecord] = Field(min_length=1, max_length=MAX_UPSERT_RECORDS)


class RecordError(BaseModel):
    path: str
    message: str


class UpsertResult(BaseModel):
    index: int
    profile_id: str | None = None
    outcome: str = Field(description="created, updated, merged, unchanged or rejected")
    error: RecordError | None = None


class UpsertResponse(BaseModel):
    results: list[UpsertResult]


class FieldDetail(BaseModel):
    value: Any
    source: str
    record: str
    observed_at: str


class SourceDetail(BaseModel):
    source: str
    object: str
    id: str
    first_seen: str


class HistoryValue(BaseModel):
    """A value a source record held for a field until a newer one (or a clear) replaced it."""

    field: str
    value: Any
    source: str
    record: str
    observed_at: str
    replaced_at: str


class HistoryList(BaseModel):
    values: list[HistoryValue] = Field(description="Oldest first within a page; pages go from newer to older")
    cursor: str | None


class ProfileDetail(BaseModel):
    profile_id: str
    kind: Kind
    status: str
    archived: bool
    requested_id: str
    created_at: str
    updated_at: str
    fields: dict[str, FieldDetail]
    filled: list[str] = Field(description="Standard fields that have a value")
    empty: list[str] = Field(description="Standard fields that have none")
    sources: list[SourceDetail]
    merged_from: list[str]
    history: list[HistoryValue] = Field(
        description=f"Replaced values kept on the profile, newest first (at most {HISTORY_KEPT} per source record "
        "and field)"
    )
    older_history: int = Field(description="Older replaced values, read a page at a time at `.../history`")


class ProfileSummary(BaseModel):
    profile_id: str
    status: str
    fields: dict[str, Any]


class ProfileList(BaseModel):
    profiles: list[ProfileSummary]
    cursor: str | None


class CreateWorkspace(Strict):
    workspace_id: str | None = Field(default=None, pattern=WORKSPACE_ID)
    name: str = Field(min_length=1, max_length=200)


class WorkspaceCreated(BaseModel):
    workspace_id: str
    api_key: str = Field(description="Shown once; only its hash is stored")


class StartImport(Strict):
    source_name: str = Field(pattern=SOURCE_NAME)
    filename: str = Field(default="upload.csv", max_length=255)
    content: str | None = Field(default=None, description="The CSV inline (up to 5 MB); else PUT it to upload_url")


class ImportStarted(BaseModel):
    import_id: str
    status: str
    upload_url: str | None


class ConfirmImport(Strict):
    mapping: dict[str, str | None] | None = Field(
        default=None, description="Column → field (null skips the column); default: the preview's auto-mapping"
    )


class MatchingSetting(Strict):
    object: str | None = Field(default=None, pattern=SOURCE_NAME)
    match_on: list[AliasType] = Field(
        max_length=len(AliasType), description="Alias types to match on; empty: only the record's own id"
    )


SourceName = Annotated[str, Field(pattern=SOURCE_NAME)]


class SurvivorshipSetting(Strict):
    source_priority: dict[
        Annotated[str, Field(pattern=FIELD_NAME.pattern)], Annotated[list[SourceName], Field(max_length=50)]
    ] = Field(
        max_length=500,
        description="Per field, sources in order of trust; fields not listed: the most recent value wins",
    )


class ErrorBody(BaseModel):
    error: str
    message: str
    errors: list[RecordError] = Field(default_factory=list)


# --- segments ---------------------------------------------------------------------------------


class CreateSegment(Strict):
    name: str = Field(min_length=1, max_length=200)
    kind: Kind
    filter: Group = Field(default_factory=Group, description="Nested AND (`all`) / OR (`any`) groups of conditions")
    draft: bool = Field(default=False, description="Drafts are saved but have no members until published")


class EditSegment(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    filter: Group | None = None
    draft: bool | None = None


class SegmentRow(BaseModel):
    segment_id: str
    name: str
    kind: Kind
    count: int = Field(description="Members, kept by the segment's events (follows changes within seconds)")
    created_by: str = Field(description="Id of the API key that created it; `roster` for the built-in audiences")
    created_at: str
    updated_at: str
    draft: bool
    built_in: bool
    rebuilding: bool
    based_on: str | None = Field(
        default=None, description="A kept segment's base: its filter is this segment's AND its own (`kept_by`)"
    )
    kept_by: str | None = Field(
        default=None,
        description="What keeps it (an action's quality gate); follows its base, not edited or deleted by hand",
    )


class SegmentDetail(SegmentRow):
    filter: dict[str, Any]
    relative_dates: bool = Field(description="Uses `within_last_days`/`within_next_days`: rebuilt daily")
    rebuild_parts: int
    rebuild_parts_done: int


class SegmentList(BaseModel):
    segments: list[SegmentRow]


class SegmentCount(BaseModel):
    segment_id: str
    count: int
    rebuilding: bool


class PreviewSegment(Strict):
    kind: Kind
    filter: Group = Field(default_factory=Group)
    sample_size: int = Field(default=10, ge=0, le=50)


class SegmentPreview(BaseModel):
    count: int
    scanned: int
    complete: bool = Field(description="False when the preview stopped early on a very large workspace")
    sample: list[ProfileSummary]


class DeclareField(Strict):
    type: FieldType


class FieldCatalogResponse(BaseModel):
    kind: Kind
    fields: dict[str, FieldType]
    custom: dict[str, FieldType]
    related: dict[str, dict[str, FieldType]]
    operators: dict[FieldType, list[str]]


# --- CRM connectors (every system's routes share these) ---------------------------------------------------


class ObjectToggle(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(description="Import sync on or off; the first sync after turning it on is full")


class PreviewBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fields: dict[str, str | FieldMapping] | None = Field(
        default=None, max_length=500, description="A mapping to try; default: the saved (or automatic) one"
    )


class SyncNow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Mode | None = Field(default=None, description="full or incremental; default: full until the first sync")

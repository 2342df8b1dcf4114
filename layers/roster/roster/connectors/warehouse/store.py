"""A warehouse source's settings, import state and runs, on the jobs table through the connector core's items.

A source is one saved query of one warehouse connection: the kind it imports, its unique identifier, an optional
timestamp field (then incremental), and its column mapping. Its state holds the mark (the newest cursor, as the
warehouse wrote it), the identifiers committed at the newest cursors (so the lookback's re-reads are skipped),
and which full run's result the next full run diffs against, and its size (the shrink guard compares against it).
"""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import BaseModel, Field, field_validator

from roster.connectors.core.items import JobKeys, RunItems
from roster.connectors.core.state import Mode, Run, RunState
from roster.connectors.warehouse.sql import Dialect
from roster.profiles.fields import Kind
from roster.store import jobs

SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
IDENTIFIERS = {Kind.PEOPLE: ("email", "user_id"), Kind.COMPANIES: ("company_id", "domain")}


class Schedule(StrEnum):
    INCREMENTAL = "incremental"  # a timestamp field: changed rows every `incremental_minutes`
    FULL = "full"  # none: the whole query every `full_hours`, diffed against the last snapshot


class WarehouseSource(BaseModel):
    """A saved query and how its rows become profiles."""

    source: str
    kind: Kind
    dialect: Dialect
    query: str
    columns: list[str]  # the query's columns, as its test returned them
    identifier: str  # the column holding the unique identifier
    identifier_field: str  # what that identifier is in Roster: email or user_id; company_id or domain
    cursor: str | None = None  # the timestamp field
    cursor_type: str | None = None  # its type as the warehouse names it (marks are cast to it in SQL)
    mapping: dict[str, str | None] = Field(default_factory=dict)  # column → Roster field (None: not imported)
    enabled: bool = True
    lookback_minutes: int = Field(default=10, ge=0, le=24 * 60)
    incremental_minutes: int = Field(default=15, ge=5, le=24 * 60)
    full_hours: int = Field(default=12, ge=1, le=24 * 7)
    #: With a timestamp field, a full run this often too, so rows deleted in the warehouse lose their links.
    full_days: int = Field(default=7, ge=1, le=90)
    shrink_limit: float = Field(default=0.5, gt=0, le=1)  # a full result this much smaller needs confirmation

    @field_validator("source")
    @classmethod
    def _name(cls, value: str) -> str:
        if not SOURCE_NAME.match(value):
            raise ValueError("a source name has 1 to 63 lower-case letters, digits, '-' or '_'")
        return value

    @property
    def schedule(self) -> Schedule:
        return Schedule.INCREMENTAL if self.cursor else Schedule.FULL


class RunCounts(BaseModel):
    read: int = 0
    created: int = 0
    updated: int = 0
    merged: int = 0
    unchanged: int = 0
    removed: int = 0  # rows gone from a full result whose source link was dropped
    skipped: int = 0  # lookback re-reads already committed, or rows unchanged since the last snapshot
    rejected: int = 0  # rows with an empty or duplicated identifier, or values that cannot be stored

    def add(self, other: RunCounts) -> RunCounts:
        return RunCounts(**{name: getattr(self, name) + getattr(other, name) for name in RunCounts.model_fields})


class WarehouseRun(Run):
    """One import of one source, and the checkpoint a continuation resumes from."""

    mode: Mode
    counts: RunCounts = Field(default_factory=RunCounts)
    since: str | None = None  # incremental: the mark it started from
    newest: str | None = None  # full: the newest cursor when it started (the mark once it finishes)
    after_cursor: str | None = None  # the last committed row's cursor (incremental) …
    after_id: str | None = None  # … and identifier: the run resumes strictly after them
    read_done: bool = False  # the whole result was read
    parts: int = 0  # full runs: parts of the new snapshot written (one per committed page) …
    kept: int = 0  # … the identifiers they hold …
    last_kept: str | None = None  # … and the last of them (identifiers stream in order)
    previous_part: int = 0  # where in the previous snapshot the diff stands (part, index)
    previous_index: int = 0
    gone: int = 0  # identifiers of the previous snapshot that left the result …
    gone_parts: int = 0  # … written in this many parts
    removing: bool = False  # the result is diffed: the removals run (after the shrink guard)
    removed_part: int = 0  # where the removals stand (part, index of the gone parts)
    removed_index: int = 0
    confirm_removals: bool = False  # the user confirmed a shrunken result may remove rows
    problems: list[str] = Field(default_factory=list)  # the first rejected rows, with reasons


class SourceState(RunState):
    enabled: bool = True
    mark: str | None = None  # the newest cursor committed, as the warehouse wrote it
    recent: dict[str, str] = Field(default_factory=dict)  # identifier → cursor of the newest rows committed
    snapshot_run: str | None = None  # the full run whose result (identifier → hash, sorted) the next one diffs
    snapshot_parts: int = 0  # against, on S3 in this many parts
    snapshot_rows: int | None = None
    last_full: str | None = None
    awaiting_confirmation: str | None = None  # why the last full run did not remove rows


KEYS = JobKeys(jobs.WAREHOUSE_IMPORT, "state", "run")


class WarehouseStore(RunItems[WarehouseRun, SourceState, str]):
    """Sources, their states and runs."""

    def __init__(self) -> None:
        super().__init__(WarehouseRun, SourceState, KEYS)

    def source(self, workspace: str, source: str) -> WarehouseSource | None:
        return self._items.read(WarehouseSource, jobs.warehouse_source(workspace, source))

    def sources(self, workspace: str) -> list[WarehouseSource]:
        return self._items.read_all(WarehouseSource, workspace, jobs.WAREHOUSE_SOURCES)

    def put_source(self, workspace: str, source: WarehouseSource) -> None:
        self._items.put(jobs.warehouse_source(workspace, source.source), source)
        state = self.state(workspace, source.source)
        if state.enabled != source.enabled or state.version is None:
            self.put_state(state.model_copy(update={"enabled": source.enabled}))

    def delete_source(self, workspace: str, source: str) -> None:
        """A source's settings, state and run history, and its place on the schedule. A run in progress finds its
        state gone at its next commit and stops (Stale)."""
        self._items.set_enabled(jobs.WAREHOUSE_IMPORT.enabled, workspace, source, False)
        self._items.delete(
            jobs.WAREHOUSE_IMPORT.state(workspace, source),
            jobs.warehouse_source(workspace, source),
            prefix=(workspace, jobs.WAREHOUSE_IMPORT.runs(source)),
        )

    def put_state(self, state: SourceState) -> SourceState:
        return self._put_state(state, state.enabled)

    def states(self, workspace: str) -> list[SourceState]:
        return self._items.read_all(SourceState, workspace, jobs.WAREHOUSE_IMPORT.states)

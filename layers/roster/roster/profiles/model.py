"""The profile: every source record that describes one person or company, and what wins.

A profile keeps the latest snapshot of each source record it was built from, with when each
value was first observed, and the values those records superseded. The fields a user sees are
derived from the records by survivorship, never stored as the only copy (DESIGN.md, 4).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from roster.profiles.fields import Kind


class Status(StrEnum):
    ACTIVE = "active"
    ARCHIVED = "archived"
    MERGED = "merged"  # a redirect to the survivor of a merge


class Outcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    MERGED = "merged"
    UNCHANGED = "unchanged"
    REJECTED = "rejected"  # too large to store: nothing was written


@dataclass(frozen=True)
class IncomingRecord:
    """One record as a source gives it, after its values were made canonical (None: cleared)."""

    source: str
    object: str
    record_id: str
    observed_at: str
    fields: dict[str, Any]

    @property
    def key(self) -> str:
        return f"{self.source}:{self.object}:{self.record_id}"


@dataclass
class SourceRecord:
    """The latest snapshot of one source record inside a profile."""

    source: str
    object: str
    record_id: str
    first_seen: str
    values: dict[str, Any] = field(default_factory=dict)
    observed: dict[str, str] = field(default_factory=dict)  # field -> when its value was first seen
    previous: list[dict[str, Any]] = field(default_factory=list)  # superseded values, oldest first
    moved: dict[str, int] = field(default_factory=dict)  # field -> superseded values moved to history items

    @property
    def key(self) -> str:
        return f"{self.source}:{self.object}:{self.record_id}"

    def to_json(self) -> dict[str, Any]:
        data = {
            "source": self.source,
            "object": self.object,
            "id": self.record_id,
            "first_seen": self.first_seen,
            "values": self.values,
            "observed": self.observed,
            "previous": self.previous,
        }
        return {**data, "moved": self.moved} if self.moved else data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SourceRecord:
        return cls(
            source=data["source"],
            object=data["object"],
            record_id=data["id"],
            first_seen=data["first_seen"],
            values=dict(data.get("values", {})),
            observed=dict(data.get("observed", {})),
            previous=list(data.get("previous", [])),
            moved=dict(data.get("moved", {})),
        )


@dataclass(frozen=True)
class Provenance:
    """Where a field's winning value came from."""

    source: str
    record: str
    observed_at: str

    def to_json(self) -> dict[str, str]:
        return {"source": self.source, "record": self.record, "observed_at": self.observed_at}


@dataclass
class Profile:
    workspace: str
    kind: Kind
    profile_id: str
    created_at: str
    status: Status = Status.ACTIVE
    records: dict[str, SourceRecord] = field(default_factory=dict)
    merged_into: str | None = None
    merged_from: list[str] = field(default_factory=list)
    updated_at: str = ""
    fields: dict[str, Any] = field(default_factory=dict)  # derived by survivorship
    provenance: dict[str, Provenance] = field(default_factory=dict)
    history_chunks: int = 0  # history items holding the superseded values moved off the profile
    version: int | None = None  # optimistic lock, owned by the store

    def refresh(self, source_priority: Mapping[str, Sequence[str]] | None = None) -> None:
        """Recompute the winning field values from the source records."""
        self.fields, self.provenance = resolve_fields(self.records, source_priority)


def apply_record(profile: Profile, incoming: IncomingRecord) -> bool:
    """Bring the profile's snapshot of a source record up to date; True if anything changed.

    Only the fields the record carries are touched (None clears one), so a source can send just
    what changed. A value equal to the stored one changes nothing (so re-imports write nothing);
    a changed or cleared value is kept in `previous` with when it was observed and replaced.
    """
    record = profile.records.get(incoming.key)
    if record is None:
        record = SourceRecord(incoming.source, incoming.object, incoming.record_id, incoming.observed_at)
        profile.records[incoming.key] = record
        changed = True
    else:
        changed = False
    for name in sorted(incoming.fields):
        old = record.values.get(name)
        new = incoming.fields.get(name)
        if old == new:
            continue
        changed = True
        if old is not None:
            record.previous.append(
                {"field": name, "value": old, "observed_at": record.observed[name], "replaced_at": incoming.observed_at}
            )
        if new is None:
            del record.values[name], record.observed[name]
        else:
            record.values[name] = new
            record.observed[name] = incoming.observed_at
    return changed


def absorb(survivor: Profile, merged: Profile) -> None:
    """Move every source record of a merged-away profile into the survivor, keeping both sides."""
    for key, record in merged.records.items():
        mine = survivor.records.get(key)
        if mine is None:
            survivor.records[key] = record
        else:  # the same source record on both sides: keep the other side's values as history
            mine.previous.extend(record.previous)
            mine.previous.extend(
                {"field": name, "value": value, "observed_at": record.observed[name], "replaced_at": merged.profile_id}
                for name, value in record.values.items()
            )
            for name, count in record.moved.items():  # their values stay in the merged profile's history items
                mine.moved[name] = mine.moved.get(name, 0) + count
    survivor.merged_from = sorted({*survivor.merged_from, merged.profile_id, *merged.merged_from})
    if merged.status is Status.ACTIVE:
        survivor.status = Status.ACTIVE
    merged.status = Status.MERGED
    merged.merged_into = survivor.profile_id


def resolve_fields(
    records: Mapping[str, SourceRecord], source_priority: Mapping[str, Sequence[str]] | None = None
) -> tuple[dict[str, Any], dict[str, Provenance]]:
    """Survivorship: per field, the most recently observed non-empty value wins, unless the field
    has a source-priority list, in which case the first listed source that has a value wins
    (sources not listed rank after the listed ones, most recent first). Ties go to the record key,
    so the result never depends on the order records arrived in."""
    priority = source_priority or {}
    candidates: dict[str, list[tuple[str, SourceRecord]]] = {}
    for key in sorted(records):
        for name in records[key].values:
            candidates.setdefault(name, []).append((key, records[key]))
    fields: dict[str, Any] = {}
    provenance: dict[str, Provenance] = {}
    for name in sorted(candidates):
        order = priority.get(name, ())
        ranked = sorted(candidates[name], key=lambda c: c[1].observed[name], reverse=True)
        ranked.sort(key=lambda c: order.index(c[1].source) if c[1].source in order else len(order))
        key, record = ranked[0]
        fields[name] = record.values[name]
        provenance[name] = Provenance(record.source, key, record.observed[name])
    return fields, provenance


def move_history(profile: Profile, keep: int) -> list[dict[str, Any]]:
    """Take all but the latest `keep` superseded values of each source record's field off the profile, counting
    them in the record's `moved`; returns them, each with its record key, for a history item to keep."""
    taken: list[dict[str, Any]] = []
    for key in sorted(profile.records):
        record = profile.records[key]
        kept: dict[str, int] = {}
        stay: list[dict[str, Any]] = []
        gone: list[dict[str, Any]] = []
        for entry in reversed(record.previous):  # newest first
            name = entry["field"]
            if kept.get(name, 0) < keep:
                kept[name] = kept.get(name, 0) + 1
                stay.append(entry)
            else:
                gone.append({"record": key, **entry})
                record.moved[name] = record.moved.get(name, 0) + 1
        record.previous = stay[::-1]
        taken.extend(gone[::-1])
    return taken


def field_history(profile: Profile, name: str) -> list[tuple[Any, str, str]]:
    """Every value a field had on the profile still held on it (current and superseded, in every source
    record), as (value, record key, first observed at); values moved to history items are not included."""
    seen: list[tuple[Any, str, str]] = []
    for key in sorted(profile.records):
        record = profile.records[key]
        seen.extend((entry["value"], key, entry["observed_at"]) for entry in record.previous if entry["field"] == name)
        if name in record.values:
            seen.append((record.values[name], key, record.observed[name]))
    return seen

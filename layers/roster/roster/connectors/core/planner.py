"""What an export writes: per linked CRM record, the fields the rules allow and that would change.

The comparison is against the CRM value last seen: the CRM record's snapshot inside the profile, which
the import keeps (and refreshes just before an export). Values on both sides are canonical (the import reads
CRM values through the same coercion as every source), so a mere formatting difference never causes a
write. Rules (DESIGN.md, invariant 6):

- *never write*: never sent, whatever the values;
- *always write*: sent when Roster has a value and it differs from the CRM's (Roster never blanks a CRM field);
- *fill blank only*: sent only when the CRM field is blank and Roster has a value;
- a segment's field: set while the profile is a member (checkbox true, or the member value), cleared otherwise.

A record with nothing to change is not sent at all. A new record (create-new) gets every field whose rule is
not *never* and that Roster has a value for, plus the Roster id in the external-id field.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from roster.connectors.core.mapping import ExportRule, FieldMapping
from roster.profiles.model import Profile, SourceRecord

Why = Literal["always", "fill_blank", "segment"]


@dataclass(frozen=True)
class FieldChange:
    salesforce_field: str
    field: str
    old: Any
    new: Any
    rule: Why
    segment: str | None = None


@dataclass(frozen=True)
class PlannedWrite:
    """One record to send: an update of a linked record, or (no salesforce_id) a record to create."""

    profile_id: str
    salesforce_id: str | None
    changes: tuple[FieldChange, ...]
    account_id: str | None = None  # a person to create: the CRM company record of their company, when linked

    def values(self) -> dict[str, Any]:
        """The Roster values written, as the CRM record's snapshot should hold them afterwards."""
        return {change.field: change.new for change in self.changes}


def linked_records(profile: Profile, source: str, obj: str) -> list[SourceRecord]:
    """The profile's records of one CRM object (a person can be two Contacts that Roster merged)."""
    return [
        record for key, record in sorted(profile.records.items()) if record.source == source and record.object == obj
    ]


def _member_value(field: FieldMapping, member: bool) -> Any:
    if field.sf_type == "boolean":
        return member
    return field.member_value if member else None


def _blank(value: Any) -> bool:
    return value is None or value == "" or value == []


def _change(name: str, field: FieldMapping, wanted: Any, old: Any, members: Collection[str]) -> FieldChange | None:
    if field.segment is not None:
        new = _member_value(field, field.segment in members)
        seen = bool(old) if field.sf_type == "boolean" else (None if _blank(old) else old)
        return FieldChange(name, field.field, seen, new, "segment", field.segment) if new != seen else None
    if _blank(wanted):
        return None
    if field.export is ExportRule.ALWAYS and wanted != old:
        return FieldChange(name, field.field, old, wanted, "always")
    if field.export is ExportRule.FILL_BLANK and _blank(old):
        return FieldChange(name, field.field, old, wanted, "fill_blank")
    return None


def plan_update(
    profile: Profile, record: SourceRecord, fields: Mapping[str, FieldMapping], members: Collection[str]
) -> PlannedWrite | None:
    """What to write to one linked record, or None when nothing would change."""
    changes = [
        change
        for name, field in fields.items()
        if (change := _change(name, field, profile.fields.get(field.field), record.values.get(field.field), members))
    ]
    return PlannedWrite(profile.profile_id, record.record_id, tuple(changes)) if changes else None


def plan_create(
    profile: Profile, fields: Mapping[str, FieldMapping], members: Collection[str], account_id: str | None = None
) -> PlannedWrite:
    """A new record for a profile Salesforce does not have yet (blank on the CRM side)."""
    changes = [
        change
        for name, field in fields.items()
        if (change := _change(name, field, profile.fields.get(field.field), None, members)) and change.new is not None
    ]
    return PlannedWrite(profile.profile_id, None, tuple(changes), account_id)

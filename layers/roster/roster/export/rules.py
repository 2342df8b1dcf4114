"""What an export writes: per linked Salesforce record, the fields the rules allow and that would change.

The comparison is against the CRM value last seen: the Salesforce record's snapshot inside the profile, which
the import keeps (and refreshes just before an export). Values on both sides are canonical (the import reads
Salesforce values through the same coercion as every source), so a mere formatting difference never causes a
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
from datetime import date, datetime
from typing import Any, Literal

from roster.profiles.model import Profile, SourceRecord
from roster.sources.salesforce.links import SOURCE
from roster.sources.salesforce.mapping import ExportRule, FieldMapping, ObjectMapping

CLEAR = "#N/A"  # Bulk API 2.0: an empty cell leaves a field alone, #N/A clears it
ACCOUNT_COLUMN = "AccountId"
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
    account_id: str | None = None  # a Contact to create: the Account of the person's company, when linked

    def values(self) -> dict[str, Any]:
        """The Roster values written, as the Salesforce record's snapshot should hold them afterwards."""
        return {change.field: change.new for change in self.changes}


def exported_fields(mapping: ObjectMapping) -> dict[str, FieldMapping]:
    """The mapped fields export may write (rule not *never*), by Salesforce field name."""
    return {name: field for name, field in mapping.fields.items() if field.export is not ExportRule.NEVER}


def linked_records(profile: Profile, obj: str) -> list[SourceRecord]:
    """The profile's records of one Salesforce object (a person can be two Contacts that Roster merged)."""
    return [
        record for key, record in sorted(profile.records.items()) if record.source == SOURCE and record.object == obj
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


def cell(sf_type: str, value: Any) -> str:
    """A Roster value as Bulk API CSV text for a field of `sf_type` (None clears the field)."""
    if value is None:
        return CLEAR
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and sf_type in ("int", "long"):
        return str(int(value))
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return ";".join(str(item) for item in value)  # multi-select picklists
    return str(value)


def row_of(write: PlannedWrite, fields: Mapping[str, FieldMapping], key_column: str, key: str) -> dict[str, str]:
    """The CSV row of a planned write: its key and one cell per changed field (other columns stay empty)."""
    row = {key_column: key}
    for change in write.changes:
        row[change.salesforce_field] = cell(fields[change.salesforce_field].sf_type, change.new)
    if write.account_id:
        row[ACCOUNT_COLUMN] = write.account_id
    return row

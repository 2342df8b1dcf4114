"""Export rules (DESIGN.md, invariant 6) as properties: never-write fields are never sent, fill-blank never
overwrites a CRM value, always-write never blanks one, segment fields follow membership, nothing unchanged is sent."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from roster.connectors.core.mapping import ExportRule, FieldMapping, exported_fields
from roster.connectors.core.planner import BOOLEAN_TYPES, plan_create, plan_update
from roster.connectors.hubspot.describe import read_value, write_value
from roster.connectors.salesforce.describe import ObjectMapping
from roster.connectors.salesforce.ingest import CLEAR, cell, row_of
from roster.profiles.fields import Kind
from roster.profiles.model import Profile, SourceRecord

NAMES = [f"f{n}" for n in range(6)]
VALUES = st.one_of(st.none(), st.sampled_from(["", "a", "b", "Tier 1"]), st.integers(0, 3))


@st.composite
def cases(draw: st.DrawFn) -> tuple[ObjectMapping, Profile, SourceRecord, set[str]]:
    fields: dict[str, FieldMapping] = {}
    for name in draw(st.lists(st.sampled_from(NAMES), unique=True, min_size=1)):
        if draw(st.booleans()) and len(fields) % 2:
            sf_type = draw(st.sampled_from(["boolean", "bool", "string"]))  # Salesforce's and HubSpot's checkbox
            value = None if sf_type in BOOLEAN_TYPES else "Tier 1"
            fields[f"{name.upper()}__c"] = FieldMapping(
                field=name, export=ExportRule.ALWAYS, sf_type=sf_type, segment=f"seg-{name}", member_value=value
            )
        else:
            fields[f"{name.upper()}__c"] = FieldMapping(field=name, export=draw(st.sampled_from(list(ExportRule))))
    wanted = {name: draw(VALUES) for name in NAMES}
    seen = {name: draw(st.one_of(VALUES, st.booleans())) for name in NAMES}
    record = SourceRecord(
        "salesforce", "Contact", "003X", "t", {k: v for k, v in seen.items() if v is not None}, {k: "t" for k in seen}
    )
    profile = Profile("ws", Kind.PEOPLE, "p1", "t", records={record.key: record}, fields=wanted)
    members = draw(st.sets(st.sampled_from([f"seg-{name}" for name in NAMES])))
    return ObjectMapping(object="Contact", fields=fields), profile, record, members


def _blank(value: Any) -> bool:
    return value is None or value == "" or value == []


@settings(max_examples=400)
@given(cases())
def test_updates_send_only_what_the_rules_allow_and_what_changes(case: tuple[Any, ...]) -> None:
    mapping, profile, record, members = case
    fields = exported_fields(mapping.fields)
    write = plan_update(profile, record, fields, members)
    changes = {change.salesforce_field: change for change in write.changes} if write else {}
    for sf_name, field in mapping.fields.items():
        change = changes.get(sf_name)
        old = record.values.get(field.field)
        if field.export is ExportRule.NEVER:
            assert sf_name not in fields and change is None
        elif field.segment is not None:
            member = field.segment in members
            checkbox = field.sf_type in BOOLEAN_TYPES
            wanted = member if checkbox else (field.member_value if member else None)
            current = bool(old) if checkbox else (None if _blank(old) else old)
            assert (change is not None) == (wanted != current)
        elif field.export is ExportRule.FILL_BLANK:
            assert (change is not None) == (_blank(old) and not _blank(profile.fields[field.field]))
        else:
            new = profile.fields[field.field]
            assert (change is not None) == (not _blank(new) and new != old)
            assert change is None or change.new is not None  # always-write never blanks a CRM field
        if change is not None:
            assert change.new != change.old
    if write is not None:
        row = row_of(write, fields, "Id", "003X")
        assert set(row) == {"Id", *changes}
        assert all(name in fields for name in row if name != "Id")


@settings(max_examples=200)
@given(cases())
def test_created_records_carry_no_never_write_field_and_no_blank(case: tuple[Any, ...]) -> None:
    mapping, profile, _, members = case
    fields = exported_fields(mapping.fields)
    write = plan_create(profile, fields, members)
    assert write.salesforce_id is None
    for change in write.changes:
        assert mapping.fields[change.salesforce_field].export is not ExportRule.NEVER
        assert change.new is not None and change.old in (None, False)  # a new checkbox starts unchecked


def test_cells_are_bulk_api_text() -> None:
    assert cell("string", None) == CLEAR
    assert cell("boolean", True) == "true" and cell("boolean", False) == "false"
    assert cell("int", 42.0) == "42" and cell("double", 2.5) == "2.5"
    assert cell("multipicklist", ["a", "b"]) == "a;b"
    assert cell("string", 'He said "hi", then left') == 'He said "hi", then left'  # the CSV writer quotes it


HUBSPOT_VALUES = {
    "bool": st.booleans(),
    "number": st.one_of(st.integers(-(10**9), 10**9), st.floats(-1e6, 1e6, allow_nan=False).map(lambda x: round(x, 3))),
    "string": st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1).filter(lambda t: t.strip() == t),
    "multi": st.lists(st.sampled_from(["a", "b", "c d"]), min_size=1, unique=True),
    "enumeration": st.sampled_from(["gold", "silver"]),
}


@settings(max_examples=300)
@given(st.sampled_from(sorted(HUBSPOT_VALUES)).flatmap(lambda kind: st.tuples(st.just(kind), HUBSPOT_VALUES[kind])))
def test_what_export_writes_to_hubspot_reads_back_as_the_same_value(case: tuple[str, Any]) -> None:
    """A value written comes back equal from the next import, so the export after it finds nothing to send."""
    hs_type, value = case
    assert read_value(hs_type, write_value(hs_type, value)) == value
    assert read_value(hs_type, write_value(hs_type, None)) is None  # a cleared property reads as blank

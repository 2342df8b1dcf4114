"""What each HubSpot object is to Roster (from its properties), and its field mapping.

People are contacts, companies are companies, and deals join their company's `deals` list (filterable as
`company.deals`: stage, amount, close date, owner, type, pipeline). Auto-map takes the standard pairs
(email → email, jobtitle → job_title, ...), then the closest Roster field by name or label, then (people and
companies) each custom property as a custom field of its own name. A manual mapping is checked against the
object's properties, so a typo names the property at fault. Each mapped field remembers its HubSpot type, so a
sync reads values back without asking for the properties again; unmapped properties are never stored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from roster.connectors.core.mapping import ExportRule, FieldMapping, MappingError, ObjectSpec, closest, mapped_values
from roster.profiles.fields import FIELD_NAME, RELATED_FIELDS, STANDARD_FIELDS, Kind
from roster.profiles.values import format_time, parse_time

SOURCE = "hubspot"  # the source name of every HubSpot record in Roster
HubSpotObject = Literal["contacts", "companies", "deals"]
OBJECTS: tuple[HubSpotObject, ...] = ("contacts", "companies", "deals")
EXPORTABLE = frozenset({"contacts", "companies"})  # deals are import-only
SEGMENT_TYPES = frozenset({"bool", "enumeration", "string"})  # what segment membership can be written to
#: The property each object's changes are searched by (epoch milliseconds).
MODIFIED: dict[HubSpotObject, str] = {
    "contacts": "lastmodifieddate",
    "companies": "hs_lastmodifieddate",
    "deals": "hs_lastmodifieddate",
}
MERGED = "hs_merged_object_ids"  # on a merge's survivor: the ids merged into it, `;`-separated
PREVIEW_RECORDS = 10
MULTI = "multi"  # the stored type of a multiple-checkboxes enumeration (values a;b;c)
DERIVED = frozenset({"deals", "opportunities", "opportunity_count", "open_pipeline", "won_amount"})
#: Properties the sync reads and manages itself, never offered to auto-map.
SYSTEM_PROPERTIES = frozenset({"hs_object_id", "lastmodifieddate", "hs_lastmodifieddate", MERGED, "createdate"})

_PEOPLE_TARGETS = STANDARD_FIELDS[Kind.PEOPLE]
SPECS: dict[HubSpotObject, ObjectSpec] = {
    "contacts": ObjectSpec(
        Kind.PEOPLE,
        _PEOPLE_TARGETS,
        {
            "email": "email",
            "firstname": "first_name",
            "lastname": "last_name",
            "jobtitle": "job_title",
            "phone": "phone",
            "city": "city",
            "state": "state",
            "country": "country",
            "hubspot_owner_id": "owner",
            "hs_lead_status": "lead_status",
            "hs_linkedin_url": "linkedin_url",
            "createdate": "created_date",
        },
        True,
    ),
    "companies": ObjectSpec(
        Kind.COMPANIES,
        {name: kind for name, kind in STANDARD_FIELDS[Kind.COMPANIES].items() if name not in DERIVED},
        {
            "name": "name",
            "domain": "domain",
            "industry": "industry",
            "numberofemployees": "employee_count",
            "annualrevenue": "annual_revenue",
            "type": "account_type",
            "hubspot_owner_id": "owner",
            "phone": "phone",
            "city": "city",
            "state": "state",
            "country": "country",
            "description": "description",
            "createdate": "created_date",
        },
        True,
    ),
    "deals": ObjectSpec(
        None,
        RELATED_FIELDS[Kind.COMPANIES]["deals"],
        {
            "dealname": "name",
            "dealstage": "stage",
            "amount": "amount",
            "closedate": "close_date",
            "hubspot_owner_id": "owner",
            "dealtype": "type",
            "pipeline": "pipeline",
            "hs_is_closed": "is_closed",
            "hs_is_closed_won": "is_won",
        },
        False,
    ),
}


class ObjectMapping(BaseModel):
    """One object's mapping: HubSpot property name → Roster field, type and export rule."""

    object: HubSpotObject
    fields: dict[str, FieldMapping] = Field(default_factory=dict)
    fields_added_at: str | None = None


class PreviewRecord(BaseModel):
    id: str
    fields: dict[str, Any]
    problems: list[str] = Field(default_factory=list)


def _type(prop: Mapping[str, Any]) -> str:
    kind = str(prop.get("type") or "string")
    if kind == "enumeration" and prop.get("field_type", prop.get("fieldType")) == "checkbox":
        return MULTI
    return kind


def _snake(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _available(properties: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    return {str(prop["name"]): prop for prop in properties}


def auto_map(obj: HubSpotObject, properties: Sequence[Mapping[str, Any]]) -> ObjectMapping:
    """Standard pairs, then the closest Roster field by name or label, then custom properties as themselves."""
    spec = SPECS[obj]
    available = _available(properties)
    fields: dict[str, FieldMapping] = {}
    for name, target in spec.pairs.items():
        if name in available:
            fields[name] = FieldMapping(field=target, sf_type=_type(available[name]))
    used = {mapping.field for mapping in fields.values()}
    for name, prop in available.items():
        if name in fields or name in SYSTEM_PROPERTIES or name.startswith("hs_"):
            continue
        candidates = [target for target in spec.targets if target not in used]
        best = closest((_snake(name), _snake(str(prop.get("label", "")))), candidates)
        custom = not prop.get("hubspot_defined", prop.get("hubspotDefined", False))
        if best is None and custom and spec.open_targets and FIELD_NAME.match(name) and name not in used:
            best = name  # a custom property becomes a custom field of the same name
        if best is not None and best not in DERIVED:
            fields[name] = FieldMapping(field=best, sf_type=_type(prop))
            used.add(best)
    return ObjectMapping(object=obj, fields=fields)


def validate_mapping(
    obj: HubSpotObject, fields: Mapping[str, str | FieldMapping], properties: Sequence[Mapping[str, Any]]
) -> ObjectMapping:
    """A manual mapping checked against the object's properties; raises MappingError naming the field at fault
    (an export rule on a property HubSpot computes or keeps read-only is refused, saying why)."""
    spec = SPECS[obj]
    available = _available(properties)
    checked: dict[str, FieldMapping] = {}
    for name, given in fields.items():
        mapping = FieldMapping(field=given) if isinstance(given, str) else given
        if name not in available:
            raise MappingError.unknown(f"HubSpot {obj} have no property", name, available)
        spec.check_target(obj, name, mapping.field, DERIVED)
        checked[name] = _checked_export(obj, name, mapping, available[name])
    spec.check_distinct(obj, checked, "HubSpot property")
    return ObjectMapping(object=obj, fields=checked)


def _flag(prop: Mapping[str, Any], snake: str, camel: str) -> Any:
    return prop.get(snake, prop.get(camel))


def read_only(prop: Mapping[str, Any]) -> str | None:
    """Why HubSpot refuses writes to a property (calculated, or its value read-only), or None when it takes them."""
    metadata = _flag(prop, "modification_metadata", "modificationMetadata") or {}
    if prop.get("calculated"):
        return "is calculated: HubSpot computes it and refuses writes to it"
    if _flag(metadata, "read_only_value", "readOnlyValue"):
        return "is read-only in HubSpot (its value cannot be set)"
    return None


def _checked_export(obj: HubSpotObject, name: str, mapping: FieldMapping, prop: Mapping[str, Any]) -> FieldMapping:
    """The mapping with the property's type, after checking export could write what it is asked to."""
    hs_type = _type(prop)
    mapping = mapping.model_copy(update={"sf_type": hs_type})
    if mapping.segment is not None:
        if str(prop.get("type")) not in SEGMENT_TYPES:
            raise MappingError(
                f"{obj}.{name} is a {prop.get('type')} property; segment membership needs a checkbox (bool), "
                "a dropdown (enumeration) or text"
            )
        if hs_type == "bool":
            mapping.member_value = None
        elif not mapping.member_value:
            raise MappingError(f"{obj}.{name}: give member_value, what to write while a profile is in the segment")
        options = [str(option.get("value")) for option in prop.get("options") or []]
        if prop.get("type") == "enumeration" and mapping.member_value not in options:
            raise MappingError(
                f"{obj}.{name}: {mapping.member_value!r} is not one of its options ({', '.join(options)})"
            )
        mapping.export = ExportRule.ALWAYS  # set on entry and cleared on exit
    if mapping.export is not ExportRule.NEVER:
        if obj not in EXPORTABLE:
            raise MappingError(f"{obj} are import-only: their properties cannot be written back (export rule: never)")
        why = read_only(prop)
        if why is not None:
            raise MappingError(f"{obj}.{name} {why}, so its export rule must be never")
    return mapping


def write_value(hs_type: str, value: Any) -> str:
    """A Roster value as HubSpot takes it (text): checkboxes true/false, multiple choices a;b, '' clears."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ";".join(str(each) for each in value)
    if isinstance(value, float) and value.is_integer() and hs_type == "number":
        return str(int(value))
    return str(value)


def stamp(value: str) -> str:
    """A HubSpot time (epoch milliseconds, or ISO 8601) in the stored format."""
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return format_time(datetime.fromtimestamp(int(text) / 1000, UTC))
    return parse_time(text)


def read_value(hs_type: str, value: Any) -> Any:
    """A HubSpot property value (always text on the wire) as a Python value; '' and null are None."""
    if value is None or value == "":
        return None
    text = str(value)
    if hs_type == MULTI:
        return [part for part in text.split(";") if part]
    if hs_type == "bool":
        return text.lower() == "true"
    if hs_type == "number":
        number = float(text)
        return int(number) if number.is_integer() else number
    if hs_type == "datetime":
        return stamp(text)
    if hs_type == "date":
        return stamp(text)[:10]
    return text


def apply_mapping(mapping: ObjectMapping, row: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The mapped values of one HubSpot record and the problems of values that were dropped."""
    return mapped_values(mapping.object, SPECS[mapping.object].kind, mapping.fields, row, read_value)

"""What each Salesforce object is to Roster (from its `describe`), and its field mapping.

Auto-map takes the standard pairs (Email → email, Title → job_title, ...) and then the closest Roster field by
name or label similarity. Manual overrides are checked against the object's `describe`, so a typo names the field
at fault. Each mapped field remembers its Salesforce type (to read CSV text back into numbers and booleans without
a describe per sync) and its scheduled export rule, used by export; unmapped fields are never stored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field
from simple_salesforce.api import Salesforce

from roster.connectors.core.mapping import ExportRule, FieldMapping, MappingError, ObjectSpec, closest, mapped_values
from roster.connectors.salesforce import soql
from roster.profiles.fields import RELATED_FIELDS, STANDARD_FIELDS, FieldType, Kind

SOURCE = "salesforce"  # the source name of every Salesforce record in Roster
SalesforceObject = Literal["Account", "Contact", "Lead", "Opportunity", "Task", "Event"]
#: The objects export writes; Leads and Opportunities are import-only (as in the product we model).
EXPORTABLE: tuple[SalesforceObject, ...] = ("Account", "Contact")
OBJECTS: tuple[SalesforceObject, ...] = ("Account", "Contact", "Lead", "Opportunity", "Task", "Event")
PREVIEW_RECORDS = 10

#: Profile fields the sync derives itself (opportunities and activities); a mapping cannot write them.
DERIVED = frozenset(
    {
        "opportunities",
        "deals",
        "opportunity_count",
        "open_pipeline",
        "won_amount",
        "last_activity_date",
        "activity_count",
        "salesforce_activity_ids",
    }
)
#: Fields the sync reads and manages itself, never offered to auto-map.
SYSTEM_FIELDS = frozenset(
    {"Id", "IsDeleted", "CreatedById", "LastModifiedDate", "LastModifiedById", "SystemModstamp", "Roster_Id__c"}
)
_NUMBER_TYPES = frozenset({"int", "double", "currency", "percent", "long"})
#: Structured read-only fields (an address, a geolocation) that Bulk API 2.0 queries refuse; their components
#: (`MailingCity`, `Location__Latitude__s`, ...) are ordinary fields and map like any other.
COMPOUND_TYPES = frozenset({"address", "location"})
MULTIPICKLIST = "multipicklist"
_PEOPLE = {
    "Email": "email",
    "FirstName": "first_name",
    "LastName": "last_name",
    "Name": "full_name",
    "Title": "job_title",
    "Department": "department",
    "Phone": "phone",
    "LinkedIn_URL__c": "linkedin_url",
    "OwnerId": "owner",
    "LeadSource": "lead_source",
    "CreatedDate": "created_date",
}


#: Salesforce types a segment's membership can be written to: a checkbox, or text/picklist holding `member_value`.
SEGMENT_TYPES = frozenset({"boolean", "string", "picklist", "textarea"})


class ObjectMapping(BaseModel):
    """One object's mapping: Salesforce field name → Roster field, type and export rule."""

    object: SalesforceObject
    fields: dict[str, FieldMapping] = Field(default_factory=dict)
    fields_added_at: str | None = None  # when fields were last added (the next import then reads everything)


SPECS: dict[SalesforceObject, ObjectSpec] = {
    "Account": ObjectSpec(
        Kind.COMPANIES,
        {name: kind for name, kind in STANDARD_FIELDS[Kind.COMPANIES].items() if name not in DERIVED},
        {
            "Name": "name",
            "Website": "domain",
            "Industry": "industry",
            "NumberOfEmployees": "employee_count",
            "AnnualRevenue": "annual_revenue",
            "Type": "account_type",
            "OwnerId": "owner",
            "Phone": "phone",
            "BillingCity": "city",
            "BillingState": "state",
            "BillingCountry": "country",
            "Description": "description",
            "CreatedDate": "created_date",
        },
        True,
    ),
    "Contact": ObjectSpec(
        Kind.PEOPLE,
        STANDARD_FIELDS[Kind.PEOPLE],
        {**_PEOPLE, "MailingCity": "city", "MailingState": "state", "MailingCountry": "country"},
        True,
    ),
    "Lead": ObjectSpec(
        Kind.PEOPLE,
        STANDARD_FIELDS[Kind.PEOPLE],
        {
            **_PEOPLE,
            "Company": "company_name",
            "Website": "company_domain",
            "Status": "lead_status",
            "City": "city",
            "State": "state",
            "Country": "country",
        },
        True,
    ),
    "Opportunity": ObjectSpec(
        None,
        RELATED_FIELDS[Kind.COMPANIES]["opportunities"],
        {
            "Id": "id",
            "Name": "name",
            "StageName": "stage",
            "Amount": "amount",
            "CloseDate": "close_date",
            "OwnerId": "owner",
            "IsClosed": "is_closed",
            "IsWon": "is_won",
            "Type": "type",
        },
        False,
    ),
    "Task": ObjectSpec(None, {"activity_date": FieldType.DATE}, {"ActivityDate": "activity_date"}, False),
    "Event": ObjectSpec(None, {"activity_date": FieldType.DATE}, {"ActivityDate": "activity_date"}, False),
}


def _snake(text: str) -> str:
    text = text.removesuffix("__c")
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", text)
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def describe(sf: Salesforce, obj: str) -> dict[str, Any]:
    """An object's describe (one API call): its fields with their types, labels and whether they are writable."""
    described: dict[str, Any] = getattr(sf, obj).describe()
    return described


def _describe_fields(describe: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {str(field["name"]): field for field in describe.get("fields", [])}


def _fits(spec: ObjectSpec, sf_type: str, target: str) -> bool:
    """Whether values of a Salesforce type can land in a Roster field: a multi-select picklist only in a list."""
    if sf_type != MULTIPICKLIST:
        return True
    known = spec.targets.get(target)
    return known is FieldType.LIST or (known is None and spec.open_targets)


def _components(compound: str, available: Mapping[str, Mapping[str, Any]]) -> list[str]:
    return [name for name, described in available.items() if described.get("compoundFieldName") == compound]


def auto_map(obj: SalesforceObject, describe: Mapping[str, Any]) -> ObjectMapping:
    """Standard pairs first, then each remaining field's closest Roster field by name or label, if close enough."""
    spec = SPECS[obj]
    available = _describe_fields(describe)
    fields: dict[str, FieldMapping] = {}
    for sf_name, target in spec.pairs.items():
        if sf_name in available:
            fields[sf_name] = FieldMapping(field=target, sf_type=str(available[sf_name].get("type", "string")))
    used = {mapping.field for mapping in fields.values()}
    for sf_name, described in available.items():
        sf_type = str(described.get("type", "string"))
        if sf_name in fields or sf_name in SYSTEM_FIELDS or sf_type in ("reference", "id", *COMPOUND_TYPES):
            continue
        candidates = [target for target in spec.targets if target not in used and _fits(spec, sf_type, target)]
        best = closest((_snake(sf_name), _snake(str(described.get("label", "")))), candidates)
        if best is not None:
            fields[sf_name] = FieldMapping(field=best, sf_type=str(described.get("type", "string")))
            used.add(best)
    return ObjectMapping(object=obj, fields=fields)


def validate_mapping(
    obj: SalesforceObject, fields: Mapping[str, str | FieldMapping], describe: Mapping[str, Any]
) -> ObjectMapping:
    """A manual mapping checked against `describe`; raises MappingError naming the field at fault."""
    spec = SPECS[obj]
    available = _describe_fields(describe)
    checked: dict[str, FieldMapping] = {}
    for sf_name, given in fields.items():
        mapping = FieldMapping(field=given) if isinstance(given, str) else given
        if sf_name not in available:
            raise MappingError.unknown(f"Salesforce {obj} has no field", sf_name, available)
        sf_type = str(available[sf_name].get("type", "string"))
        if sf_type in COMPOUND_TYPES:
            parts = ", ".join(_components(sf_name, available)) or "its component fields"
            raise MappingError(
                f"{obj}.{sf_name} is a compound {sf_type} field, which Salesforce's Bulk API cannot read: "
                f"map its components instead ({parts})"
            )
        target = mapping.field
        if not _fits(spec, sf_type, target):
            raise MappingError(
                f"{obj}.{sf_name} is a multi-select picklist: its values (a;b;c) become a list, so map it to a list "
                f"field (such as tags or a custom field), not {target!r}"
            )
        spec.check_target(obj, sf_name, target, DERIVED)
        checked[sf_name] = _checked_export(obj, sf_name, mapping, available[sf_name])
    spec.check_distinct(obj, checked, "Salesforce field")
    return ObjectMapping(object=obj, fields=checked)


def _checked_export(
    obj: SalesforceObject, sf_name: str, mapping: FieldMapping, described: Mapping[str, Any]
) -> FieldMapping:
    """The mapping with the field's type, after checking export could write what it is asked to."""
    sf_type = str(described.get("type", "string"))
    mapping = mapping.model_copy(update={"sf_type": sf_type})
    if mapping.segment is not None:
        if sf_type not in SEGMENT_TYPES:
            raise MappingError(
                f"{obj}.{sf_name} is a {sf_type} field; segment membership needs a checkbox, text or picklist"
            )
        if sf_type == "boolean":
            mapping.member_value = None
        elif not mapping.member_value:
            raise MappingError(f"{obj}.{sf_name}: give member_value, what to write while a profile is in the segment")
        picklist = [str(entry.get("value")) for entry in described.get("picklistValues") or []]
        if sf_type == "picklist" and described.get("restrictedPicklist") and mapping.member_value not in picklist:
            raise MappingError(
                f"{obj}.{sf_name}: {mapping.member_value!r} is not one of its values ({', '.join(picklist)})"
            )
        mapping.export = ExportRule.ALWAYS  # set on entry and cleared on exit
    if mapping.export is not ExportRule.NEVER:
        if obj not in EXPORTABLE:
            raise MappingError(f"{obj} is import-only: its fields cannot be written back (export rule must be never)")
        if described.get("calculated"):
            formula = described.get("calculatedFormula")
            raise MappingError(
                f"{obj}.{sf_name} is a formula field: Salesforce computes it"
                + (f" ({formula})" if formula else "")
                + " and refuses writes to it, so its export rule must be never"
            )
        if not described.get("updateable", False):
            why = (
                "can only be set when Salesforce creates the record"
                if described.get("createable")
                else "is read-only in Salesforce"
            )
            raise MappingError(f"{obj}.{sf_name} {why}: export cannot update it, so its export rule must be never")
    return mapping


def read_value(sf_type: str, value: Any) -> Any:
    """A Salesforce value (Bulk CSV text or REST JSON) as a Python value; '' and null are None."""
    if value is None or value == "":
        return None
    if sf_type == MULTIPICKLIST:
        return value if isinstance(value, list) else [part for part in str(value).split(";") if part]
    if sf_type == "boolean":
        return value if isinstance(value, bool) else str(value).lower() == "true"
    if sf_type in _NUMBER_TYPES and not isinstance(value, int | float):
        number = float(value)
        return int(number) if number.is_integer() and sf_type in ("int", "long") else number
    return value


def apply_mapping(mapping: ObjectMapping, row: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The mapped values of one Salesforce row and the problems of values that were dropped."""
    return mapped_values(mapping.object, SPECS[mapping.object].kind, mapping.fields, row, read_value)


class PreviewRecord(BaseModel):
    id: str
    fields: dict[str, Any]
    problems: list[str] = Field(default_factory=list)


def preview(sf: Salesforce, mapping: ObjectMapping, n: int = PREVIEW_RECORDS) -> list[PreviewRecord]:
    """The `n` most recently changed records as the mapping would store them (one REST query)."""
    records: list[PreviewRecord] = []
    for row in sf.query(soql.latest(mapping.object, ["Id", *mapping.fields], n))["records"]:
        values, problems = apply_mapping(mapping, row)
        records.append(PreviewRecord(id=str(row["Id"]), fields=values, problems=problems))
    return records

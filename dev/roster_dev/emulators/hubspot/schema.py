"""Property definitions as HubSpot's properties API describes them, and the value rules each type enforces.

Types and field types follow "Properties API" (developers.hubspot.com/docs/guides/api/crm/properties): `string`,
`number`, `date` (YYYY-MM-DD, midnight UTC), `datetime`, `enumeration` (options; `;` between several checked),
`bool`, `phone_number`. HubSpot-set values (ids, create/modify dates, merged ids, counts) are read-only
(`modificationMetadata.readOnlyValue`) and some are `calculated`; writing them fails as HubSpot refuses them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any, Literal

PropertyType = Literal["string", "number", "date", "datetime", "enumeration", "bool", "phone_number"]
OBJECT_TYPES = ("contacts", "companies", "deals")
#: The modified-date property search filters on: contacts keep their historic name.
MODIFIED = {"contacts": "lastmodifieddate", "companies": "hs_lastmodifieddate", "deals": "hs_lastmodifieddate"}
#: What a list, get or search returns when the request names no properties.
DEFAULT_PROPERTIES = {
    "contacts": ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"),
    "companies": ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
    "deals": (
        "amount",
        "closedate",
        "createdate",
        "dealname",
        "dealstage",
        "hs_lastmodifieddate",
        "hs_object_id",
        "pipeline",
    ),
}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_FIELD_TYPES = {
    "string": "text",
    "number": "number",
    "date": "date",
    "datetime": "date",
    "enumeration": "select",
    "bool": "booleancheckbox",
    "phone_number": "phonenumber",
}


@dataclass
class PropertyDef:
    """One property of an object type; `options` are the enumeration values (`bool` has true/false)."""

    name: str
    label: str
    type: PropertyType = "string"
    options: tuple[str, ...] = ()
    group: str = "contactinformation"
    has_unique_value: bool = False
    read_only: bool = False
    calculated: bool = False
    hubspot_defined: bool = True
    field_type: str | None = None
    description: str = ""
    created_at: datetime = field(default_factory=lambda: datetime(2019, 8, 6, 2, 41, 52, tzinfo=UTC))

    def describe(self) -> dict[str, Any]:
        """The property as `GET /crm/v3/properties/{objectType}` lists it."""
        options = self.options if self.type != "bool" else ("true", "false")
        described: dict[str, Any] = {
            "updatedAt": iso(self.created_at),
            "createdAt": iso(self.created_at),
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "fieldType": self.field_type or _FIELD_TYPES[self.type],
            "description": self.description,
            "groupName": self.group,
            "options": [
                {"label": option.replace("_", " ").title(), "value": option, "displayOrder": index, "hidden": False}
                for index, option in enumerate(options)
            ],
            "displayOrder": -1,
            "calculated": self.calculated,
            "externalOptions": False,
            "hasUniqueValue": self.has_unique_value,
            "hidden": False,
            "modificationMetadata": {
                "archivable": not self.hubspot_defined,
                "readOnlyDefinition": self.hubspot_defined,
                "readOnlyValue": self.read_only or self.calculated,
            },
            "formField": self.type != "datetime" and not self.read_only,
            "archived": False,
        }
        if self.hubspot_defined:
            described["hubspotDefined"] = True
        return described

    def normalise(self, raw: Any) -> str:
        """The stored form of a written value, or ValueError saying why HubSpot would refuse it."""
        if raw is None or raw == "":
            return ""
        text = str(raw).strip() if not isinstance(raw, bool) else ("true" if raw else "false")
        if self.type == "number":
            try:
                number = float(text)
            except ValueError:
                raise ValueError(f"{text!r} was not a valid number.") from None
            return str(int(number)) if number.is_integer() and "." not in text else text
        if self.type == "bool":
            if text.lower() not in {"true", "false"}:
                raise ValueError(f"{text!r} was not one of the allowed options: [true, false]")
            return text.lower()
        if self.type == "enumeration":
            chosen = [part for part in text.split(";") if part]
            unknown = [part for part in chosen if part not in self.options]
            if unknown:
                allowed = ", ".join(f"label: '{o.replace('_', ' ').title()}'value: '{o}'" for o in self.options)
                raise ValueError(f"{unknown[0]} was not one of the allowed options: [{allowed}]")
            return ";".join(chosen)
        if self.type == "datetime":
            return iso(parse_moment(text))
        if self.type == "date":
            moment = parse_moment(text)
            if (moment.hour, moment.minute, moment.second, moment.microsecond) != (0, 0, 0, 0):
                raise ValueError(f"{text} is at {moment.time()} UTC; a date must be at midnight UTC")
            return moment.date().isoformat()
        if self.name == "email":
            if not _EMAIL.match(text):
                raise ValueError(f"Email address {text} is invalid")
            return text.lower()  # HubSpot keeps contacts' addresses in lower case
        return text

    def sort_key(self, value: str) -> Any:
        """How search compares and orders this property's stored values."""
        if self.type == "number" or self.name == "hs_object_id":
            return float(value)
        if self.type in {"datetime", "date"}:
            return moment_ms(value)
        return value.lower()


def iso(moment: datetime) -> str:
    """HubSpot's response timestamps: UTC with milliseconds, `2026-11-25T10:00:00.000Z`."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@lru_cache(maxsize=1 << 18)
def moment_ms(text: str) -> int:
    """Epoch milliseconds of a stored or filtered date (cached: searches compare the same values many times)."""
    return epoch_ms(parse_moment(text))


def parse_moment(text: str) -> datetime:
    """Epoch milliseconds (what search filters send), an ISO timestamp, or a YYYY-MM-DD date."""
    text = text.strip()
    if re.fullmatch(r"-?\d+", text):
        return datetime.fromtimestamp(int(text) / 1000, UTC)
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not a valid date (epoch milliseconds or ISO 8601)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _system(name: str, label: str, kind: PropertyType = "string", **flags: Any) -> PropertyDef:
    return PropertyDef(name, label, kind, read_only=True, group=flags.pop("group", "system"), **flags)


LIFECYCLE = (
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
)
DEAL_STAGES = (
    "appointmentscheduled",
    "qualifiedtobuy",
    "presentationscheduled",
    "decisionmakerboughtin",
    "contractsent",
    "closedwon",
    "closedlost",
)
INDUSTRIES = (
    "COMPUTER_SOFTWARE",
    "FINANCIAL_SERVICES",
    "HOSPITAL_HEALTH_CARE",
    "RETAIL",
    "EDUCATION_MANAGEMENT",
    "MARKETING_AND_ADVERTISING",
    "CONSTRUCTION",
    "TELECOMMUNICATIONS",
)


def standard_properties(object_type: str, owners: tuple[str, ...]) -> list[PropertyDef]:
    """The HubSpot-defined properties the emulator models for one object type."""
    common = [
        _system("hs_object_id", "Record ID", "number", has_unique_value=False),
        _system("createdate", "Create Date", "datetime"),
        _system("hs_merged_object_ids", "Merged Record IDs", "enumeration", calculated=False),
        PropertyDef("hubspot_owner_id", "Owner", "enumeration", owners, group="sales_properties"),
    ]
    if object_type == "contacts":
        return [
            *common,
            _system("lastmodifieddate", "Last Modified Date", "datetime"),
            PropertyDef("email", "Email", has_unique_value=True),
            _system("hs_additional_emails", "Additional email addresses", "enumeration", group="contactinformation"),
            PropertyDef("firstname", "First Name"),
            PropertyDef("lastname", "Last Name"),
            PropertyDef("phone", "Phone Number", "string", field_type="phonenumber"),
            PropertyDef("mobilephone", "Mobile Phone Number", "string", field_type="phonenumber"),
            PropertyDef("company", "Company Name"),
            PropertyDef("jobtitle", "Job Title"),
            PropertyDef("city", "City"),
            PropertyDef("state", "State/Region"),
            PropertyDef("country", "Country/Region"),
            PropertyDef("website", "Website URL"),
            PropertyDef("lifecyclestage", "Lifecycle Stage", "enumeration", LIFECYCLE, field_type="radio"),
            PropertyDef("hs_email_optout", "Unsubscribed from all email", "bool", read_only=True),
            _system("associatedcompanyid", "Primary Associated Company ID", "number"),
            _system("hs_email_domain", "Email Domain", calculated=True),
            _system("num_associated_deals", "Number of Associated Deals", "number", calculated=True),
        ]
    if object_type == "companies":
        return [
            *common,
            _system("hs_lastmodifieddate", "Last Modified Date", "datetime"),
            PropertyDef("name", "Company name", group="companyinformation"),
            PropertyDef("domain", "Company Domain Name", group="companyinformation"),
            PropertyDef("website", "Website URL", group="companyinformation"),
            PropertyDef("industry", "Industry", "enumeration", INDUSTRIES, group="companyinformation"),
            PropertyDef("phone", "Phone Number", group="companyinformation", field_type="phonenumber"),
            PropertyDef("city", "City", group="companyinformation"),
            PropertyDef("state", "State/Region", group="companyinformation"),
            PropertyDef("country", "Country/Region", group="companyinformation"),
            PropertyDef("numberofemployees", "Number of Employees", "number", group="companyinformation"),
            PropertyDef("annualrevenue", "Annual Revenue", "number", group="companyinformation"),
            _system("num_associated_contacts", "Number of Associated Contacts", "number", calculated=True),
            _system("num_associated_deals", "Number of Associated Deals", "number", calculated=True),
        ]
    return [
        *common,
        _system("hs_lastmodifieddate", "Last Modified Date", "datetime"),
        PropertyDef("dealname", "Deal Name", group="dealinformation"),
        PropertyDef("amount", "Amount", "number", group="dealinformation"),
        PropertyDef("closedate", "Close Date", "datetime", group="dealinformation"),
        PropertyDef("dealstage", "Deal Stage", "enumeration", DEAL_STAGES, group="dealinformation", field_type="radio"),
        PropertyDef("pipeline", "Pipeline", "enumeration", ("default",), group="dealinformation", field_type="select"),
        PropertyDef(
            "dealtype", "Deal Type", "enumeration", ("newbusiness", "existingbusiness"), group="dealinformation"
        ),
        _system("hs_is_closed", "Is Deal Closed?", "bool", calculated=True),
        _system("hs_is_closed_won", "Is Closed Won", "bool", calculated=True),
    ]

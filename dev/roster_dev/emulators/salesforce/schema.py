"""Object and field metadata of the emulated org: what `describe` answers and what writes are checked against.

Values are stored in one canonical form per type so that comparisons and sorting need no parsing:
text as `str`, numbers as `int`/`float`, booleans as `bool`, dates as `YYYY-MM-DD` and datetimes as
Salesforce's own `2026-11-25T10:00:00.000+0000` (always UTC, so the strings sort in time order).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal

FieldType = Literal[
    "id",
    "string",
    "email",
    "phone",
    "url",
    "picklist",
    "double",
    "currency",
    "percent",
    "int",
    "date",
    "datetime",
    "boolean",
    "reference",
    "textarea",
]

TEXT_TYPES: frozenset[str] = frozenset({"string", "email", "phone", "url", "picklist", "textarea"})
NUMBER_TYPES: frozenset[str] = frozenset({"double", "currency", "percent", "int"})
ID_TYPES: frozenset[str] = frozenset({"id", "reference"})

SOAP_TYPES: dict[str, str] = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "boolean": "xsd:boolean",
    "int": "xsd:int",
    "double": "xsd:double",
    "currency": "xsd:double",
    "percent": "xsd:double",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
}

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_CHECKSUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_ID_RE = re.compile(r"^[0-9A-Za-z]{15}(?:[0-9A-Za-z]{3})?$")
#: Instance and reserved characters of every id this org issues (real ids carry the pod here).
ID_POD = "5e0"


def id_checksum(id15: str) -> str:
    """The three characters Salesforce appends so an 18-char id survives case-insensitive systems."""
    suffix = ""
    for chunk in range(3):
        bits = 0
        for position, char in enumerate(id15[chunk * 5 : chunk * 5 + 5]):
            if "A" <= char <= "Z":
                bits |= 1 << position
        suffix += _CHECKSUM[bits]
    return suffix


def make_id(key_prefix: str, number: int) -> str:
    """An 18-char id: key prefix, pod, a base62 counter (so ids sort in creation order) and the checksum."""
    digits = ""
    for _ in range(9):
        number, rest = divmod(number, 62)
        digits = _BASE62[rest] + digits
    id15 = key_prefix + ID_POD + digits
    return id15 + id_checksum(id15)


def to_18(value: str) -> str | None:
    """Normalize a 15- or 18-char id to 18 chars; None when it is not shaped like an id."""
    if not _ID_RE.match(value):
        return None
    if len(value) == 18:
        return value[:15] + id_checksum(value[:15])
    return value + id_checksum(value)


def format_datetime(moment: datetime) -> str:
    """Salesforce's REST datetime format, second precision, UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


_DATETIME_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})?$", re.IGNORECASE
)
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_datetime(text: str) -> str | None:
    """Any ISO-8601 datetime Salesforce accepts, in canonical form; None when it is not one."""
    match = _DATETIME_RE.match(text.strip())
    if not match:
        return None
    year, month, day, hour, minute, second, zone = match.groups()
    offset = "+00:00"
    if zone and zone.upper() != "Z":
        offset = zone if ":" in zone else f"{zone[:3]}:{zone[3:]}"
    try:
        moment = datetime.fromisoformat(f"{year}-{month}-{day}T{hour}:{minute}:{second}{offset}")
    except ValueError:
        return None
    return format_datetime(moment)


def parse_date(text: str) -> str | None:
    """A `YYYY-MM-DD` date (a datetime is cut to its date, as the Bulk API does); None otherwise."""
    text = text.strip()
    if _DATE_RE.match(text):
        try:
            date.fromisoformat(text)
        except ValueError:
            return None
        return text
    canonical = parse_datetime(text)
    return canonical[:10] if canonical else None


def bulk_datetime(canonical: str) -> str:
    """Bulk API 2.0 CSV writes datetimes with a `Z` zone rather than REST's `+0000`."""
    return canonical[:-5] + "Z"


def _label_of(name: str) -> str:
    base = name[:-3] if name.endswith("__c") else name
    base = base[:-2] if base.endswith("Id") and len(base) > 2 else base
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", base).replace("_", " ")


@dataclass
class FieldDef:
    """One field of an object: its type decides coercion, comparison and rendering."""

    name: str
    type: FieldType
    label: str = ""
    length: int = 0
    required: bool = False
    createable: bool = True
    updateable: bool = True
    external_id: bool = False
    id_lookup: bool = False
    unique: bool = False
    custom: bool = False
    calculated: bool = False
    picklist: tuple[str, ...] = ()
    restricted: bool = True
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    default: Any = None

    def __post_init__(self) -> None:
        if not self.label:
            self.label = _label_of(self.name)
        if not self.length and self.type in TEXT_TYPES:
            self.length = {"email": 80, "phone": 40, "textarea": 32000}.get(self.type, 255)
        if self.type in ID_TYPES and not self.length:
            self.length = 18
        if self.type == "reference" and self.relationship_name is None:
            if self.name.endswith("__c"):
                self.relationship_name = self.name[:-3] + "__r"
            elif self.name.endswith("Id"):
                self.relationship_name = self.name[:-2]
        if self.type == "boolean" and self.default is None:
            self.default = False

    def describe(self) -> dict[str, Any]:
        """The field part of `sobjects/{O}/describe`, with the keys clients actually read."""
        return {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "soapType": SOAP_TYPES.get(self.type, "xsd:string"),
            "length": self.length,
            "byteLength": self.length * 3,
            "precision": 18 if self.type in {"double", "currency", "percent"} else 0,
            "scale": 2 if self.type in {"currency", "percent"} else 0,
            "digits": 9 if self.type == "int" else 0,
            "nillable": not self.required and self.type not in {"boolean", "id"},
            "createable": self.createable,
            "updateable": self.updateable,
            "custom": self.custom,
            "calculated": self.calculated,
            "externalId": self.external_id,
            "idLookup": self.id_lookup,
            "unique": self.unique,
            "caseSensitive": False,
            "filterable": self.type != "textarea",
            "sortable": self.type != "textarea",
            "groupable": self.type not in {"textarea", "double", "currency", "percent", "datetime"},
            "defaultedOnCreate": self.default is not None or self.type in {"id", "boolean"},
            "defaultValue": self.default if self.type == "boolean" else None,
            "restrictedPicklist": self.type == "picklist" and self.restricted,
            "picklistValues": [
                {"active": True, "defaultValue": False, "label": value, "value": value, "validFor": None}
                for value in self.picklist
            ],
            "referenceTo": list(self.reference_to),
            "relationshipName": self.relationship_name,
            "polymorphicForeignKey": len(self.reference_to) > 1,
        }


@dataclass
class ObjectDef:
    """An sObject type: name, key prefix and ordered fields (the order is the stored row layout)."""

    name: str
    key_prefix: str
    label: str
    label_plural: str
    fields: list[FieldDef] = field(default_factory=list)
    custom: bool = False

    def __post_init__(self) -> None:
        self._index: dict[str, int] = {}
        for position, definition in enumerate(self.fields):
            self._index[definition.name.lower()] = position

    def index(self, name: str) -> int | None:
        """Position of a field in a stored row, looked up case-insensitively as SOQL does."""
        return self._index.get(name.lower())

    def field(self, name: str) -> FieldDef | None:
        """The field definition for a case-insensitive name."""
        position = self._index.get(name.lower())
        return None if position is None else self.fields[position]

    def relationship(self, name: str) -> FieldDef | None:
        """The reference field whose relationship name (e.g. `Account` for `AccountId`) matches."""
        lowered = name.lower()
        for definition in self.fields:
            if definition.relationship_name and definition.relationship_name.lower() == lowered:
                return definition
        return None

    def append(self, definition: FieldDef) -> int:
        """Add a field at the end of the row layout; returns its position."""
        self.fields.append(definition)
        self._index[definition.name.lower()] = len(self.fields) - 1
        return len(self.fields) - 1

    def describe(self, api_version: str) -> dict[str, Any]:
        """`sobjects/{O}/describe`."""
        return {
            **self.summary(api_version),
            "fields": [definition.describe() for definition in self.fields],
            "childRelationships": [],
            "recordTypeInfos": [],
        }

    def summary(self, api_version: str) -> dict[str, Any]:
        """One entry of the global describe (`sobjects/`)."""
        base = f"/services/data/v{api_version}/sobjects/{self.name}"
        return {
            "name": self.name,
            "label": self.label,
            "labelPlural": self.label_plural,
            "keyPrefix": self.key_prefix,
            "custom": self.custom,
            "queryable": True,
            "retrieveable": True,
            "searchable": True,
            "createable": True,
            "updateable": True,
            "deletable": True,
            "undeletable": True,
            "replicateable": True,
            "triggerable": True,
            "layoutable": True,
            "urls": {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"},
        }


USER_REF = ("User",)

INDUSTRIES = (
    "Agriculture",
    "Apparel",
    "Banking",
    "Biotechnology",
    "Communications",
    "Consulting",
    "Education",
    "Electronics",
    "Energy",
    "Engineering",
    "Finance",
    "Healthcare",
    "Hospitality",
    "Insurance",
    "Manufacturing",
    "Media",
    "Retail",
    "Technology",
    "Telecommunications",
    "Transportation",
    "Other",
)
ACCOUNT_TYPES = (
    "Prospect",
    "Customer - Direct",
    "Customer - Channel",
    "Channel Partner / Reseller",
    "Technology Partner",
    "Other",
)
LEAD_SOURCES = ("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Trade Show", "Word of mouth", "Other")
LEAD_STATUSES = ("Open - Not Contacted", "Working - Contacted", "Closed - Converted", "Closed - Not Converted")
STAGES: tuple[tuple[str, int, bool, bool], ...] = (
    # name, probability, closed, won
    ("Prospecting", 10, False, False),
    ("Qualification", 10, False, False),
    ("Needs Analysis", 20, False, False),
    ("Value Proposition", 50, False, False),
    ("Id. Decision Makers", 60, False, False),
    ("Perception Analysis", 70, False, False),
    ("Proposal/Price Quote", 75, False, False),
    ("Negotiation/Review", 90, False, False),
    ("Closed Won", 100, True, True),
    ("Closed Lost", 0, True, False),
)
OPPORTUNITY_TYPES = ("New Customer", "Existing Customer - Upgrade", "Existing Customer - Replacement")
TASK_STATUSES = ("Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred")
PRIORITIES = ("High", "Normal", "Low")


def _system_fields() -> list[FieldDef]:
    return [
        FieldDef("Id", "id", "Record ID", createable=False, updateable=False, id_lookup=True),
        FieldDef("IsDeleted", "boolean", "Deleted", createable=False, updateable=False),
        FieldDef("CreatedDate", "datetime", "Created Date", createable=False, updateable=False),
        FieldDef(
            "CreatedById", "reference", "Created By ID", createable=False, updateable=False, reference_to=USER_REF
        ),
        FieldDef("LastModifiedDate", "datetime", "Last Modified Date", createable=False, updateable=False),
        FieldDef(
            "LastModifiedById",
            "reference",
            "Last Modified By ID",
            createable=False,
            updateable=False,
            reference_to=USER_REF,
        ),
        FieldDef("SystemModstamp", "datetime", "System Modstamp", createable=False, updateable=False),
    ]


def _owner() -> FieldDef:
    return FieldDef("OwnerId", "reference", "Owner ID", reference_to=USER_REF, relationship_name="Owner")


def _name() -> FieldDef:
    return FieldDef("Name", "string", "Full Name", length=121, createable=False, updateable=False, calculated=True)


def standard_objects() -> list[ObjectDef]:
    """Fresh definitions of the objects a sync connector reads and writes (each org gets its own copy)."""
    user = ObjectDef(
        "User",
        "005",
        "User",
        "Users",
        [
            *_system_fields(),
            FieldDef("Username", "string", required=True, unique=True, id_lookup=True, length=80),
            FieldDef("FirstName", "string", length=40),
            FieldDef("LastName", "string", required=True, length=80),
            _name(),
            FieldDef("Email", "email", required=True),
            FieldDef("Title", "string", length=80),
            FieldDef("IsActive", "boolean", "Active", default=True),
        ],
    )
    account = ObjectDef(
        "Account",
        "001",
        "Account",
        "Accounts",
        [
            *_system_fields(),
            FieldDef("Name", "string", "Account Name", required=True, id_lookup=True),
            FieldDef("Type", "picklist", "Account Type", picklist=ACCOUNT_TYPES),
            FieldDef("Industry", "picklist", picklist=INDUSTRIES),
            FieldDef("Website", "url"),
            FieldDef("Phone", "phone", "Account Phone"),
            FieldDef("NumberOfEmployees", "int", "Employees"),
            FieldDef("AnnualRevenue", "currency", "Annual Revenue"),
            FieldDef("BillingCity", "string", "Billing City", length=40),
            FieldDef("BillingCountry", "string", "Billing Country", length=80),
            FieldDef("Description", "textarea", "Account Description"),
            FieldDef(
                "ParentId", "reference", "Parent Account ID", reference_to=("Account",), relationship_name="Parent"
            ),
            _owner(),
        ],
    )
    contact = ObjectDef(
        "Contact",
        "003",
        "Contact",
        "Contacts",
        [
            *_system_fields(),
            FieldDef("FirstName", "string", "First Name", length=40),
            FieldDef("LastName", "string", "Last Name", required=True, length=80),
            _name(),
            FieldDef("Email", "email", id_lookup=True),
            FieldDef("Title", "string", length=128),
            FieldDef("Phone", "phone", "Business Phone"),
            FieldDef("MobilePhone", "phone", "Mobile Phone"),
            FieldDef("Department", "string", length=80),
            FieldDef("AccountId", "reference", "Account ID", reference_to=("Account",)),
            FieldDef("LeadSource", "picklist", "Lead Source", picklist=LEAD_SOURCES),
            FieldDef("MailingCity", "string", "Mailing City", length=40),
            FieldDef("MailingCountry", "string", "Mailing Country", length=80),
            FieldDef("Description", "textarea", "Contact Description"),
            FieldDef("HasOptedOutOfEmail", "boolean", "Email Opt Out"),
            _owner(),
        ],
    )
    lead = ObjectDef(
        "Lead",
        "00Q",
        "Lead",
        "Leads",
        [
            *_system_fields(),
            FieldDef("FirstName", "string", "First Name", length=40),
            FieldDef("LastName", "string", "Last Name", required=True, length=80),
            _name(),
            FieldDef("Company", "string", required=True),
            FieldDef("Email", "email", id_lookup=True),
            FieldDef("Title", "string", length=128),
            FieldDef("Phone", "phone"),
            FieldDef("Website", "url"),
            FieldDef("Status", "picklist", "Lead Status", picklist=LEAD_STATUSES, default="Open - Not Contacted"),
            FieldDef("LeadSource", "picklist", "Lead Source", picklist=LEAD_SOURCES),
            FieldDef("Industry", "picklist", picklist=INDUSTRIES),
            FieldDef("NumberOfEmployees", "int", "Employees"),
            FieldDef("AnnualRevenue", "currency", "Annual Revenue"),
            FieldDef("City", "string", length=40),
            FieldDef("Country", "string", length=80),
            FieldDef("Description", "textarea"),
            FieldDef("IsConverted", "boolean", "Converted", createable=False, updateable=False),
            FieldDef("ConvertedDate", "date", "Converted Date", createable=False, updateable=False),
            FieldDef(
                "ConvertedContactId",
                "reference",
                "Converted Contact ID",
                createable=False,
                updateable=False,
                reference_to=("Contact",),
            ),
            FieldDef(
                "ConvertedAccountId",
                "reference",
                "Converted Account ID",
                createable=False,
                updateable=False,
                reference_to=("Account",),
            ),
            FieldDef(
                "ConvertedOpportunityId",
                "reference",
                "Converted Opportunity ID",
                createable=False,
                updateable=False,
                reference_to=("Opportunity",),
            ),
            _owner(),
        ],
    )
    opportunity = ObjectDef(
        "Opportunity",
        "006",
        "Opportunity",
        "Opportunities",
        [
            *_system_fields(),
            FieldDef("Name", "string", "Opportunity Name", required=True, length=120),
            FieldDef("AccountId", "reference", "Account ID", reference_to=("Account",)),
            FieldDef("StageName", "picklist", "Stage", required=True, picklist=tuple(stage[0] for stage in STAGES)),
            FieldDef("Amount", "currency"),
            FieldDef("Probability", "percent", "Probability (%)"),
            FieldDef("CloseDate", "date", "Close Date", required=True),
            FieldDef("Type", "picklist", "Opportunity Type", picklist=OPPORTUNITY_TYPES),
            FieldDef("LeadSource", "picklist", "Lead Source", picklist=LEAD_SOURCES),
            FieldDef("IsClosed", "boolean", "Closed", createable=False, updateable=False, calculated=True),
            FieldDef("IsWon", "boolean", "Won", createable=False, updateable=False, calculated=True),
            FieldDef("Description", "textarea"),
            _owner(),
        ],
    )
    who = ("Contact", "Lead")
    task = ObjectDef(
        "Task",
        "00T",
        "Task",
        "Tasks",
        [
            *_system_fields(),
            FieldDef("Subject", "string", length=255),
            FieldDef("Status", "picklist", required=True, picklist=TASK_STATUSES, default="Not Started"),
            FieldDef("Priority", "picklist", required=True, picklist=PRIORITIES, default="Normal"),
            FieldDef("TaskSubtype", "picklist", "Task Subtype", picklist=("Task", "Email", "Call")),
            FieldDef("ActivityDate", "date", "Due Date Only"),
            FieldDef("WhoId", "reference", "Name ID", reference_to=who, relationship_name="Who"),
            FieldDef("WhatId", "reference", "Related To ID", reference_to=("Account", "Opportunity")),
            FieldDef("Description", "textarea"),
            _owner(),
        ],
    )
    event = ObjectDef(
        "Event",
        "00U",
        "Event",
        "Events",
        [
            *_system_fields(),
            FieldDef("Subject", "string", length=255),
            FieldDef("StartDateTime", "datetime", "Start Date Time"),
            FieldDef("EndDateTime", "datetime", "End Date Time"),
            FieldDef("ActivityDate", "date", "Due Date Only"),
            FieldDef("DurationInMinutes", "int", "Duration"),
            FieldDef("Location", "string"),
            FieldDef("WhoId", "reference", "Name ID", reference_to=who, relationship_name="Who"),
            FieldDef("WhatId", "reference", "Related To ID", reference_to=("Account", "Opportunity")),
            FieldDef("Description", "textarea"),
            _owner(),
        ],
    )
    return [user, account, contact, lead, opportunity, task, event]

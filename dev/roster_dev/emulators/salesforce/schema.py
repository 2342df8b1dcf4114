"""Object and field metadata of the emulated org: what `describe` answers and what writes are checked against.

Values are stored in one canonical form per type so that comparisons and sorting need no parsing:
text as `str`, numbers as `int`/`float`, booleans as `bool`, dates as `YYYY-MM-DD` and datetimes as
Salesforce's own `2026-11-25T10:00:00.000+0000` (always UTC, so the strings sort in time order).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
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
    "multipicklist",
    "time",
    "address",
    "location",
]

TEXT_TYPES: frozenset[str] = frozenset({"string", "email", "phone", "url", "picklist", "multipicklist", "textarea"})
NUMBER_TYPES: frozenset[str] = frozenset({"double", "currency", "percent", "int"})
ID_TYPES: frozenset[str] = frozenset({"id", "reference"})
#: Read-only structured fields built from component fields; Bulk API query refuses them.
COMPOUND_TYPES: frozenset[str] = frozenset({"address", "location"})
#: Longest text a plain text area holds before Salesforce calls it a long text area (not filterable or sortable).
SHORT_TEXT_AREA = 255
#: Accuracy levels of a geocoded address (the `GeocodeAccuracy` component's picklist).
GEOCODE_ACCURACIES = (
    "Address",
    "NearAddress",
    "Block",
    "Street",
    "ExtendedZip",
    "Zip",
    "Neighborhood",
    "City",
    "County",
    "State",
    "Unknown",
)
#: A formula: the record as it would be after a write (canonical field names) -> the computed value.
Formula = Callable[[Mapping[str, Any]], Any]

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
    "time": "xsd:time",
    "address": "urn:address",
    "location": "urn:location",
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


_TIME_RE = re.compile(r"^(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?Z?$", re.IGNORECASE)


def parse_time(text: str) -> str | None:
    """A time of day as Salesforce returns it (`HH:MM:SS.sssZ`); None when it is not one."""
    match = _TIME_RE.match(text.strip())
    if not match:
        return None
    hour, minute, second, millis = match.groups()
    if int(hour) > 23 or int(minute) > 59 or int(second or 0) > 59:
        return None
    return f"{hour}:{minute}:{second or '00'}.{(millis or '0').ljust(3, '0')}Z"


def bulk_datetime(canonical: str) -> str:
    """Bulk API 2.0 CSV writes datetimes with a `Z` zone rather than REST's `+0000`."""
    return canonical[:-5] + "Z"


def _label_of(name: str) -> str:
    base = name[:-3] if name.endswith("__c") else name
    base = base[:-2] if base.endswith("Id") and len(base) > 2 else base
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", base).replace("_", " ")


@dataclass
class FieldDef:
    """One field of an object: its type decides coercion, comparison and rendering.

    A compound field (`address`, `location`) holds a dict built from its components, the fields whose `compound`
    names it, each under its `component` key. A formula field (`calculated`) is computed by `compute` on every write;
    `formula` is the text describe shows as `calculatedFormula` (None for Salesforce's own computed fields)."""

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
    compound: str | None = None
    component: str = ""
    formula: str | None = None
    compute: Formula | None = None
    scale: int | None = None
    auto_number: bool = False

    def __post_init__(self) -> None:
        if not self.label:
            self.label = _label_of(self.name)
        if not self.length and self.type in TEXT_TYPES:
            self.length = {"email": 80, "phone": 40, "textarea": 32000, "multipicklist": 4099}.get(self.type, 255)
        if self.type in ID_TYPES and not self.length:
            self.length = 18
        if self.type == "reference" and self.relationship_name is None:
            if self.name.endswith("__c"):
                self.relationship_name = self.name[:-3] + "__r"
            elif self.name.endswith("Id"):
                self.relationship_name = self.name[:-2]
        if self.type == "boolean" and self.default is None:
            self.default = False
        if self.type in COMPOUND_TYPES or self.calculated or self.compute is not None:
            self.createable = self.updateable = False
            self.calculated = self.calculated or self.compute is not None

    @property
    def long_text(self) -> bool:
        """A long text area: Salesforce cannot filter, sort or group on it."""
        return self.type == "textarea" and self.length > SHORT_TEXT_AREA

    @property
    def filterable(self) -> bool:
        """Whether SOQL may name the field in WHERE (long text areas and compound fields: no)."""
        return not (self.long_text or self.type in COMPOUND_TYPES)

    @property
    def sortable(self) -> bool:
        """Whether SOQL may name the field in ORDER BY (neither those nor multi-select picklists)."""
        return self.filterable and self.type != "multipicklist"

    def describe(self) -> dict[str, Any]:
        """The field part of `sobjects/{O}/describe`, with every key a real org's describe carries."""
        compound = self.type in COMPOUND_TYPES
        decimal = self.type in {"double", "currency", "percent"}
        return {
            "aggregatable": self.sortable,
            "aiPredictionField": False,
            "autoNumber": self.auto_number,
            "byteLength": self.length * 3 if self.type in TEXT_TYPES else self.length,
            "calculated": self.calculated,
            "calculatedFormula": self.formula,
            "cascadeDelete": False,
            "caseSensitive": False,
            "compoundFieldName": self.compound,
            "controllerName": None,
            "createable": self.createable,
            "custom": self.custom,
            "defaultValue": self.default if self.type == "boolean" else None,
            "defaultValueFormula": None,
            "defaultedOnCreate": self.default is not None or self.type in {"id", "boolean"} or self.auto_number,
            "dependentPicklist": False,
            "deprecatedAndHidden": False,
            "digits": 9 if self.type == "int" else 0,
            "displayLocationInDecimal": self.type == "location",
            "encrypted": False,
            "externalId": self.external_id,
            "extraTypeInfo": "plaintextarea" if self.type == "textarea" else None,
            "filterable": self.filterable,
            "filteredLookupInfo": None,
            "formulaTreatNullNumberAsZero": False,
            "groupable": self.sortable and self.type not in {"double", "currency", "percent", "datetime", "time"},
            "highScaleNumber": False,
            "htmlFormatted": False,
            "idLookup": self.id_lookup,
            "inlineHelpText": None,
            "label": self.label,
            "length": self.length,
            "mask": None,
            "maskType": None,
            "name": self.name,
            "nameField": self.name == "Name",
            "namePointing": len(self.reference_to) > 1,
            "nillable": not self.required and self.type not in {"boolean", "id"},
            "permissionable": self.custom and not self.required,
            "picklistValues": [
                {"active": True, "defaultValue": False, "label": value, "value": value, "validFor": None}
                for value in self.picklist
            ],
            "polymorphicForeignKey": len(self.reference_to) > 1,
            "precision": 18 if decimal else 0,
            "queryByDistance": compound,
            "referenceTargetField": None,
            "referenceTo": list(self.reference_to),
            "relationshipName": self.relationship_name,
            "relationshipOrder": None,
            "restrictedDelete": False,
            "restrictedPicklist": self.type in {"picklist", "multipicklist"} and self.restricted,
            "scale": self.scale if self.scale is not None else (2 if self.type in {"currency", "percent"} else 0),
            "searchPrefilterable": False,
            "soapType": SOAP_TYPES.get(self.type, "xsd:string"),
            "sortable": self.sortable,
            "type": self.type,
            "unique": self.unique,
            "updateable": self.updateable,
            "writeRequiresMasterRead": False,
        }


class _RowView(Mapping[str, Any]):
    """A stored row read by field name (exact case), for formulas, without copying it into a dict."""

    def __init__(self, index: dict[str, int], row: list[Any]) -> None:
        self._index = index
        self._row = row

    def __getitem__(self, name: str) -> Any:
        return self._row[self._index[name.lower()]]

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)


#: What global describe says an object allows, unless its definition says otherwise (Account's answers).
OBJECT_FLAGS: dict[str, bool] = {
    "activateable": False,
    "createable": True,
    "customSetting": False,
    "deepCloneable": False,
    "deletable": True,
    "deprecatedAndHidden": False,
    "feedEnabled": True,
    "hasSubtypes": False,
    "isInterface": False,
    "isSubtype": False,
    "layoutable": True,
    "mergeable": False,
    "mruEnabled": True,
    "queryable": True,
    "replicateable": True,
    "retrieveable": True,
    "searchable": True,
    "triggerable": True,
    "undeletable": True,
    "updateable": True,
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
    flags: dict[str, bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._index: dict[str, int] = {}
        for position, definition in enumerate(self.fields):
            self._index[definition.name.lower()] = position
        self._plan()

    def _plan(self) -> None:
        """Where derive writes: each formula's position, each compound's position and its components' positions."""
        self._formulas = [(position, spec.compute) for position, spec in enumerate(self.fields) if spec.compute]
        self._compounds = [
            (position, [(part.component, self._index[part.name.lower()]) for part in self.components(spec.name)])
            for position, spec in enumerate(self.fields)
            if spec.type in COMPOUND_TYPES
        ]

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
        self._plan()
        return len(self.fields) - 1

    def components(self, compound: str) -> list[FieldDef]:
        """The component fields of a compound field, in describe order."""
        return [definition for definition in self.fields if definition.compound == compound]

    def derive(self, row: list[Any]) -> None:
        """Fill what Salesforce computes from the other fields: formulas, then each compound from its components
        (None when every component is empty, as REST answers)."""
        if self._formulas:
            record = _RowView(self._index, row)
            for position, compute in self._formulas:
                row[position] = compute(record)
        for position, parts in self._compounds:
            value = {key: row[part] for key, part in parts}
            row[position] = value if any(item is not None for item in value.values()) else None

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
            **OBJECT_FLAGS,
            **self.flags,
            "custom": self.custom,
            "keyPrefix": self.key_prefix,
            "label": self.label,
            "labelPlural": self.label_plural,
            "name": self.name,
            "urls": {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"},
        }


def address(prefix: str, compound: str, label: str) -> list[FieldDef]:
    """A standard address: its components (`{prefix}Street`, `{prefix}City`, ...) and then the compound itself."""
    spaced = f"{label} " if label else ""
    parts = [
        FieldDef(f"{prefix}Street", "textarea", f"{spaced}Street", length=255, component="street"),
        FieldDef(f"{prefix}City", "string", f"{spaced}City", length=40, component="city"),
        FieldDef(f"{prefix}State", "string", f"{spaced}State/Province", length=80, component="state"),
        FieldDef(f"{prefix}PostalCode", "string", f"{spaced}Zip/Postal Code", length=20, component="postalCode"),
        FieldDef(f"{prefix}Country", "string", f"{spaced}Country", length=80, component="country"),
        FieldDef(f"{prefix}Latitude", "double", f"{spaced}Latitude", scale=15, component="latitude"),
        FieldDef(f"{prefix}Longitude", "double", f"{spaced}Longitude", scale=15, component="longitude"),
        FieldDef(
            f"{prefix}GeocodeAccuracy",
            "picklist",
            f"{spaced}Geocode Accuracy",
            length=40,
            picklist=GEOCODE_ACCURACIES,
            component="geocodeAccuracy",
        ),
    ]
    for part in parts:
        part.compound = compound
    return [*parts, FieldDef(compound, "address", f"{spaced}Address")]


def geolocation(name: str, label: str, scale: int = 6) -> list[FieldDef]:
    """A custom geolocation field `X__c`: components `X__Latitude__s` and `X__Longitude__s`, then the compound."""
    base = name.removesuffix("__c")
    return [
        *(
            FieldDef(
                f"{base}__{part.title()}__s",
                "double",
                f"{label} ({part.title()})",
                custom=True,
                scale=scale,
                compound=name,
                component=part,
            )
            for part in ("latitude", "longitude")
        ),
        FieldDef(name, "location", label, custom=True),
    ]


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
PRODUCT_INTERESTS = ("Platform", "Analytics", "API", "Integrations", "Services", "Training")
CAMPAIGN_TYPES = ("Conference", "Webinar", "Email", "Advertisement", "Partners", "Other")
CAMPAIGN_STATUSES = ("Planned", "In Progress", "Completed", "Aborted")
CASE_STATUSES = ("New", "Working", "Escalated", "Closed")
CASE_ORIGINS = ("Phone", "Email", "Web")
CASE_PRIORITIES = ("High", "Medium", "Low")


def _revenue_per_employee(record: Mapping[str, Any]) -> float | None:
    revenue, employees = record.get("AnnualRevenue"), record.get("NumberOfEmployees")
    return round(revenue / employees, 2) if revenue is not None and employees else None


def _email_domain(record: Mapping[str, Any]) -> str | None:
    email = record.get("Email")
    return email.partition("@")[2][:255] or None if email else None


def _expected_revenue(record: Mapping[str, Any]) -> float | None:
    amount, probability = record.get("Amount"), record.get("Probability")
    return round(amount * probability / 100, 2) if amount is not None and probability is not None else None


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
        flags={"deletable": False, "undeletable": False},
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
            *address("Billing", "BillingAddress", "Billing"),
            *address("Shipping", "ShippingAddress", "Shipping"),
            FieldDef("Description", "textarea", "Account Description"),
            FieldDef(
                "ParentId", "reference", "Parent Account ID", reference_to=("Account",), relationship_name="Parent"
            ),
            _owner(),
            FieldDef("ERP_Account_Id__c", "string", "ERP Account ID", length=40, custom=True, external_id=True),
            FieldDef(
                "Revenue_Per_Employee__c",
                "currency",
                "Revenue per Employee",
                custom=True,
                formula="AnnualRevenue / NumberOfEmployees",
                compute=_revenue_per_employee,
            ),
            *geolocation("Headquarters__c", "Headquarters"),
        ],
        flags={"mergeable": True},
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
            *address("Mailing", "MailingAddress", "Mailing"),
            *address("Other", "OtherAddress", "Other"),
            FieldDef("Description", "textarea", "Contact Description"),
            FieldDef("HasOptedOutOfEmail", "boolean", "Email Opt Out"),
            _owner(),
            FieldDef(
                "Email_Domain__c",
                "string",
                "Email Domain",
                length=1300,
                custom=True,
                formula='MID(Email, FIND("@", Email) + 1, 255)',
                compute=_email_domain,
            ),
            FieldDef(
                "Product_Interest__c", "multipicklist", "Product Interest", custom=True, picklist=PRODUCT_INTERESTS
            ),
            FieldDef("Best_Time_To_Call__c", "time", "Best Time to Call", custom=True),
        ],
        flags={"mergeable": True},
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
            *address("", "Address", ""),
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
            FieldDef(
                "Product_Interest__c", "multipicklist", "Product Interest", custom=True, picklist=PRODUCT_INTERESTS
            ),
        ],
        flags={"mergeable": True},
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
            FieldDef("ExpectedRevenue", "currency", "Expected Amount", compute=_expected_revenue),
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
            FieldDef("TaskSubtype", "picklist", "Task Subtype", picklist=("Task", "Email", "Call"), updateable=False),
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
    campaign = ObjectDef(
        "Campaign",
        "701",
        "Campaign",
        "Campaigns",
        [
            *_system_fields(),
            FieldDef("Name", "string", "Name", required=True, length=80, id_lookup=True),
            FieldDef("Type", "picklist", picklist=CAMPAIGN_TYPES),
            FieldDef("Status", "picklist", picklist=CAMPAIGN_STATUSES),
            FieldDef("StartDate", "date", "Start Date"),
            FieldDef("EndDate", "date", "End Date"),
            FieldDef("IsActive", "boolean", "Active"),
            FieldDef("BudgetedCost", "currency", "Budgeted Cost in Campaign"),
            FieldDef("Description", "textarea"),
            _owner(),
        ],
    )
    campaign_member = ObjectDef(
        "CampaignMember",
        "00v",
        "Campaign Member",
        "Campaign Members",
        [
            *_system_fields(),
            FieldDef(
                "CampaignId", "reference", "Campaign ID", required=True, updateable=False, reference_to=("Campaign",)
            ),
            FieldDef("LeadId", "reference", "Lead ID", updateable=False, reference_to=("Lead",)),
            FieldDef("ContactId", "reference", "Contact ID", updateable=False, reference_to=("Contact",)),
            FieldDef("Status", "picklist", restricted=False, picklist=("Sent", "Responded")),
            FieldDef("HasResponded", "boolean", "Responded", createable=False, updateable=False),
            FieldDef("FirstRespondedDate", "date", "First Responded Date", createable=False, updateable=False),
        ],
        flags={"undeletable": False, "feedEnabled": False, "mruEnabled": False, "layoutable": True},
    )
    case = ObjectDef(
        "Case",
        "500",
        "Case",
        "Cases",
        [
            *_system_fields(),
            FieldDef(
                "CaseNumber",
                "string",
                "Case Number",
                length=30,
                auto_number=True,
                id_lookup=True,
                createable=False,
                updateable=False,
            ),
            FieldDef("Subject", "string", length=255),
            FieldDef("Status", "picklist", picklist=CASE_STATUSES, default="New"),
            FieldDef("Priority", "picklist", picklist=CASE_PRIORITIES, default="Medium"),
            FieldDef("Origin", "picklist", "Case Origin", picklist=CASE_ORIGINS),
            FieldDef("ContactId", "reference", "Contact ID", reference_to=("Contact",)),
            FieldDef("AccountId", "reference", "Account ID", reference_to=("Account",)),
            FieldDef("IsClosed", "boolean", "Closed", compute=lambda record: record.get("Status") == "Closed"),
            FieldDef("Description", "textarea"),
            _owner(),
        ],
        flags={"mergeable": True},
    )
    contact_role = ObjectDef(
        "OpportunityContactRole",
        "00K",
        "Opportunity Contact Role",
        "Opportunity Contact Role",
        [
            *_system_fields(),
            FieldDef(
                "OpportunityId",
                "reference",
                "Opportunity ID",
                required=True,
                updateable=False,
                reference_to=("Opportunity",),
            ),
            FieldDef("ContactId", "reference", "Contact ID", required=True, reference_to=("Contact",)),
            FieldDef(
                "Role",
                "picklist",
                restricted=False,
                picklist=("Business User", "Decision Maker", "Economic Buyer", "Technical Buyer", "Other"),
            ),
            FieldDef("IsPrimary", "boolean", "Primary"),
        ],
        flags={"feedEnabled": False, "mruEnabled": False, "searchable": False},
    )
    return [user, account, contact, lead, opportunity, task, event, campaign, campaign_member, case, contact_role]

"""An in-memory Salesforce org: records of the standard objects, their metadata, and the write rules that bite.

Rows are tuples in the object's field order and are replaced, never mutated, on every write. That keeps 100k
contacts compact and makes a snapshot (a list of row references) stable for query cursors and bulk results.
Every public mutation behaves like an API write: it validates, coerces and stamps `LastModifiedDate` and
`SystemModstamp` from the injectable clock, at second precision, so tests can pile many writes into one second.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from roster_dev.emulators.salesforce.errors import SalesforceError
from roster_dev.emulators.salesforce.schema import (
    COMPOUND_TYPES,
    ID_TYPES,
    NUMBER_TYPES,
    STAGES,
    TEXT_TYPES,
    FieldDef,
    FieldType,
    ObjectDef,
    format_datetime,
    geolocation,
    make_id,
    parse_date,
    parse_datetime,
    parse_time,
    standard_objects,
    to_18,
)
from roster_dev.emulators.salesforce.soql import QueryResult, Row, execute
from roster_dev.emulators.salesforce.versions import LATEST

Clock = Callable[[], datetime]
#: A validation rule sees the object name and the record as it would be after the write (canonical field
#: names); it returns an error message to reject the write, or None.
ValidationRule = Callable[[str, Mapping[str, Any]], str | None]

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_STAGES = {name: (probability, closed, won) for name, probability, closed, won in STAGES}
ORG_ID = "00D5e0000000RSTEAU"


class ManualClock:
    """A clock tests move by hand, so many writes can share one `SystemModstamp` second."""

    def __init__(self, start: datetime | None = None) -> None:
        self.moment = (start or datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC)).astimezone(UTC)

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, seconds: float = 1.0) -> datetime:
        """Move forward and return the new time."""
        self.moment += timedelta(seconds=seconds)
        return self.moment

    def set(self, moment: datetime) -> None:
        """Jump to a given time (naive means UTC)."""
        self.moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def system_clock() -> datetime:
    """The default clock: real UTC time."""
    return datetime.now(UTC)


@dataclass
class LeadConversion:
    """What `convertLead` reports: the lead and the contact and account it now points at."""

    lead_id: str
    contact_id: str
    account_id: str


@dataclass
class _Table:
    schema: ObjectDef
    rows: dict[str, Row] = field(default_factory=dict)
    deleted_log: list[tuple[str, str]] = field(default_factory=list)
    # lower-cased field name -> lower-cased value -> ids of live records (external id and unique fields)
    indexes: dict[str, dict[str, set[str]]] = field(default_factory=dict)
    counter: int = 0


@dataclass
class _Rule:
    obj: str
    check: ValidationRule
    field: str | None


class SalesforceOrg:
    """A thread-safe in-memory org. Public mutations are API writes; `load_rows` is the generator's fast path."""

    def __init__(self, clock: Clock | None = None, *, api_user_name: str = "integration@roster.test") -> None:
        self.clock: Clock = clock or system_clock
        self.org_id = ORG_ID
        self._lock = threading.RLock()
        self._tables: dict[str, _Table] = {}
        self._by_prefix: dict[str, _Table] = {}
        self._rules: list[_Rule] = []
        for definition in standard_objects():
            self._register(definition)
        self.api_user_id = make_id("005", 1)
        self._insert_unchecked(
            "User",
            {
                "Username": api_user_name,
                "FirstName": "Integration",
                "LastName": "User",
                "Email": api_user_name,
                "IsActive": True,
            },
        )

    # -- metadata ---------------------------------------------------------------------------------------

    def _register(self, definition: ObjectDef) -> None:
        table = _Table(definition)
        for spec in definition.fields:
            if spec.external_id or spec.unique:
                table.indexes[spec.name.lower()] = {}
        self._tables[definition.name.lower()] = table
        self._by_prefix[definition.key_prefix] = table

    @property
    def object_names(self) -> list[str]:
        """Names of every object the org knows."""
        return [table.schema.name for table in self._tables.values()]

    def object_def(self, name: str) -> ObjectDef | None:
        """An object's metadata by case-insensitive name."""
        table = self._tables.get(name.lower())
        return table.schema if table else None

    def _table(self, name: str) -> _Table:
        table = self._tables.get(name.lower())
        if table is None:
            raise SalesforceError(
                "NOT_FOUND", f"The requested resource does not exist: sObject type '{name}'", status=404
            )
        return table

    def add_custom_field(
        self,
        obj: str,
        name: str,
        type: FieldType = "string",
        *,
        label: str = "",
        external_id: bool = False,
        unique: bool = False,
        picklist: tuple[str, ...] = (),
        restricted: bool = True,
        length: int = 0,
        reference_to: tuple[str, ...] = (),
    ) -> FieldDef:
        """Add a custom field (`Roster_Id__c` as an external id, a checkbox, a picklist, a geolocation...) to every
        row; a `location` field brings its `__Latitude__s` and `__Longitude__s` components."""
        if not name.endswith("__c"):
            raise ValueError("custom field names end with __c")
        if type == "address":
            raise ValueError("address fields are standard; add a geolocation (location) field instead")
        definitions = (
            geolocation(name, label or name.removesuffix("__c").replace("_", " "))
            if type == "location"
            else [
                FieldDef(
                    name,
                    type,
                    label,
                    length=length,
                    external_id=external_id,
                    unique=unique,
                    custom=True,
                    picklist=picklist,
                    restricted=restricted,
                    reference_to=reference_to,
                )
            ]
        )
        with self._lock:
            table = self._table(obj)
            existing = table.schema.field(name)
            if existing is not None:
                return existing
            for definition in definitions:
                table.schema.append(definition)
            fill = tuple(definition.default for definition in definitions)
            table.rows = {record_id: (*row, *fill) for record_id, row in table.rows.items()}
            if external_id or unique:
                table.indexes[name.lower()] = {}
        return definitions[-1]

    def add_validation_rule(self, obj: str, check: ValidationRule, *, field: str | None = None) -> None:
        """Reject API writes with `FIELD_CUSTOM_VALIDATION_EXCEPTION` when `check` returns a message."""
        with self._lock:
            self._rules.append(_Rule(self._table(obj).schema.name, check, field))

    def clear_validation_rules(self) -> None:
        """Drop every validation rule."""
        with self._lock:
            self._rules.clear()

    def describe(self, obj: str, api_version: str = LATEST) -> dict[str, Any]:
        """`sobjects/{O}/describe`."""
        return self._table(obj).schema.describe(api_version)

    def describe_global(self, api_version: str = LATEST) -> dict[str, Any]:
        """`sobjects/`."""
        return {
            "encoding": "UTF-8",
            "maxBatchSize": 200,
            "sobjects": [table.schema.summary(api_version) for table in self._tables.values()],
        }

    # -- reading ----------------------------------------------------------------------------------------

    def now(self) -> str:
        """The clock, truncated to the second, in Salesforce's datetime format."""
        return format_datetime(self.clock().replace(microsecond=0))

    def snapshot(self, obj: ObjectDef, include_deleted: bool) -> list[Row]:
        """Rows in creation order; deleted ones only for queryAll (and only while in the recycle bin)."""
        with self._lock:
            rows = list(self._table(obj.name).rows.values())
        if include_deleted:
            return rows
        deleted = obj.index("IsDeleted")
        return [row for row in rows if not row[deleted]]  # type: ignore[index]

    def find(self, record_id: str) -> tuple[ObjectDef, Row] | None:
        """Any record by id (15 or 18 chars), whatever its object, including the recycle bin."""
        normalized = to_18(record_id)
        if normalized is None:
            return None
        table = self._by_prefix.get(normalized[:3])
        if table is None:
            return None
        row = table.rows.get(normalized)
        return None if row is None else (table.schema, row)

    def get(self, obj: str, record_id: str, *, include_deleted: bool = False) -> dict[str, Any] | None:
        """A record as a dict of canonical field names, or None."""
        table = self._table(obj)
        normalized = to_18(record_id)
        row = table.rows.get(normalized) if normalized else None
        if row is None or (row[1] and not include_deleted):
            return None
        return dict(zip((spec.name for spec in table.schema.fields), row, strict=False))

    def records(self, obj: str, *, include_deleted: bool = False) -> Iterator[dict[str, Any]]:
        """Every record of an object as dicts (a snapshot; safe while others write)."""
        table = self._table(obj)
        names = [spec.name for spec in table.schema.fields]
        for row in self.snapshot(table.schema, include_deleted):
            yield dict(zip(names, row, strict=False))

    def count(self, obj: str, *, include_deleted: bool = False) -> int:
        """Number of records (live only unless asked)."""
        table = self._table(obj)
        with self._lock:
            if include_deleted:
                return len(table.rows)
            return sum(1 for row in table.rows.values() if not row[1])

    def run_query(self, soql: str, include_deleted: bool = False) -> QueryResult:
        """Evaluate SOQL against the org."""
        return execute(self, soql, include_deleted)

    def query(self, soql: str, include_deleted: bool = False) -> list[dict[str, Any]]:
        """SOQL for in-process callers: flat dicts keyed by dotted column name."""
        result = self.run_query(soql, include_deleted)
        return [result.flat(row) for row in result.rows]

    def deleted_since(self, obj: str, start: str, end: str) -> list[tuple[str, str]]:
        """`(id, deletedDate)` of deletes in `[start, end]` (canonical datetimes), even after the bin is emptied."""
        table = self._table(obj)
        with self._lock:
            return [(record_id, when) for record_id, when in table.deleted_log if start <= when <= end]

    def updated_since(self, obj: str, start: str, end: str) -> list[str]:
        """Ids of live records whose `SystemModstamp` falls in `[start, end]`."""
        table = self._table(obj)
        stamp = table.schema.index("SystemModstamp")
        with self._lock:
            return [key for key, row in table.rows.items() if not row[1] and start <= row[stamp] <= end]  # type: ignore[index]

    def find_by_external_id(self, obj: str, field_name: str, value: str) -> list[str]:
        """Live record ids whose external id (or other indexed) field equals `value`, case-insensitively."""
        table = self._table(obj)
        with self._lock:
            if field_name.lower() == "id":
                normalized = to_18(value)
                row = table.rows.get(normalized) if normalized else None
                return [normalized] if row is not None and normalized and not row[1] else []
            index = table.indexes.get(field_name.lower())
            if index is not None:
                return sorted(index.get(value.strip().lower(), set()))
            spec = table.schema.field(field_name)
            position = table.schema.index(field_name)
            if spec is None or position is None or not spec.id_lookup:
                raise SalesforceError(
                    "INVALID_FIELD",
                    f"Field name provided, {field_name} is not an External ID or indexed field for {table.schema.name}",
                )
            # Standard lookup fields (Email, Name) have no index here: scan, as rarely as Salesforce lets you.
            wanted = value.strip().lower()
            return [
                key
                for key, row in table.rows.items()
                if not row[1] and row[position] is not None and str(row[position]).strip().lower() == wanted
            ]

    # -- coercion ---------------------------------------------------------------------------------------

    def coerce(self, spec: FieldDef, value: Any) -> Any:
        """A client value in the field's canonical stored form, or the error Salesforce gives for it."""
        if value is None or (isinstance(value, str) and value == "" and spec.type not in TEXT_TYPES):
            return False if spec.type == "boolean" else None
        kind = spec.type
        bad = SalesforceError(
            "INVALID_TYPE_ON_FIELD_IN_RECORD", f"{spec.label}: value not of required type: {value}", fields=[spec.name]
        )
        if kind in TEXT_TYPES:
            text = ";".join(map(str, value)) if isinstance(value, list | tuple) else str(value)
            if kind == "email":
                text = text.strip()
                if text and not _EMAIL.match(text):
                    raise SalesforceError(
                        "INVALID_EMAIL_ADDRESS", f"{spec.label}: invalid email address: {text}", fields=[spec.name]
                    )
            if len(text) > spec.length:
                raise SalesforceError(
                    "STRING_TOO_LONG",
                    f"{spec.label}: data value too large: {text[:40]}... (max length={spec.length})",
                    fields=[spec.name],
                )
            if text == "":
                return None
            chosen = [part.strip() for part in text.split(";") if part.strip()] if kind == "multipicklist" else [text]
            if kind in {"picklist", "multipicklist"} and spec.restricted and spec.picklist:
                for choice in chosen:
                    if choice not in spec.picklist:
                        raise SalesforceError(
                            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                            f"{spec.label}: bad value for restricted picklist field: {choice}",
                            fields=[spec.name],
                        )
            return ";".join(dict.fromkeys(chosen)) if kind == "multipicklist" else text
        if kind == "boolean":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().lower() in {"true", "1", "yes"}:
                return True
            if isinstance(value, str) and value.strip().lower() in {"false", "0", "no"}:
                return False
            raise bad
        if kind in NUMBER_TYPES:
            if isinstance(value, bool):
                raise bad
            try:
                number = float(value) if not isinstance(value, int | float) else value
            except ValueError:
                raise bad from None
            if kind == "int":
                if float(number) != int(number):
                    raise bad
                return int(number)
            return float(number)
        if kind == "date":
            if isinstance(value, datetime):
                return value.date().isoformat()
            if isinstance(value, date):
                return value.isoformat()
            parsed = parse_date(str(value))
            if parsed is None:
                raise bad
            return parsed
        if kind == "datetime":
            if isinstance(value, datetime):
                return format_datetime(value.replace(microsecond=0))
            parsed = parse_datetime(str(value))
            if parsed is None:
                raise bad
            return parsed
        if kind == "time":
            parsed = parse_time(str(value))
            if parsed is None:
                raise bad
            return parsed
        if kind in COMPOUND_TYPES:
            raise bad  # compound fields are read-only: _coerce_fields refuses them before this
        if kind in ID_TYPES:
            normalized = to_18(str(value).strip())
            if normalized is None:
                raise SalesforceError(
                    "MALFORMED_ID", f"{spec.label}: id value of incorrect type: {value}", fields=[spec.name]
                )
            if spec.reference_to:
                prefixes = {t.schema.key_prefix for name in spec.reference_to if (t := self._tables.get(name.lower()))}
                if normalized[:3] not in prefixes:
                    raise SalesforceError(
                        "FIELD_INTEGRITY_EXCEPTION",
                        f"{spec.label}: id value of incorrect type: {value}",
                        fields=[spec.name],
                    )
                found = self.find(normalized)
                if found is None:
                    raise SalesforceError(
                        "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", fields=[spec.name]
                    )
                if found[1][1]:
                    raise SalesforceError("ENTITY_IS_DELETED", "entity is deleted", fields=[spec.name])
            return normalized
        raise bad  # pragma: no cover - every FieldType is handled above

    def _coerce_fields(self, table: _Table, fields: Mapping[str, Any], creating: bool) -> dict[int, Any]:
        schema = table.schema
        changes: dict[int, Any] = {}
        forbidden: list[str] = []
        for name, value in fields.items():
            if name == "attributes":
                continue
            position = schema.index(name)
            if position is None:
                raise SalesforceError(
                    "INVALID_FIELD", f"No such column '{name}' on sobject of type {schema.name}", fields=[name]
                )
            spec = schema.fields[position]
            if spec.type == "id":
                continue
            if not (spec.createable if creating else spec.updateable):
                forbidden.append(spec.name)
                continue
            changes[position] = self.coerce(spec, value)
        if forbidden:
            verb = "create" if creating else "update"
            raise SalesforceError(
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                f"Unable to {verb}/update fields: {', '.join(forbidden)}. Please check the security settings of this "
                "field and verify that it is read/write for your profile or permission set.",
                fields=forbidden,
            )
        return changes

    # -- writing ----------------------------------------------------------------------------------------

    def _next_id(self, table: _Table) -> str:
        table.counter += 1
        return make_id(table.schema.key_prefix, table.counter)

    def _derive(self, schema: ObjectDef, row: list[Any]) -> None:
        """Fields Salesforce computes: full names, an opportunity's stage flags, formulas and compound fields."""
        name = schema.index("Name")
        first, last = schema.index("FirstName"), schema.index("LastName")
        if name is not None and first is not None and last is not None:
            row[name] = " ".join(part for part in (row[first], row[last]) if part) or None
        stage = schema.index("StageName")
        if stage is not None and row[stage] in _STAGES:
            probability, closed, won = _STAGES[row[stage]]
            row[schema.index("IsClosed")] = closed  # type: ignore[index]
            row[schema.index("IsWon")] = won  # type: ignore[index]
            position = schema.index("Probability")
            if position is not None and row[position] is None:
                row[position] = float(probability)
        schema.derive(row)

    def _check(self, table: _Table, row: list[Any], record_id: str | None) -> None:
        schema = table.schema
        missing = [
            spec.name for spec, value in zip(schema.fields, row, strict=False) if spec.required and value is None
        ]
        if missing:
            raise SalesforceError(
                "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", fields=missing
            )
        for key, index in table.indexes.items():
            spec = schema.field(key)
            value = row[schema.index(key)]  # type: ignore[index]
            if spec is None or not spec.unique or value is None:
                continue
            others = index.get(str(value).lower(), set()) - {record_id}
            if others:
                raise SalesforceError(
                    "DUPLICATE_VALUE",
                    f"duplicate value found: {spec.name} duplicates value on record with id: {min(others)}",
                    fields=[spec.name],
                )
        if self._rules:
            record = {spec.name: value for spec, value in zip(schema.fields, row, strict=False)}
            for rule in self._rules:
                if rule.obj != schema.name:
                    continue
                message = rule.check(schema.name, record)
                if message:
                    raise SalesforceError(
                        "FIELD_CUSTOM_VALIDATION_EXCEPTION", message, fields=[rule.field] if rule.field else []
                    )

    def _index(self, table: _Table, record_id: str, old: Row | None, new: Row | None) -> None:
        for key, index in table.indexes.items():
            position = table.schema.index(key)
            if position is None:
                continue
            before = old[position] if old is not None and not old[1] and position < len(old) else None
            after = new[position] if new is not None and not new[1] else None
            if before == after:
                continue
            if before is not None:
                ids = index.get(str(before).strip().lower())
                if ids is not None:
                    ids.discard(record_id)
                    if not ids:
                        del index[str(before).strip().lower()]
            if after is not None:
                index.setdefault(str(after).strip().lower(), set()).add(record_id)

    def _store(self, table: _Table, record_id: str, row: Row) -> None:
        old = table.rows.get(record_id)
        table.rows[record_id] = row
        if table.indexes:
            self._index(table, record_id, old, row)

    def _stamp(self, schema: ObjectDef, row: list[Any], stamp: str, *, created: bool, modified: bool = True) -> None:
        if created:
            row[schema.index("CreatedDate")] = stamp  # type: ignore[index]
            row[schema.index("CreatedById")] = self.api_user_id  # type: ignore[index]
        if modified:
            row[schema.index("LastModifiedDate")] = stamp  # type: ignore[index]
            row[schema.index("LastModifiedById")] = self.api_user_id  # type: ignore[index]
        row[schema.index("SystemModstamp")] = stamp  # type: ignore[index]

    def _insert_unchecked(self, obj: str, fields: Mapping[str, Any]) -> str:
        table = self._table(obj)
        schema = table.schema
        row: list[Any] = [spec.default for spec in schema.fields]
        for name, value in fields.items():
            row[schema.index(name)] = value  # type: ignore[index]
        record_id = self._next_id(table)
        row[0] = record_id
        row[1] = False
        owner = schema.index("OwnerId")
        if owner is not None and row[owner] is None:
            row[owner] = self.api_user_id
        self._derive(schema, row)
        self._stamp(schema, row, self.now(), created=True)
        self._store(table, record_id, tuple(row))
        return record_id

    def create(self, obj: str, fields: Mapping[str, Any]) -> str:
        """Insert a record as the API would; returns its 18-char id."""
        with self._lock:
            table = self._table(obj)
            schema = table.schema
            changes = self._coerce_fields(table, fields, creating=True)
            row: list[Any] = [spec.default for spec in schema.fields]
            for position, value in changes.items():
                row[position] = value
            row[1] = False
            owner = schema.index("OwnerId")
            if owner is not None and row[owner] is None:
                row[owner] = self.api_user_id
            self._derive(schema, row)
            self._check(table, row, None)
            record_id = self._next_id(table)
            row[0] = record_id
            for position, spec in enumerate(schema.fields):
                if spec.auto_number and row[position] is None:
                    row[position] = f"{table.counter:08d}"
            self._stamp(schema, row, self.now(), created=True)
            self._store(table, record_id, tuple(row))
            return record_id

    def _live_row(self, table: _Table, record_id: str) -> tuple[str, Row]:
        normalized = to_18(record_id)
        row = table.rows.get(normalized) if normalized else None
        if normalized is None or normalized[:3] != table.schema.key_prefix:
            raise SalesforceError("MALFORMED_ID", f"{table.schema.name} ID: id value of incorrect type: {record_id}")
        if row is None:
            raise SalesforceError("NOT_FOUND", "The requested resource does not exist", status=404)
        if row[1]:
            raise SalesforceError("ENTITY_IS_DELETED", "entity is deleted", status=404)
        return normalized, row

    def _guard_converted(self, table: _Table, row: Row) -> None:
        converted = table.schema.index("IsConverted")
        if table.schema.name == "Lead" and converted is not None and row[converted]:
            raise SalesforceError("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead")

    def update(self, obj: str, record_id: str, fields: Mapping[str, Any]) -> None:
        """Update a record as the API would (converted leads refuse with `CANNOT_UPDATE_CONVERTED_LEAD`)."""
        with self._lock:
            table = self._table(obj)
            normalized, old = self._live_row(table, record_id)
            self._guard_converted(table, old)
            changes = self._coerce_fields(table, fields, creating=False)
            row = list(old)
            for position, value in changes.items():
                row[position] = value
            self._derive(table.schema, row)
            self._check(table, row, normalized)
            self._stamp(table.schema, row, self.now(), created=False)
            self._store(table, normalized, tuple(row))

    def upsert(self, obj: str, external_field: str, value: str, fields: Mapping[str, Any]) -> tuple[str, bool]:
        """Update the record whose external id equals `value`, or create it; returns `(id, created)`."""
        with self._lock:
            table = self._table(obj)
            spec = table.schema.field(external_field)
            if spec is None or not (spec.external_id or spec.id_lookup):
                raise SalesforceError(
                    "INVALID_FIELD",
                    f"Field name provided, {external_field} is not an External ID or indexed field for "
                    f"{table.schema.name}",
                )
            matches = self.find_by_external_id(obj, spec.name, value) if value else []
            if len(matches) > 1:
                raise SalesforceError(
                    "DUPLICATE_EXTERNAL_ID",
                    f"{spec.name}: more than one record found for external id field: {matches}",
                    status=300,
                    fields=[spec.name],
                )
            body = {key: item for key, item in fields.items() if key.lower() != spec.name.lower()}
            if matches:
                self.update(obj, matches[0], body)
                return matches[0], False
            if spec.type == "id" and value:
                raise SalesforceError(
                    "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {value}", status=404
                )
            if spec.type != "id":
                body[spec.name] = value
            return self.create(obj, body), True

    def delete(self, obj: str, record_id: str) -> None:
        """Soft delete: the record moves to the recycle bin (`IsDeleted`), seen only by queryAll."""
        with self._lock:
            table = self._table(obj)
            normalized, old = self._live_row(table, record_id)
            row = list(old)
            row[1] = True
            stamp = self.now()
            self._stamp(table.schema, row, stamp, created=False)
            self._store(table, normalized, tuple(row))
            table.deleted_log.append((normalized, stamp))

    def undelete(self, obj: str, record_id: str) -> None:
        """Restore a record from the recycle bin."""
        with self._lock:
            table = self._table(obj)
            normalized = to_18(record_id) or ""
            old = table.rows.get(normalized)
            if old is None or not old[1]:
                raise SalesforceError("UNDELETE_FAILED", "Entity is not in the recycle bin")
            row = list(old)
            row[1] = False
            self._check(table, row, normalized)
            self._stamp(table.schema, row, self.now(), created=False)
            self._store(table, normalized, tuple(row))

    def empty_recycle_bin(self, obj: str | None = None) -> int:
        """Purge deleted records: queryAll no longer sees them, `sobjects/{O}/deleted` still does."""
        purged = 0
        with self._lock:
            tables = [self._table(obj)] if obj else list(self._tables.values())
            for table in tables:
                for record_id in [key for key, row in table.rows.items() if row[1]]:
                    del table.rows[record_id]
                    purged += 1
        return purged

    def touch(self, obj: str, record_id: str) -> None:
        """Move only `SystemModstamp`, as Salesforce's own background recalculations do."""
        with self._lock:
            table = self._table(obj)
            normalized, old = self._live_row(table, record_id)
            row = list(old)
            self._stamp(table.schema, row, self.now(), created=False, modified=False)
            self._store(table, normalized, tuple(row))

    def convert_lead(
        self, lead_id: str, contact_id: str | None = None, account_id: str | None = None
    ) -> LeadConversion:
        """Convert a lead: create (or reuse) the contact and account and mark the lead converted."""
        with self._lock:
            leads = self._table("Lead")
            normalized, lead_row = self._live_row(leads, lead_id)
            self._guard_converted(leads, lead_row)
            lead = dict(zip((spec.name for spec in leads.schema.fields), lead_row, strict=False))
            if contact_id is not None:
                contact = self.get("Contact", contact_id)
                if contact is None:
                    raise SalesforceError("INVALID_CROSS_REFERENCE_KEY", f"invalid contact id: {contact_id}")
                account_id = account_id or contact["AccountId"]
            if account_id is None:
                account_id = self.create("Account", {"Name": lead["Company"], "Website": lead.get("Website")})
            elif self.get("Account", account_id) is None:
                raise SalesforceError("INVALID_CROSS_REFERENCE_KEY", f"invalid account id: {account_id}")
            if contact_id is None:
                contact_fields = {
                    name: lead[name]
                    for name in ("FirstName", "LastName", "Email", "Title", "Phone", "LeadSource", "LinkedIn_URL__c")
                    if lead.get(name) is not None and self._table("Contact").schema.field(name) is not None
                }
                contact_id = self.create("Contact", {**contact_fields, "AccountId": account_id})
            else:
                contact_id = to_18(contact_id) or contact_id
                self.touch("Contact", contact_id)
            account_id = to_18(account_id) or account_id
            row = list(lead_row)
            schema = leads.schema
            row[schema.index("IsConverted")] = True  # type: ignore[index]
            row[schema.index("Status")] = "Closed - Converted"  # type: ignore[index]
            row[schema.index("ConvertedContactId")] = contact_id  # type: ignore[index]
            row[schema.index("ConvertedAccountId")] = account_id  # type: ignore[index]
            row[schema.index("ConvertedDate")] = self.now()[:10]  # type: ignore[index]
            self._stamp(schema, row, self.now(), created=False)
            self._store(leads, normalized, tuple(row))
            return LeadConversion(normalized, contact_id, account_id)

    # -- generator fast path ----------------------------------------------------------------------------

    def reserve_ids(self, obj: str, count: int) -> list[str]:
        """Allocate ids for rows that `load_rows` will store (the generator needs them before the rows)."""
        with self._lock:
            table = self._table(obj)
            return [self._next_id(table) for _ in range(count)]

    def load_rows(self, obj: str, rows: list[Row]) -> None:
        """Store prebuilt rows (field order, canonical values, `Id` first) without validation or stamping; formulas
        and compound fields are filled from the other fields, as Salesforce computes them."""
        with self._lock:
            table = self._table(obj)
            width = len(table.schema.fields)
            for row in rows:
                if len(row) != width:
                    raise ValueError(f"{obj} rows have {width} fields, got {len(row)}")
                derived = list(row)
                table.schema.derive(derived)
                self._store(table, row[0], tuple(derived))

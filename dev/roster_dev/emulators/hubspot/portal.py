"""An in-memory HubSpot portal: contacts, companies and deals, their properties, associations and merges.

Everything the server answers comes from here, and tests set the scene here directly (cheaply: `add_many`
creates thousands of records without HTTP, `bulk_edit` gives any number of records one modified time, the
clock is injectable). Values are stored as HubSpot returns them: strings, datetimes as ISO with milliseconds.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from roster_dev.emulators.hubspot.errors import HubSpotError, not_found, validation
from roster_dev.emulators.hubspot.schema import (
    MODIFIED,
    OBJECT_TYPES,
    PropertyDef,
    iso,
    standard_properties,
)
from roster_dev.emulators.salesforce.org import Clock, ManualClock, system_clock

__all__ = ["ASSOCIATION_TYPES", "Clock", "HubSpotPortal", "ManualClock", "Record"]

#: HubSpot-defined association type ids (Associations v4, "Association type ID values"): (from, to) ->
#: (primary, unlabeled). Deals to companies and contacts to companies have a "Primary" label.
ASSOCIATION_TYPES: dict[tuple[str, str], tuple[int, int]] = {
    ("contacts", "companies"): (1, 279),
    ("companies", "contacts"): (2, 280),
    ("deals", "contacts"): (3, 3),
    ("contacts", "deals"): (4, 4),
    ("deals", "companies"): (5, 341),
    ("companies", "deals"): (6, 342),
}
SINGULAR = {"contacts": "contact", "companies": "company", "deals": "deal"}
#: Object type ids clients may use instead of names (0-1 contacts, 0-2 companies, 0-3 deals).
TYPE_IDS = {"0-1": "contacts", "0-2": "companies", "0-3": "deals", "contact": "contacts", "company": "companies"}
TYPE_IDS |= {"deal": "deals"}
#: The portal's users who own records (`hubspot_owner_id`), as the owners API lists them.
OWNERS = (
    ("Jana", "Novak", "jana.novak@roster-demo.example"),
    ("Marcus", "Reid", "marcus.reid@roster-demo.example"),
    ("Aiko", "Sato", "aiko.sato@roster-demo.example"),
    ("Lena", "Brandt", "lena.brandt@roster-demo.example"),
)


@dataclass
class Record:
    """One CRM object; `properties` hold stored strings (no key means no value)."""

    id: int
    object_type: str
    properties: dict[str, str]
    created: datetime
    updated: datetime
    archived_at: datetime | None = None
    merged_into: int | None = None  # set on both records a merge replaced

    @property
    def archived(self) -> bool:
        return self.archived_at is not None


@dataclass
class _Links:
    """Associations of one record: to type -> to id -> association type ids."""

    by_type: dict[str, dict[int, set[int]]] = field(default_factory=dict)


class HubSpotPortal:
    """A HubSpot account (a "portal") and its CRM data, thread-safe for the server's request threads."""

    def __init__(
        self,
        *,
        portal_id: int = 46_020_262,
        domain: str = "roster-demo.hubspot.com",
        clock: Clock | None = None,
        owners: tuple[tuple[str, str, str], ...] = OWNERS,
    ) -> None:
        self.portal_id = portal_id
        self.domain = domain
        self.clock: Clock = clock or system_clock
        self.owner_people = owners  # (first name, last name, e-mail) by owner id order
        self.owners = tuple(str(52_550_153 + index) for index in range(len(owners)))
        self.lock = threading.RLock()
        self.records: dict[str, dict[int, Record]] = {object_type: {} for object_type in OBJECT_TYPES}
        self.properties: dict[str, dict[str, PropertyDef]] = {
            object_type: {p.name: p for p in standard_properties(object_type, self.owners)}
            for object_type in OBJECT_TYPES
        }
        self._links: dict[tuple[str, int], _Links] = {}
        self._ids: dict[str, list[int]] = {object_type: [] for object_type in OBJECT_TYPES}  # ascending
        self._unique: dict[tuple[str, str], dict[str, int]] = {}  # (type, property) -> value -> id
        self._next_id = 1001

    # -- schema -----------------------------------------------------------------------------------------

    def object_type(self, name: str) -> str:
        """`contacts`, `companies` or `deals` from any name HubSpot accepts (plural, singular, `0-1`...)."""
        resolved = name if name in OBJECT_TYPES else TYPE_IDS.get(name)
        if resolved is None:
            raise HubSpotError("OBJECT_NOT_FOUND", f"Unable to infer object type from: {name}", status=400, context={})
        return resolved

    def property(self, object_type: str, name: str) -> PropertyDef:
        definition = self.properties[object_type].get(name)
        if definition is None:
            raise HubSpotError(
                "OBJECT_NOT_FOUND",
                f"Unable to find property {name} for object type {object_type}",
                status=404,
            )
        return definition

    def add_property(self, object_type: str, definition: PropertyDef) -> PropertyDef:
        """A custom property (`hubspotDefined` false, writable); HubSpot refuses a name already in use."""
        with self.lock:
            if definition.name in self.properties[object_type]:
                raise HubSpotError(
                    "OBJECT_ALREADY_EXISTS",
                    f"A property named '{definition.name}' already exists.",
                    status=409,
                    sub_category="PropertyValidationError.PROPERTY_NAME_ALREADY_EXISTS",
                )
            definition.hubspot_defined = False
            definition.created_at = self.clock()
            self.properties[object_type][definition.name] = definition
            return definition

    # -- records ----------------------------------------------------------------------------------------

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def validated(self, object_type: str, values: Mapping[str, Any]) -> dict[str, str]:
        """Normalised values, or one VALIDATION_ERROR listing every refused property as HubSpot does."""
        problems: list[dict[str, Any]] = []
        clean: dict[str, str] = {}
        for name, raw in values.items():
            definition = self.properties[object_type].get(name)
            if definition is None:
                problems.append(
                    {
                        "isValid": False,
                        "message": f'Property "{name}" does not exist',
                        "error": "PROPERTY_DOESNT_EXIST",
                        "name": name,
                        "localizedErrorMessage": f'Property "{name}" does not exist',
                    }
                )
                continue
            if definition.read_only or definition.calculated:
                problems.append(
                    {
                        "isValid": False,
                        "message": f"{name} is a read only property; its value cannot be set.",
                        "error": "READ_ONLY_VALUE",
                        "name": name,
                    }
                )
                continue
            try:
                clean[name] = definition.normalise(raw)
            except ValueError as error:
                problems.append({"isValid": False, "message": str(error), "error": "INVALID_OPTION", "name": name})
        if problems:
            summary = ",".join(str(problem) for problem in problems)
            raise HubSpotError(
                "VALIDATION_ERROR",
                f"Property values were not valid: [{summary}]",
                errors=[
                    {"message": problem["message"], "code": problem["error"], "context": {"propertyName": [name]}}
                    for problem in problems
                    for name in [problem["name"]]
                ],
            )
        return clean

    def _check_unique(self, object_type: str, values: Mapping[str, str], own_id: int | None) -> None:
        for name, value in values.items():
            if not value or not self.properties[object_type][name].has_unique_value:
                continue
            existing = self.find(object_type, name, value)
            if existing is not None and existing.id != own_id:
                noun = SINGULAR[object_type].title()
                message = (
                    f"{noun} already exists. Existing ID: {existing.id}"
                    if name == "email"
                    else f"A {SINGULAR[object_type]} with the unique value {value!r} for {name} already exists."
                )
                raise HubSpotError("CONFLICT", message, status=409, extra={"existingId": str(existing.id)})

    def _stamp(self, record: Record, moment: datetime) -> None:
        record.updated = moment
        record.properties[MODIFIED[record.object_type]] = iso(moment)

    def create(self, object_type: str, values: Mapping[str, Any], *, at: datetime | None = None) -> Record:
        """A new record (validated, unique values enforced), stamped with the clock's time."""
        with self.lock:
            clean = self.validated(object_type, values)
            self._check_unique(object_type, clean, None)
            return self._insert(object_type, clean, at or self.clock())

    def _insert(self, object_type: str, clean: dict[str, str], moment: datetime) -> Record:
        record_id = self._new_id()
        properties = {key: value for key, value in clean.items() if value != ""}
        properties |= {"hs_object_id": str(record_id), "createdate": iso(moment)}
        record = Record(record_id, object_type, properties, moment, moment)
        self._stamp(record, moment)
        self._derive(record)
        self.records[object_type][record_id] = record
        self._ids[object_type].append(record_id)
        self._index(record)
        return record

    def _index(self, record: Record) -> None:
        """Remember the record's unique values, so lookups by e-mail stay fast in a big portal."""
        for name, value in record.properties.items():
            if self.properties[record.object_type][name].has_unique_value:
                key = value.lower() if name == "email" else value
                self._unique.setdefault((record.object_type, name), {})[key] = record.id

    def add(self, object_type: str, values: Mapping[str, str], *, at: datetime | None = None) -> Record:
        """Create one record without validation, optionally at another time (the generator's fast path)."""
        with self.lock:
            return self._insert(object_type, dict(values), at or self.clock())

    def add_many(
        self, object_type: str, count: int, values: Callable[[int], Mapping[str, str]], *, at: datetime | None = None
    ) -> list[Record]:
        """Create `count` records at one time without HTTP or validation (big tests' fast path)."""
        with self.lock:
            moment = at or self.clock()
            return [self._insert(object_type, dict(values(index)), moment) for index in range(count)]

    def update(self, object_type: str, record_id: int, values: Mapping[str, Any]) -> Record:
        with self.lock:
            record = self.get(object_type, record_id)
            clean = self.validated(object_type, values)
            self._check_unique(object_type, clean, record.id)
            for name, value in clean.items():
                if value == "":
                    record.properties.pop(name, None)
                else:
                    record.properties[name] = value
            self._stamp(record, self.clock())
            self._derive(record)
            self._index(record)
            return record

    def bulk_edit(self, object_type: str, ids: Iterable[int], values: Mapping[str, str]) -> datetime:
        """Set the same values on many records at one instant, as a bulk edit or an import does; returns it."""
        with self.lock:
            moment = self.clock()
            for record_id in ids:
                record = self.records[object_type][record_id]
                record.properties.update({key: value for key, value in values.items()})
                self._stamp(record, moment)
                self._derive(record)
                self._index(record)
            return moment

    def _derive(self, record: Record) -> None:
        """Calculated values HubSpot keeps up to date itself."""
        props = record.properties
        if record.object_type == "contacts" and "email" in props:
            props["hs_email_domain"] = props["email"].rpartition("@")[2].lower()
        if record.object_type == "deals":
            stage = props.get("dealstage", "")
            props["hs_is_closed"] = "true" if stage in {"closedwon", "closedlost"} else "false"
            props["hs_is_closed_won"] = "true" if stage == "closedwon" else "false"

    def get(self, object_type: str, record_id: int | str, *, archived: bool = False) -> Record:
        """A record by id; a merged-away id answers with the record the merge made, as HubSpot does."""
        with self.lock:
            try:
                key = int(record_id)
            except (TypeError, ValueError):
                raise not_found(object_type, str(record_id)) from None
            record = self.records[object_type].get(key)
            seen = 0
            while record is not None and record.merged_into is not None and seen < 50:
                record = self.records[object_type].get(record.merged_into)
                seen += 1
            if record is None or record.archived != archived:
                raise not_found(object_type, str(record_id))
            return record

    def find(self, object_type: str, name: str, value: str) -> Record | None:
        """The live record whose `name` equals `value` (case-insensitively for e-mail, as HubSpot matches)."""
        with self.lock:
            if name == "hs_object_id":
                try:
                    return self.get(object_type, value)
                except HubSpotError:
                    return None
            wanted = value.lower() if name == "email" else value
            definition = self.properties[object_type].get(name)
            if definition is not None and definition.has_unique_value:
                found = self.records[object_type].get(self._unique.get((object_type, name), {}).get(wanted, 0))
                if found is None or found.archived or found.merged_into is not None:
                    return None
                kept = found.properties.get(name, "")
                return found if (kept.lower() if name == "email" else kept) == wanted else None
            for record in self.records[object_type].values():
                if record.archived or record.merged_into is not None:
                    continue
                stored = record.properties.get(name)
                if stored is not None and (stored.lower() if name == "email" else stored) == wanted:
                    return record
            return None

    def archive(self, object_type: str, record_id: int | str) -> Record:
        """Move a record to the recycle bin: gone from lists and search, listed with `archived=true`."""
        with self.lock:
            record = self.get(object_type, record_id)
            record.archived_at = self.clock()
            return record

    def live(self, object_type: str) -> list[Record]:
        """Records a list or search can return, in id order."""
        with self.lock:
            return [
                record
                for record in self.records[object_type].values()  # inserted in id order
                if not record.archived and record.merged_into is None
            ]

    def archived(self, object_type: str) -> list[Record]:
        with self.lock:
            return [
                record
                for record in self.records[object_type].values()
                if record.archived and record.merged_into is None
            ]

    def page(self, object_type: str, after: int, limit: int, *, archived: bool = False) -> list[Record]:
        """Up to `limit` records from id `after` on (live or archived), without walking the whole portal."""
        with self.lock:
            ids = self._ids[object_type]
            found: list[Record] = []
            for record_id in ids[bisect.bisect_left(ids, after) :]:
                record = self.records[object_type][record_id]
                if record.archived == archived and record.merged_into is None:
                    found.append(record)
                    if len(found) == limit:
                        break
            return found

    # -- associations -----------------------------------------------------------------------------------

    def associate(self, from_type: str, from_id: int, to_type: str, to_id: int, *, primary: bool = True) -> None:
        """Link two records both ways with HubSpot's default types (and the "Primary" label when asked)."""
        with self.lock:
            for a_type, a_id, b_type, b_id in (
                (from_type, from_id, to_type, to_id),
                (to_type, to_id, from_type, from_id),
            ):
                labelled, unlabelled = ASSOCIATION_TYPES[(a_type, b_type)]
                types = {unlabelled} | ({labelled} if primary else set())
                links = self._links.setdefault((a_type, a_id), _Links())
                links.by_type.setdefault(b_type, {}).setdefault(b_id, set()).update(types)
            if primary and (from_type, to_type) == ("contacts", "companies"):
                self.records["contacts"][from_id].properties["associatedcompanyid"] = str(to_id)

    def associations(self, from_type: str, from_id: int, to_type: str) -> dict[int, set[int]]:
        """Live associated ids of `to_type` with their association type ids."""
        with self.lock:
            links = self._links.get((from_type, from_id))
            found = dict(links.by_type.get(to_type, {})) if links else {}
            return {
                to_id: set(types)
                for to_id, types in sorted(found.items())
                if (record := self.records[to_type].get(to_id)) is not None
                and not record.archived
                and record.merged_into is None
            }

    # -- merges -----------------------------------------------------------------------------------------

    def merge(self, object_type: str, primary_id: int | str, merged_id: int | str) -> Record:
        """Merge two records into a new one with a new id, as HubSpot does since 2024 for every object type.

        ("Updated merge functionality for contacts and companies", HubSpot developer changelog.) The primary's
        values win, the other's fill its blanks; associations of both move over; `hs_merged_object_ids` lists
        both old ids (and ids they had absorbed); a contact keeps the other's address in `hs_additional_emails`;
        both old ids keep answering GET with the new record.
        """
        with self.lock:
            primary = self.get(object_type, primary_id)
            other = self.get(object_type, merged_id)
            if primary.id == other.id:
                raise validation("Cannot merge an object with itself")
            moment = self.clock()
            values = {**other.properties, **primary.properties}
            previous = [
                *values_of(primary.properties.get("hs_merged_object_ids")),
                *values_of(other.properties.get("hs_merged_object_ids")),
            ]
            merged_ids = sorted({*previous, str(primary.id), str(other.id)}, key=int)
            values["hs_merged_object_ids"] = ";".join(merged_ids)
            values["createdate"] = iso(min(primary.created, other.created))
            if object_type == "contacts":  # the other record's address stays findable on the merged one
                extra = [
                    *values_of(primary.properties.get("hs_additional_emails")),
                    *values_of(other.properties.get("hs_additional_emails")),
                    other.properties.get("email", ""),
                ]
                kept = [email for email in dict.fromkeys(extra) if email and email != values.get("email")]
                if kept:
                    values["hs_additional_emails"] = ";".join(kept)
            survivor = self._insert(object_type, {}, moment)
            survivor.properties |= {
                key: value for key, value in values.items() if key not in {"hs_object_id", MODIFIED[object_type]}
            }
            survivor.created = min(primary.created, other.created)
            self._index(survivor)
            for old in (primary, other):
                old.merged_into = survivor.id
                links = self._links.pop((object_type, old.id), None)
                if links is None:
                    continue
                for to_type, targets in links.by_type.items():
                    for to_id, types in targets.items():
                        mine = self._links.setdefault((object_type, survivor.id), _Links())
                        mine.by_type.setdefault(to_type, {}).setdefault(to_id, set()).update(types)
                        theirs = self._links.setdefault((to_type, to_id), _Links()).by_type.setdefault(object_type, {})
                        theirs.setdefault(survivor.id, set()).update(theirs.pop(old.id, set()))
            self._derive(survivor)
            return survivor


def values_of(stored: str | None) -> list[str]:
    """A multi-value property's values (`a;b;c`)."""
    return [part for part in (stored or "").split(";") if part]

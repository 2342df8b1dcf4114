"""Field mapping every connector shares: an external field → a Roster field, and its export rule.

Each system's adapter describes its objects and builds these (its own standard pairs, types and checks); the
core keeps the vocabulary the import reads and the export planner (`planner.py`) writes by, and the name
similarity auto-map falls back on, so every CRM maps fields the same way.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from roster.profiles.fields import FIELD_NAME, FieldType, Kind
from roster.profiles.values import ValueProblem, coerce_value

SIMILARITY = 0.85


class ExportRule(StrEnum):
    """Whether export may write a field back to the CRM (DESIGN.md, invariant 6)."""

    NEVER = "never"
    ALWAYS = "always"
    FILL_BLANK = "fill_blank"


class FieldMapping(BaseModel):
    """One external field: the Roster field it imports into, and whether export may write it back.

    With `segment`, export writes the segment's membership there instead (a checkbox set true, or
    `member_value`, on entry; cleared on exit); the import still reads the field, so export knows what
    the CRM holds. `sf_type` is the CRM's type of the field (its stored name predates other CRMs)."""

    field: str
    export: ExportRule = ExportRule.NEVER
    sf_type: str = "string"
    segment: str | None = None
    member_value: str | None = None


@dataclass(frozen=True)
class ObjectSpec:
    """What an object becomes in Roster: the kind it feeds, the fields it may map to, its standard pairs."""

    kind: Kind | None  # None: the object feeds related data (deals, opportunities) or roll-ups (activities)
    targets: Mapping[str, FieldType]
    pairs: Mapping[str, str]
    open_targets: bool  # True: any valid field name may be added as a custom field

    def check_target(self, obj: str, name: str, target: str, derived: Iterable[str]) -> None:
        """The Roster field a manual mapping names for `obj.name`: not one the sync computes (`derived`), one the
        object keeps (unless it takes custom fields) and a valid field name; else a MappingError saying which."""
        if target in derived:
            raise MappingError(f"{target!r} is computed by the sync and cannot be mapped (from {obj}.{name})")
        if not self.open_targets and target not in self.targets:
            allowed = ", ".join(sorted(self.targets))
            raise MappingError(f"{obj}.{name}: {target!r} is not one of the {obj} fields Roster keeps ({allowed})")
        if not FIELD_NAME.match(target):
            raise MappingError(f"{obj}.{name}: {target!r} is not a valid field name (lower_snake_case)")

    @staticmethod
    def check_distinct(obj: str, fields: Mapping[str, FieldMapping], word: str) -> None:
        """No two external fields (`word`: "Salesforce field") may map to one Roster field."""
        targets = [mapping.field for mapping in fields.values()]
        duplicates = sorted({target for target in targets if targets.count(target) > 1})
        if duplicates:
            raise MappingError(f"{obj}: more than one {word} maps to {', '.join(duplicates)}")


class MappingError(ValueError):
    """A mapping that cannot be saved, naming the field at fault."""

    @classmethod
    def unknown(cls, what: str, name: str, available: Iterable[str]) -> MappingError:
        """`what` (e.g. "Salesforce Contact has no field") about `name`, with the closest name there is."""
        near = difflib.get_close_matches(name, list(available), n=1)
        return cls(f"{what} {name!r}" + (f" (did you mean {near[0]!r}?)" if near else ""))


def mapped_values(
    obj: str,
    kind: Kind | None,
    fields: Mapping[str, FieldMapping],
    row: Mapping[str, Any],
    read_value: Callable[[str, Any], Any],
) -> tuple[dict[str, Any], list[str]]:
    """The mapped values of one CRM record (`read_value` turns the CRM's value of a type into Python) and the
    problems of values that were dropped. A value that cannot be stored (a malformed e-mail, say) drops that field,
    not the whole record, so one bad field in a CRM never hides a contact. Fields of people and companies come back
    canonical."""
    values: dict[str, Any] = {}
    problems: list[str] = []
    for name, field in fields.items():
        if name not in row:
            continue
        try:
            value = read_value(field.sf_type, row[name])
            if kind is not None and value is not None:
                value = coerce_value(kind, field.field, value)
        except (ValueError, ValueProblem) as problem:
            problems.append(f"{obj}.{name}: {problem}")
            continue
        values[field.field] = value
    return values, problems


def exported_fields(fields: Mapping[str, FieldMapping]) -> dict[str, FieldMapping]:
    """The mapped fields export may write (rule not *never*), by external field name."""
    return {name: field for name, field in fields.items() if field.export is not ExportRule.NEVER}


def closest(texts: Iterable[str], candidates: list[str]) -> str | None:
    """The candidate most similar to any of `texts` (an external field's name or label), if close enough."""
    best, score = None, 0.0
    for text in texts:
        for target in difflib.get_close_matches(text, candidates, n=1, cutoff=SIMILARITY):
            ratio = difflib.SequenceMatcher(None, text, target).ratio()
            if ratio > score:
                best, score = target, ratio
    return best

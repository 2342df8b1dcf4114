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

from roster.profiles.fields import FieldType, Kind
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


class MappingError(ValueError):
    """A mapping that cannot be saved, naming the field at fault."""


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

"""CRM search (`POST /crm/v3/objects/{objectType}/search`) as "Search the CRM" documents it.

Up to 5 `filterGroups` (ORed) of up to 10 filters each (ANDed), 25 filters in all; one sort; 200 results a page;
`after` is an offset and paging stops at 10,000 results: asking for a page at or past it is a 400, while `total`
still counts every match. Datetime filters take epoch milliseconds (or ISO) strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from roster_dev.emulators.hubspot.errors import HubSpotError, validation
from roster_dev.emulators.hubspot.portal import HubSpotPortal, Record, values_of
from roster_dev.emulators.hubspot.schema import PropertyDef

MAX_GROUPS = 5
MAX_FILTERS_PER_GROUP = 10
MAX_FILTERS = 25
MAX_PAGE = 200
RESULT_CAP = 10_000
OPERATORS = {
    "EQ",
    "NEQ",
    "LT",
    "LTE",
    "GT",
    "GTE",
    "BETWEEN",
    "IN",
    "NOT_IN",
    "HAS_PROPERTY",
    "NOT_HAS_PROPERTY",
    "CONTAINS_TOKEN",
    "NOT_CONTAINS_TOKEN",
}
_QUERY_PROPERTIES = ("email", "firstname", "lastname", "phone", "company", "name", "domain", "website", "dealname")


@dataclass
class SearchPage:
    records: list[Record]
    total: int
    next_after: int | None


def _matches(record: Record, definition: PropertyDef, spec: dict[str, Any]) -> bool:
    operator = spec["operator"]
    stored = record.properties.get(definition.name)
    if operator == "HAS_PROPERTY":
        return stored is not None
    if operator == "NOT_HAS_PROPERTY":
        return stored is None
    if operator == "NEQ" and stored is None:
        return True
    if stored is None:
        return operator in {"NOT_IN", "NOT_CONTAINS_TOKEN"}
    if operator in {"CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"}:
        token = str(spec.get("value", "")).lower().strip("*")
        found = token in stored.lower()
        return found if operator == "CONTAINS_TOKEN" else not found
    have = _keys(definition, stored)
    if operator in {"IN", "NOT_IN"}:
        wanted = {_key(definition, str(value)) for value in spec.get("values") or []}
        hit = bool(have & wanted)
        return hit if operator == "IN" else not hit
    value = _key(definition, str(spec.get("value", "")))
    if operator == "BETWEEN":
        high = _key(definition, str(spec.get("highValue", "")))
        return any(value <= item <= high for item in have)
    checks = {
        "EQ": lambda item: item == value,
        "NEQ": lambda item: item != value,
        "LT": lambda item: item < value,
        "LTE": lambda item: item <= value,
        "GT": lambda item: item > value,
        "GTE": lambda item: item >= value,
    }
    if operator == "NEQ":
        return all(checks["NEQ"](item) for item in have)
    return any(checks[operator](item) for item in have)


def _key(definition: PropertyDef, text: str) -> Any:
    try:
        return definition.sort_key(text)
    except ValueError:
        raise validation(f"{text!r} is not a valid value for {definition.name} ({definition.type})") from None


def _keys(definition: PropertyDef, stored: str) -> set[Any]:
    parts = values_of(stored) if definition.type == "enumeration" else [stored]
    return {definition.sort_key(part) for part in parts}


def _parse_sort(sort: Any) -> tuple[str, bool]:
    if isinstance(sort, str):
        return sort.lstrip("-"), sort.startswith("-")
    if isinstance(sort, dict) and isinstance(sort.get("propertyName"), str):
        return sort["propertyName"], str(sort.get("direction", "ASCENDING")).upper() == "DESCENDING"
    raise validation(f"Invalid sort: {sort!r}")


def search(portal: HubSpotPortal, object_type: str, request: dict[str, Any]) -> SearchPage:
    """One page of a search; raises the 400s HubSpot answers for too many filters or paging past 10,000."""
    groups = request.get("filterGroups") or []
    if not isinstance(groups, list) or len(groups) > MAX_GROUPS:
        raise validation(f"Too many filter groups: {len(groups)} (max {MAX_GROUPS})")
    total_filters = sum(len(group.get("filters") or []) for group in groups)
    if total_filters > MAX_FILTERS:
        raise validation(f"Too many filters: {total_filters} across all filter groups (max {MAX_FILTERS})")
    compiled: list[list[tuple[PropertyDef, dict[str, Any]]]] = []
    for group in groups:
        filters = group.get("filters") or []
        if len(filters) > MAX_FILTERS_PER_GROUP:
            raise validation(f"Too many filters in a filter group: {len(filters)} (max {MAX_FILTERS_PER_GROUP})")
        clauses = []
        for spec in filters:
            operator = spec.get("operator")
            if operator not in OPERATORS:
                raise validation(f"Unsupported operator: {operator!r}")
            name = spec.get("propertyName")
            definition = portal.properties[object_type].get(str(name))
            if definition is None:
                raise HubSpotError(
                    "VALIDATION_ERROR",
                    f"There was a problem with the request. Property {name} does not exist",
                    context={"propertyName": [str(name)]},
                )
            clauses.append((definition, spec))
        compiled.append(clauses)
    limit = int(request.get("limit") or 10)
    if limit > MAX_PAGE or limit < 1:
        raise validation(f"limit must be between 1 and {MAX_PAGE}", limit=[str(limit)])
    try:
        after = int(request.get("after") or 0)
    except ValueError:
        raise validation(f"after must be a number: {request.get('after')!r}") from None
    if after + 1 > RESULT_CAP:
        raise HubSpotError(
            "VALIDATION_ERROR",
            f"There was a problem with the request. Cannot page beyond {RESULT_CAP} results (after={after}).",
        )
    query = str(request.get("query") or "").lower()
    matches = [
        record
        for record in portal.live(object_type)
        if (not compiled or any(all(_matches(record, d, s) for d, s in clauses) for clauses in compiled))
        and (not query or any(query in record.properties.get(p, "").lower() for p in _QUERY_PROPERTIES))
    ]
    sorts = request.get("sorts") or []
    if len(sorts) > 1:
        raise validation("Only one sort is supported")
    if sorts:
        name, descending = _parse_sort(sorts[0])
        definition = portal.property(object_type, name)
        present = [record for record in matches if name in record.properties]
        missing = [record for record in matches if name not in record.properties]
        present.sort(key=lambda record: (definition.sort_key(record.properties[name]), record.id), reverse=descending)
        matches = present + missing
    page = matches[after : min(after + limit, RESULT_CAP)]
    next_after = after + limit if after + limit < len(matches) else None
    return SearchPage(page, len(matches), next_after)

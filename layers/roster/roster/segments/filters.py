"""The filter tree of a segment, and its checks against the fields a workspace has.

A filter is a group of conditions and nested groups, each group with its own AND (`all`) or OR
(`any`). People filters may read their company's fields (`company.employee_count`); company
filters may ask whether any (or none) of their related records, such as opportunities, match a
group of their own. Each condition's operator must fit its field's type, and its value must fit
the operator; a problem is reported with the path of the node that has it.

Semantics every evaluator shares (the compiler and the reference evaluation in the tests):
text compares without regard to case; dates compare by calendar day; a negative operator
(`neq`, `not_in`, `not_contains`, `has_none`) is the exact negation of its positive one, so it
matches records where the field is empty.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from roster.profiles.fields import RELATED_FIELDS, STANDARD_FIELDS, FieldType, Kind

MAX_DEPTH = 8
MAX_NODES = 300
MAX_LIST_VALUES = 1000
MAX_TEXT_VALUE = 1000  # characters of one text value
MAX_FILTER_BYTES = 64 * 1024  # the whole filter as JSON: a segment is one DynamoDB item (at most 400 KB)
MAX_DAYS = 36_500
COMPANY_PREFIX = "company."


class Operator(StrEnum):
    EQ = "eq"
    NEQ = "neq"
    IN = "in"
    NOT_IN = "not_in"
    CONTAINS = "contains"
    NOT_CONTAINS = "not_contains"
    STARTS_WITH = "starts_with"
    IS_EMPTY = "is_empty"
    IS_NOT_EMPTY = "is_not_empty"
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    BETWEEN = "between"
    WITHIN_LAST_DAYS = "within_last_days"
    WITHIN_NEXT_DAYS = "within_next_days"
    HAS_ANY = "has_any"
    HAS_ALL = "has_all"
    HAS_NONE = "has_none"


Op = Operator
_EMPTINESS = {Op.IS_EMPTY, Op.IS_NOT_EMPTY}
OPERATORS: dict[FieldType, frozenset[Operator]] = {
    FieldType.STRING: frozenset(
        {Op.EQ, Op.NEQ, Op.IN, Op.NOT_IN, Op.CONTAINS, Op.NOT_CONTAINS, Op.STARTS_WITH} | _EMPTINESS
    ),
    FieldType.NUMBER: frozenset(
        {Op.EQ, Op.NEQ, Op.IN, Op.NOT_IN, Op.GT, Op.GTE, Op.LT, Op.LTE, Op.BETWEEN} | _EMPTINESS
    ),
    FieldType.DATE: frozenset(
        {Op.EQ, Op.NEQ, Op.GT, Op.GTE, Op.LT, Op.LTE, Op.BETWEEN, Op.WITHIN_LAST_DAYS, Op.WITHIN_NEXT_DAYS} | _EMPTINESS
    ),
    FieldType.BOOLEAN: frozenset({Op.EQ, Op.NEQ} | _EMPTINESS),
    FieldType.LIST: frozenset({Op.HAS_ANY, Op.HAS_ALL, Op.HAS_NONE} | _EMPTINESS),
    FieldType.RECORDS: frozenset(_EMPTINESS),
}
NEGATIONS: dict[Operator, Operator] = {
    Op.NEQ: Op.EQ,
    Op.NOT_IN: Op.IN,
    Op.NOT_CONTAINS: Op.CONTAINS,
    Op.HAS_NONE: Op.HAS_ANY,
}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Condition(Strict):
    """`field op value`, e.g. `{"field": "company.employee_count", "op": "gt", "value": 50}`."""

    field: str = Field(min_length=1, max_length=80)
    op: Operator
    value: Any = None


class Group(Strict):
    """Conditions and nested groups joined by AND (`all`) or OR (`any`)."""

    match: Literal["all", "any"] = "all"
    conditions: list[Node] = Field(default_factory=list, max_length=100)


class Related(Strict):
    """Whether any (or none) of a company's related records, e.g. opportunities, match `where`."""

    related: str = Field(min_length=1, max_length=80)
    quantifier: Literal["any", "none"] = "any"
    where: Group = Field(default_factory=Group)


def _node_tag(value: Any) -> str:
    if isinstance(value, dict):
        return (
            "related" if "related" in value else "group" if "conditions" in value or "match" in value else "condition"
        )
    return "related" if isinstance(value, Related) else "group" if isinstance(value, Group) else "condition"


Node = Annotated[
    Annotated[Condition, Tag("condition")] | Annotated[Group, Tag("group")] | Annotated[Related, Tag("related")],
    Discriminator(_node_tag),
]
Group.model_rebuild()


@dataclass(frozen=True)
class FieldCatalog:
    """The fields a filter may name: the kind's own, its company's (people) and its related records'."""

    kind: Kind
    fields: Mapping[str, FieldType]
    company: Mapping[str, FieldType] = field(default_factory=dict)
    related: Mapping[str, Mapping[str, FieldType]] = field(default_factory=dict)


def catalog_for(kind: Kind, custom: Mapping[Kind, Mapping[str, FieldType]] | None = None) -> FieldCatalog:
    """The standard fields plus the workspace's own (CRM-mapped, enriched, signal) fields."""
    custom = custom or {}
    company = {**STANDARD_FIELDS[Kind.COMPANIES], **custom.get(Kind.COMPANIES, {})}
    return FieldCatalog(
        kind=kind,
        fields={**STANDARD_FIELDS[kind], **custom.get(kind, {})},
        company=company if kind is Kind.PEOPLE else {},
        related=RELATED_FIELDS[kind],
    )


class FilterProblem(ValueError):
    """A filter that cannot be saved: `path` names the node, e.g. `conditions[1].value`; `too_large` when
    it is only its size."""

    def __init__(self, path: str, reason: str, *, too_large: bool = False) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason
        self.too_large = too_large


def check_filter(tree: Group, catalog: FieldCatalog) -> Group:
    """The filter with canonical values (trimmed, dates as days); raises FilterProblem."""
    counter = [0]
    checked = _check_group(tree, catalog, catalog.fields, "filter", 0, counter, inside_related=False)
    if len(checked.model_dump_json().encode()) > MAX_FILTER_BYTES:
        raise FilterProblem("filter", f"a filter is at most {MAX_FILTER_BYTES // 1024} KB as JSON", too_large=True)
    return checked


def _check_group(
    group: Group,
    catalog: FieldCatalog,
    fields: Mapping[str, FieldType],
    path: str,
    depth: int,
    counter: list[int],
    *,
    inside_related: bool,
) -> Group:
    if depth > MAX_DEPTH:
        raise FilterProblem(path, f"groups nest at most {MAX_DEPTH} deep")
    checked: list[Condition | Group | Related] = []
    for index, node in enumerate(group.conditions):
        counter[0] += 1
        where = f"{path}.conditions[{index}]"
        if counter[0] > MAX_NODES:
            raise FilterProblem(where, f"a filter has at most {MAX_NODES} conditions and groups")
        if isinstance(node, Group):
            checked.append(
                _check_group(node, catalog, fields, where, depth + 1, counter, inside_related=inside_related)
            )
        elif isinstance(node, Related):
            checked.append(_check_related(node, catalog, where, depth, counter, inside_related=inside_related))
        else:
            checked.append(_check_condition(node, catalog, fields, where, inside_related=inside_related))
    return Group(match=group.match, conditions=checked)


def _check_related(
    node: Related, catalog: FieldCatalog, path: str, depth: int, counter: list[int], *, inside_related: bool
) -> Related:
    if inside_related:
        raise FilterProblem(f"{path}.related", "related records cannot be nested inside related records")
    fields = catalog.related.get(node.related)
    if fields is None:
        known = ", ".join(sorted(catalog.related)) or "none"
        raise FilterProblem(f"{path}.related", f"{catalog.kind} have no related {node.related!r} (known: {known})")
    where = _check_group(node.where, catalog, fields, f"{path}.where", depth + 1, counter, inside_related=True)
    return Related(related=node.related, quantifier=node.quantifier, where=where)


def field_type_of(
    name: str, catalog: FieldCatalog, fields: Mapping[str, FieldType], *, inside_related: bool
) -> FieldType:
    """The type of a field a condition names; raises KeyError with the reason."""
    if name.startswith(COMPANY_PREFIX) and not inside_related:
        if catalog.kind is not Kind.PEOPLE:
            raise KeyError("only people filters can read company fields")
        company_field = name.removeprefix(COMPANY_PREFIX)
        if company_field not in catalog.company:
            raise KeyError(f"companies have no field {company_field!r}")
        return catalog.company[company_field]
    if name not in fields:
        owner = "these related records" if inside_related else str(catalog.kind)
        raise KeyError(f"{owner} have no field {name!r}")
    return fields[name]


def _check_condition(
    node: Condition, catalog: FieldCatalog, fields: Mapping[str, FieldType], path: str, *, inside_related: bool
) -> Condition:
    try:
        kind_of = field_type_of(node.field, catalog, fields, inside_related=inside_related)
    except KeyError as problem:
        raise FilterProblem(f"{path}.field", str(problem.args[0])) from None
    if node.op not in OPERATORS[kind_of]:
        allowed = ", ".join(sorted(OPERATORS[kind_of]))
        raise FilterProblem(f"{path}.op", f"{node.op} does not fit {kind_of} field {node.field!r} (use {allowed})")
    try:
        value = _check_value(node.op, kind_of, node.value)
    except ValueError as problem:
        raise FilterProblem(f"{path}.value", str(problem)) from None
    return Condition(field=node.field, op=node.op, value=value)


def _check_value(op: Operator, kind_of: FieldType, value: Any) -> Any:
    if op in _EMPTINESS:
        if value is not None:
            raise ValueError(f"{op} takes no value")
        return None
    if op in (Op.IN, Op.NOT_IN, Op.HAS_ANY, Op.HAS_ALL, Op.HAS_NONE):
        if not isinstance(value, list) or not value:
            raise ValueError(f"{op} needs a non-empty list of values")
        if len(value) > MAX_LIST_VALUES:
            raise ValueError(f"{op} takes at most {MAX_LIST_VALUES} values")
        item_type = FieldType.STRING if kind_of is FieldType.LIST else kind_of
        return sorted({_scalar(item_type, item) for item in value}, key=str)
    if op is Op.BETWEEN:
        if not isinstance(value, list) or len(value) != 2:
            raise ValueError("between needs [low, high]")
        low, high = _scalar(kind_of, value[0]), _scalar(kind_of, value[1])
        if low > high:
            raise ValueError(f"between needs low <= high, got {low!r} > {high!r}")
        return [low, high]
    if op in (Op.WITHIN_LAST_DAYS, Op.WITHIN_NEXT_DAYS):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_DAYS:
            raise ValueError(f"{op} needs a whole number of days from 0 to {MAX_DAYS}")
        return value
    return _scalar(kind_of, value)


def _scalar(kind_of: FieldType, value: Any) -> Any:
    if kind_of is FieldType.NUMBER:
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            raise ValueError(f"expected a number, got {value!r}")
        return value
    if kind_of is FieldType.BOOLEAN:
        if not isinstance(value, bool):
            raise ValueError(f"expected true or false, got {value!r}")
        return value
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected non-empty text, got {value!r}")
    if len(value) > MAX_TEXT_VALUE:
        raise ValueError(f"text values are at most {MAX_TEXT_VALUE} characters (got {len(value):,})")
    if kind_of is FieldType.DATE:
        try:
            return date.fromisoformat(value.strip()[:10]).isoformat()
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO 8601 date") from None
    return value.strip()


def referenced_fields(tree: Group) -> frozenset[str]:
    """Every field a filter reads (`company.x` for a company's, the relation's name for related records)."""
    names: set[str] = set()
    for node in tree.conditions:
        if isinstance(node, Group):
            names |= referenced_fields(node)
        elif isinstance(node, Related):
            names.add(node.related)
        else:
            names.add(node.field)
    return frozenset(names)


def uses_relative_dates(tree: Group) -> bool:
    """Whether membership moves with the calendar (a daily rebuild keeps it current)."""
    for node in tree.conditions:
        if isinstance(node, Group) and uses_relative_dates(node):
            return True
        if isinstance(node, Related) and uses_relative_dates(node.where):
            return True
        if isinstance(node, Condition) and node.op in (Op.WITHIN_LAST_DAYS, Op.WITHIN_NEXT_DAYS):
            return True
    return False

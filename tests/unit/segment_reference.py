"""A straightforward, recursive evaluation of a filter: the oracle the compiled predicate must agree with."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from roster.profiles.fields import FieldType, is_empty
from roster.segments.filters import (
    COMPANY_PREFIX,
    Condition,
    FieldCatalog,
    Group,
    Operator,
    Related,
    field_type_of,
)


def evaluate(
    tree: Group, catalog: FieldCatalog, fields: Mapping[str, Any], company: Mapping[str, Any], today: date
) -> bool:
    return _group(tree, catalog, catalog.fields, fields, company, today, inside=False)


def _group(
    group: Group,
    catalog: FieldCatalog,
    types: Mapping[str, FieldType],
    record: Mapping[str, Any],
    company: Mapping[str, Any],
    today: date,
    *,
    inside: bool,
) -> bool:
    results = []
    for node in group.conditions:
        if isinstance(node, Group):
            results.append(_group(node, catalog, types, record, company, today, inside=inside))
        elif isinstance(node, Related):
            related = record.get(node.related)
            rows = [row for row in related if isinstance(row, dict)] if isinstance(related, list) else []
            sub = catalog.related[node.related]
            found = any(_group(node.where, catalog, sub, row, company, today, inside=True) for row in rows)
            results.append(found if node.quantifier == "any" else not found)
        else:
            results.append(_condition(node, catalog, types, record, company, today, inside=inside))
    return all(results) if group.match == "all" else any(results)


def _condition(
    node: Condition,
    catalog: FieldCatalog,
    types: Mapping[str, FieldType],
    record: Mapping[str, Any],
    company: Mapping[str, Any],
    today: date,
    *,
    inside: bool,
) -> bool:
    kind_of = field_type_of(node.field, catalog, types, inside_related=inside)
    if node.field.startswith(COMPANY_PREFIX) and not inside:
        value = company.get(node.field[len(COMPANY_PREFIX) :])
    else:
        value = record.get(node.field)
    op, operand = node.op, node.value
    if op is Operator.IS_EMPTY:
        return is_empty(value)
    if op is Operator.IS_NOT_EMPTY:
        return not is_empty(value)
    negated = {Operator.NEQ: Operator.EQ, Operator.NOT_IN: Operator.IN, Operator.NOT_CONTAINS: Operator.CONTAINS}
    if op in negated:
        return not _positive(negated[op], kind_of, value, operand, today)
    if op is Operator.HAS_NONE:
        return not _positive(Operator.HAS_ANY, kind_of, value, operand, today)
    return _positive(op, kind_of, value, operand, today)


def _positive(op: Operator, kind_of: FieldType, value: Any, operand: Any, today: date) -> bool:
    if kind_of is FieldType.BOOLEAN:
        return isinstance(value, bool) and value == operand
    if kind_of is FieldType.LIST:
        if not isinstance(value, list):
            return False
        items = {str(item).casefold() for item in value}
        wanted = {str(item).casefold() for item in operand}
        return bool(items & wanted) if op is Operator.HAS_ANY else wanted <= items
    if kind_of is FieldType.NUMBER:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        subject: Any = value
    elif kind_of is FieldType.DATE:
        if not isinstance(value, str):
            return False
        day = date.fromisoformat(value[:10])
        if op is Operator.WITHIN_LAST_DAYS:
            return today - timedelta(days=operand) <= day <= today
        if op is Operator.WITHIN_NEXT_DAYS:
            return today <= day <= today + timedelta(days=operand)
        subject = day
        operand = [date.fromisoformat(x) for x in operand] if isinstance(operand, list) else date.fromisoformat(operand)
    else:
        if not isinstance(value, str):
            return False
        subject = value.casefold()
        operand = [x.casefold() for x in operand] if isinstance(operand, list) else operand.casefold()
    if op is Operator.EQ:
        return bool(subject == operand)
    if op is Operator.IN:
        return subject in operand
    if op is Operator.CONTAINS:
        return operand in subject
    if op is Operator.STARTS_WITH:
        return bool(subject.startswith(operand))
    if op is Operator.GT:
        return bool(subject > operand)
    if op is Operator.GTE:
        return bool(subject >= operand)
    if op is Operator.LT:
        return bool(subject < operand)
    if op is Operator.LTE:
        return bool(subject <= operand)
    if op is Operator.BETWEEN:
        return bool(operand[0] <= subject <= operand[1])
    raise AssertionError(f"unhandled operator {op}")

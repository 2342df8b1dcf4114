"""Compiling a checked filter once into one short-circuit Python expression over a profile.

A recursive interpreter walks the tree for every profile; generated code evaluates an order of
magnitude faster (DESIGN.md, "Notes from measurement"). Only operators from the allow-list below
and generated names reach the source text: field names and values are bound constants, so no
user text is ever pasted into code.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from roster.profiles.fields import FieldType, is_empty
from roster.segments.filters import (
    COMPANY_PREFIX,
    NEGATIONS,
    Condition,
    FieldCatalog,
    Group,
    Operator,
    Related,
    field_type_of,
    referenced_fields,
    uses_relative_dates,
)

Fields = Mapping[str, Any]
Predicate = Callable[[Fields, Fields], bool]
_NUMBER_TYPES = (int, float)


def _related_records(value: Any) -> list[Any]:
    return [item for item in value if type(item) is dict] if type(value) is list else []


@dataclass(frozen=True)
class CompiledFilter:
    """`matches(fields, company_fields)`; `fields` says which changes can move membership."""

    matches: Predicate
    fields: frozenset[str]
    relative_dates: bool
    source: str

    @property
    def reads_company(self) -> bool:
        return any(name.startswith(COMPANY_PREFIX) for name in self.fields)


def compile_filter(tree: Group, catalog: FieldCatalog, today: date | None = None) -> CompiledFilter:
    """Compile a filter that `check_filter` accepted; `today` anchors relative dates."""
    builder = _Builder(catalog, today or date.today())
    expression = builder.group(tree, catalog.fields, "f", inside_related=False)
    source = f"def matches(f, c):\n    return bool({expression})\n"
    namespace: dict[str, Any] = {
        "__builtins__": {"any": any, "bool": bool, "map": map, "type": type, "str": str, "list": list, "dict": dict},
        "_NUM": _NUMBER_TYPES,
        "_empty": is_empty,
        "_records": _related_records,
        "_casefold": str.casefold,
        **builder.constants,
    }
    exec(compile(source, "<segment filter>", "exec"), namespace)  # noqa: S102 - generated from an allow-list
    return CompiledFilter(namespace["matches"], referenced_fields(tree), uses_relative_dates(tree), source)


class _Builder:
    def __init__(self, catalog: FieldCatalog, today: date) -> None:
        self.catalog = catalog
        self.today = today
        self.constants: dict[str, Any] = {}
        self._temps = 0

    def constant(self, value: Any) -> str:
        name = f"k{len(self.constants)}"
        self.constants[name] = value
        return name

    def temp(self) -> str:
        self._temps += 1
        return f"t{self._temps}"

    def group(self, group: Group, fields: Mapping[str, FieldType], record: str, *, inside_related: bool) -> str:
        parts: list[str] = []
        for node in group.conditions:
            if isinstance(node, Group):
                parts.append(self.group(node, fields, record, inside_related=inside_related))
            elif isinstance(node, Related):
                parts.append(self.related(node, record))
            else:
                parts.append(self.condition(node, fields, record, inside_related=inside_related))
        if not parts:
            return "True" if group.match == "all" else "False"
        return "(" + (" and " if group.match == "all" else " or ").join(parts) + ")"

    def related(self, node: Related, record: str) -> str:
        fields = self.catalog.related[node.related]
        inner = self.group(node.where, fields, "r", inside_related=True)
        found = f"any({inner} for r in _records({record}.get({self.constant(node.related)})))"
        return found if node.quantifier == "any" else f"(not {found})"

    def condition(self, node: Condition, fields: Mapping[str, FieldType], record: str, *, inside_related: bool) -> str:
        kind_of = field_type_of(node.field, self.catalog, fields, inside_related=inside_related)
        if node.field.startswith(COMPANY_PREFIX) and not inside_related:
            value = f"c.get({self.constant(node.field.removeprefix(COMPANY_PREFIX))})"
        else:
            value = f"{record}.get({self.constant(node.field)})"
        positive = NEGATIONS.get(node.op)
        if positive is not None:
            return f"(not {self.test(positive, kind_of, value, node.value)})"
        return self.test(node.op, kind_of, value, node.value)

    def test(self, op: Operator, kind_of: FieldType, value: str, operand: Any) -> str:
        if op is Operator.IS_EMPTY:
            return f"_empty({value})"
        if op is Operator.IS_NOT_EMPTY:
            return f"(not _empty({value}))"
        t = self.temp()
        if kind_of is FieldType.BOOLEAN:
            return f"({value} is {self.constant(bool(operand))})"
        if kind_of is FieldType.LIST:
            wanted = self.constant(frozenset(item.casefold() for item in operand))
            items = f"map(_casefold, {t})"
            test = f"not {wanted}.isdisjoint({items})" if op is Operator.HAS_ANY else f"{wanted}.issubset({items})"
            return f"(type({t} := {value}) is list and {test})"
        if kind_of is FieldType.NUMBER:
            guard, subject = f"type({t} := {value}) in _NUM", t
        elif kind_of is FieldType.DATE:
            guard, subject = f"type({t} := {value}) is str", f"{t}[:10]"
            if op in (Operator.WITHIN_LAST_DAYS, Operator.WITHIN_NEXT_DAYS):
                shifted = self.today + timedelta(days=operand if op is Operator.WITHIN_NEXT_DAYS else -operand)
                low, high = sorted((self.today.isoformat(), shifted.isoformat()))
                return f"({guard} and {self.constant(low)} <= {subject} <= {self.constant(high)})"
        else:
            guard, subject = f"type({t} := {value}) is str", f"{t}.casefold()"
            operand = [item.casefold() for item in operand] if isinstance(operand, list) else operand.casefold()
        return f"({guard} and {self.comparison(op, subject, operand)})"

    def comparison(self, op: Operator, subject: str, operand: Any) -> str:
        if op is Operator.IN:
            return f"{subject} in {self.constant(frozenset(operand))}"
        if op is Operator.BETWEEN:
            return f"{self.constant(operand[0])} <= {subject} <= {self.constant(operand[1])}"
        if op is Operator.CONTAINS:
            return f"{self.constant(operand)} in {subject}"
        if op is Operator.STARTS_WITH:
            return f"{subject}.startswith({self.constant(operand)})"
        symbol = {Operator.EQ: "==", Operator.GT: ">", Operator.GTE: ">=", Operator.LT: "<", Operator.LTE: "<="}[op]
        return f"{subject} {symbol} {self.constant(operand)}"

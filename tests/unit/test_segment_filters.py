"""The compiled predicate agrees with a straightforward evaluation, and bad filters say where they are bad."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from roster.profiles.fields import FieldType, Kind
from roster.segments.compiler import compile_filter
from roster.segments.filters import (
    OPERATORS,
    Condition,
    FieldCatalog,
    FilterProblem,
    Group,
    Operator,
    Related,
    catalog_for,
    check_filter,
)
from tests.unit.segment_reference import evaluate

TODAY = date(2026, 11, 25)
PEOPLE = catalog_for(Kind.PEOPLE, {Kind.PEOPLE: {"score": FieldType.NUMBER, "is_customer": FieldType.BOOLEAN}})
COMPANIES = catalog_for(Kind.COMPANIES)

TEXTS = ["Acme", "acme corp", "ACME", "VP Sales", "vp of sales", "Director", "Straße", "STRASSE", "x", "Ünïcode"]
NUMBERS = [-1, 0, 1, 2.5, 50, 51, 1000, 10_000.0]
DATES = [(TODAY + timedelta(days=d)).isoformat() for d in (-400, -30, -7, -1, 0, 1, 7, 30)] + [
    "2026-11-25T23:59:59.000000Z",
    "2026-11-18T00:00:00.000000Z",
]
TAGS = ["enterprise", "Enterprise", "smb", "partner", "churned"]


def values_of(kind_of: FieldType) -> st.SearchStrategy[Any]:
    if kind_of is FieldType.NUMBER:
        return st.sampled_from(NUMBERS)
    if kind_of is FieldType.BOOLEAN:
        return st.booleans()
    if kind_of is FieldType.DATE:
        return st.sampled_from(DATES)
    if kind_of is FieldType.LIST:
        return st.lists(st.sampled_from(TAGS), max_size=3)
    return st.sampled_from(TEXTS)


def operand(op: Operator, kind_of: FieldType) -> st.SearchStrategy[Any]:
    if op in (Operator.IS_EMPTY, Operator.IS_NOT_EMPTY):
        return st.none()
    if op in (Operator.WITHIN_LAST_DAYS, Operator.WITHIN_NEXT_DAYS):
        return st.integers(0, 60)
    item = st.sampled_from(TAGS) if kind_of is FieldType.LIST else values_of(kind_of)
    if op in (Operator.IN, Operator.NOT_IN, Operator.HAS_ANY, Operator.HAS_ALL, Operator.HAS_NONE):
        return st.lists(item, min_size=1, max_size=3)
    if op is Operator.BETWEEN:
        return st.lists(item, min_size=2, max_size=2).map(sorted)
    if op in (Operator.CONTAINS, Operator.NOT_CONTAINS, Operator.STARTS_WITH):
        return st.sampled_from(["ac", "SALES", "ss", "ß", "vp", "corp"])
    return item


def conditions(fields: dict[str, FieldType], prefix: str = "") -> st.SearchStrategy[Condition]:
    usable = sorted(name for name, kind_of in fields.items() if kind_of is not FieldType.RECORDS)

    @st.composite
    def build(draw: st.DrawFn) -> Condition:
        name = draw(st.sampled_from(usable))
        kind_of = fields[name]
        op = draw(st.sampled_from(sorted(OPERATORS[kind_of])))
        return Condition(field=prefix + name, op=op, value=draw(operand(op, kind_of)))

    return build()


def trees(catalog: FieldCatalog) -> st.SearchStrategy[Group]:
    leaves: st.SearchStrategy[Any] = conditions(dict(catalog.fields))
    if catalog.company:
        leaves = leaves | conditions(dict(catalog.company), "company.")
    for relation, fields in catalog.related.items():
        inner = st.lists(conditions(dict(fields)), max_size=3)
        leaves = leaves | st.builds(
            Related,
            related=st.just(relation),
            quantifier=st.sampled_from(["any", "none"]),
            where=st.builds(Group, match=st.sampled_from(["all", "any"]), conditions=inner),
        )
    nodes = st.recursive(
        leaves,
        lambda children: st.builds(
            Group, match=st.sampled_from(["all", "any"]), conditions=st.lists(children, max_size=4)
        ),
        max_leaves=12,
    )
    return st.builds(Group, match=st.sampled_from(["all", "any"]), conditions=st.lists(nodes, max_size=4))


def records_of(fields: dict[str, FieldType]) -> st.SearchStrategy[dict[str, Any]]:
    names = sorted(name for name, kind_of in fields.items() if kind_of is not FieldType.RECORDS)
    return st.fixed_dictionaries({}, optional={name: values_of(fields[name]) for name in names})


def company_profiles() -> st.SearchStrategy[dict[str, Any]]:
    deals = st.lists(records_of(dict(COMPANIES.related["opportunities"])), max_size=3)
    return st.tuples(records_of(dict(COMPANIES.fields)), deals).map(lambda p: {**p[0], "opportunities": p[1]})


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    tree=trees(PEOPLE),
    people=st.lists(records_of(dict(PEOPLE.fields)), min_size=1, max_size=5),
    company=company_profiles(),
)
def test_compiled_people_filters_agree_with_the_reference(
    tree: Group, people: list[dict[str, Any]], company: dict[str, Any]
) -> None:
    checked = check_filter(tree, PEOPLE)
    compiled = compile_filter(checked, PEOPLE, TODAY)
    for person in people:
        assert compiled.matches(person, company) == evaluate(checked, PEOPLE, person, company, TODAY), compiled.source


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree=trees(COMPANIES), companies=st.lists(company_profiles(), min_size=1, max_size=5))
def test_compiled_company_filters_agree_with_the_reference(tree: Group, companies: list[dict[str, Any]]) -> None:
    checked = check_filter(tree, COMPANIES)
    compiled = compile_filter(checked, COMPANIES, TODAY)
    for company in companies:
        assert compiled.matches(company, {}) == evaluate(checked, COMPANIES, company, {}, TODAY), compiled.source


def parse(data: dict[str, Any]) -> Group:
    return TypeAdapter(Group).validate_python(data)


def test_a_nested_filter_reads_like_the_user_wrote_it() -> None:
    tree = parse(
        {
            "match": "all",
            "conditions": [
                {"field": "company.employee_count", "op": "gt", "value": 50},
                {
                    "match": "any",
                    "conditions": [
                        {"field": "job_title", "op": "contains", "value": "vp"},
                        {"field": "seniority", "op": "in", "value": ["Director", "C-Suite"]},
                    ],
                },
                {"field": "email", "op": "is_not_empty"},
            ],
        }
    )
    compiled = compile_filter(check_filter(tree, PEOPLE), PEOPLE, TODAY)
    person = {"job_title": "VP Engineering", "email": "a@b.co"}
    assert compiled.matches(person, {"employee_count": 120})
    assert not compiled.matches(person, {"employee_count": 20})
    assert not compiled.matches(person, {})  # no company: its fields are empty
    assert compiled.matches({"seniority": "director", "email": "a@b.co"}, {"employee_count": 51})
    assert compiled.fields == {"company.employee_count", "job_title", "seniority", "email"}
    assert compiled.reads_company


def test_company_filters_quantify_over_opportunities() -> None:
    won_big = parse(
        {
            "conditions": [
                {
                    "related": "opportunities",
                    "quantifier": "any",
                    "where": {
                        "conditions": [
                            {"field": "stage", "op": "eq", "value": "Closed Won"},
                            {"field": "amount", "op": "gt", "value": 10000},
                        ]
                    },
                }
            ]
        }
    )
    compiled = compile_filter(check_filter(won_big, COMPANIES), COMPANIES, TODAY)
    assert compiled.matches(
        {"opportunities": [{"stage": "Prospecting", "amount": 50000}, {"stage": "closed won", "amount": 20000}]}, {}
    )
    assert not compiled.matches({"opportunities": [{"stage": "Closed Won", "amount": 5000}]}, {})
    assert not compiled.matches({}, {})
    no_lost = parse(
        {
            "conditions": [
                {
                    "related": "opportunities",
                    "quantifier": "none",
                    "where": {"conditions": [{"field": "stage", "op": "eq", "value": "Closed Lost"}]},
                }
            ]
        }
    )
    never_lost = compile_filter(check_filter(no_lost, COMPANIES), COMPANIES, TODAY)
    assert never_lost.matches({}, {})
    assert not never_lost.matches({"opportunities": [{"stage": "Closed Lost"}]}, {})


def test_relative_dates_are_anchored_to_today() -> None:
    tree = parse({"conditions": [{"field": "created_date", "op": "within_last_days", "value": 7}]})
    compiled = compile_filter(check_filter(tree, PEOPLE), PEOPLE, TODAY)
    assert compiled.relative_dates
    assert compiled.matches({"created_date": "2026-11-18"}, {})
    assert compiled.matches({"created_date": "2026-11-25T23:00:00.000000Z"}, {})
    assert not compiled.matches({"created_date": "2026-11-17"}, {})
    assert not compiled.matches({"created_date": "2026-11-26"}, {})


@pytest.mark.parametrize(
    ("data", "path", "reason"),
    [
        ({"conditions": [{"field": "shoe_size", "op": "eq", "value": 9}]}, "filter.conditions[0].field", "no field"),
        ({"conditions": [{"field": "email", "op": "gt", "value": "a"}]}, "filter.conditions[0].op", "does not fit"),
        (
            {"conditions": [{"conditions": [{"field": "company.employee_count", "op": "gt", "value": "many"}]}]},
            "filter.conditions[0].conditions[0].value",
            "expected a number",
        ),
        ({"conditions": [{"field": "tags", "op": "has_any", "value": []}]}, "filter.conditions[0].value", "non-empty"),
        (
            {"conditions": [{"field": "created_date", "op": "eq", "value": "yesterday"}]},
            "filter.conditions[0].value",
            "ISO 8601",
        ),
        (
            {"conditions": [{"field": "email", "op": "is_empty", "value": "x"}]},
            "filter.conditions[0].value",
            "no value",
        ),
        ({"conditions": [{"related": "opportunities", "where": {}}]}, "filter.conditions[0].related", "no related"),
        (
            {"conditions": [{"field": "employee_count", "op": "between", "value": [10, 1]}]},
            "filter.conditions[0].value",
            "low <= high",
        ),
    ],
)
def test_bad_filters_name_the_offending_node(data: dict[str, Any], path: str, reason: str) -> None:
    catalog = COMPANIES if data["conditions"][0].get("field") == "employee_count" else PEOPLE
    with pytest.raises(FilterProblem) as problem:
        check_filter(parse(data), catalog)
    assert problem.value.path == path
    assert reason in problem.value.reason


def test_people_cannot_filter_on_company_fields_of_companies() -> None:
    with pytest.raises(FilterProblem, match="only people filters"):
        check_filter(parse({"conditions": [{"field": "company.name", "op": "eq", "value": "x"}]}), COMPANIES)


def test_values_never_become_code() -> None:
    hostile = "x') or __import__('os').system('true') or ('"
    tree = parse({"conditions": [{"field": "job_title", "op": "eq", "value": hostile}]})
    compiled = compile_filter(check_filter(tree, PEOPLE), PEOPLE, TODAY)
    assert hostile.casefold() not in compiled.source
    assert compiled.matches({"job_title": hostile}, {})
    assert not compiled.matches({"job_title": "x"}, {})

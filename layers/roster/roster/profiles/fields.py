"""The catalog of standard profile fields and their types.

Segments use the types to pick the operators that fit a field; the record detail view uses the
catalog to say which standard fields are filled and which are empty.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    """The two kinds of profile."""

    PEOPLE = "people"
    COMPANIES = "companies"


class FieldType(StrEnum):
    """Value types a profile field can hold (values are stored as JSON)."""

    STRING = "string"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATE = "date"  # ISO 8601 date or datetime string
    LIST = "list"  # list of strings
    RECORDS = "records"  # list of related records (e.g. a company's opportunities), each a JSON object


STANDARD_FIELDS: dict[Kind, dict[str, FieldType]] = {
    Kind.PEOPLE: {
        "email": FieldType.STRING,
        "first_name": FieldType.STRING,
        "last_name": FieldType.STRING,
        "full_name": FieldType.STRING,
        "job_title": FieldType.STRING,
        "seniority": FieldType.STRING,
        "department": FieldType.STRING,
        "company_name": FieldType.STRING,
        "company_domain": FieldType.STRING,
        "linkedin_url": FieldType.STRING,
        "phone": FieldType.STRING,
        "city": FieldType.STRING,
        "state": FieldType.STRING,
        "country": FieldType.STRING,
        "lead_status": FieldType.STRING,
        "lead_source": FieldType.STRING,
        "owner": FieldType.STRING,
        "tags": FieldType.LIST,
        "created_date": FieldType.DATE,
    },
    Kind.COMPANIES: {
        "name": FieldType.STRING,
        "domain": FieldType.STRING,
        "website": FieldType.STRING,
        "linkedin_url": FieldType.STRING,
        "industry": FieldType.STRING,
        "employee_count": FieldType.NUMBER,
        "annual_revenue": FieldType.NUMBER,
        "account_type": FieldType.STRING,
        "owner": FieldType.STRING,
        "phone": FieldType.STRING,
        "city": FieldType.STRING,
        "state": FieldType.STRING,
        "country": FieldType.STRING,
        "description": FieldType.STRING,
        "technologies": FieldType.LIST,
        "founded_year": FieldType.NUMBER,
        "created_date": FieldType.DATE,
        "opportunities": FieldType.RECORDS,
        "deals": FieldType.RECORDS,
        "opportunity_count": FieldType.NUMBER,
        "open_pipeline": FieldType.NUMBER,
        "won_amount": FieldType.NUMBER,
        "last_activity_date": FieldType.DATE,
        "activity_count": FieldType.NUMBER,
    },
}

_DEAL_FIELDS = {
    "id": FieldType.STRING,
    "name": FieldType.STRING,
    "stage": FieldType.STRING,
    "amount": FieldType.NUMBER,
    "close_date": FieldType.DATE,
    "owner": FieldType.STRING,
    "is_closed": FieldType.BOOLEAN,
    "is_won": FieldType.BOOLEAN,
    "type": FieldType.STRING,
    "pipeline": FieldType.STRING,
}
#: The fields of each kind of related record a profile can hold (see FieldType.RECORDS).
RELATED_FIELDS: dict[Kind, dict[str, dict[str, FieldType]]] = {
    Kind.PEOPLE: {},
    Kind.COMPANIES: {"opportunities": _DEAL_FIELDS, "deals": _DEAL_FIELDS},
}

FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def field_type(kind: Kind, name: str, value: Any = None) -> FieldType:
    """The type of a field: from the catalog for standard fields, else inferred from a value."""
    known = STANDARD_FIELDS[kind].get(name)
    if known is not None:
        return known
    if isinstance(value, bool):
        return FieldType.BOOLEAN
    if isinstance(value, int | float):
        return FieldType.NUMBER
    if isinstance(value, list):
        return FieldType.LIST
    return FieldType.STRING


def is_empty(value: Any) -> bool:
    """Empty means no value: None, a blank string or an empty list."""
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip() == ""
    if isinstance(value, list | dict):
        return len(value) == 0
    return False

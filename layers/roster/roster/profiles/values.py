"""Turning incoming raw values into the typed, canonical values a profile stores.

A bad value is reported with its field and the reason, so a CSV row or API record can be
rejected with a specific message while the rest of the batch imports.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from roster.identity.aliases import email_problem, linkedin_url, normalize_email, registrable_domain
from roster.profiles.fields import FIELD_NAME, RELATED_FIELDS, FieldType, Kind, field_type, is_empty
from roster.profiles.limits import (
    MAX_FIELDS,
    MAX_RECORD_BYTES,
    MAX_RELATED_RECORDS,
    MAX_TEXT,
    MAX_VALUE_BYTES,
    readable_size,
    stored_size,
)

_TRUE = {"true", "yes", "y", "1", "t"}
_FALSE = {"false", "no", "n", "0", "f"}
QUOTED_CHARACTERS = 60


class ValueProblem(ValueError):
    """A value that cannot be stored in its field, with the reason (no field: the record as a whole)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.field = field
        self.reason = reason


_SURROGATE = re.compile("[\ud800-\udfff]")


def readable(text: str) -> str:
    """The text with lone surrogates (which no UTF encoding can write, so no file, answer or table could hold
    them) replaced by U+FFFD; anything else is kept as it is."""
    return _SURROGATE.sub("\ufffd", text)


def utc_now() -> str:
    """Now, in the one timestamp format every stored time uses (sortable as text)."""
    return format_time(datetime.now(UTC))


def format_time(moment: datetime) -> str:
    """A timestamp as `YYYY-MM-DDTHH:MM:SS.ffffffZ` in UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> str:
    """An ISO 8601 date or time from a source, in the stored format; raises ValueError."""
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    return format_time(datetime.fromisoformat(value))


def coerce_fields(kind: Kind, raw: dict[str, Any]) -> dict[str, Any]:
    """Typed, canonical field values; an empty value becomes None, which clears the field.
    Raises ValueProblem."""
    if len(raw) > MAX_FIELDS:
        raise ValueProblem("fields", f"{len(raw)} fields; the limit for one record is {MAX_FIELDS} fields")
    fields: dict[str, Any] = {}
    for name, value in raw.items():
        if not FIELD_NAME.match(name):
            raise ValueProblem(short(name), "field names are lower_snake_case, 1-64 characters, starting with a letter")
        fields[name] = None if is_empty(value) else coerce_value(kind, name, value)
    return fields


def coerce_value(kind: Kind, name: str, value: Any) -> Any:
    """One field's value in its canonical form. Raises ValueProblem."""
    kind_of = field_type(kind, name, value)
    if kind_of is FieldType.RECORDS:
        typed: Any = _related_records(kind, name, value)
    else:
        typed = _typed(kind_of, name, value)
        if isinstance(typed, str) and kind_of is FieldType.STRING:
            typed = _canonical_text(kind, name, typed)
    size = stored_size(typed)
    if size > MAX_VALUE_BYTES:
        limit = readable_size(MAX_VALUE_BYTES)
        raise ValueProblem(name, f"the value is {readable_size(size)} stored; the limit for one field is {limit}")
    return typed


def record_problem(fields: dict[str, Any]) -> ValueProblem | None:
    """Why a record's values together are too large to store (naming its largest field), or None when they fit."""
    size = stored_size(fields)
    if size <= MAX_RECORD_BYTES:
        return None
    largest = max(fields, key=lambda name: stored_size(fields[name]))
    field_size = readable_size(stored_size(fields[largest]))
    return ValueProblem(
        "fields",
        f"the record is {readable_size(size)} stored (largest field: {largest}, {field_size}); "
        f"the limit for one record is {readable_size(MAX_RECORD_BYTES)}",
    )


def short(text: str) -> str:
    """Text as an error message shows it: short enough that a report of many bad rows stays small."""
    return text if len(text) <= QUOTED_CHARACTERS else f"{text[: QUOTED_CHARACTERS - 1]}…"


def quoted(value: Any) -> str:
    return repr(short(str(value)))


def _typed(kind_of: FieldType, name: str, value: Any) -> Any:
    if kind_of is FieldType.NUMBER:
        return _number(name, value)
    if kind_of is FieldType.BOOLEAN:
        return _boolean(name, value)
    if kind_of is FieldType.DATE:
        return _date(name, value)
    if kind_of is FieldType.LIST:
        return _string_list(name, value)
    if isinstance(value, dict | list):
        raise ValueProblem(name, f"expected text, got {type(value).__name__}")
    text = readable(str(value).strip())
    if len(text) > MAX_TEXT:
        raise ValueProblem(name, f"{len(text):,} characters; the limit for text is {MAX_TEXT:,} characters")
    return text


def _related_records(kind: Kind, name: str, value: Any) -> list[dict[str, Any]]:
    """Related records (a company's opportunities): each a JSON object of the relation's known fields."""
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise ValueProblem(name, "expected a list of records (JSON objects)")
    if len(value) > MAX_RELATED_RECORDS:
        raise ValueProblem(name, f"at most {MAX_RELATED_RECORDS} related records")
    known = RELATED_FIELDS[kind][name]
    records: list[dict[str, Any]] = []
    for index, item in enumerate(value):
        record: dict[str, Any] = {}
        for key, raw in item.items():
            if key not in known:
                where = f"{name}[{index}]"
                raise ValueProblem(where, f"{name} have no field {quoted(key)} (known: {', '.join(sorted(known))})")
            where = f"{name}[{index}].{key}"
            if not is_empty(raw):
                record[key] = _typed(known[key], where, raw)
        records.append(record)
    return records


def _canonical_text(kind: Kind, name: str, text: str) -> str:
    if name == "email":
        normalized = normalize_email(text)
        if normalized is None:
            why = short(email_problem(text) or "")
            raise ValueProblem(name, f"{quoted(text)} is not a valid e-mail address ({why})")
        return normalized
    if name in ("domain", "company_domain"):
        domain = registrable_domain(text)
        if domain is None:
            raise ValueProblem(name, f"{quoted(text)} is not a domain name")
        return domain
    if name == "linkedin_url":
        canonical = linkedin_url(text)
        wanted = "in" if kind is Kind.PEOPLE else "company"
        if canonical is None or canonical[1] != wanted:
            page = "profile" if wanted == "in" else "company"
            raise ValueProblem(name, f"{quoted(text)} is not a LinkedIn {page} URL")
        return f"https://www.{canonical[0]}"
    return text


def _number(name: str, value: Any) -> int | float:
    if isinstance(value, bool):
        raise ValueProblem(name, "expected a number, got true/false")
    if isinstance(value, int | float):
        return value
    text = re.sub(r"[\s,_$€£]", "", str(value))
    try:
        number = float(text)
    except ValueError:
        raise ValueProblem(name, f"{quoted(value)} is not a number") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueProblem(name, f"{quoted(value)} is not a finite number")
    return int(number) if number.is_integer() and "." not in text else number


def _boolean(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueProblem(name, f"{quoted(value)} is not true or false")


def _date(name: str, value: Any) -> str:
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).strip()
    try:
        if len(text) == 10:
            return date.fromisoformat(text).isoformat()
        return parse_time(text)
    except ValueError:
        raise ValueProblem(name, f"{quoted(value)} is not an ISO 8601 date or time") from None


def _string_list(name: str, value: Any) -> list[str]:
    items = value if isinstance(value, list) else re.split(r"[;,]", str(value))
    cleaned = sorted({readable(str(item).strip()) for item in items if not is_empty(item)})
    if any(len(item) > MAX_TEXT for item in cleaned):
        raise ValueProblem(name, f"a list item has more than {MAX_TEXT:,} characters, the limit for text")
    return cleaned

"""CSV files as users' spreadsheets make and open them.

Reading: any common delimiter, UTF-8 with or without BOM (or Windows-1252), quoted newlines, ragged
rows, streamed so memory stays flat on any size.

Writing (`SpreadsheetWriter`, for every CSV Roster hands to a person): a cell that a spreadsheet would
run as a formula (starting with `=`, `+`, `-`, `@`, a tab or a carriage return) gets a leading `'`,
as OWASP's CSV-injection guidance says, so it shows as the text it is; plain numbers such as `-12.5`
are left alone. Every cell is quoted, and text no encoding can write (lone surrogates) becomes U+FFFD.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from roster.profiles.fields import STANDARD_FIELDS, Kind
from roster.profiles.values import readable

DELIMITERS = ",;\t|"
SAMPLE_BYTES = 64 * 1024
RECORD_ID = "record_id"  # the mapping target that names a source record's own id

csv.field_size_limit(1024 * 1024)


@dataclass(frozen=True)
class Row:
    """One data row: the line it starts on and its values by column."""

    line: int
    values: dict[str, str]


@dataclass(frozen=True)
class BadRow:
    line: int
    reason: str


@dataclass(frozen=True)
class Dialect:
    encoding: str
    delimiter: str


def detect_dialect(sample: bytes) -> Dialect:
    """Encoding and delimiter from the first bytes of a file."""
    encoding = "utf-8-sig"
    try:
        text = codecs.getincrementaldecoder(encoding)().decode(sample, final=False)
    except UnicodeDecodeError:
        encoding = "cp1252"
        text = sample.decode(encoding, errors="replace")
    lines = text.splitlines()[:50]
    try:
        delimiter = csv.Sniffer().sniff("\n".join(lines), delimiters=DELIMITERS).delimiter
    except csv.Error:
        header = lines[0] if lines else ""
        delimiter = max(DELIMITERS, key=header.count) if any(d in header for d in DELIMITERS) else ","
    return Dialect(encoding, delimiter)


def read_rows(stream: IO[bytes], dialect: Dialect) -> tuple[list[str], Iterator[Row | BadRow]]:
    """The header's column names and a lazy iterator over rows (and rows that cannot be read)."""
    text = io.TextIOWrapper(stream, encoding=dialect.encoding, errors="replace", newline="")
    reader = csv.reader(text, delimiter=dialect.delimiter)
    try:
        header = next(reader)
    except StopIteration:
        return [], iter(())
    columns = unique_columns(header)
    return columns, _rows(reader, columns)


def _rows(reader: Iterator[list[str]], columns: list[str]) -> Iterator[Row | BadRow]:
    line = 2  # the header is line 1
    csv_reader = reader
    while True:
        try:
            values = next(csv_reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield BadRow(line, f"cannot be read as CSV: {error}")
            line = getattr(csv_reader, "line_num", line) + 1
            continue
        start, line = line, getattr(csv_reader, "line_num", line) + 1
        if not any(value.strip() for value in values):
            continue  # blank line
        if len(values) > len(columns) and any(value.strip() for value in values[len(columns) :]):
            yield BadRow(start, f"has {len(values)} values but the header has {len(columns)} columns")
            continue
        padded = values + [""] * (len(columns) - len(values))
        yield Row(start, dict(zip(columns, padded, strict=False)))


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def spreadsheet_cell(value: Any) -> str:
    """A value as a CSV cell a spreadsheet shows as text and never runs: see the module's docstring."""
    text = readable("" if value is None else str(value))
    if text.startswith(_FORMULA_STARTS) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


class SpreadsheetWriter:
    """Writes rows of cells to a text stream as CSV, every cell through `spreadsheet_cell`."""

    def __init__(self, out: IO[str]) -> None:
        self._writer = csv.writer(out, quoting=csv.QUOTE_ALL)

    def writerow(self, cells: Iterable[Any]) -> None:
        self._writer.writerow([spreadsheet_cell(cell) for cell in cells])


def unique_columns(header: list[str]) -> list[str]:
    """Column names made unique and non-blank, so every value has a column to belong to."""
    seen: dict[str, int] = {}
    columns = []
    for index, raw in enumerate(header, start=1):
        name = raw.strip() or f"column_{index}"
        count = seen.get(name, 0) + 1
        seen[name] = count
        columns.append(name if count == 1 else f"{name}_{count}")
    return columns


_SYNONYMS: dict[Kind, dict[str, str]] = {
    Kind.PEOPLE: {
        "e_mail": "email",
        "email_address": "email",
        "work_email": "email",
        "mail": "email",
        "firstname": "first_name",
        "given_name": "first_name",
        "lastname": "last_name",
        "surname": "last_name",
        "family_name": "last_name",
        "name": "full_name",
        "fullname": "full_name",
        "title": "job_title",
        "jobtitle": "job_title",
        "position": "job_title",
        "company": "company_name",
        "organization": "company_name",
        "organisation": "company_name",
        "account_name": "company_name",
        "employer": "company_name",
        "company_website": "company_domain",
        "linkedin": "linkedin_url",
        "linkedin_profile": "linkedin_url",
        "linkedin_profile_url": "linkedin_url",
        "person_linkedin_url": "linkedin_url",
        "phone_number": "phone",
        "mobile": "phone",
        "mobile_phone": "phone",
        "province": "state",
        "region": "state",
        "id": RECORD_ID,
        "contact_id": RECORD_ID,
        "person_id": RECORD_ID,
        "registrant_id": RECORD_ID,
        "external_id": RECORD_ID,
        "record_id": RECORD_ID,
    },
    Kind.COMPANIES: {
        "company": "name",
        "company_name": "name",
        "account_name": "name",
        "organization": "name",
        "url": "website",
        "company_website": "website",
        "company_domain": "domain",
        "linkedin": "linkedin_url",
        "company_linkedin_url": "linkedin_url",
        "employees": "employee_count",
        "number_of_employees": "employee_count",
        "headcount": "employee_count",
        "revenue": "annual_revenue",
        "phone_number": "phone",
        "id": RECORD_ID,
        "account_id": RECORD_ID,
        "company_id": RECORD_ID,
        "external_id": RECORD_ID,
        "record_id": RECORD_ID,
    },
}


def field_name_for(column: str) -> str:
    """A column header as a field name: `Job Title ` → `job_title`."""
    name = re.sub(r"[^a-z0-9]+", "_", column.strip().lower()).strip("_")
    if not name or not name[0].isalpha():
        name = f"field_{name}".rstrip("_")
    return name[:64]


def auto_mapping(kind: Kind, columns: list[str]) -> dict[str, str | None]:
    """Each column's Roster field: a standard field when the header names one (or a common
    synonym), else a custom field named after the header. Two columns never share a field."""
    mapping: dict[str, str | None] = {}
    taken: set[str] = set()
    for column in columns:
        name = field_name_for(column)
        target = name if name in STANDARD_FIELDS[kind] else _SYNONYMS[kind].get(name, name)
        if target in taken:
            target = name
        mapping[column] = None if target in taken else target
        taken.add(target)
    return mapping

"""CSV files as users' spreadsheets make and open them.

Reading: any common delimiter; UTF-8, UTF-16 and UTF-32 by their byte order mark, UTF-16 without one,
UTF-8 without one, else Windows-1252; quoted newlines, ragged rows; streamed so memory stays flat on
any size. A row that cannot be read is reported with its line and why, and reading goes on: a quote
that never closes costs only the row it opens in, and a row with bytes its encoding cannot decode is
rejected rather than imported garbled.

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

MAX_CELL_CHARS = 1024 * 1024  # longer values make their row rejected (a profile field holds far less anyway)
MAX_HEADER_CHARS = 64 * 1024
MAX_COLUMNS = 500
MAX_COLUMN_CHARS = 256

csv.field_size_limit(MAX_CELL_CHARS)


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


class CsvProblem(ValueError):
    """A file that cannot be read as CSV at all (its header breaks a limit), with the reason for the user."""


#: Byte order marks, longest first (UTF-32 LE's starts with UTF-16 LE's), and the codec that reads past them.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
#: Marks bytes the encoding cannot decode; decoders never produce a lone surrogate from valid input.
_UNDECODABLE = "\udcff"


def _mark_undecodable(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeDecodeError):
        raise error
    return _UNDECODABLE, error.end


codecs.register_error("roster.undecodable", _mark_undecodable)


def detect_encoding(sample: bytes) -> str:
    """The encoding of a file from its first bytes: by byte order mark (UTF-8, UTF-16, UTF-32), UTF-16 without
    one when most odd (or even) bytes are zero and almost no others are (text that is mostly ASCII), else UTF-8
    when it decodes, else Windows-1252."""
    for bom, encoding in _BOMS:
        if sample.startswith(bom):
            return encoding
    head = sample[:4096]
    pairs = len(head) // 2
    if pairs >= 2:
        even, odd = head[0 : 2 * pairs : 2], head[1 : 2 * pairs : 2]
        for encoding, zeros, others in (("utf-16-le", odd, even), ("utf-16-be", even, odd)):
            if zeros.count(0) >= 0.7 * pairs and others.count(0) <= 0.05 * pairs:
                return encoding
    try:
        codecs.getincrementaldecoder("utf-8-sig")().decode(sample, final=False)
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8-sig"


def detect_dialect(sample: bytes) -> Dialect:
    """Encoding and delimiter from the first bytes of a file."""
    encoding = detect_encoding(sample)
    text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(sample, final=False)
    lines = text.splitlines()[:50]
    try:
        delimiter = csv.Sniffer().sniff("\n".join(lines), delimiters=DELIMITERS).delimiter
    except csv.Error:
        header = lines[0] if lines else ""
        delimiter = max(DELIMITERS, key=header.count) if any(d in header for d in DELIMITERS) else ","
    return Dialect(encoding, delimiter)


class _Lines:
    """The file's physical lines, numbered from 1, keeping those of the record being read so they can be read
    again: after a quote that never closes, reading resumes on the line after the one it opened on."""

    def __init__(self, text: Iterator[str]) -> None:
        self._text = text
        self._again: list[str] = []  # lines to read again, last first
        self.number = 0  # of the last line handed out
        self.taken: list[str] = []  # lines of the current record
        self.ran_out = False  # the current record reached the end of the file unfinished
        self.undecodable = False  # the current record holds bytes the encoding cannot decode

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        if self._again:
            line = self._again.pop()
        else:
            try:
                line = next(self._text)
            except StopIteration:
                self.ran_out = True
                raise
        self.number += 1
        self.taken.append(line)
        if _UNDECODABLE in line:
            self.undecodable = True
        return line

    def start_record(self) -> int:
        """Forget the lines of the last record; returns the line the next one starts on."""
        self.taken.clear()
        self.ran_out = self.undecodable = False
        return self.number + 1

    def resume_after_first(self) -> None:
        """Read the current record's lines again, but its first one."""
        self._again.extend(reversed(self.taken[1:]))
        self.number -= len(self.taken) - 1
        self.taken.clear()


def read_rows(stream: IO[bytes], dialect: Dialect) -> tuple[list[str], Iterator[Row | BadRow]]:
    """The header's column names and a lazy iterator over rows (and rows that cannot be read, with the line they
    start on and why). Raises CsvProblem when the header breaks a limit (`MAX_COLUMNS`, `MAX_COLUMN_CHARS`,
    `MAX_HEADER_CHARS`)."""
    text = io.TextIOWrapper(stream, encoding=dialect.encoding, errors="roster.undecodable", newline="")
    lines = _Lines(text)
    lines.start_record()
    try:
        header = next(csv.reader(lines, delimiter=dialect.delimiter))
    except StopIteration:
        return [], iter(())
    except csv.Error:
        raise CsvProblem(f"the header is longer than {MAX_HEADER_CHARS:,} characters") from None
    if lines.ran_out:
        raise CsvProblem("the header has a quote that never closes")
    check_header(header, sum(map(len, lines.taken)))
    columns = unique_columns([readable(name) for name in header])
    return columns, _rows(lines, dialect, columns)


def check_header(header: list[str], size: int) -> None:
    """Raise CsvProblem naming the limit a header breaks."""
    if size > MAX_HEADER_CHARS:
        raise CsvProblem(f"the header has {size:,} characters; at most {MAX_HEADER_CHARS:,} are read")
    if len(header) > MAX_COLUMNS:
        raise CsvProblem(f"the header has {len(header):,} columns; at most {MAX_COLUMNS:,} are read")
    for index, name in enumerate(header, start=1):
        if len(name) > MAX_COLUMN_CHARS:
            raise CsvProblem(
                f"column {index}'s name has {len(name):,} characters; at most {MAX_COLUMN_CHARS:,} are read"
            )


def _rows(lines: _Lines, dialect: Dialect, columns: list[str]) -> Iterator[Row | BadRow]:
    reader = csv.reader(lines, delimiter=dialect.delimiter)  # pulls exactly one record's lines at a time
    while True:
        start = lines.start_record()
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error:
            yield BadRow(start, f"has a value longer than {MAX_CELL_CHARS:,} characters, or a quote that never closes")
            lines.resume_after_first()
            reader = csv.reader(lines, delimiter=dialect.delimiter)
            continue
        if lines.ran_out:
            yield BadRow(start, f"has a quote that never closes (it opens on line {start}; the file ends inside it)")
            lines.resume_after_first()
            reader = csv.reader(lines, delimiter=dialect.delimiter)
            continue
        if not any(value.strip() for value in values):
            continue  # blank line
        if len(values) > len(columns) and any(value.strip() for value in values[len(columns) :]):
            yield BadRow(start, f"has {len(values)} values but the header has {len(columns)} columns")
            continue
        if lines.undecodable:
            cells = zip(columns, values, strict=False)
            column = next((column for column, value in cells if _UNDECODABLE in value), "?")
            yield BadRow(start, f"has bytes that are not {dialect.encoding} text (in column {column!r})")
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

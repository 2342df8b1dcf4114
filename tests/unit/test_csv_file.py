"""CSV files as users export them: BOM, delimiters, quoted newlines, ragged rows."""

import io

from roster.profiles.fields import Kind
from roster.sources.csv_file import BadRow, Row, auto_mapping, detect_dialect, read_rows


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

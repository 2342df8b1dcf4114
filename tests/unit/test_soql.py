"""SOQL subset of the Salesforce emulator: parsing, Salesforce's comparison semantics and its error shapes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from roster_dev.emulators.salesforce.errors import SalesforceError
from roster_dev.emulators.salesforce.org import ManualClock, SalesforceOrg
from roster_dev.emulators.salesforce.schema import id_checksum, make_id, parse_datetime, to_18
from roster_dev.emulators.salesforce.soql import Compare, parse


@pytest.fixture
def org() -> Iterator[SalesforceOrg]:
    clock = ManualClock(datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC))
    org = SalesforceOrg(clock)
    acme = org.create("Account", {"Name": "Acme", "Industry": "Technology", "NumberOfEmployees": 50})
    org.create("Account", {"Name": "Globex", "AnnualRevenue": 1_000_000})
    clock.advance(60)
    org.create("Contact", {"LastName": "Lovelace", "FirstName": "Ada", "Email": "Ada@Acme.com", "AccountId": acme})
    org.create("Contact", {"LastName": "Turing", "FirstName": "Alan", "Title": "50% off_sale"})
    clock.advance(60)
    org.create("Contact", {"LastName": "Hopper", "Email": "grace@navy.mil", "AccountId": acme})
    yield org


def names(org: SalesforceOrg, where: str, obj: str = "Contact") -> list[str]:
    field = "LastName" if obj == "Contact" else "Name"
    return [row[field] for row in org.query(f"SELECT {field} FROM {obj} {where}")]  # noqa: S608 - SOQL, test input


def test_ids_are_18_chars_with_checksum_and_sort_by_creation() -> None:
    first, second = make_id("003", 1), make_id("003", 62)
    assert len(first) == 18 and first.startswith("0035e0")
    assert first < second
    assert to_18(first[:15]) == first
    lettered = make_id("003", 10)  # ...00A plus a checksum that records the capital
    assert lettered[:15].endswith("A") and to_18(lettered[:15].lower()) != lettered
    assert id_checksum("001000000000001") == "AAA"
    assert to_18("not an id") is None


def test_datetime_literals_in_every_salesforce_spelling() -> None:
    assert parse_datetime("2026-11-25T10:00:00Z") == "2026-11-25T10:00:00.000+0000"
    assert parse_datetime("2026-11-25T10:00:00.000+0000") == "2026-11-25T10:00:00.000+0000"
    assert parse_datetime("2026-11-25T11:00:00+01:00") == "2026-11-25T10:00:00.000+0000"
    assert parse_datetime("2026-11-25") is None


def test_text_comparisons_ignore_case_and_not_equal_includes_null(org: SalesforceOrg) -> None:
    assert names(org, "WHERE Email = 'ada@acme.COM'") == ["Lovelace"]
    assert names(org, "WHERE Email != 'ada@acme.com'") == ["Turing", "Hopper"]
    assert names(org, "WHERE Email = null") == ["Turing"]
    assert names(org, "WHERE Email != null ORDER BY LastName") == ["Hopper", "Lovelace"]


def test_in_like_not_and_precedence(org: SalesforceOrg) -> None:
    assert names(org, "WHERE LastName IN ('turing', 'Hopper')") == ["Turing", "Hopper"]
    assert names(org, "WHERE LastName NOT IN ('Turing')") == ["Lovelace", "Hopper"]
    assert names(org, "WHERE Email LIKE '%@acme.com'") == ["Lovelace"]
    assert names(org, "WHERE Title LIKE '50\\% off\\_%'") == ["Turing"]
    assert names(org, "WHERE Title LIKE '50_ off%'") == ["Turing"]
    assert names(org, "WHERE NOT (LastName = 'Turing' OR LastName = 'Hopper')") == ["Lovelace"]
    assert names(org, "WHERE LastName = 'Turing' OR LastName = 'Hopper' AND Email = null") == ["Turing"]


def test_datetime_filters_and_keyset_ties(org: SalesforceOrg) -> None:
    assert names(org, "WHERE SystemModstamp > 2026-11-25T10:00:30Z") == ["Lovelace", "Turing", "Hopper"]
    assert names(
        org, "WHERE SystemModstamp >= 2026-11-25T10:01:00.000+0000 AND SystemModstamp < 2026-11-25T10:02:00Z"
    ) == [
        "Lovelace",
        "Turing",
    ]
    rows = org.query("SELECT Id, SystemModstamp FROM Contact ORDER BY SystemModstamp, Id")
    first = rows[0]
    since, last_id = first["SystemModstamp"], first["Id"]
    keyset = f"(SystemModstamp = {since} AND Id > '{last_id}') OR SystemModstamp > {since}"
    following = org.query(f"SELECT Id FROM Contact WHERE {keyset} ORDER BY SystemModstamp, Id")  # noqa: S608 - SOQL
    assert [row["Id"] for row in following] == [row["Id"] for row in rows[1:]]


def test_order_by_nulls_limit_offset_and_count(org: SalesforceOrg) -> None:
    assert names(org, "ORDER BY Email") == ["Turing", "Lovelace", "Hopper"]
    assert names(org, "ORDER BY Email DESC") == ["Hopper", "Lovelace", "Turing"]
    assert names(org, "ORDER BY Email ASC NULLS LAST") == ["Lovelace", "Hopper", "Turing"]
    assert names(org, "ORDER BY LastName LIMIT 2 OFFSET 1") == ["Lovelace", "Turing"]
    assert org.run_query("SELECT COUNT() FROM Contact WHERE Email != null").total == 2
    assert names(org, "WHERE NumberOfEmployees > 10 OR AnnualRevenue >= 1000000.0", "Account") == ["Acme", "Globex"]


def test_parent_fields_and_ids(org: SalesforceOrg) -> None:
    rows = org.query("SELECT LastName, Account.Name, Account.Industry FROM Contact WHERE Account.Name = 'acme'")
    assert rows == [
        {"LastName": "Lovelace", "Account.Name": "Acme", "Account.Industry": "Technology"},
        {"LastName": "Hopper", "Account.Name": "Acme", "Account.Industry": "Technology"},
    ]
    account = org.query("SELECT Id FROM Account WHERE Name = 'Acme'")[0]["Id"]
    assert names(org, f"WHERE AccountId = '{account[:15]}'") == ["Lovelace", "Hopper"]


@pytest.mark.parametrize(
    ("soql", "code"),
    [
        ("SELECT Nope FROM Contact", "INVALID_FIELD"),
        ("SELECT Id FROM Nope", "INVALID_TYPE"),
        ("SELECT Id FROM Contact WHERE SystemModstamp > '2026-11-25T10:00:00Z'", "INVALID_FIELD"),
        ("SELECT Id FROM Contact WHERE LastName = 5", "INVALID_FIELD"),
        ("SELECT Id FROM Contact WHERE Nope__r.Name = 'x'", "INVALID_FIELD"),
        ("SELECT Id FROM Contact WHERE AccountId = 'abc'", "INVALID_QUERY_FILTER_OPERATOR"),
        ("SELECT Id FROM Contact WHERE", "MALFORMED_QUERY"),
        ("SELECT Id FROM Contact GROUP BY Id", "MALFORMED_QUERY"),
        ("SELECT Id, (SELECT Id FROM Cases) FROM Contact", "MALFORMED_QUERY"),
        ("SELECT Id FROM Contact WHERE Id IN (SELECT WhoId FROM Task)", "MALFORMED_QUERY"),
    ],
)
def test_errors_are_salesforce_shaped(org: SalesforceOrg, soql: str, code: str) -> None:
    with pytest.raises(SalesforceError) as raised:
        org.run_query(soql)
    assert raised.value.error_code == code
    assert raised.value.status == 400
    assert raised.value.body()[0]["errorCode"] == code


def test_parser_keeps_escapes_and_positions() -> None:
    query = parse(
        "select Id, Account.Name from Contact where Name = 'O\\'Brien' order by Name desc nulls first limit 5"
    )
    assert query.object_name == "Contact"
    assert [ref.path for ref in query.fields] == ["Id", "Account.Name"]
    assert query.limit == 5
    assert query.order[0].descending and query.order[0].nulls_first
    assert isinstance(query.where, Compare) and query.where.value.value == "O'Brien"

"""The Salesforce emulator over real HTTPS, driven by unmodified simple-salesforce and plain requests."""

from __future__ import annotations

import csv
import gzip
import io
import math
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceOperationError,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)
from simple_salesforce.login import soap_login, token_login

from roster_dev.emulators.salesforce import Credentials, SalesforceEmulator
from roster_dev.emulators.salesforce.bulk import QUERY_TIMEOUT, Chunking
from roster_dev.emulators.salesforce.generate import generate_org
from roster_dev.emulators.salesforce.org import ManualClock, SalesforceOrg

START = datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC)


def client_for(emulator: SalesforceEmulator, session_id: str | None = None) -> Any:
    """The construction a connector uses: direct mode, a session that trusts only the emulator's CA.

    Typed `Any` because simple-salesforce's `sf.<Object>` attributes are a union mypy cannot narrow.
    """
    session = requests.Session()
    session.verify = emulator.ca_path
    session.trust_env = False
    return Salesforce(
        session_id=session_id or emulator.session_id,
        instance_url=emulator.instance_url,
        session=session,
        version="59.0",
    )


def error_body(error: Exception) -> list[dict[str, Any]]:
    """The decoded JSON error list simple-salesforce attaches to its exceptions (typed loosely there)."""
    content: Any = getattr(error, "content", None)
    assert isinstance(content, list), content
    return content


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture(scope="module")
def shared() -> Iterator[SalesforceEmulator]:
    """A read-mostly org with enough contacts to page (tests that write make their own)."""
    org = generate_org(11, accounts=120, contacts=4500, leads=600, clock=ManualClock(START), roster_fields=True)
    with SalesforceEmulator(org) as emulator:
        yield emulator


@pytest.fixture
def emulator() -> Iterator[SalesforceEmulator]:
    org = generate_org(5, accounts=20, contacts=150, leads=60, clock=ManualClock(START), roster_fields=True)
    with SalesforceEmulator(org) as fresh:
        yield fresh


@pytest.fixture
def sf(emulator: SalesforceEmulator) -> Any:
    return client_for(emulator)


def clock_of(emulator: SalesforceEmulator) -> ManualClock:
    clock = emulator.org.clock
    assert isinstance(clock, ManualClock)
    return clock


# -- metadata -------------------------------------------------------------------------------------------


def test_describe_global_and_objects(shared: SalesforceEmulator) -> None:
    sf = client_for(shared)
    described = sf.describe()
    assert described is not None
    prefixes = {item["name"]: item["keyPrefix"] for item in described["sobjects"]}
    assert {
        "Account": "001",
        "Contact": "003",
        "Lead": "00Q",
        "Opportunity": "006",
        "Task": "00T",
        "Event": "00U",
    }.items() <= prefixes.items()
    contact = {field["name"]: field for field in sf.Contact.describe()["fields"]}
    assert contact["Email"]["type"] == "email" and contact["Email"]["idLookup"]
    assert contact["AccountId"]["type"] == "reference" and contact["AccountId"]["relationshipName"] == "Account"
    assert contact["LinkedIn_URL__c"]["custom"] and contact["LinkedIn_URL__c"]["type"] == "url"
    assert contact["Roster_Id__c"]["externalId"] and contact["Roster_Id__c"]["unique"]
    assert contact["SystemModstamp"]["type"] == "datetime" and not contact["SystemModstamp"]["updateable"]
    account = {field["name"]: field for field in sf.Account.describe()["fields"]}
    assert account["AnnualRevenue"]["type"] == "currency" and account["NumberOfEmployees"]["type"] == "int"
    assert "Technology" in [value["value"] for value in account["Industry"]["picklistValues"]]
    opportunity = {field["name"]: field for field in sf.Opportunity.describe()["fields"]}
    assert opportunity["CloseDate"]["type"] == "date" and opportunity["IsWon"]["type"] == "boolean"
    assert sf.Lead.metadata()["objectDescribe"]["keyPrefix"] == "00Q"
    with pytest.raises(SalesforceResourceNotFound):
        sf.Nope__c.describe()


def test_versions_limits_and_custom_fields_added_later(emulator: SalesforceEmulator, sf: Any) -> None:
    versions = requests.get(f"{emulator.instance_url}/services/data/", verify=emulator.ca_path, timeout=10).json()
    assert {"label": "Winter '24", "url": "/services/data/v59.0", "version": "59.0"} in versions
    limits = sf.limits()
    assert limits["DailyApiRequests"]["Max"] == 100_000
    emulator.org.add_custom_field("Contact", "Roster_Segment__c", "picklist", picklist=("Hot", "Cold"))
    emulator.org.add_custom_field("Contact", "Roster_Enriched__c", "boolean")
    emulator.org.add_custom_field("Contact", "Roster_Notes__c", "string", length=20)
    fields = {field["name"]: field for field in sf.Contact.describe()["fields"]}
    assert fields["Roster_Segment__c"]["restrictedPicklist"] and fields["Roster_Enriched__c"]["type"] == "boolean"
    contact = sf.query("SELECT Id, Roster_Enriched__c, Roster_Segment__c FROM Contact LIMIT 1")["records"][0]
    assert contact["Roster_Enriched__c"] is False and contact["Roster_Segment__c"] is None
    sf.Contact.update(contact["Id"], {"Roster_Segment__c": "Hot", "Roster_Enriched__c": True})
    assert sf.Contact.get(contact["Id"])["Roster_Segment__c"] == "Hot"
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.Contact.update(contact["Id"], {"Roster_Notes__c": "x" * 21})
    assert error_body(raised.value)[0]["errorCode"] == "STRING_TOO_LONG"


# -- REST query -----------------------------------------------------------------------------------------


def test_query_pages_by_2000_and_query_all_collects_everything(shared: SalesforceEmulator) -> None:
    sf = client_for(shared)
    first = sf.query("SELECT Id, Email, Account.Name FROM Contact")
    assert first["totalSize"] == 4500 and first["done"] is False and len(first["records"]) == 2000
    assert first["nextRecordsUrl"].startswith("/services/data/v59.0/query/")
    record = first["records"][0]
    assert record["attributes"]["type"] == "Contact" and record["attributes"]["url"].endswith(record["Id"])
    assert record["Account"] is None or record["Account"]["attributes"]["type"] == "Account"
    second = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert len(second["records"]) == 2000 and second["records"][0]["Id"] > first["records"][-1]["Id"]
    everything = sf.query_all("SELECT Id FROM Contact")
    ids = [row["Id"] for row in everything["records"]]
    assert len(ids) == len(set(ids)) == 4500 == shared.org.count("Contact")
    assert sf.query("SELECT COUNT() FROM Contact") == {"totalSize": 4500, "done": True, "records": []}
    aggregate = sf.query("SELECT COUNT(Id) FROM Lead WHERE IsConverted = true")["records"][0]
    assert aggregate["expr0"] == shared.org.run_query("SELECT COUNT() FROM Lead WHERE IsConverted = true").total > 0


def test_query_filters_match_the_org(shared: SalesforceEmulator) -> None:
    sf = client_for(shared)
    soql = (
        "SELECT Id, Name, StageName, Amount, CloseDate, IsClosed, IsWon, Account.Name FROM Opportunity "
        "WHERE (StageName IN ('Closed Won', 'Closed Lost') AND Amount >= 25000) OR CloseDate > 2027-01-01 "
        "ORDER BY Amount DESC, Id LIMIT 50"
    )
    records = sf.query_all(soql)["records"]
    assert [row["Id"] for row in records] == [row["Id"] for row in shared.org.query(soql)]
    for row in records:
        assert row["IsClosed"] == (row["StageName"] in {"Closed Won", "Closed Lost"})
        assert row["IsWon"] == (row["StageName"] == "Closed Won")
        assert isinstance(row["Amount"], float) and len(row["CloseDate"]) == 10
    gmail = sf.query_all("SELECT Id, Email FROM Lead WHERE Email LIKE '%@GMAIL.com' AND IsConverted = false")["records"]
    assert gmail and all(row["Email"].lower().endswith("@gmail.com") for row in gmail)


@pytest.mark.parametrize(
    ("soql", "code"),
    [
        ("SELECT Id, Nope__c FROM Contact", "INVALID_FIELD"),
        ("SELECT Id FROM Nope", "INVALID_TYPE"),
        ("SELECT Id FROM Contact WHERE SystemModstamp > '2026-01-01T00:00:00Z'", "INVALID_FIELD"),
        ("SELECT Id FROM Contact WHERE", "MALFORMED_QUERY"),
    ],
)
def test_query_errors_are_400_lists(shared: SalesforceEmulator, soql: str, code: str) -> None:
    sf = client_for(shared)
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.query(soql)
    assert raised.value.status == 400
    assert error_body(raised.value)[0]["errorCode"] == code and "message" in error_body(raised.value)[0]


# -- REST records ---------------------------------------------------------------------------------------


def test_rest_crud_external_id_upsert_and_errors(emulator: SalesforceEmulator, sf: Any) -> None:
    created = sf.Contact.create({"LastName": "Okafor", "FirstName": "Ada", "Email": "ada@okafor.io"})
    assert created["success"] and created["id"].startswith("003") and len(created["id"]) == 18
    fetched = sf.Contact.get(created["id"])
    assert fetched["Name"] == "Ada Okafor" and fetched["IsDeleted"] is False
    assert fetched["SystemModstamp"] == "2026-11-25T10:00:00.000+0000"
    assert sf.Contact.update(created["id"], {"Title": "CTO"}) == 204
    assert sf.Contact.get_by_custom_id("Email", "ADA@okafor.io")["Title"] == "CTO"

    assert sf.Contact.upsert("Roster_Id__c/rst_1", {"LastName": "Upserted"}) == 201
    assert sf.Contact.upsert("Roster_Id__c/rst_1", {"Title": "VP"}) == 200
    upserted = sf.Contact.get_by_custom_id("Roster_Id__c", "rst_1")
    assert upserted["LastName"] == "Upserted" and upserted["Title"] == "VP"

    problems = {
        "INVALID_FIELD": {"LastName": "X", "Nope__c": 1},
        "REQUIRED_FIELD_MISSING": {"FirstName": "X"},
        "INVALID_EMAIL_ADDRESS": {"LastName": "X", "Email": "not-an-email"},
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST": {"LastName": "X", "LeadSource": "Carrier pigeon"},
        "INVALID_FIELD_FOR_INSERT_UPDATE": {"LastName": "X", "Name": "Computed"},
        "FIELD_INTEGRITY_EXCEPTION": {"LastName": "X", "AccountId": created["id"]},
        "DUPLICATE_VALUE": {"LastName": "X", "Roster_Id__c": "RST_1"},
    }
    for code, body in problems.items():
        with pytest.raises(SalesforceMalformedRequest) as raised:
            sf.Contact.create(body)
        assert error_body(raised.value)[0]["errorCode"] == code, body

    assert sf.Contact.delete(created["id"]) == 204
    with pytest.raises(SalesforceResourceNotFound):
        sf.Contact.get(created["id"])


def test_query_all_sees_recycle_bin_then_deleted_endpoint(emulator: SalesforceEmulator, sf: Any) -> None:
    clock = clock_of(emulator)
    doomed = sf.Contact.create({"LastName": "Doomed"})["id"]
    clock.advance(30)
    sf.Contact.delete(doomed)
    soql = f"SELECT Id, IsDeleted, SystemModstamp FROM Contact WHERE Id = '{doomed}'"  # noqa: S608 - SOQL
    assert sf.query(soql)["records"] == []
    deleted = sf.query_all(soql, include_deleted=True)["records"]
    assert deleted[0]["IsDeleted"] is True and deleted[0]["SystemModstamp"] == "2026-11-25T10:00:30.000+0000"

    emulator.org.empty_recycle_bin()
    assert sf.query_all(soql, include_deleted=True)["records"] == []
    window = sf.Contact.deleted(START - timedelta(minutes=5), START + timedelta(minutes=5))
    assert window["deletedRecords"] == [{"id": doomed, "deletedDate": "2026-11-25T10:00:30.000+0000"}]
    updated = sf.Contact.updated(START - timedelta(minutes=1), START + timedelta(minutes=1))
    assert doomed not in updated["ids"]


def test_system_modstamp_moves_on_update_and_ties_page_by_id(emulator: SalesforceEmulator, sf: Any) -> None:
    clock = clock_of(emulator)
    clock.set(START + timedelta(hours=1))
    ids = [sf.Contact.create({"LastName": f"Tie {index}"})["id"] for index in range(7)]
    clock.advance(5)
    sf.Contact.update(ids[0], {"Title": "Moved"})
    moved = sf.Contact.get(ids[0])
    assert moved["SystemModstamp"] == moved["LastModifiedDate"] == "2026-11-25T11:00:05.000+0000"
    assert moved["CreatedDate"] == "2026-11-25T11:00:00.000+0000"
    clock.advance(5)
    emulator.org.touch("Contact", ids[1])
    touched = sf.Contact.get(ids[1])
    assert touched["SystemModstamp"] == "2026-11-25T11:00:10.000+0000"
    assert touched["LastModifiedDate"] == "2026-11-25T11:00:00.000+0000"

    # Keyset paging with a page of 2 through the 5 records that share one second, as a connector does.
    since, last_id = "2026-11-25T11:00:00.000+0000", ""
    seen: list[str] = []
    while True:
        cursor = f"(SystemModstamp = {since} AND Id > '{last_id}') OR " if last_id else f"SystemModstamp = {since} OR "
        soql = f"SELECT Id, SystemModstamp FROM Contact WHERE {cursor}SystemModstamp > {since}"  # noqa: S608 - SOQL
        page = sf.query(f"{soql} ORDER BY SystemModstamp, Id LIMIT 2")["records"]
        if not page:
            break
        seen.extend(row["Id"] for row in page)
        since, last_id = page[-1]["SystemModstamp"], page[-1]["Id"]
    assert seen == [*ids[2:], ids[0], ids[1]]


def test_lead_conversion_and_converted_lead_writes(emulator: SalesforceEmulator, sf: Any) -> None:
    lead = sf.Lead.create(
        {"LastName": "Nguyen", "Company": "Cedar Labs", "Email": "an@cedar.io", "Website": "cedar.io"}
    )
    converted = emulator.org.convert_lead(lead["id"])
    record = sf.Lead.get(lead["id"])
    assert record["IsConverted"] is True and record["Status"] == "Closed - Converted"
    assert record["ConvertedContactId"] == converted.contact_id and record["ConvertedAccountId"] == converted.account_id
    assert record["ConvertedDate"] == "2026-11-25"
    contact = sf.Contact.get(converted.contact_id)
    assert contact["Email"] == "an@cedar.io" and contact["AccountId"] == converted.account_id
    assert sf.Account.get(converted.account_id)["Name"] == "Cedar Labs"

    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.Lead.update(lead["id"], {"Title": "CEO"})
    assert error_body(raised.value)[0]["errorCode"] == "CANNOT_UPDATE_CONVERTED_LEAD"

    other = sf.Lead.create({"LastName": "Costa", "Company": "Pine"})["id"]
    existing = emulator.org.query("SELECT Id, AccountId FROM Contact WHERE AccountId != null LIMIT 1")[0]
    merged = emulator.org.convert_lead(other, contact_id=existing["Id"])
    assert merged.contact_id == existing["Id"] and merged.account_id == existing["AccountId"]

    result = sf.bulk2.Lead.update(records=[{"Id": lead["id"], "Title": "CEO"}, {"Id": other, "Title": "CFO"}], wait=0)
    assert result[0]["numberRecordsFailed"] == 2
    failed = rows_of(sf.bulk2.Lead.get_failed_records(result[0]["job_id"]))
    assert {row["sf__Error"].split(":")[0] for row in failed} == {"CANNOT_UPDATE_CONVERTED_LEAD"}


# -- Bulk API 2.0 query ---------------------------------------------------------------------------------


def test_bulk_query_pages_by_locator(shared: SalesforceEmulator, tmp_path: Path) -> None:
    sf = client_for(shared)
    shared.reset_calls()
    pages = list(
        sf.bulk2.Contact.query("SELECT Id, Email, SystemModstamp, Account.Name FROM Contact", max_records=1000, wait=0)
    )
    assert len(pages) == 5
    assert shared.calls_by_kind["bulk_query_results"] == 5
    assert shared.calls_by_kind["bulk_query_create"] == 1 and shared.calls_by_kind["bulk_query_status"] == 2
    records = [row for page in pages for row in rows_of(page)]
    assert len(records) == len({row["Id"] for row in records}) == 4500
    assert list(records[0]) == ["Id", "Email", "SystemModstamp", "Account.Name"]
    assert records[0]["SystemModstamp"].endswith(".000Z")
    assert pages[0].startswith('"Id","Email","SystemModstamp","Account.Name"\n')

    downloads = sf.bulk2.Contact.download("SELECT Id FROM Contact", str(tmp_path), max_records=2000, wait=0)
    assert [item["number_of_records"] for item in downloads] == [2000, 2000, 500]
    assert downloads[-1]["locator"] == ""
    assert sum(len(rows_of(Path(item["file"]).read_text())) for item in downloads) == 4500


def test_bulk_query_raw_headers_default_page_and_snapshot(emulator: SalesforceEmulator) -> None:
    http = emulator.http_session()
    base = f"{emulator.instance_url}/services/data/v59.0/jobs/query"
    headers = {"Authorization": f"Bearer {emulator.session_id}", "Content-Type": "application/json"}
    job = http.post(base, json={"operation": "query", "query": "SELECT Id, LastName FROM Contact"}, headers=headers)
    assert job.status_code == 200 and job.json()["state"] == "UploadComplete" and job.json()["object"] == "Contact"
    job_id = job.json()["id"]
    emulator.org.create("Contact", {"LastName": "After the snapshot"})
    assert [http.get(f"{base}/{job_id}", headers=headers).json()["state"] for _ in range(2)] == [
        "InProgress",
        "JobComplete",
    ]
    page = http.get(f"{base}/{job_id}/results", headers=headers)
    assert page.headers["Sforce-Locator"] == "null" and page.headers["Sforce-NumberOfRecords"] == "150"
    assert page.headers["Content-Type"].startswith("text/csv")
    assert "After the snapshot" not in page.text

    small = http.get(f"{base}/{job_id}/results", params={"maxRecords": 100}, headers=headers)
    assert small.headers["Sforce-NumberOfRecords"] == "100" and small.headers["Sforce-Locator"] != "null"
    rest = http.get(
        f"{base}/{job_id}/results",
        params={"maxRecords": "100", "locator": small.headers["Sforce-Locator"]},
        headers=headers,
    )
    assert rest.headers["Sforce-NumberOfRecords"] == "50" and rest.headers["Sforce-Locator"] == "null"
    listed = http.get(base, headers=headers).json()
    assert listed["done"] and [item["id"] for item in listed["records"]] == [job_id]
    assert http.delete(f"{base}/{job_id}", headers=headers).status_code == 204
    assert http.get(f"{base}/{job_id}", headers=headers).status_code == 404

    doomed = emulator.org.query("SELECT Id FROM Contact LIMIT 1")[0]["Id"]
    emulator.org.delete("Contact", doomed)
    every = http.post(
        base, json={"operation": "queryAll", "query": "SELECT Id, IsDeleted FROM Contact"}, headers=headers
    )
    for _ in range(2):
        http.get(f"{base}/{every.json()['id']}", headers=headers)
    rows = rows_of(http.get(f"{base}/{every.json()['id']}/results", headers=headers).text)
    assert {"Id": doomed, "IsDeleted": "true"} in rows
    bad = http.post(base, json={"operation": "query", "query": "SELECT Nope FROM Contact"}, headers=headers)
    assert bad.status_code == 400 and bad.json()[0]["errorCode"] == "INVALID_FIELD"


# -- Bulk API 2.0 query limits --------------------------------------------------------------------------

QUERIES_DOC = "https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/queries.htm"


def bulk_http(emulator: SalesforceEmulator) -> tuple[requests.Session, str, dict[str, str]]:
    base = f"{emulator.instance_url}/services/data/v59.0/jobs/query"
    return emulator.http_session(), base, {"Authorization": f"Bearer {emulator.session_id}"}


def poll_states(emulator: SalesforceEmulator, job_id: str) -> list[str]:
    """Every state a client sees polling the job until it ends."""
    http, base, headers = bulk_http(emulator)
    states: list[str] = [emulator.query_jobs[job_id].state]
    while states[-1] not in ("JobComplete", "Failed", "Aborted"):
        states.append(http.get(f"{base}/{job_id}", headers=headers).json()["state"])
    return states


def test_bulk_query_refuses_offset(emulator: SalesforceEmulator) -> None:
    """Understanding Bulk API 2.0 Query, SOQL considerations (QUERIES_DOC): Bulk API 2.0 doesn't support SOQL
    queries with an OFFSET clause. The job is refused when created, with a 400 error list, even for OFFSET 0;
    the same query is fine over REST."""
    http, base, headers = bulk_http(emulator)
    for soql in ("SELECT Id FROM Contact LIMIT 10 OFFSET 5", "SELECT Id FROM Contact OFFSET 0"):
        refused = http.post(base, json={"operation": "query", "query": soql}, headers=headers)
        assert refused.status_code == 400
        assert refused.json() == [{"errorCode": "API_ERROR", "message": "OFFSET not supported in Bulk V2 Query"}]
    assert not emulator.query_jobs
    assert len(client_for(emulator).query("SELECT Id FROM Contact LIMIT 10 OFFSET 5")["records"]) == 10


def test_bulk_query_jobs_take_several_polls() -> None:
    """Get Information About a Query Job
    (https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/query_get_one_job.htm): a job is
    UploadComplete when created, InProgress while Salesforce runs it, then JobComplete; clients poll. How many
    polls it stays InProgress is the emulator's `bulk_polls_in_progress` (one by default, so tests stay fast)."""
    org = generate_org(3, accounts=5, contacts=30, leads=0, clock=ManualClock(START))
    for polls, expected in ((1, ["UploadComplete", "InProgress", "JobComplete"]), (3, None)):
        with SalesforceEmulator(org, bulk_polls_in_progress=polls) as emulator:
            http, base, headers = bulk_http(emulator)
            job = http.post(base, json={"operation": "query", "query": "SELECT Id FROM Contact"}, headers=headers)
            job_id = job.json()["id"]
            early = http.get(f"{base}/{job_id}/results", headers=headers)
            assert early.status_code == 400 and early.json()[0]["errorCode"] == "INVALIDJOBSTATE"
            states = poll_states(emulator, job_id)
            assert states == (expected or ["UploadComplete", *["InProgress"] * polls, "JobComplete"])
            results = http.get(f"{base}/{job_id}/results", headers=headers)
            assert results.headers["Sforce-NumberOfRecords"] == "30"


def test_bulk_results_are_gzip_compressed_when_asked(emulator: SalesforceEmulator) -> None:
    """Use Compression for Bulk API 2.0 Query Responses
    (https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/query_compression.htm): with
    `Accept-Encoding: gzip` the results come gzip-compressed with `Content-Encoding: gzip`; any other encoding is
    ignored and the body is plain CSV. simple-salesforce (through requests) asks for gzip and reads it unchanged."""
    http, base, headers = bulk_http(emulator)
    job_id = http.post(base, json={"operation": "query", "query": "SELECT Id, Email FROM Contact"}, headers=headers)
    job_id = job_id.json()["id"]
    poll_states(emulator, job_id)
    url = f"{base}/{job_id}/results"
    emulator.reset_calls()
    packed = http.get(url, headers={**headers, "Accept-Encoding": "gzip"}, stream=True)
    raw = packed.raw.read(decode_content=False)
    assert packed.headers["Content-Encoding"] == "gzip" and packed.headers["Sforce-NumberOfRecords"] == "150"
    plain = http.get(url, headers={**headers, "Accept-Encoding": "deflate"})
    assert "Content-Encoding" not in plain.headers and gzip.decompress(raw) == plain.content
    assert len(raw) < len(plain.content) / 2
    assert http.get(url, headers={**headers, "Accept-Encoding": "gzip;q=0"}).headers.get("Content-Encoding") is None
    assert emulator.compressed_by_kind["bulk_query_results"] == 1

    pages = list(client_for(emulator).bulk2.Contact.query("SELECT Id FROM Contact", wait=0))
    assert len(rows_of(pages[0])) == 150 and emulator.compressed_by_kind["bulk_query_results"] == 2


def test_order_by_on_a_large_object_is_slow_and_can_time_out() -> None:
    """Understanding Bulk API 2.0 Query, SOQL considerations (QUERIES_DOC): ORDER BY and LIMIT disable PK
    chunking; queries then take longer and can time out. How Bulk Queries Are Processed
    (https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/asynch_api_bulk_query_processing.htm):
    a query that runs past the time limit fails the job with QUERY_TIMEOUT. The emulator's `Chunking` says when:
    over `large_records` records the unchunked job takes `unchunked_polls` more polls, over `timeout_records` it
    then fails; a query without ORDER BY or LIMIT is chunked and stays quick whatever the size."""
    org = generate_org(3, accounts=5, contacts=300, leads=0, clock=ManualClock(START))
    chunking = Chunking(large_records=200, unchunked_polls=4, timeout_records=1000)
    with SalesforceEmulator(org, chunking=chunking) as emulator:
        http, base, headers = bulk_http(emulator)

        def job(soql: str, operation: str = "query") -> str:
            created = http.post(base, json={"operation": operation, "query": soql}, headers=headers)
            assert created.status_code == 200, created.text
            return str(created.json()["id"])

        quick = poll_states(emulator, job("SELECT Id FROM Contact WHERE SystemModstamp >= 2020-01-01T00:00:00Z"))
        assert quick == ["UploadComplete", "InProgress", "JobComplete"]
        for soql in ("SELECT Id FROM Contact ORDER BY SystemModstamp, Id", "SELECT Id FROM Contact LIMIT 250"):
            assert poll_states(emulator, job(soql)) == ["UploadComplete", *["InProgress"] * 5, "JobComplete"]
        small = poll_states(emulator, job("SELECT Id FROM Account ORDER BY Name"))  # 5 records: no chunking needed
        assert small == ["UploadComplete", "InProgress", "JobComplete"]

        emulator.chunking = Chunking(large_records=200, unchunked_polls=4, timeout_records=299)
        timed_out = job("SELECT Id FROM Contact ORDER BY SystemModstamp, Id", "queryAll")
        assert poll_states(emulator, timed_out)[-2:] == ["InProgress", "Failed"]
        info = http.get(f"{base}/{timed_out}", headers=headers).json()
        assert info["errorMessage"] == QUERY_TIMEOUT and "QUERY_TIMEOUT" in info["errorMessage"]
        assert poll_states(emulator, job("SELECT Id FROM Contact", "queryAll"))[-1] == "JobComplete"


# -- Bulk API 2.0 ingest --------------------------------------------------------------------------------


def test_bulk_insert_reports_successful_failed_and_unprocessed(emulator: SalesforceEmulator, sf: Any) -> None:
    records = [
        {"LastName": "Good", "Email": "good@example.com", "LeadSource": "Web"},
        {"LastName": "", "Email": "nolastname@example.com", "LeadSource": ""},
        {"LastName": "Bad email", "Email": "nope", "LeadSource": ""},
        {"LastName": "Bad picklist", "Email": "", "LeadSource": "Carrier pigeon"},
    ]
    before = emulator.org.count("Contact")
    result = sf.bulk2.Contact.insert(records=records, wait=0)
    assert result[0]["numberRecordsProcessed"] == 4 and result[0]["numberRecordsFailed"] == 3
    assert emulator.org.count("Contact") == before + 1
    everything = sf.bulk2.Contact.get_all_ingest_records(result[0]["job_id"])
    good = everything["successfulRecords"][0]
    assert good["sf__Created"] == "true" and good["sf__Id"].startswith("003") and good["LastName"] == "Good"
    errors = {row["LastName"]: row["sf__Error"].split(":")[0] for row in everything["failedRecords"]}
    assert errors == {
        "": "REQUIRED_FIELD_MISSING",
        "Bad email": "INVALID_EMAIL_ADDRESS",
        "Bad picklist": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
    }
    assert everything["unprocessedRecords"] == []


def test_bulk_upsert_by_external_id_never_duplicates(emulator: SalesforceEmulator, sf: Any) -> None:
    account = emulator.org.create("Account", {"Name": "Acme", "Roster_Id__c": "acc_1"})
    records = [
        {"Roster_Id__c": f"rst_{index}", "LastName": f"Person {index}", "Email": f"p{index}@acme.com"}
        for index in range(5)
    ]
    records[0]["Account.Roster_Id__c"] = "acc_1"
    before = emulator.org.count("Contact")
    first = sf.bulk2.Contact.upsert(records=records, external_id_field="Roster_Id__c", wait=0)
    retry = sf.bulk2.Contact.upsert(records=records, external_id_field="Roster_Id__c", wait=0)
    assert emulator.org.count("Contact") == before + 5
    assert first[0]["numberRecordsFailed"] == retry[0]["numberRecordsFailed"] == 0
    created = rows_of(sf.bulk2.Contact.get_successful_records(first[0]["job_id"]))
    again = rows_of(sf.bulk2.Contact.get_successful_records(retry[0]["job_id"]))
    assert {row["sf__Created"] for row in created} == {"true"} and {row["sf__Created"] for row in again} == {"false"}
    assert sorted(row["sf__Id"] for row in created) == sorted(row["sf__Id"] for row in again)
    linked = emulator.org.query("SELECT AccountId FROM Contact WHERE Roster_Id__c = 'rst_0'")
    assert linked == [{"AccountId": account}]

    dupes = [{"Roster_Id__c": "dup", "LastName": "One"}, {"Roster_Id__c": "DUP", "LastName": "Two"}]
    result = sf.bulk2.Contact.upsert(records=dupes, external_id_field="Roster_Id__c", wait=0)
    failed = rows_of(sf.bulk2.Contact.get_failed_records(result[0]["job_id"]))
    assert [row["sf__Error"].split(":")[0] for row in failed] == ["DUPLICATE_EXTERNAL_ID"] * 2


def test_validation_rule_hook(emulator: SalesforceEmulator, sf: Any) -> None:
    emulator.org.add_validation_rule(
        "Contact",
        lambda obj, record: "Executives need a phone" if record["Title"] == "CEO" and not record["Phone"] else None,
        field="Phone",
    )
    result = sf.bulk2.Contact.insert(
        records=[{"LastName": "A", "Title": "CEO", "Phone": ""}, {"LastName": "B", "Title": "CEO", "Phone": "+1 5"}],
        wait=0,
    )
    failed = rows_of(sf.bulk2.Contact.get_failed_records(result[0]["job_id"]))
    assert [row["sf__Error"] for row in failed] == [
        "FIELD_CUSTOM_VALIDATION_EXCEPTION:Executives need a phone:Phone --"
    ]
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.Contact.create({"LastName": "C", "Title": "CEO"})
    assert error_body(raised.value)[0]["errorCode"] == "FIELD_CUSTOM_VALIDATION_EXCEPTION"


def test_ingest_job_lifecycle_over_plain_http(emulator: SalesforceEmulator) -> None:
    http = emulator.http_session()
    base = f"{emulator.instance_url}/services/data/v59.0/jobs/ingest"
    headers = {"Authorization": f"Bearer {emulator.session_id}"}

    def job(body: dict[str, Any]) -> str:
        response = http.post(base, json={"object": "Contact", "contentType": "CSV", **body}, headers=headers)
        assert response.status_code == 200, response.text
        assert response.json()["state"] == "Open" and response.json()["contentUrl"].endswith("/batches")
        return str(response.json()["id"])

    unknown = job({"operation": "insert"})
    csv_headers = {**headers, "Content-Type": "text/csv"}
    assert (
        http.put(f"{base}/{unknown}/batches", data="LastName,Shoe_Size__c\nA,42\n", headers=csv_headers).status_code
        == 201
    )
    http.patch(f"{base}/{unknown}", json={"state": "UploadComplete"}, headers=headers)
    assert http.get(f"{base}/{unknown}", headers=headers).json()["state"] == "InProgress"
    info = http.get(f"{base}/{unknown}", headers=headers).json()
    assert info["state"] == "Failed" and "Field name not found : Shoe_Size__c" in info["errorMessage"]
    for spelling in ("unprocessedrecords", "unprocessedRecords"):
        assert rows_of(http.get(f"{base}/{unknown}/{spelling}", headers=headers).text) == [
            {"LastName": "A", "Shoe_Size__c": "42"}
        ]

    aborted = job({"operation": "insert", "lineEnding": "CRLF"})
    http.put(f"{base}/{aborted}/batches", data="LastName\r\nA\r\n", headers=csv_headers)
    assert http.patch(f"{base}/{aborted}", json={"state": "Aborted"}, headers=headers).json()["state"] == "Aborted"
    assert rows_of(http.get(f"{base}/{aborted}/unprocessedRecords", headers=headers).text) == [{"LastName": "A"}]

    not_external = http.post(
        base,
        json={"object": "Contact", "operation": "upsert", "externalIdFieldName": "LastName"},
        headers=headers,
    )
    assert not_external.status_code == 400 and not_external.json()[0]["errorCode"] == "INVALIDJOB"
    deleted = job({"operation": "delete"})
    victim = emulator.org.query("SELECT Id FROM Contact LIMIT 1")[0]["Id"]
    http.put(f"{base}/{deleted}/batches", data=f"Id\n{victim}\n", headers=csv_headers)
    http.patch(f"{base}/{deleted}", json={"state": "UploadComplete"}, headers=headers)
    assert http.get(f"{base}/{deleted}", headers=headers).json()["numberRecordsProcessed"] == 1
    assert emulator.org.get("Contact", victim) is None and emulator.org.get("Contact", victim, include_deleted=True)


def test_upload_over_the_limit_is_refused() -> None:
    with SalesforceEmulator(SalesforceOrg(ManualClock(START)), max_upload_bytes=1024) as emulator:
        sf = client_for(emulator)
        with pytest.raises(Exception, match="413"):
            sf.bulk2.Contact.insert(records=[{"LastName": "x" * 40} for _ in range(100)], wait=0)
        assert emulator.calls_by_kind["bulk_ingest_upload"] == 1
        assert emulator.calls_by_kind["bulk_ingest_state"] == 1  # simple-salesforce aborts the job
        assert next(iter(emulator.ingest_jobs.values())).state == "Aborted"


def test_concurrent_bulk_loads_are_consistent(emulator: SalesforceEmulator, sf: Any) -> None:
    records = [{"Roster_Id__c": f"par_{index}", "LastName": f"Parallel {index}"} for index in range(1000)]
    before = emulator.org.count("Contact")
    results = sf.bulk2.Contact.insert(records=records, batch_size=100, concurrency=4, wait=0)
    assert len(results) == 10 and sum(result["numberRecordsFailed"] for result in results) == 0
    assert emulator.org.count("Contact") == before + 1000
    assert len(emulator.org.query("SELECT Id FROM Contact WHERE Roster_Id__c LIKE 'par\\_%'")) == 1000


def test_stop_is_an_outage_and_restart_keeps_the_port(emulator: SalesforceEmulator, sf: Any) -> None:
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 20
    port = emulator.port
    emulator.stop()
    with pytest.raises(requests.exceptions.ConnectionError):
        sf.query("SELECT COUNT() FROM Account")
    emulator.start()
    assert emulator.port == port
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 20


# -- failures, auth, logins, counting -------------------------------------------------------------------


def test_expired_session_and_request_limit_injection(emulator: SalesforceEmulator, sf: Any) -> None:
    emulator.fail_next("expired_session")
    with pytest.raises(SalesforceExpiredSession) as expired:
        sf.query("SELECT Id FROM Account LIMIT 1")
    assert error_body(expired.value) == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    assert sf.query("SELECT Id FROM Account LIMIT 1")["totalSize"] == 1

    emulator.fail_next("request_limit", count=2)
    for _ in range(2):
        with pytest.raises(SalesforceRefusedRequest) as refused:
            sf.query("SELECT Id FROM Account LIMIT 1")
        assert refused.value.status == 403 and error_body(refused.value)[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    sf.query("SELECT Id FROM Account LIMIT 1")

    emulator.fail_next("server_error", on="describe")
    sf.query("SELECT Id FROM Account LIMIT 1")
    with pytest.raises(SalesforceGeneralError):
        sf.Account.describe()

    emulator.expire_sessions()
    with pytest.raises(SalesforceExpiredSession):
        sf.Account.describe()
    assert client_for(emulator, emulator.new_session()).query("SELECT COUNT() FROM Account")["totalSize"] == 20
    missing = requests.get(f"{emulator.instance_url}/services/data/v59.0/sobjects", verify=emulator.ca_path, timeout=10)
    assert missing.status_code == 401 and missing.json()[0]["errorCode"] == "INVALID_SESSION_ID"


def test_api_limit_is_enforced_and_reported() -> None:
    with SalesforceEmulator(SalesforceOrg(ManualClock(START)), api_limit=3) as emulator:
        sf = client_for(emulator)
        assert sf.limits()["DailyApiRequests"] == {"Max": 3, "Remaining": 2}
        sf.query("SELECT COUNT() FROM Contact")
        assert sf.api_usage["api-usage"].used == 2
        sf.query("SELECT COUNT() FROM Contact")
        with pytest.raises(SalesforceRefusedRequest):
            sf.query("SELECT COUNT() FROM Contact")


def test_bulk_failures_slow_failed_and_results_500(shared: SalesforceEmulator) -> None:
    sf = client_for(shared)
    shared.reset_calls()
    shared.fail_next("bulk_job_slow", polls=3)
    pages = list(sf.bulk2.Account.query("SELECT Id FROM Account", wait=0))
    assert len(rows_of(pages[0])) == 120
    assert shared.calls_by_kind["bulk_query_status"] == 5  # one InProgress poll of its own, three injected

    shared.fail_next("bulk_job_failed")
    with pytest.raises(SalesforceOperationError, match="UNKNOWN_EXCEPTION"):
        list(sf.bulk2.Account.query("SELECT Id FROM Account", wait=0))

    shared.fail_next("bulk_job_failed", on="bulk_ingest_create")
    with pytest.raises(SalesforceOperationError):
        sf.bulk2.Account.insert(records=[{"Name": "Never"}], wait=0)
    failed_job = [job for job in shared.ingest_jobs.values() if job.state == "Failed"][-1]
    assert rows_of(sf.bulk2.Account.get_unprocessed_records(failed_job.id)) == [{"Name": "Never"}]
    assert shared.org.query("SELECT Id FROM Account WHERE Name = 'Never'") == []

    shared.fail_next("results_500")
    generator = sf.bulk2.Contact.query("SELECT Id FROM Contact", max_records=3000, wait=0)
    with pytest.raises(SalesforceGeneralError) as raised:
        next(generator)
    assert raised.value.status == 500
    job_id = list(shared.query_jobs)[-1]
    low_level = sf.bulk2.Contact._client
    first = low_level.get_query_results(job_id, "", 3000)
    second = low_level.get_query_results(job_id, first["locator"], 3000)
    assert first["number_of_records"] + second["number_of_records"] == 4500 and second["locator"] == ""


def test_oauth_token_endpoint_with_the_client_library(emulator: SalesforceEmulator) -> None:
    url = f"{emulator.instance_url}/services/oauth2/token"
    session = emulator.http_session()
    creds: Credentials = emulator.credentials
    password_grant = {
        "grant_type": "password",
        "client_id": creds.client_id,
        "client_secret": creds.client_secret,
        "username": creds.username,
        "password": creds.password + creds.security_token,
    }
    token, instance = token_login(url, password_grant, "login", creds.client_id, None, None, session)
    assert instance == f"127.0.0.1:{emulator.port}"
    assert client_for(emulator, token).query("SELECT COUNT() FROM Lead")["totalSize"] == 60

    with pytest.raises(SalesforceAuthenticationFailed) as bad:
        token_login(url, {**password_grant, "password": creds.password}, "login", creds.client_id, None, None, session)
    assert bad.value.code == "invalid_grant"
    wrong_client = session.post(url, data={**password_grant, "client_id": "someone-else"}).json()
    assert wrong_client["error"] == "invalid_client_id"
    unsupported = session.post(url, data={"grant_type": "implicit"})
    assert unsupported.status_code == 400 and unsupported.json()["error"] == "unsupported_grant_type"

    machine = session.post(url, data={"grant_type": "client_credentials"}, auth=(creds.client_id, creds.client_secret))
    assert machine.status_code == 200 and machine.json()["token_type"] == "Bearer"
    assert "refresh_token" not in machine.json()
    assert "refresh_token" not in session.post(url, data=password_grant).json()  # the password flow issues none
    assert emulator.calls_by_kind["login_oauth"] == 6


def test_soap_login_with_the_client_library(emulator: SalesforceEmulator) -> None:
    creds = emulator.credentials

    def body(password: str) -> str:
        return (
            '<?xml version="1.0" encoding="utf-8" ?><env:Envelope xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"'
            ' xmlns:urn="urn:partner.soap.sforce.com"><env:Body><n1:login xmlns:n1="urn:partner.soap.sforce.com">'
            f"<n1:username>{creds.username}</n1:username><n1:password>{password}</n1:password>"
            "</n1:login></env:Body></env:Envelope>"
        )

    url = f"{emulator.instance_url}/services/Soap/u/59.0"
    headers = {"content-type": "text/xml", "charset": "UTF-8", "SOAPAction": "login"}
    session = emulator.http_session()
    token, instance = soap_login(url, body(creds.password + creds.security_token), headers, None, session)
    assert instance == f"127.0.0.1:{emulator.port}"
    assert client_for(emulator, token).query("SELECT COUNT() FROM Account")["totalSize"] == 20
    with pytest.raises(SalesforceAuthenticationFailed) as failed:
        soap_login(url, body("wrong"), headers, None, session)
    assert failed.value.code == "INVALID_LOGIN"


def test_calls_are_counted_by_kind(emulator: SalesforceEmulator, sf: Any) -> None:
    emulator.reset_calls()
    sf.query("SELECT Id FROM Contact LIMIT 1")
    sf.query_all("SELECT Id FROM Contact")
    sf.Contact.describe()
    sf.Contact.create({"LastName": "Counted"})
    requests.get(f"{emulator.instance_url}/services/data/v59.0/nowhere", verify=emulator.ca_path, timeout=10)
    assert emulator.calls == 5
    assert emulator.calls_by_kind == Counter(query=2, describe=1, sobject_create=1, unknown=1)
    assert emulator.client().query("SELECT COUNT() FROM Contact")["totalSize"] == 151
    emulator.reset_calls()
    assert emulator.calls == 0


# -- the generated org ----------------------------------------------------------------------------------


def test_generator_is_deterministic_and_realistic() -> None:
    def snapshot(org: SalesforceOrg) -> dict[str, list[dict[str, Any]]]:
        return {
            name: list(org.records(name)) for name in ("Account", "Contact", "Lead", "Opportunity", "Task", "Event")
        }

    one = generate_org(3, accounts=100, contacts=2000, leads=800, clock=ManualClock(START))
    two = generate_org(3, accounts=100, contacts=2000, leads=800, clock=ManualClock(START))
    other = generate_org(4, accounts=100, contacts=2000, leads=800, clock=ManualClock(START))
    assert snapshot(one) == snapshot(two) != snapshot(other)

    contacts = {row["Id"]: row for row in one.records("Contact")}
    emails = {row["Email"].lower(): row["Id"] for row in contacts.values() if row["Email"]}
    leads = list(one.records("Lead"))
    converted = [lead for lead in leads if lead["IsConverted"]]
    assert len(converted) > 50
    for lead in converted:
        contact = contacts[lead["ConvertedContactId"]]
        assert lead["Status"] == "Closed - Converted" and lead["Email"] == contact["Email"]
        assert lead["ConvertedAccountId"] == contact["AccountId"]
    open_leads = [lead for lead in leads if not lead["IsConverted"]]
    by_email = [lead for lead in open_leads if lead["Email"] and lead["Email"].strip().lower() in emails]
    assert any(lead["Email"] != lead["Email"].strip().lower() for lead in by_email)
    handles = {
        row["LinkedIn_URL__c"].rstrip("/").rsplit("/", 1)[-1] for row in contacts.values() if row["LinkedIn_URL__c"]
    }
    by_linkedin = [
        lead
        for lead in open_leads
        if lead["LinkedIn_URL__c"] and lead["LinkedIn_URL__c"].rstrip("/").rsplit("/", 1)[-1] in handles
    ]
    assert by_linkedin and any("@gmail.com" in (lead["Email"] or "") for lead in by_linkedin)

    stamps = Counter(row["SystemModstamp"] for row in contacts.values())
    assert stamps.most_common(1)[0][1] > 100  # data loads: many records in one second
    assert all(row["SystemModstamp"] < "2026-11-25T10:00:00.000+0000" for row in contacts.values())
    assert all(row["CreatedDate"] <= row["LastModifiedDate"] <= row["SystemModstamp"] for row in contacts.values())
    stages = Counter(row["StageName"] for row in one.records("Opportunity"))
    assert stages["Closed Won"] and stages["Closed Lost"] and len(stages) > 4
    per_account = Counter(row["AccountId"] for row in one.records("Opportunity"))
    assert max(per_account.values()) >= 3
    tasks = list(one.records("Task"))
    assert {task["WhoId"][:3] for task in tasks if task["WhoId"]} == {"003", "00Q"}
    assert {task["WhatId"][:3] for task in tasks if task["WhatId"]} == {"001", "006"}
    accounts = list(one.records("Account"))
    assert all(row["Name"] and row["BillingCountry"] for row in accounts)
    assert any(row["Website"] and row["Website"].startswith("https://www.") for row in accounts)


def test_a_large_org_and_a_50000_row_default_page() -> None:
    org = generate_org(1, accounts=2000, contacts=100_000, leads=0, tasks=0, events=0, clock=ManualClock(START))
    assert org.count("Contact") == 100_000
    with SalesforceEmulator(org) as emulator:
        sf = client_for(emulator)
        client = sf.bulk2.Contact._client
        job = client.create_job("query", "SELECT Id, Email, SystemModstamp FROM Contact")
        client.wait_for_job(job["id"], True, 0)
        http = emulator.http_session()
        page = http.get(
            f"{emulator.instance_url}/services/data/v59.0/jobs/query/{job['id']}/results",
            headers={"Authorization": f"Bearer {emulator.session_id}"},
        )
        assert page.headers["Sforce-NumberOfRecords"] == "50000"
        assert page.headers["Sforce-Locator"] != "null"
        assert math.isclose(len(page.text.splitlines()), 50_001)

"""The emulator answers as a real org does where Roster could otherwise pass locally and fail in production.

Each test follows one page of Salesforce's documentation, named in its docstring, and drives the emulator over
HTTPS with unmodified simple-salesforce or plain requests.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceResourceNotFound

from roster import aws
from roster.connectors.salesforce.connection import API_VERSION, Connection, SessionCredentials
from roster_dev.emulators.salesforce.generate import generate_org
from roster_dev.emulators.salesforce.org import ManualClock
from roster_dev.emulators.salesforce.server import SalesforceEmulator
from roster_dev.local.stack import LocalStack

START = datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC)


@pytest.fixture
def emulator() -> Iterator[SalesforceEmulator]:
    org = generate_org(8, accounts=15, contacts=120, leads=40, clock=ManualClock(START), roster_fields=True)
    with SalesforceEmulator(org) as fresh:
        yield fresh


def client(emulator: SalesforceEmulator, version: str = "68.0") -> Any:
    """simple-salesforce in direct mode (typed `Any`: its `sf.<Object>` attributes defeat mypy)."""
    return Salesforce(
        session_id=emulator.session_id,
        instance_url=emulator.instance_url,
        session=emulator.http_session(),
        version=version,
    )


def fields_of(sf: Any, obj: str) -> dict[str, dict[str, Any]]:
    return {field["name"]: field for field in getattr(sf, obj).describe()["fields"]}


def code_of(error: Exception) -> str:
    """Salesforce's error code on a simple-salesforce exception (its `content` is typed loosely)."""
    content: Any = getattr(error, "content", None)
    return str(content[0]["errorCode"])


def get(emulator: SalesforceEmulator, path: str) -> requests.Response:
    headers = {"Authorization": f"Bearer {emulator.session_id}"}
    return emulator.http_session().get(f"{emulator.instance_url}{path}", headers=headers, timeout=30)


# -- versions -------------------------------------------------------------------------------------------


def test_every_version_from_31_to_68_is_listed_and_served(emulator: SalesforceEmulator) -> None:
    """REST API Developer Guide, "Versions" (resources_versions.htm): `GET /services/data/` lists each version the
    org serves as `{label, url, version}`, oldest first; the current release is Winter '27 (68.0), and 21.0-30.0
    were retired in Summer '25, so 31.0 is the oldest left. A version outside the list is a 404."""
    listed = emulator.http_session().get(f"{emulator.instance_url}/services/data/", timeout=30).json()
    assert [item["version"] for item in listed] == [f"{major}.0" for major in range(31, 69)]
    assert listed[0] == {"label": "Summer '14", "url": "/services/data/v31.0", "version": "31.0"}
    assert {"label": "Winter '24", "url": "/services/data/v59.0", "version": "59.0"} in listed
    assert {"label": "Spring '26", "url": "/services/data/v66.0", "version": "66.0"} in listed
    assert listed[-1] == {"label": "Winter '27", "url": "/services/data/v68.0", "version": "68.0"}
    for version in ("31.0", "62.0", "68.0"):
        assert client(emulator, version).query("SELECT COUNT() FROM Account")["totalSize"] == 15
        assert get(emulator, f"/services/data/v{version}/").json()["sobjects"] == f"/services/data/v{version}/sobjects"
    for retired in ("30.0", "69.0"):
        missing = get(emulator, f"/services/data/v{retired}/sobjects")
        assert missing.status_code == 404 and missing.json()[0]["errorCode"] == "NOT_FOUND"


def test_roster_speaks_the_api_version_its_deployment_sets(stack: LocalStack, emulator: SalesforceEmulator) -> None:
    """Roster's API version is the template parameter SalesforceApiVersion (68.0 unless overridden), read as the
    SALESFORCE_API_VERSION setting; a connection speaks the version it is given."""
    assert aws.clients().settings.salesforce_api_version == API_VERSION == "68.0"
    session = SessionCredentials(instance_url=emulator.instance_url, session_id=emulator.session_id)
    for version in (API_VERSION, "62.0"):
        connection = Connection(session, verify=emulator.ca_path, api_version=version)
        assert connection.sf.base_url.endswith(f"/services/data/v{version}/")
        assert connection.sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 40


# -- describe -------------------------------------------------------------------------------------------


def test_describe_has_compound_address_and_geolocation_fields(emulator: SalesforceEmulator) -> None:
    """SOAP API Developer Guide, "Compound Fields", "Address Compound Fields" and "Geolocation Compound Field"
    (compound_fields.htm, compound_fields_address.htm, compound_fields_geolocation.htm): standard addresses are an
    `address` field (soapType urn:address) over Street, City, State, PostalCode, Country, Latitude, Longitude and
    GeocodeAccuracy components whose `compoundFieldName` names it; a custom geolocation `X__c` is a `location` over
    `X__Latitude__s` and `X__Longitude__s`. Compound fields are read-only (write the components) and REST returns
    them as one structured value."""
    sf = client(emulator)
    expected = {
        "Contact": {"MailingAddress": "Mailing", "OtherAddress": "Other"},
        "Account": {"BillingAddress": "Billing", "ShippingAddress": "Shipping"},
        "Lead": {"Address": ""},
    }
    parts = ("Street", "City", "State", "PostalCode", "Country", "Latitude", "Longitude", "GeocodeAccuracy")
    for obj, compounds in expected.items():
        fields = fields_of(sf, obj)
        for compound, prefix in compounds.items():
            spec = fields[compound]
            assert (spec["type"], spec["soapType"], spec["compoundFieldName"]) == ("address", "urn:address", None)
            assert not spec["createable"] and not spec["updateable"] and not spec["filterable"]
            components = [name for name, field in fields.items() if field["compoundFieldName"] == compound]
            assert components == [f"{prefix}{part}" for part in parts]
            assert fields[f"{prefix}Street"]["type"] == "textarea" and fields[f"{prefix}Street"]["length"] == 255
            assert fields[f"{prefix}Latitude"]["type"] == "double" and fields[f"{prefix}Latitude"]["scale"] == 15
            accuracy = [value["value"] for value in fields[f"{prefix}GeocodeAccuracy"]["picklistValues"]]
            assert {"Address", "Street", "Zip", "Unknown"} <= set(accuracy)
            assert fields[f"{prefix}City"]["updateable"]
    account = fields_of(sf, "Account")
    assert account["Headquarters__c"]["type"] == "location" and account["Headquarters__c"]["soapType"] == "urn:location"
    assert {name for name, field in account.items() if field["compoundFieldName"] == "Headquarters__c"} == {
        "Headquarters__Latitude__s",
        "Headquarters__Longitude__s",
    }

    row = sf.query("SELECT Id, MailingCity, MailingPostalCode, MailingAddress FROM Contact LIMIT 1")["records"][0]
    assert row["MailingAddress"]["city"] == row["MailingCity"]
    assert row["MailingAddress"]["postalCode"] == row["MailingPostalCode"]
    assert set(row["MailingAddress"]) == {
        "street",
        "city",
        "state",
        "postalCode",
        "country",
        "latitude",
        "longitude",
        "geocodeAccuracy",
    }
    sf.Contact.update(row["Id"], {"MailingCity": "Lisbon", "MailingCountry": "Portugal"})
    assert sf.Contact.get(row["Id"])["MailingAddress"]["city"] == "Lisbon"
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.Contact.update(row["Id"], {"MailingAddress": {"city": "Porto"}})
    assert code_of(refused.value) == "INVALID_FIELD_FOR_INSERT_UPDATE"
    blank = sf.Contact.create({"LastName": "Nowhere"})["id"]
    assert sf.Contact.get(blank)["MailingAddress"] is None
    hq = sf.query("SELECT Headquarters__c, BillingLatitude FROM Account LIMIT 1")["records"][0]
    assert hq["Headquarters__c"]["latitude"] == hq["BillingLatitude"]


def test_describe_field_types_and_flags_real_orgs_return(emulator: SalesforceEmulator) -> None:
    """SOAP API Developer Guide, "DescribeSObjectResult" → "Field" (sforce_api_calls_describesobjects_describesobject
    result.htm) and "Field Types" (field_types.htm): multipicklist values are `;`-joined, time is `HH:MM:SS.sssZ`,
    text areas carry extraTypeInfo `plaintextarea` and long ones (over 255) are neither filterable nor sortable,
    formula fields are `calculated` with their `calculatedFormula` and refuse writes, and fields may be createable
    but not updateable, external ids, or unique. SOQL refuses to filter or sort on what describe says it cannot."""
    sf = client(emulator)
    contact = fields_of(sf, "Contact")
    account = fields_of(sf, "Account")
    interest = contact["Product_Interest__c"]
    assert interest["type"] == "multipicklist" and interest["restrictedPicklist"] and not interest["sortable"]
    assert (
        contact["Best_Time_To_Call__c"]["type"] == "time" and contact["Best_Time_To_Call__c"]["soapType"] == "xsd:time"
    )
    description = contact["Description"]
    assert (description["type"], description["length"], description["extraTypeInfo"]) == (
        "textarea",
        32000,
        "plaintextarea",
    )
    assert not description["filterable"] and not description["sortable"]
    assert contact["MailingStreet"]["filterable"] and contact["MailingStreet"]["extraTypeInfo"] == "plaintextarea"
    assert account["AnnualRevenue"]["type"] == "currency" and account["AnnualRevenue"]["soapType"] == "xsd:double"
    assert fields_of(sf, "Opportunity")["Probability"]["type"] == "percent"
    domain = contact["Email_Domain__c"]
    assert domain["calculated"] and domain["calculatedFormula"] == 'MID(Email, FIND("@", Email) + 1, 255)'
    assert not domain["createable"] and not domain["updateable"]
    revenue = account["Revenue_Per_Employee__c"]
    assert revenue["calculated"] and revenue["type"] == "currency" and revenue["calculatedFormula"]
    subtype = fields_of(sf, "Task")["TaskSubtype"]
    assert subtype["createable"] and not subtype["updateable"]
    assert account["ERP_Account_Id__c"]["externalId"] and not account["ERP_Account_Id__c"]["unique"]
    assert contact["Roster_Id__c"]["externalId"] and contact["Roster_Id__c"]["unique"]
    assert fields_of(sf, "User")["Username"]["unique"] and not fields_of(sf, "User")["Username"]["externalId"]
    assert {"aggregatable", "autoNumber", "compoundFieldName", "extraTypeInfo", "calculatedFormula"} <= set(domain)

    created = sf.Contact.create(
        {
            "LastName": "Types",
            "Email": "ada@types.example",
            "Product_Interest__c": "API;Platform",
            "Best_Time_To_Call__c": "09:30",
        }
    )["id"]
    record = sf.Contact.get(created)
    assert record["Product_Interest__c"] == "API;Platform" and record["Best_Time_To_Call__c"] == "09:30:00.000Z"
    assert record["Email_Domain__c"] == "types.example"
    for bad in ({"Product_Interest__c": "API;Teleportation"}, {"Email_Domain__c": "x.example"}):
        with pytest.raises(SalesforceMalformedRequest) as refused:
            sf.Contact.update(created, bad)
        assert code_of(refused.value) in {
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            "INVALID_FIELD_FOR_INSERT_UPDATE",
        }
    for soql, verb in (
        ("SELECT Id FROM Contact WHERE Description = 'x'", "filtered in query call"),
        ("SELECT Id FROM Contact WHERE MailingAddress != null", "filtered in query call"),
        ("SELECT Id FROM Contact ORDER BY Product_Interest__c", "sorted in a query call"),
    ):
        with pytest.raises(SalesforceMalformedRequest) as refused:
            sf.query(soql)
        assert code_of(refused.value) == "INVALID_FIELD" and verb in str(refused.value), soql
    task = sf.Task.create({"Subject": "Call", "TaskSubtype": "Call"})["id"]
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.Task.update(task, {"TaskSubtype": "Email"})
    assert code_of(refused.value) == "INVALID_FIELD_FOR_INSERT_UPDATE"


def test_generated_org_fills_the_new_fields(emulator: SalesforceEmulator) -> None:
    """The seeded org carries values in the fields real orgs have (addresses geocoded, picklists, formulas)."""
    contacts = list(emulator.org.records("Contact"))
    assert sum(row["MailingAddress"] is not None for row in contacts) == len(contacts)
    assert any(row["Product_Interest__c"] and ";" in row["Product_Interest__c"] for row in contacts)
    assert any(row["Best_Time_To_Call__c"] for row in contacts)
    assert all(row["Email_Domain__c"] == (row["Email"].partition("@")[2] if row["Email"] else None) for row in contacts)
    accounts = list(emulator.org.records("Account"))
    assert all(row["BillingPostalCode"] and row["BillingGeocodeAccuracy"] for row in accounts)
    assert any(row["Revenue_Per_Employee__c"] for row in accounts)
    leads = [row for row in emulator.org.records("Lead") if not row["IsConverted"]]
    assert any(row["Address"] for row in leads)


# -- Bulk API 2.0 ---------------------------------------------------------------------------------------


def test_bulk_query_refuses_compound_fields(emulator: SalesforceEmulator) -> None:
    """Bulk API 2.0 Developer Guide, "Understanding Bulk API 2.0 Query" (queries.htm): query jobs don't support
    compound address or geolocation fields ("query the individual components of compound fields instead"); the
    refusal reads FUNCTIONALITY_NOT_ENABLED "Selecting compound data not supported in Bulk Query"."""
    http = emulator.http_session()
    base = f"{emulator.instance_url}/services/data/v68.0/jobs/query"
    headers = {"Authorization": f"Bearer {emulator.session_id}"}
    for soql in (
        "SELECT Id, MailingAddress FROM Contact",
        "SELECT Id, Headquarters__c FROM Account",
        "SELECT Id, Account.BillingAddress FROM Contact",
    ):
        refused = http.post(base, json={"operation": "query", "query": soql}, headers=headers)
        assert refused.status_code == 400, soql
        assert refused.json() == [
            {"errorCode": "FUNCTIONALITY_NOT_ENABLED", "message": "Selecting compound data not supported in Bulk Query"}
        ]
    sf = client(emulator)
    pages = list(sf.bulk2.Contact.query("SELECT Id, MailingCity, MailingLatitude FROM Contact", wait=0))
    rows = list(csv.DictReader(io.StringIO(pages[0])))
    assert len(rows) == 120 and all(row["MailingCity"] and float(row["MailingLatitude"]) for row in rows)


# -- deleted records ------------------------------------------------------------------------------------


def test_deleted_records_answer_only_the_last_30_days(emulator: SalesforceEmulator) -> None:
    """REST API Developer Guide, "sObject Get Deleted" (resources_getdeleted.htm) and SOAP API "getDeleted()"
    (sforce_api_calls_getdeleted.htm): the delete log is kept for a limited time (30 days here, as data replication
    tools meet it); a start before that, or a start not before the end, fails with INVALID_REPLICATION_DATE."""
    sf = client(emulator)
    clock = emulator.org.clock
    assert isinstance(clock, ManualClock)
    doomed = sf.Contact.create({"LastName": "Doomed"})["id"]
    sf.Contact.delete(doomed)
    clock.advance(20 * 86_400)
    now = clock()
    listed = sf.Contact.deleted(now - timedelta(days=29), now)
    assert [record["id"] for record in listed["deletedRecords"]] == [doomed]
    for start, end in ((now - timedelta(days=31), now), (now, now), (now, now - timedelta(hours=1))):
        with pytest.raises(SalesforceMalformedRequest) as refused:
            sf.Contact.deleted(start, end)
        assert code_of(refused.value) == "INVALID_REPLICATION_DATE"
    with pytest.raises(SalesforceResourceNotFound):
        sf.Nope__c.deleted(now - timedelta(days=1), now)
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.Contact.updated(now - timedelta(days=31), now)  # getUpdated() keeps the same 30 days
    assert code_of(refused.value) == "INVALID_REPLICATION_DATE"
    updated = sf.Contact.updated(now - timedelta(days=29), now)["ids"]
    assert updated and doomed not in updated


# -- limits ---------------------------------------------------------------------------------------------

EVERY_LIMIT = {
    "DailyApiRequests",
    "DailyAsyncApexExecutions",
    "DailyAsyncApexTests",
    "DailyBulkApiBatches",
    "DailyBulkV2QueryFileStorageMB",
    "DailyBulkV2QueryJobs",
    "DailyDurableStreamingApiEvents",
    "DailyGenericStreamingApiEvents",
    "DailyStandardVolumePlatformEvents",
    "DailyWorkflowEmails",
    "DataStorageMB",
    "FileStorageMB",
    "HourlyAsyncReportRuns",
    "HourlyDashboardRefreshes",
    "HourlyODataCallout",
    "HourlyPublishedPlatformEvents",
    "HourlySyncReportRuns",
    "HourlyTimeBasedWorkflow",
    "MassEmail",
    "PermissionSets",
    "SingleEmail",
    "StreamingApiConcurrentClients",
}


def test_limits_report_every_key_real_orgs_return_by_version(emulator: SalesforceEmulator) -> None:
    """REST API Developer Guide, "Limits" (resources_limits.htm) and its "List Org Limits" example: every limit
    with `Max` and `Remaining`; DailyBulkApiBatches is DailyBulkApiRequests in API 48.0 and earlier, the Bulk API
    2.0 query limits appear in 47.0 and DailyAsyncApexTests in 56.0."""
    latest = get(emulator, "/services/data/v68.0/limits").json()
    assert set(latest) >= EVERY_LIMIT and len(latest) >= 45
    assert all(
        set(value) == {"Max", "Remaining"} and value["Max"] >= value["Remaining"] >= 0 for value in latest.values()
    )
    assert latest["DailyBulkV2QueryJobs"]["Max"] == 10_000 and latest["DailyBulkApiBatches"]["Max"] == 15_000
    old = get(emulator, "/services/data/v46.0/limits").json()
    assert "DailyBulkApiRequests" in old and "DailyBulkApiBatches" not in old
    assert "DailyBulkV2QueryJobs" not in old and "DailyAsyncApexTests" not in old
    assert "DailyBulkV2QueryJobs" in get(emulator, "/services/data/v47.0/limits").json()


def test_limits_count_what_salesforce_counts(emulator: SalesforceEmulator) -> None:
    """REST API "Limits" (resources_limits.htm) with Bulk API 2.0 "Limits and Allocations" (bulk_api_2_limits.htm):
    DailyApiRequests counts the API calls made with a session (logging in and listing versions need none, so they
    count nothing), DailyBulkV2QueryJobs one per query job, and DailyBulkApiBatches one per 10,000 records an ingest
    job processes; query jobs use no batches."""
    http = emulator.http_session()
    emulator.reset_calls()
    token = http.post(
        f"{emulator.instance_url}/services/oauth2/token",
        data={
            "grant_type": "password",
            "client_id": emulator.credentials.client_id,
            "client_secret": emulator.credentials.client_secret,
            "username": emulator.credentials.username,
            "password": emulator.credentials.password + emulator.credentials.security_token,
        },
        timeout=30,
    )
    assert token.status_code == 200
    http.get(f"{emulator.instance_url}/services/data/", timeout=30)
    assert emulator.api_requests == 0
    sf = client(emulator)
    before = sf.limits()
    assert before["DailyApiRequests"]["Remaining"] == before["DailyApiRequests"]["Max"] - 1
    list(sf.bulk2.Account.query("SELECT Id FROM Account", wait=0))
    rows = [{"LastName": f"Bulk {index}"} for index in range(25_000)]
    sf.bulk2.Contact.insert(records=rows, wait=0)
    after = sf.limits()
    assert after["DailyBulkV2QueryJobs"]["Remaining"] == before["DailyBulkV2QueryJobs"]["Remaining"] - 1
    assert after["DailyBulkApiBatches"]["Remaining"] == before["DailyBulkApiBatches"]["Remaining"] - 3
    assert after["DailyBulkV2QueryFileStorageMB"]["Remaining"] == before["DailyBulkV2QueryFileStorageMB"]["Max"] - 1
    assert after["DailyApiRequests"]["Remaining"] == before["DailyApiRequests"]["Max"] - emulator.api_requests
    assert sf.api_usage["api-usage"].used == emulator.api_requests


# -- global describe ------------------------------------------------------------------------------------


def test_global_describe_lists_the_standard_objects_with_their_flags(emulator: SalesforceEmulator) -> None:
    """REST API Developer Guide, "Describe Global" (resources_describeGlobal.htm): every object with its key prefix
    and what the API allows on it (Users cannot be deleted, Campaign Members not undeleted, Accounts, Contacts,
    Leads and Cases merged)."""
    sobjects = {item["name"]: item for item in client(emulator).describe()["sobjects"]}
    assert {
        "Account",
        "Contact",
        "Lead",
        "Opportunity",
        "User",
        "Task",
        "Event",
        "Campaign",
        "CampaignMember",
        "Case",
        "OpportunityContactRole",
    } <= set(sobjects)
    assert {name: item["keyPrefix"] for name, item in sobjects.items()}.items() >= {
        "Campaign": "701",
        "CampaignMember": "00v",
        "Case": "500",
        "OpportunityContactRole": "00K",
    }.items()
    assert all(item["queryable"] and item["retrieveable"] and not item["custom"] for item in sobjects.values())
    assert not sobjects["User"]["deletable"] and not sobjects["CampaignMember"]["undeletable"]
    assert {name for name, item in sobjects.items() if item["mergeable"]} == {"Account", "Contact", "Lead", "Case"}
    sf = client(emulator)
    case = sf.Case.create({"Subject": "Broken", "Status": "Closed"})["id"]
    created = sf.Case.get(case)
    assert created["IsClosed"] is True and created["CaseNumber"]
    assert sf.query("SELECT COUNT() FROM Campaign")["totalSize"] == 0

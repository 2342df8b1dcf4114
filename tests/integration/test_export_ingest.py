"""Bulk API 2.0 ingest for the export: IngestJobs against the Salesforce emulator over HTTPS, with injected failures."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from tenacity import wait_none

from roster.connectors.salesforce.connection import Calls, Connection, PasswordCredentials
from roster.connectors.salesforce.ingest import IngestFailed, IngestJobs, IngestOperation, IngestResult, _parse_error
from roster_dev.emulators.salesforce import ManualClock, SalesforceEmulator, SalesforceOrg, generate_org
from roster_dev.emulators.salesforce.bulk import IngestJob

START = datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC)
BULK_KINDS = ("bulk_ingest_create", "bulk_ingest_upload", "bulk_ingest_state", "bulk_ingest_status")


@pytest.fixture
def emulator() -> Iterator[SalesforceEmulator]:
    org = generate_org(3, accounts=10, contacts=60, leads=10, clock=ManualClock(START), roster_fields=True)
    with SalesforceEmulator(org) as fresh:
        yield fresh


def connect(emulator: SalesforceEmulator) -> Calls:
    """A logged-in connection (password flow, so an expired session can log in again) with instant retries."""
    creds = emulator.credentials
    credentials = PasswordCredentials(
        login_url=emulator.instance_url,
        username=creds.username,
        password=creds.password,
        security_token=creds.security_token,
        client_id=creds.client_id,
        client_secret=creds.client_secret,
    )
    return Calls(Connection(credentials, verify=emulator.ca_path), wait=wait_none())


def jobs(
    emulator: SalesforceEmulator, operation: IngestOperation, columns: list[str], **options: Any
) -> tuple[IngestJobs, Calls]:
    calls = connect(emulator)
    options.setdefault("poll_seconds", 0)
    options.setdefault("sleep", lambda _: None)
    return IngestJobs(calls, "Contact", operation, columns, **options), calls


def contact_ids(org: SalesforceOrg, count: int) -> list[str]:
    return [str(row["Id"]) for row in org.query("SELECT Id FROM Contact ORDER BY Id")][:count]


def uploaded(emulator: SalesforceEmulator, job_id: str) -> bytes:
    return b"".join(emulator.ingest_jobs[job_id].data)


def statuses(results: list[IngestResult]) -> list[str]:
    return [result.status for result in results]


# -- update -----------------------------------------------------------------------------------------------


def test_update_writes_values_leaves_empty_cells_alone_and_clears_na(emulator: SalesforceEmulator) -> None:
    org = emulator.org
    ids = contact_ids(org, 4)
    for record_id in ids:
        org.update("Contact", record_id, {"Title": "Old title", "Phone": "+1 555 0100", "Department": "Sales"})
    rows = [
        {"Id": ids[0], "Title": "VP Growth", "Phone": "#N/A", "Description": 'Says "hi",\nthen leaves'},
        {"Id": ids[1], "Title": "", "Phone": "+44 20 7946 0000"},  # empty Title: left alone
        {"Id": ids[2], "Department": "#N/A"},  # missing columns: sent empty, left alone
        {"Id": ids[3], "Title": "Directrice générale"},
    ]
    ingest, calls = jobs(emulator, "update", ["Id", "Title", "Phone", "Department", "Description"])
    emulator.reset_calls()
    before = calls.connection.calls
    report = ingest.send(iter(rows))

    first, second, third, fourth = (org.get("Contact", record_id) or {} for record_id in ids)
    assert (first["Title"], first["Phone"], first["Description"]) == ("VP Growth", None, 'Says "hi",\nthen leaves')
    assert (second["Title"], second["Phone"], second["Department"]) == ("Old title", "+44 20 7946 0000", "Sales")
    assert (third["Title"], third["Phone"], third["Department"]) == ("Old title", "+1 555 0100", None)
    assert fourth["Title"] == "Directrice générale"

    assert len(report.job_ids) == 1 and report.records == 4
    assert report.csv_bytes == len(uploaded(emulator, report.job_ids[0])) > 0
    assert [result.key for result in report.results] == ids
    assert report.results[0] == IngestResult(ids[0], "succeeded", ids[0], False, None, None, ())
    assert statuses(report.results) == ["succeeded"] * 4
    # one job: create, one upload, UploadComplete, two polls (InProgress, JobComplete), the two result files
    expected = {**dict.fromkeys(BULK_KINDS, 1), "bulk_ingest_status": 2}
    assert {kind: emulator.calls_by_kind[kind] for kind in BULK_KINDS} == expected
    assert emulator.calls_by_kind["bulk_ingest_results"] == 2
    assert calls.connection.calls - before == 7 == emulator.calls


def test_no_rows_means_no_jobs(emulator: SalesforceEmulator) -> None:
    ingest, _ = jobs(emulator, "update", ["Id", "Title"])
    emulator.reset_calls()
    report = ingest.send([])
    assert (report.job_ids, report.records, report.csv_bytes, report.results) == ([], 0, 0, [])
    assert emulator.calls == 0


def test_arguments_are_checked(emulator: SalesforceEmulator) -> None:
    calls = connect(emulator)
    with pytest.raises(ValueError, match="external_id_field"):
        IngestJobs(calls, "Contact", "upsert", ["Roster_Id__c", "Title"])
    with pytest.raises(ValueError, match="key column Roster_Id__c"):
        IngestJobs(calls, "Contact", "upsert", ["Title"], external_id_field="Roster_Id__c")
    with pytest.raises(ValueError, match="key column Id"):
        IngestJobs(calls, "Contact", "update", ["Title"])
    with pytest.raises(ValueError, match="for upserts"):
        IngestJobs(calls, "Contact", "update", ["Id", "Roster_Id__c"], external_id_field="Roster_Id__c")
    ingest = IngestJobs(calls, "Contact", "update", ["Id", "Title"], max_bytes=40)
    with pytest.raises(ValueError, match="not in the header"):
        ingest.send([{"Id": contact_ids(emulator.org, 1)[0], "Titel": "typo"}])
    with pytest.raises(ValueError, match="does not fit"):
        ingest.send([{"Id": contact_ids(emulator.org, 1)[0], "Title": "x" * 40}])


# -- splitting --------------------------------------------------------------------------------------------


def test_rows_split_into_jobs_by_count(emulator: SalesforceEmulator) -> None:
    ids = contact_ids(emulator.org, 25)
    ingest, _ = jobs(emulator, "update", ["Id", "Title"], max_records=10)
    report = ingest.send({"Id": record_id, "Title": f"Title {index}"} for index, record_id in enumerate(ids))
    assert [len(emulator.ingest_jobs[job_id].successful) for job_id in report.job_ids] == [10, 10, 5]
    assert report.records == 25 and statuses(report.results) == ["succeeded"] * 25
    assert [result.key for result in report.results] == ids
    assert report.csv_bytes == sum(len(uploaded(emulator, job_id)) for job_id in report.job_ids)
    assert all(
        (emulator.org.get("Contact", record_id) or {})["Title"] == f"Title {i}" for i, record_id in enumerate(ids)
    )


def test_rows_split_into_jobs_by_bytes_under_the_upload_limit(emulator: SalesforceEmulator) -> None:
    ids = contact_ids(emulator.org, 25)
    header, row = len(b"Id,Title\n"), len(f"{ids[0]},Title 000\n".encode())  # every row is 29 bytes
    limit = header + 4 * row + row // 2  # room for 4 rows, not 5
    emulator.max_upload_bytes = limit  # a bigger upload would be refused with 413
    ingest, _ = jobs(emulator, "update", ["Id", "Title"], max_bytes=limit)
    report = ingest.send({"Id": record_id, "Title": f"Title {index:03d}"} for index, record_id in enumerate(ids))
    sizes = [len(uploaded(emulator, job_id)) for job_id in report.job_ids]
    assert sizes == [header + 4 * row] * 6 + [header + row]
    assert report.csv_bytes == sum(sizes) and report.records == 25
    assert statuses(report.results) == ["succeeded"] * 25


# -- upsert -----------------------------------------------------------------------------------------------


def test_upsert_creates_once_and_then_updates_the_same_records(emulator: SalesforceEmulator) -> None:
    org = emulator.org
    keys = [f"rst_{index}" for index in range(6)] + ["rst_zoë"]
    rows = [
        {"Roster_Id__c": key, "LastName": f"Export {key}", "Email": f"{index}@export.test"}
        for index, key in enumerate(keys)
    ]
    ingest, _ = jobs(emulator, "upsert", ["Roster_Id__c", "LastName", "Email"], external_id_field="Roster_Id__c")
    before = org.count("Contact")

    first = ingest.send(rows)
    assert org.count("Contact") == before + 7
    assert [result.key for result in first.results] == keys
    assert all(result.created and (result.salesforce_id or "").startswith("003") for result in first.results)
    assert org.find_by_external_id("Contact", "Roster_Id__c", "rst_zoë") == [first.results[-1].salesforce_id]

    again = ingest.send([{**row, "Email": f"again.{row['Email']}"} for row in rows])
    assert org.count("Contact") == before + 7
    assert [(result.key, result.salesforce_id) for result in again.results] == [
        (result.key, result.salesforce_id) for result in first.results
    ]
    assert not any(result.created for result in again.results) and statuses(again.results) == ["succeeded"] * 7
    assert (org.get("Contact", first.results[0].salesforce_id or "") or {})["Email"] == "again.0@export.test"


# -- rejected rows ----------------------------------------------------------------------------------------


def test_rows_a_validation_rule_rejects_fail_and_the_others_succeed(emulator: SalesforceEmulator) -> None:
    emulator.org.add_validation_rule(
        "Contact",
        lambda obj, record: (
            "Phone: required for executives" if record["Title"] == "CEO" and not record["Phone"] else None
        ),
        field="Phone",
    )
    ids = contact_ids(emulator.org, 4)
    rows = [
        {"Id": ids[0], "Title": "CEO", "Phone": "#N/A"},
        {"Id": ids[1], "Title": "CEO", "Phone": "+1 555 0199"},
        {"Id": ids[2], "Title": "Engineer", "Phone": "#N/A"},
        {"Id": ids[3], "Title": "CEO", "Phone": "#N/A"},
    ]
    ingest, _ = jobs(emulator, "update", ["Id", "Title", "Phone"])
    report = ingest.send(rows)
    assert [result.key for result in report.results] == ids
    assert statuses(report.results) == ["failed", "succeeded", "succeeded", "failed"]
    rejected = report.results[0]
    assert (rejected.error_code, rejected.message, rejected.fields, rejected.created) == (
        "FIELD_CUSTOM_VALIDATION_EXCEPTION",
        "Phone: required for executives",
        ("Phone",),
        False,
    )
    assert (emulator.org.get("Contact", ids[0]) or {})["Title"] != "CEO"
    assert len(report.job_ids) == 1  # a failed row is an answer, not a reason to send again


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        (
            "FIELD_CUSTOM_VALIDATION_EXCEPTION:Email is required:Email --",
            ("FIELD_CUSTOM_VALIDATION_EXCEPTION", "Email is required", ("Email",)),
        ),
        (
            "REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName,Email --",
            ("REQUIRED_FIELD_MISSING", "Required fields are missing: [LastName]", ("LastName", "Email")),
        ),
        (
            "REQUIRED_FIELD_MISSING:Required fields are missing: [LastName] --",
            ("REQUIRED_FIELD_MISSING", "Required fields are missing: [LastName]", ()),
        ),
        (
            "INVALID_FIELD:Foreign key external ID: acc_9 not found:Account.Roster_Id__c --",
            ("INVALID_FIELD", "Foreign key external ID: acc_9 not found", ("Account.Roster_Id__c",)),
        ),
        (
            "MISSING_ARGUMENT:Id not specified in an update call: --",
            ("MISSING_ARGUMENT", "Id not specified in an update call", ()),
        ),
        ("DUPLICATE_VALUE:duplicate value:Email; Phone --", ("DUPLICATE_VALUE", "duplicate value", ("Email", "Phone"))),
        (
            "UNKNOWN_EXCEPTION:An unexpected error occurred: 1893402017-1234 (-1283950210) --",
            ("UNKNOWN_EXCEPTION", "An unexpected error occurred: 1893402017-1234 (-1283950210)", ()),
        ),
        ("something broke", (None, "something broke", ())),
    ],
)
def test_error_cells_parse_robustly(text: str, parsed: tuple[str | None, str | None, tuple[str, ...]]) -> None:
    assert _parse_error(text) == parsed


# -- failures ---------------------------------------------------------------------------------------------


def test_transient_failures_are_retried_with_the_same_outcome(emulator: SalesforceEmulator) -> None:
    ids = contact_ids(emulator.org, 12)
    rows = [{"Id": record_id, "Title": f"Retried {index}"} for index, record_id in enumerate(ids)]
    ingest, calls = jobs(emulator, "update", ["Id", "Title"], max_records=6)
    emulator.fail_next("server_error", on="bulk_ingest_upload")
    emulator.fail_next("server_error", on="bulk_ingest_results")
    emulator.fail_next("expired_session", on="bulk_ingest_state")
    emulator.fail_next("request_limit", on="bulk_ingest_status")
    emulator.fail_next("server_error", on="bulk_ingest_create")
    emulator.reset_calls()
    report = ingest.send(rows)

    assert len(report.job_ids) == 2 and calls.relogins == 1
    assert [result.key for result in report.results] == ids and statuses(report.results) == ["succeeded"] * 12
    assert all(len(emulator.ingest_jobs[job_id].data) == 1 for job_id in report.job_ids)  # each part once
    assert report.csv_bytes == sum(len(uploaded(emulator, job_id)) for job_id in report.job_ids)
    assert emulator.calls_by_kind["bulk_ingest_upload"] == 3 and emulator.calls_by_kind["bulk_ingest_results"] == 5
    assert all((emulator.org.get("Contact", row["Id"]) or {})["Title"] == row["Title"] for row in rows)


def test_a_long_run_outlives_several_session_expiries(emulator: SalesforceEmulator) -> None:
    """Each expired session is renewed and its call sent again, however many expire during one run."""
    ids = contact_ids(emulator.org, 12)
    rows = [{"Id": record_id, "Title": f"Renewed {index}"} for index, record_id in enumerate(ids)]
    ingest, calls = jobs(emulator, "update", ["Id", "Title"], max_records=6)
    emulator.fail_next("expired_session", on="bulk_ingest_create")
    emulator.fail_next("expired_session", on="bulk_ingest_results")
    report = ingest.send(rows)

    assert calls.relogins == 2
    assert statuses(report.results) == ["succeeded"] * 12


def test_a_slow_job_is_polled_every_poll_seconds(emulator: SalesforceEmulator) -> None:
    sleeps: list[float] = []
    ingest, _ = jobs(emulator, "update", ["Id", "Title"], poll_seconds=2.5, sleep=sleeps.append)
    emulator.fail_next("bulk_job_slow", on="bulk_ingest_create", polls=3)
    emulator.reset_calls()
    report = ingest.send([{"Id": contact_ids(emulator.org, 1)[0], "Title": "Patient"}])
    assert statuses(report.results) == ["succeeded"]
    assert emulator.calls_by_kind["bulk_ingest_status"] == 5 and sleeps == [2.5] * 5  # 1 + 3 polls InProgress


def test_a_failed_job_is_sent_again_and_every_row_succeeds_once(emulator: SalesforceEmulator) -> None:
    ids = contact_ids(emulator.org, 5)
    ingest, _ = jobs(emulator, "update", ["Id", "Title"])
    emulator.fail_next("bulk_job_failed", on="bulk_ingest_create")
    report = ingest.send({"Id": record_id, "Title": "Second try"} for record_id in ids)
    failed, retried = (emulator.ingest_jobs[job_id] for job_id in report.job_ids)
    assert (failed.state, retried.state) == ("Failed", "JobComplete")
    assert uploaded(emulator, failed.id) == uploaded(emulator, retried.id)
    assert report.csv_bytes == 2 * len(uploaded(emulator, retried.id)) and report.records == 5
    assert [result.key for result in report.results] == ids and statuses(report.results) == ["succeeded"] * 5


def test_only_the_rows_a_failed_job_left_unprocessed_go_again(
    emulator: SalesforceEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job can fail midway: what it reports stands, and the next job carries only the rest."""
    close = IngestJob.close
    broken: list[str] = []

    def fail_midway(job: IngestJob, org: SalesforceOrg) -> None:
        close(job, org)
        if not broken:
            broken.append(job.id)
            job.unprocessed = [row[2:] for row in job.successful[3:]]
            job.successful, job.fail = job.successful[:3], True

    monkeypatch.setattr(IngestJob, "close", fail_midway)
    ids = contact_ids(emulator.org, 8)
    emulator.org.add_validation_rule("Contact", lambda obj, record: "No" if record["Title"] == "Nope" else None)
    rows = [{"Id": record_id, "Title": "Nope" if index == 1 else "Partly"} for index, record_id in enumerate(ids)]
    ingest, _ = jobs(emulator, "update", ["Id", "Title"])
    report = ingest.send(rows)

    assert report.job_ids[0] == broken[0] and len(report.job_ids) == 2
    assert uploaded(emulator, report.job_ids[1]).decode().splitlines()[1:] == [f"{i},Partly" for i in ids[4:]]
    assert [result.key for result in report.results] == ids
    assert statuses(report.results) == ["succeeded", "failed", *["succeeded"] * 6]


def test_a_job_failing_every_attempt_raises_with_what_was_done(emulator: SalesforceEmulator) -> None:
    ids = contact_ids(emulator.org, 8)

    def rows() -> Iterator[dict[str, str]]:
        for index, record_id in enumerate(ids):
            if index == 6:  # the first part (5 rows) is sent by now: fail every job of the second
                emulator.fail_next("bulk_job_failed", count=3, on="bulk_ingest_create")
            yield {"Id": record_id, "Title": "Maybe"}

    ingest, _ = jobs(emulator, "update", ["Id", "Title"], max_records=5, attempts=3)
    with pytest.raises(IngestFailed, match="UNKNOWN_EXCEPTION") as raised:
        ingest.send(rows())
    failure = raised.value
    assert failure.state == "Failed" and failure.job_id == failure.report.job_ids[-1] in str(failure)
    assert len(failure.report.job_ids) == 4 and failure.report.records == 8
    assert [result.key for result in failure.report.results] == ids
    assert statuses(failure.report.results) == ["succeeded"] * 5 + ["unprocessed"] * 3
    assert [(emulator.org.get("Contact", i) or {})["Title"] == "Maybe" for i in ids] == [True] * 5 + [False] * 3

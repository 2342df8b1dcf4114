"""The Salesforce export end to end: profiles in moto DynamoDB, the import and export syncs, the emulator over HTTPS.

Each rule (never / always / fill blank), segment membership write-back, creating records (with a failure in the
middle: no duplicates), records Salesforce refuses, and a second export with nothing new that sends nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tenacity import wait_none
from ulid import ULID

from roster import aws
from roster.connectors.core.mapping import ExportRule, FieldMapping, MappingError
from roster.connectors.core.state import Status
from roster.connectors.salesforce.connection import Connection
from roster.connectors.salesforce.export_store import ExportObject, ExportRun, ExportSettings, ExportStore
from roster.connectors.salesforce.exporter import ExportFailed, ExportMessage, ExportRefused, SalesforceExport
from roster.connectors.salesforce.importer import SalesforceSync
from roster.connectors.salesforce.store import SyncStore
from roster.identity.aliases import record_alias, registrable_domain
from roster.identity.resolver import resolver_for
from roster.profiles.fields import Kind
from roster.profiles.model import IncomingRecord, Profile
from roster.profiles.values import utc_now
from roster.segments.events import MembershipEvent
from roster.store.profiles import ProfileStore
from roster.store.segments import SegmentStore
from roster.store.workspaces import WorkspaceStore
from roster_dev.emulators.salesforce import ManualClock, SalesforceEmulator, generate_org
from roster_dev.local.stack import LocalStack
from tests.integration.test_salesforce_sync import credentials
from tests.runs import FOREVER, run_to_end

START = datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC)


@pytest.fixture
def emulator() -> Iterator[SalesforceEmulator]:
    org = generate_org(
        11, accounts=8, contacts=40, leads=0, roster_fields=True, duplicate_share=0.0, clock=ManualClock(START)
    )
    org.add_custom_field("Contact", "ICP_Member__c", "boolean", label="ICP member")
    org.add_custom_field("Contact", "Roster_Tier__c", "picklist", label="Tier", picklist=("Tier 1", "Tier 2"))
    with SalesforceEmulator(org) as fresh:
        yield fresh


@pytest.fixture
def export(emulator: SalesforceEmulator, stack: LocalStack) -> SalesforceExport:
    aws.clients()
    creds = credentials(emulator)
    profiles, workspaces = ProfileStore(), WorkspaceStore()
    sync = SalesforceSync(
        SyncStore(),
        lambda workspace, kind: resolver_for(profiles, workspaces, workspace, kind),
        lambda workspace: Connection(creds, verify=emulator.ca_path),
        poll_seconds=0,
        wait=wait_none(),
        clock=emulator.org.clock,
    )
    return SalesforceExport(ExportStore(), sync, profiles, SegmentStore(), poll_seconds=0, wait=wait_none())


def importer(export: SalesforceExport) -> SalesforceSync:
    """The importer wired into the export (the export itself sees only what it needs of it)."""
    assert isinstance(export.sync, SalesforceSync)
    return export.sync


MAPPING: dict[str, str | FieldMapping] = {
    "Email": "email",
    "FirstName": "first_name",
    "LastName": FieldMapping(field="last_name", export=ExportRule.FILL_BLANK),
    "Title": FieldMapping(field="job_title", export=ExportRule.ALWAYS),
    "Phone": FieldMapping(field="phone", export=ExportRule.FILL_BLANK),
    "Department": FieldMapping(field="department", export=ExportRule.NEVER),
}


def setup_workspace(export: SalesforceExport, mapping: dict[str, str | FieldMapping] | None = None) -> str:
    """A workspace with Contacts imported, the mapping saved, and export sync on."""
    workspace = f"ex-{str(ULID()).lower()}"
    importer(export).enable(workspace, "Contact")
    importer(export).set_mapping(workspace, "Contact", mapping or MAPPING)
    export.configure(workspace, "Contact", ExportSettings(enabled=True))
    return workspace


def run_export(export: SalesforceExport, workspace: str, obj: ExportObject = "Contact") -> ExportRun:
    return run_to_end(export, export.start(workspace, obj))


def contacts(emulator: SalesforceEmulator) -> list[dict[str, Any]]:
    return list(emulator.org.records("Contact"))


def crm(emulator: SalesforceEmulator, contact_id: str) -> dict[str, Any]:
    """A Contact as Salesforce holds it now."""
    row = emulator.org.get("Contact", contact_id)
    assert row is not None
    return row


def with_email(emulator: SalesforceEmulator) -> list[dict[str, Any]]:
    return sorted((row for row in contacts(emulator) if row["Email"]), key=lambda row: row["Id"])


def enrich(workspace: str, email: str, **values: Any) -> None:
    """What an enrichment (a newer source than the CRM) says about a person."""
    resolver = resolver_for(ProfileStore(), WorkspaceStore(), workspace, Kind.PEOPLE)
    resolver.upsert([IncomingRecord("enrichment", "people", email, utc_now(), {"email": email, **values})])


def person(workspace: str, contact_id: str) -> Profile:
    found = ProfileStore().lookup(workspace, Kind.PEOPLE, record_alias("salesforce", "Contact", contact_id))
    assert found is not None
    return found


def test_rules_write_only_what_they_allow_and_a_second_export_sends_nothing(
    emulator: SalesforceEmulator, export: SalesforceExport
) -> None:
    org = emulator.org
    rows = with_email(emulator)
    blank_phone, kept_phone, titled = rows[0], rows[1], rows[2]
    org.update("Contact", blank_phone["Id"], {"Phone": None})
    org.update("Contact", kept_phone["Id"], {"Phone": "+1 415 555 0100", "Department": "Sales"})
    workspace = setup_workspace(export)
    first = run_export(export, workspace)  # first export: the import runs first, nothing differs yet
    assert first.status is Status.SUCCEEDED and first.full
    assert first.counts.updated == 0 and first.jobs == 0
    assert first.counts.unchanged == len(contacts(emulator))

    enrich(workspace, blank_phone["Email"], phone="+14155550199")
    enrich(workspace, kept_phone["Email"], phone="+14155550123", department="Engineering")
    enrich(workspace, titled["Email"], job_title="VP Revenue Operations")
    before = emulator.calls_by_kind["bulk_ingest_create"]
    preview = export.preview(workspace, "Contact")
    planned = {
        write.salesforce_id: {change.salesforce_field: change for change in write.changes} for write in preview.writes
    }
    assert set(planned) == {blank_phone["Id"], titled["Id"]}
    assert planned[blank_phone["Id"]]["Phone"].rule == "fill_blank"
    assert planned[blank_phone["Id"]]["Phone"].old is None and planned[blank_phone["Id"]]["Phone"].new == "+14155550199"
    assert (
        planned[titled["Id"]]["Title"].rule == "always"
        and planned[titled["Id"]]["Title"].new == "VP Revenue Operations"
    )
    assert emulator.calls_by_kind["bulk_ingest_create"] == before  # a preview writes nothing

    second = run_export(export, workspace)
    assert second.status is Status.SUCCEEDED and not second.full
    assert second.counts.updated == 2 and second.counts.rejected == 0 and second.jobs == 1
    assert crm(emulator, blank_phone["Id"])["Phone"] == "+14155550199"  # fill blank: was blank
    kept = crm(emulator, kept_phone["Id"])
    assert kept["Phone"] == "+1 415 555 0100"  # fill blank never overwrites a value
    assert kept["Department"] == "Sales"  # never write: never sent
    assert crm(emulator, titled["Id"])["Title"] == "VP Revenue Operations"  # always
    assert all("Department" not in job.header for job in emulator.ingest_jobs.values())

    third = run_export(export, workspace)  # nothing changed since: the refresh import reads our writes back
    assert third.status is Status.SUCCEEDED
    assert third.counts.updated == third.counts.created == 0 and third.jobs == 0
    assert emulator.calls_by_kind["bulk_ingest_create"] == before + 1


def test_segment_membership_is_set_on_entry_and_cleared_on_exit(
    emulator: SalesforceEmulator, export: SalesforceExport
) -> None:
    segment = f"seg-{str(ULID()).lower()}"
    mapping = {
        **MAPPING,
        "ICP_Member__c": FieldMapping(field="icp_member", segment=segment),
        "Roster_Tier__c": FieldMapping(field="roster_tier", segment=segment, member_value="Tier 1"),
    }
    workspace = setup_workspace(export, mapping)
    run_export(export, workspace)
    rows = with_email(emulator)
    members = [person(workspace, row["Id"]).profile_id for row in rows[:3]]
    segments = export.segments
    changes = []
    for profile_id in members:
        segments.enter(workspace, segment, Kind.PEOPLE, profile_id)
        changes.append(
            MembershipEvent(
                workspace=workspace, segment_id=segment, kind=Kind.PEOPLE, profile_id=profile_id, time=utc_now()
            )
        )
    assert export.note_membership_changes(changes) == 3

    entered = run_export(export, workspace)
    assert entered.counts.updated == 3 and entered.counts.fields_written == 6
    for row in rows[:3]:
        written = crm(emulator, row["Id"])
        assert written["ICP_Member__c"] is True and written["Roster_Tier__c"] == "Tier 1"
    assert crm(emulator, rows[3]["Id"])["ICP_Member__c"] is False

    segments.exit(workspace, segment, members[0])
    exit_event = MembershipEvent(
        workspace=workspace, segment_id=segment, kind=Kind.PEOPLE, profile_id=members[0], time=utc_now()
    )
    export.note_membership_changes([exit_event])
    exited = run_export(export, workspace)
    assert exited.counts.updated == 1
    cleared = crm(emulator, rows[0]["Id"])
    assert cleared["ICP_Member__c"] is False and cleared["Roster_Tier__c"] is None
    assert crm(emulator, rows[1]["Id"])["ICP_Member__c"] is True
    assert list(export.store.pending(workspace, Kind.PEOPLE)) == []


def test_create_new_survives_a_failure_in_the_middle_without_duplicates(
    emulator: SalesforceEmulator, export: SalesforceExport
) -> None:
    workspace = setup_workspace(export)
    run_export(export, workspace)
    export.configure(workspace, "Contact", ExportSettings(enabled=True, create_new=True))
    resolver = resolver_for(ProfileStore(), WorkspaceStore(), workspace, Kind.PEOPLE)
    newcomers = [
        IncomingRecord(
            "csv",
            "people",
            f"row-{n}",
            utc_now(),
            {"email": f"new{n}@prospect-{n}.io", "last_name": f"Newman{n}", "first_name": "Ada", "job_title": "CTO"},
        )
        for n in range(5)
    ]
    resolver.upsert(newcomers)
    known = {row["Id"] for row in contacts(emulator)}

    export.attempts = 2  # the results cannot be read: the run stops after Salesforce created the records
    emulator.fail_next("server_error", 2, on="bulk_ingest_results")
    message = export.start(workspace, "Contact")
    assert message is not None
    with pytest.raises(ExportFailed) as failed:
        export.run(message, FOREVER)
    assert failed.value.code != "bad_configuration"
    created_once = [row for row in contacts(emulator) if row["Id"] not in known]
    assert len(created_once) == 5  # Salesforce made them; Roster has not linked them yet
    run = export.store.run(workspace, "Contact", message.run_id)
    assert run is not None and run.status is Status.PARKED

    following: ExportMessage | None = message  # redriven from the dead-letter queue
    while following is not None:
        following = export.run(following, FOREVER)
    run = export.store.run(workspace, "Contact", message.run_id)
    assert run is not None and run.status is Status.SUCCEEDED and run.counts.created == 5
    after = [row for row in contacts(emulator) if row["Id"] not in known]
    assert sorted(row["Id"] for row in after) == sorted(row["Id"] for row in created_once)  # no duplicates
    for record in newcomers:
        profile = ProfileStore().lookup(workspace, Kind.PEOPLE, record_alias("csv", "people", record.record_id))
        assert profile is not None
        linked = [key for key in profile.records if key.startswith("salesforce:Contact:")]
        assert len(linked) == 1
        row = crm(emulator, linked[0].rsplit(":", 1)[1])
        assert (
            row is not None
            and row["Roster_Id__c"] == profile.profile_id
            and row["LastName"] == record.fields["last_name"]
        )

    again = run_export(export, workspace)  # linked now: nothing is created twice
    assert again.counts.created == 0 and len(contacts(emulator)) == len(known) + 5


def test_records_salesforce_refuses_are_reported_and_do_not_block_the_others(
    emulator: SalesforceEmulator, export: SalesforceExport
) -> None:
    workspace = setup_workspace(export)
    run_export(export, workspace)
    rows = with_email(emulator)[:4]
    for n, row in enumerate(rows):
        enrich(workspace, row["Email"], job_title="Chief Hacker" if n == 0 else f"Director {n}")
    emulator.org.add_validation_rule(
        "Contact",
        lambda _, record: "Hackers need approval" if "Hacker" in str(record.get("Title")) else None,
        field="Title",
    )
    run = run_export(export, workspace)
    assert run.status is Status.SUCCEEDED
    assert run.counts.updated == 3 and run.counts.rejected == 1
    (refused,) = run.rejections
    assert refused.salesforce_id == rows[0]["Id"] and refused.fields == ["Title"]
    assert refused.code == "FIELD_CUSTOM_VALIDATION_EXCEPTION" and "Hackers need approval" in refused.message
    assert refused.profile_id == person(workspace, rows[0]["Id"]).profile_id
    assert crm(emulator, rows[1]["Id"])["Title"] == "Director 1"
    assert export.history(workspace, "Contact")[0].rejections == run.rejections

    emulator.org.clear_validation_rules()  # the admin relaxes the rule: the next export tries the record again
    retried = run_export(export, workspace)
    assert retried.counts.updated == 1 and retried.counts.rejected == 0
    assert crm(emulator, rows[0]["Id"])["Title"] == "Chief Hacker"
    assert list(export.store.pending(workspace, Kind.PEOPLE)) == []


def test_import_only_objects_and_bad_settings_are_refused_with_reasons(
    emulator: SalesforceEmulator, export: SalesforceExport
) -> None:
    workspace = setup_workspace(export)
    with pytest.raises(MappingError, match="Lead is import-only"):
        importer(export).set_mapping(
            workspace, "Lead", {"Title": FieldMapping(field="job_title", export=ExportRule.ALWAYS)}
        )
    with pytest.raises(MappingError, match="read-only"):
        importer(export).set_mapping(
            workspace, "Contact", {"CreatedDate": FieldMapping(field="created_date", export=ExportRule.ALWAYS)}
        )
    with pytest.raises(MappingError, match="not one of its values"):
        importer(export).set_mapping(
            workspace, "Contact", {"Roster_Tier__c": FieldMapping(field="tier", segment="s", member_value="Gold")}
        )
    with pytest.raises(ExportRefused, match="External ID"):
        export.configure(workspace, "Contact", ExportSettings(enabled=True, create_new=True, external_id_field="Title"))
    off = f"ex-{str(ULID()).lower()}"
    with pytest.raises(ExportRefused, match="export sync is off"):
        export.start(off, "Contact")


def test_a_long_export_goes_out_in_jobs_at_page_boundaries_and_resumes_from_its_checkpoint(
    emulator: SalesforceEmulator, export: SalesforceExport
) -> None:
    workspace = setup_workspace(export)
    run_export(export, workspace)
    importer(export).enable(workspace, "Contact", False)  # no refresh import: this test is about the sending
    rows = with_email(emulator)
    for row in rows:
        enrich(workspace, row["Email"], job_title=f"Director {row['Id'][-4:]}")
    export.page_profiles, export.max_records = 7, 10
    message = export.start(workspace, "Contact")
    assert message is not None
    following: ExportMessage | None = message
    invocations = 0
    while following is not None:  # every invocation is at its deadline after one page: send, checkpoint, continue
        following = export.run(following, lambda: 0.0)
        invocations += 1
    run = export.store.run(workspace, "Contact", message.run_id)
    assert run is not None and run.status is Status.SUCCEEDED
    assert run.counts.updated == len(rows) and run.counts.considered == len(rows)
    pages = -(-len(rows) // 7)
    assert invocations >= pages
    sent = [job for job in emulator.ingest_jobs.values() if job.operation == "update"]
    assert sum(len(job.successful) for job in sent) == len(rows)  # every record sent exactly once
    assert all(len(job.successful) <= 10 for job in sent)
    for row in rows:
        assert crm(emulator, row["Id"])["Title"] == f"Director {row['Id'][-4:]}"

    for row in rows:  # and without a deadline, pages gather into jobs of up to max_records
        enrich(workspace, row["Email"], job_title=f"VP {row['Id'][-4:]}")
    export.max_records = 30
    before = set(emulator.ingest_jobs)
    again = run_export(export, workspace)
    jobs = [job for job_id, job in emulator.ingest_jobs.items() if job_id not in before]
    assert again.counts.updated == len(rows) and again.jobs == len(jobs) < pages  # fewer jobs than pages
    assert all(len(job.successful) <= 30 for job in jobs)
    assert sum(len(job.successful) for job in jobs) == len(rows)


def test_accounts_export_and_a_bad_picklist_value_is_refused_by_name(
    emulator: SalesforceEmulator, export: SalesforceExport
) -> None:
    workspace = f"ex-{str(ULID()).lower()}"
    importer(export).enable(workspace, "Account")
    mapping: dict[str, str | FieldMapping] = {
        "Name": FieldMapping(field="name", export=ExportRule.FILL_BLANK),
        "Website": "domain",
        "Industry": FieldMapping(field="industry", export=ExportRule.ALWAYS),
        "NumberOfEmployees": FieldMapping(field="employee_count", export=ExportRule.ALWAYS),
    }
    importer(export).set_mapping(workspace, "Account", mapping)
    export.configure(workspace, "Account", ExportSettings(enabled=True))
    assert run_export(export, workspace, "Account").counts.updated == 0
    accounts = sorted((row for row in emulator.org.records("Account") if row["Website"]), key=lambda row: row["Id"])
    resolver = resolver_for(ProfileStore(), WorkspaceStore(), workspace, Kind.COMPANIES)
    good, bad = accounts[0], accounts[1]
    for row, industry in ((good, "Banking"), (bad, "Space Mining")):
        values = {"domain": row["Website"], "industry": industry, "employee_count": 4321}
        resolver.upsert([IncomingRecord("enrichment", "companies", row["Id"], utc_now(), values)])
    run = run_export(export, workspace, "Account")
    assert run.counts.updated == 1 and run.counts.rejected == 1
    (refused,) = run.rejections
    assert refused.salesforce_id == bad["Id"] and refused.fields == ["Industry"]
    assert refused.code == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST" and "Space Mining" in refused.message
    written = emulator.org.get("Account", good["Id"])
    assert written is not None and written["Industry"] == "Banking" and written["NumberOfEmployees"] == 4321
    untouched = emulator.org.get("Account", bad["Id"])
    assert (
        untouched is not None and untouched["NumberOfEmployees"] == bad["NumberOfEmployees"]
    )  # a row is all or nothing


def test_the_schedule_exports_every_24_hours_unless_set_otherwise(
    emulator: SalesforceEmulator, export: SalesforceExport
) -> None:
    workspace = setup_workspace(export)
    now = datetime.now(UTC)
    assert (workspace, "Contact") in export.due(now)  # never exported yet
    run_export(export, workspace)
    assert (workspace, "Contact") not in export.due(now + timedelta(hours=23))
    assert (workspace, "Contact") in export.due(now + timedelta(hours=24))
    export.configure(workspace, "Contact", ExportSettings(enabled=True, every_hours=6))
    assert (workspace, "Contact") in export.due(now + timedelta(hours=6))
    export.configure(workspace, "Contact", ExportSettings(enabled=False))
    assert (workspace, "Contact") not in export.due(now + timedelta(days=30))


def test_an_export_whose_refresh_import_fails_is_parked_and_redriven(
    emulator: SalesforceEmulator, export: SalesforceExport
) -> None:
    workspace = setup_workspace(export)
    emulator.fail_next("expired_session", 2, on="bulk_query_create")  # logging in again does not help: failed
    message = export.start(workspace, "Contact")
    assert message is not None
    with pytest.raises(ExportFailed) as failed:
        export.run(message, FOREVER)
    assert failed.value.code == "import_failed" and "session expired" in failed.value.reason
    status = export.status(workspace)[1]
    assert status.status is Status.PARKED and status.error == failed.value.reason
    following: ExportMessage | None = message  # redriven from the dead-letter queue, the org healthy again
    while following is not None:
        following = export.run(following, FOREVER)
    run = export.store.run(workspace, "Contact", message.run_id)
    assert run is not None and run.status is Status.SUCCEEDED and run.full
    assert export.status(workspace)[1].status is Status.IDLE


def test_a_created_contact_belongs_to_its_companys_account(
    emulator: SalesforceEmulator, export: SalesforceExport
) -> None:
    workspace = setup_workspace(export)
    importer(export).enable(workspace, "Account")
    importer(export).set_mapping(workspace, "Account", {"Name": "name", "Website": "domain"})
    following: Any = importer(export).start(workspace, "Account")
    while following is not None:
        following = importer(export).run(following, FOREVER)
    run_export(export, workspace)
    export.configure(workspace, "Contact", ExportSettings(enabled=True, create_new=True))
    account = next(row for row in emulator.org.records("Account") if row["Website"])
    domain = registrable_domain(account["Website"])
    resolver = resolver_for(ProfileStore(), WorkspaceStore(), workspace, Kind.PEOPLE)
    values = {"email": f"grace@{domain}", "last_name": "Hopper", "company_domain": domain}
    resolver.upsert([IncomingRecord("csv", "people", "grace", utc_now(), values)])
    (write,) = [write for write in export.preview(workspace, "Contact").writes if write.action == "create"]
    assert write.account_id == account["Id"]
    run = run_export(export, workspace)
    assert run.counts.created == 1
    (created,) = [row for row in contacts(emulator) if row["LastName"] == "Hopper"]  # Email is never written
    assert created["AccountId"] == account["Id"] and created["Email"] is None

"""The Salesforce import end to end: the emulator over HTTPS, simple-salesforce, the sync engine, moto DynamoDB."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from tenacity import wait_none
from ulid import ULID

from roster import aws
from roster.connectors.core.mapping import MappingError
from roster.connectors.core.runs import PageFailed, due_syncs
from roster.connectors.core.state import Status as SyncStatus
from roster.connectors.salesforce import connection as sf_connection
from roster.connectors.salesforce.connection import (
    Connection,
    CredentialStore,
    PasswordCredentials,
    SessionCredentials,
    secret_name,
)
from roster.connectors.salesforce.describe import SalesforceObject
from roster.connectors.salesforce.importer import SalesforceSync
from roster.connectors.salesforce.store import Mode, SyncConfig, SyncRun, SyncStore
from roster.identity.aliases import record_alias
from roster.identity.resolver import resolver_for
from roster.profiles.fields import Kind
from roster.profiles.model import Profile, Status
from roster.profiles.values import parse_time
from roster.store.profiles import ProfileStore
from roster.store.workspaces import WorkspaceStore
from roster_dev.emulators.salesforce import QUERY_TIMEOUT, Chunking, ManualClock, SalesforceEmulator, generate_org
from roster_dev.local.outbound import allowed
from roster_dev.local.stack import LocalStack
from tests.runs import FOREVER, drain, run_to_end

START = datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC)


def credentials(emulator: SalesforceEmulator, **changes: str) -> PasswordCredentials:
    creds = emulator.credentials
    values = {
        "login_url": emulator.instance_url,
        "username": creds.username,
        "password": creds.password,
        "security_token": creds.security_token,
        "client_id": creds.client_id,
        "client_secret": creds.client_secret,
        **changes,
    }
    return PasswordCredentials.model_validate(values)


@pytest.fixture
def emulator() -> Iterator[SalesforceEmulator]:
    org = generate_org(7, accounts=25, contacts=240, leads=100, clock=ManualClock(START))
    with SalesforceEmulator(org) as fresh:
        yield fresh


@pytest.fixture
def store(stack: LocalStack) -> SyncStore:
    aws.clients()  # point the models at the local stack's tables
    return SyncStore()


def clock_of(emulator: SalesforceEmulator) -> ManualClock:
    clock = emulator.org.clock
    assert isinstance(clock, ManualClock)
    return clock


def make_sync(emulator: SalesforceEmulator, store: SyncStore, **options: Any) -> SalesforceSync:
    profiles, workspaces = ProfileStore(), WorkspaceStore()
    creds = credentials(emulator)
    return SalesforceSync(
        store,
        lambda workspace, kind: resolver_for(profiles, workspaces, workspace, kind),
        lambda workspace: Connection(creds, verify=emulator.ca_path),
        poll_seconds=0,
        wait=wait_none(),
        clock=options.pop("clock", emulator.org.clock),
        **options,
    )


def new_workspace(sync: SalesforceSync, *objects: SalesforceObject) -> str:
    workspace = f"sf-{str(ULID()).lower()}"
    for obj in objects:
        sync.enable(workspace, obj)
    return workspace


def sync_now(sync: SalesforceSync, workspace: str, obj: SalesforceObject, mode: Mode | None = None) -> SyncRun:
    return run_to_end(sync, sync.start(workspace, obj, mode))


def profile_of(workspace: str, kind: Kind, obj: str, record_id: str) -> Profile:
    profile = ProfileStore().lookup(workspace, kind, record_alias("salesforce", obj, record_id))
    assert profile is not None, f"no profile for {obj} {record_id}"
    return profile


def salesforce_people(workspace: str) -> list[Profile]:
    return [p for p in ProfileStore().scan(workspace, Kind.PEOPLE) if p.status is not Status.MERGED]


# -- full sync ------------------------------------------------------------------------------------------


def test_full_sync_imports_people_and_companies_and_merges_converted_leads(
    emulator: SalesforceEmulator, store: SyncStore
) -> None:
    sync = make_sync(emulator, store)
    workspace = new_workspace(sync, "Account", "Contact", "Lead")
    org = emulator.org
    accounts = sync_now(sync, workspace, "Account")
    contacts = sync_now(sync, workspace, "Contact")
    leads = sync_now(sync, workspace, "Lead")
    assert accounts.status is SyncStatus.SUCCEEDED and accounts.mode is Mode.FULL
    assert accounts.counts.read == accounts.counts.created == org.count("Account")
    assert contacts.counts.read == org.count("Contact") == 240
    assert contacts.counts.created + contacts.counts.merged + contacts.counts.updated == 240
    assert leads.counts.read == org.count("Lead")
    # login, describe (the first sync maps automatically), the count, create the job, two polls, one page
    assert contacts.api_calls == 7

    converted = [lead for lead in org.records("Lead") if lead["IsConverted"]]
    assert converted
    for lead in converted:
        person = profile_of(workspace, Kind.PEOPLE, "Lead", lead["Id"])
        assert f"salesforce:Contact:{lead['ConvertedContactId']}" in person.records
    contact = next(row for row in org.records("Contact") if row["AccountId"] and row["Email"])
    account = org.get("Account", contact["AccountId"])
    assert account is not None
    person = profile_of(workspace, Kind.PEOPLE, "Contact", contact["Id"])
    assert person.fields["email"] == contact["Email"].lower()
    assert person.fields["company_name"] == account["Name"]
    company = profile_of(workspace, Kind.COMPANIES, "Account", account["Id"])
    if account["Website"]:
        assert person.fields["company_domain"] == company.fields["domain"]
    # leads that duplicate a contact by e-mail or LinkedIn URL are that contact's person
    people = salesforce_people(workspace)
    assert len(people) < org.count("Contact") + org.count("Lead") - len(converted)
    state = store.state(workspace, "Contact")
    assert state.watermark is not None and state.last_full_sync is not None and state.status is SyncStatus.IDLE


def test_opportunities_and_activities_roll_up(emulator: SalesforceEmulator, store: SyncStore) -> None:
    sync = make_sync(emulator, store)
    workspace = new_workspace(sync, "Account", "Contact", "Opportunity", "Task")
    org = emulator.org
    objects: tuple[SalesforceObject, ...] = ("Account", "Contact", "Opportunity", "Task")
    for obj in objects:
        sync_now(sync, workspace, obj)
    deals = list(org.records("Opportunity"))
    account_id = max({deal["AccountId"] for deal in deals}, key=lambda a: sum(d["AccountId"] == a for d in deals))
    mine = [deal for deal in deals if deal["AccountId"] == account_id]
    company = profile_of(workspace, Kind.COMPANIES, "Account", account_id)
    assert company.fields["opportunity_count"] == len(mine) >= 3
    assert {deal["id"] for deal in company.fields["opportunities"]} == {deal["Id"] for deal in mine}
    assert company.fields["open_pipeline"] == sum(deal["Amount"] for deal in mine if not deal["IsClosed"])
    assert company.fields["won_amount"] == sum(deal["Amount"] for deal in mine if deal["IsWon"])

    tasks = [task for task in org.records("Task") if task["WhoId"] and task["WhoId"].startswith("003")]
    who = tasks[0]["WhoId"]
    theirs = [task for task in tasks if task["WhoId"] == who]
    person = profile_of(workspace, Kind.PEOPLE, "Contact", who)
    assert person.fields["activity_count"] == len(theirs)
    assert person.fields["last_activity_date"] == max(task["ActivityDate"] for task in theirs)

    clock_of(emulator).advance(60)  # a changed opportunity and a deleted one: the list keeps the others
    org.update("Opportunity", mine[0]["Id"], {"Amount": 1.0, "StageName": "Prospecting"})
    org.delete("Opportunity", mine[1]["Id"])
    run = sync_now(sync, workspace, "Opportunity")
    assert run.mode is Mode.INCREMENTAL and run.counts.deleted == 1
    company = profile_of(workspace, Kind.COMPANIES, "Account", account_id)
    assert company.fields["opportunity_count"] == len(mine) - 1
    assert {deal["id"]: deal for deal in company.fields["opportunities"]}[mine[0]["Id"]]["amount"] == 1.0
    again = sync_now(sync, workspace, "Task")  # re-reads nothing new: the count stays
    assert again.counts.created == again.counts.updated == 0
    assert profile_of(workspace, Kind.PEOPLE, "Contact", who).fields["activity_count"] == len(theirs)


# -- incremental sync, deletes, conversion --------------------------------------------------------------


def test_incremental_sync_picks_up_exactly_the_changed_records(emulator: SalesforceEmulator, store: SyncStore) -> None:
    sync = make_sync(emulator, store)
    workspace = new_workspace(sync, "Contact")
    sync_now(sync, workspace, "Contact")
    org, clock = emulator.org, clock_of(emulator)
    clock.advance(120)
    changed = [row["Id"] for row in org.query("SELECT Id FROM Contact ORDER BY Id LIMIT 5")]
    for index, contact_id in enumerate(changed):
        org.update("Contact", contact_id, {"Title": f"Chief Example Officer {index}"})
    added = [org.create("Contact", {"LastName": f"New {index}", "Email": f"new{index}@ex.org"}) for index in range(2)]
    emulator.reset_calls()
    run = sync_now(sync, workspace, "Contact")
    assert run.mode is Mode.INCREMENTAL
    assert run.counts.created == 2 and run.counts.updated == 5 and run.counts.unchanged == 0
    assert run.counts.read - run.counts.skipped == 7  # the lookback re-reads were recognised, not re-imported
    assert profile_of(workspace, Kind.PEOPLE, "Contact", changed[0]).fields["job_title"] == "Chief Example Officer 0"
    assert profile_of(workspace, Kind.PEOPLE, "Contact", added[1]).fields["email"] == "new1@ex.org"
    assert (
        emulator.calls_by_kind["bulk_query_results"] == 1 and emulator.calls == 7
    )  # login, count, job, 2 polls, deleted
    nothing = sync_now(sync, workspace, "Contact")
    assert nothing.counts.read == nothing.counts.skipped and nothing.counts.created == nothing.counts.updated == 0


def test_deletes_unlink_and_archive_only_single_source_profiles(emulator: SalesforceEmulator, store: SyncStore) -> None:
    sync = make_sync(emulator, store)
    workspace = new_workspace(sync, "Contact", "Lead")
    org, clock = emulator.org, clock_of(emulator)
    lead = next(row for row in org.records("Lead") if row["IsConverted"])
    shared_contact = lead["ConvertedContactId"]
    alone = next(
        row["Id"]
        for row in org.records("Contact")
        if row["Id"] != shared_contact and len(profile_records(workspace, row["Id"], sync)) <= 1
    )
    clock.advance(60)
    purged = next(row["Id"] for row in org.records("Contact") if row["Id"] not in (shared_contact, alone))
    org.delete("Contact", purged)
    org.empty_recycle_bin()  # only the deleted-records list still knows this one
    org.delete("Contact", shared_contact)  # these two queryAll sees (IsDeleted), and the list too
    org.delete("Contact", alone)
    clock.advance(60)
    run = sync_now(sync, workspace, "Contact")
    assert run.counts.deleted == 3  # each once, though two were seen twice
    gone = profile_of(workspace, Kind.PEOPLE, "Contact", purged)
    assert f"salesforce:Contact:{purged}" not in gone.records or gone.status is Status.ARCHIVED
    kept = profile_of(workspace, Kind.PEOPLE, "Lead", lead["Id"])
    assert kept.status is Status.ACTIVE and f"salesforce:Contact:{shared_contact}" not in kept.records
    archived = profile_of(workspace, Kind.PEOPLE, "Contact", alone)
    assert archived.status is Status.ARCHIVED and f"salesforce:Contact:{alone}" in archived.records  # reversible
    assert sync_now(sync, workspace, "Contact").counts.deleted == 0  # idempotent


def test_a_sync_older_than_the_deleted_records_window_says_what_it_could_not_see(
    emulator: SalesforceEmulator, store: SyncStore
) -> None:
    """Salesforce lists deleted records for 30 days (REST "sObject Get Deleted"; older starts fail with
    INVALID_REPLICATION_DATE): an incremental sync lists what it can, unlinks it, and names what it could not see in
    its problems instead of failing."""
    sync = make_sync(emulator, store)
    workspace = new_workspace(sync, "Contact")
    org, clock = emulator.org, clock_of(emulator)
    sync_now(sync, workspace, "Contact")
    ids = [row["Id"] for row in org.records("Contact")]

    clock.advance(30.5 * 86_400)
    late = ManualClock(clock() - timedelta(days=2))  # Roster's clock behind Salesforce's: its start falls outside
    org.delete("Contact", ids[0])
    clock.advance(60)
    run = sync_now(make_sync(emulator, store, clock=late), workspace, "Contact")
    assert run.status is SyncStatus.SUCCEEDED
    assert any("Salesforce would not list them (startDate cannot be more than 30 days ago" in p for p in run.problems)
    assert run.counts.deleted == 1  # queryAll still saw it in the Recycle Bin

    clock.advance(40 * 86_400)
    org.delete("Contact", ids[1])
    org.empty_recycle_bin()  # only the deleted-records list knows it now
    org.delete("Contact", ids[2])
    clock.advance(60)
    run = sync_now(sync, workspace, "Contact")
    assert run.status is SyncStatus.SUCCEEDED and run.mode is Mode.INCREMENTAL
    assert run.counts.deleted == 2
    assert any("Salesforce lists deletions for the last 30 days only" in problem for problem in run.problems)


def profile_records(workspace: str, contact_id: str, sync: SalesforceSync) -> dict[str, Any]:
    """The source records of a contact's person, syncing Contacts and Leads first if not done yet."""
    if sync.store.state(workspace, "Contact").watermark is None:
        sync_now(sync, workspace, "Contact")
        sync_now(sync, workspace, "Lead")
    return dict(profile_of(workspace, Kind.PEOPLE, "Contact", contact_id).records)


def test_lead_conversion_merges_in_either_order(emulator: SalesforceEmulator, store: SyncStore) -> None:
    sync = make_sync(emulator, store)
    workspace = new_workspace(sync, "Contact", "Lead")
    org, clock = emulator.org, clock_of(emulator)
    lead_id = org.create("Lead", {"LastName": "Okafor", "Company": "Kite Labs", "Email": "ada@kite-labs.example"})
    sync_now(sync, workspace, "Lead")
    sync_now(sync, workspace, "Contact")
    clock.advance(60)
    conversion = org.convert_lead(lead_id)
    org.update("Contact", conversion.contact_id, {"Email": "ada.okafor@kite-labs.example"})  # no shared e-mail
    sync_now(sync, workspace, "Lead")  # the lead arrives first and claims its contact's alias
    sync_now(sync, workspace, "Contact")
    person = profile_of(workspace, Kind.PEOPLE, "Contact", conversion.contact_id)
    assert person.profile_id == profile_of(workspace, Kind.PEOPLE, "Lead", lead_id).profile_id
    assert {f"salesforce:Lead:{lead_id}", f"salesforce:Contact:{conversion.contact_id}"} <= set(person.records)
    assert person.records[f"salesforce:Lead:{lead_id}"].values["email"] == "ada@kite-labs.example"  # both kept


# -- page edges, continuations, redelivery --------------------------------------------------------------


def test_equal_timestamps_across_page_edges(store: SyncStore) -> None:
    org = generate_org(9, accounts=0, contacts=0, leads=0, clock=ManualClock(START))
    first = [org.create("Contact", {"LastName": f"Tie {index}"}) for index in range(23)]
    with SalesforceEmulator(org) as emulator:
        sync = make_sync(emulator, store, page_records=7, batch_records=3, reserve_seconds=0)
        workspace = new_workspace(sync, "Contact")
        run = sync_now(sync, workspace, "Contact")
        assert run.counts.read == run.counts.created == 23
        assert emulator.calls_by_kind["bulk_query_results"] == 4
        mark = store.state(workspace, "Contact").watermark
        assert mark is not None and mark.id == max(first)
        more = [org.create("Contact", {"LastName": f"Same second {index}"}) for index in range(9)]  # same stamp
        run = sync_now(sync, workspace, "Contact")
        assert run.counts.created == 9 and run.counts.skipped == 23 and run.counts.read == 32
        assert {p.records.popitem()[1].record_id for p in salesforce_people(workspace)} == {*first, *more}


def test_crash_between_pages_resumes_without_loss_or_duplicates(store: SyncStore) -> None:
    org = generate_org(4, accounts=5, contacts=50, leads=0, clock=ManualClock(START))
    with SalesforceEmulator(org) as emulator:
        sync = make_sync(emulator, store, page_records=20, batch_records=10, reserve_seconds=1)
        workspace = new_workspace(sync, "Contact")
        first = sync.start(workspace, "Contact")
        assert first is not None
        budget = iter([100.0] * 3 + [0.0] * 100)
        continuation = sync.run(first, lambda: next(budget))  # the worker stops after a batch or two
        assert continuation is not None and continuation.job_id is not None and continuation.locator is not None
        stopped = store.run(workspace, "Contact", first.run_id)
        assert stopped is not None and 0 < stopped.counts.read < 50
        drain(sync, first)  # SQS redelivers the first message: it resumes from the stored checkpoint
        assert sync.run(continuation, FOREVER) is None  # the continuation of a finished run changes nothing
        run = store.run(workspace, "Contact", first.run_id)
        assert run is not None and run.status is SyncStatus.SUCCEEDED
        assert run.counts.read == run.counts.created == 50
        assert len(salesforce_people(workspace)) == 50


# -- injected failures ----------------------------------------------------------------------------------


def test_expired_session_logs_in_again_once(emulator: SalesforceEmulator, store: SyncStore) -> None:
    sync = make_sync(emulator, store)
    workspace = new_workspace(sync, "Account")
    emulator.fail_next("expired_session", on="bulk_query_create")
    run = sync_now(sync, workspace, "Account")
    assert run.status is SyncStatus.SUCCEEDED and run.counts.created == 25
    assert emulator.calls_by_kind["login_oauth"] == 2

    session_only = SessionCredentials(instance_url=emulator.instance_url, session_id=emulator.new_session())
    stuck = SalesforceSync(
        store,
        sync.resolver,
        lambda workspace: Connection(session_only, verify=emulator.ca_path),
        poll_seconds=0,
        wait=wait_none(),
        clock=emulator.org.clock,
    )
    emulator.expire_sessions()
    message = stuck.start(workspace, "Account", Mode.FULL)
    assert message is not None
    with pytest.raises(PageFailed) as failed:
        stuck.run(message, FOREVER)
    assert failed.value.code == "expired_session" and not failed.value.parked
    assert store.state(workspace, "Account").status is SyncStatus.FAILED


def test_request_limit_is_retried_then_parked_and_redriven(emulator: SalesforceEmulator, store: SyncStore) -> None:
    sync = make_sync(emulator, store)
    workspace = new_workspace(sync, "Account")
    emulator.fail_next("request_limit", count=2, on="bulk_query_results")
    assert sync_now(sync, workspace, "Account").counts.created == 25

    emulator.fail_next("request_limit", count=4, on="bulk_query_results")
    message = sync.start(workspace, "Account", Mode.FULL)
    assert message is not None
    with pytest.raises(PageFailed) as failed:
        sync.run(message, FOREVER)
    assert failed.value.parked and failed.value.code == "api_limit"
    assert failed.value.message.job_id is not None and failed.value.message.locator == ""
    status = {row.object: row for row in sync.status(workspace)}["Account"]
    assert status.status is SyncStatus.PARKED and status.error and "request limit" in status.error
    assert status.last_run is not None and status.last_run.error_code == "api_limit"
    drain(sync, message)  # redriven from the DLQ
    run = store.run(workspace, "Account", message.run_id)
    assert run is not None and run.status is SyncStatus.SUCCEEDED and run.counts.unchanged == 25
    assert store.state(workspace, "Account").status is SyncStatus.IDLE


def test_failed_and_slow_jobs_and_500_pages(emulator: SalesforceEmulator, store: SyncStore) -> None:
    sync = make_sync(emulator, store)
    workspace = new_workspace(sync, "Account")
    emulator.fail_next("bulk_job_failed")
    run = sync_now(sync, workspace, "Account")
    assert run.status is SyncStatus.SUCCEEDED and run.job_attempts == 1 and run.counts.created == 25

    emulator.fail_next("bulk_job_failed", count=4)
    message = sync.start(workspace, "Account", Mode.FULL)
    assert message is not None
    with pytest.raises(PageFailed) as failed:
        sync.run(message, FOREVER)
    assert failed.value.code == "bulk_job_failed" and "UNKNOWN_EXCEPTION" in failed.value.reason
    drain(sync, message)  # the failed job is in the past: a redrive starts a good one

    emulator.fail_next("bulk_job_slow", polls=5)
    message = sync.start(workspace, "Account", Mode.FULL)
    assert message is not None
    budget = iter([100.0] * 3 + [0.0] * 100)
    waiting = sync.run(message, lambda: next(budget))  # the job is still running when the deadline nears
    assert waiting is not None and waiting.job_id is not None and waiting.locator is None
    drain(sync, waiting)
    slow = store.run(workspace, "Account", message.run_id)
    assert slow is not None and slow.status is SyncStatus.SUCCEEDED and slow.counts.read == 25

    emulator.fail_next("results_500", count=2)
    assert sync_now(sync, workspace, "Account", Mode.FULL).status is SyncStatus.SUCCEEDED
    emulator.fail_next("results_500", count=4)
    message = sync.start(workspace, "Account", Mode.FULL)
    assert message is not None
    with pytest.raises(PageFailed) as failed:
        sync.run(message, FOREVER)
    assert failed.value.parked and failed.value.code == "salesforce_error" and "500" in failed.value.reason


# -- connection, secrets, mapping, schedules ------------------------------------------------------------


def test_connection_test_reasons(emulator: SalesforceEmulator) -> None:
    ok = sf_connection.test_connection(credentials(emulator), verify=emulator.ca_path)
    assert ok.ok and ok.instance_url == emulator.instance_url and ok.api_requests_remaining
    bad = sf_connection.test_connection(credentials(emulator, password="wrong"), verify=emulator.ca_path)
    assert not bad.ok and bad.code == "bad_credentials" and "invalid_grant" in (bad.reason or "")
    expired = SessionCredentials(instance_url=emulator.instance_url, session_id="00Dexpired!nothing")
    gone = sf_connection.test_connection(expired, verify=emulator.ca_path)
    assert gone.code == "expired_session"
    emulator.fail_next("request_limit", on="limits")
    assert sf_connection.test_connection(credentials(emulator), verify=emulator.ca_path).code == "api_limit"
    nowhere = credentials(emulator, login_url="https://127.0.0.1:9")
    assert sf_connection.test_connection(nowhere, verify=emulator.ca_path).code == "refused_address"  # not listed
    with allowed("127.0.0.1", 9):
        assert sf_connection.test_connection(nowhere, verify=emulator.ca_path).code == "unreachable"


def test_credentials_live_in_secrets_manager(stack: LocalStack, emulator: SalesforceEmulator) -> None:
    secrets = stack.client("secretsmanager")
    vault = CredentialStore(secrets)
    workspace = f"sf-{str(ULID()).lower()}"
    assert vault.load(workspace) is None
    vault.save(workspace, credentials(emulator))
    vault.save(workspace, credentials(emulator, password="rotated"))
    loaded = vault.load(workspace)
    assert isinstance(loaded, PasswordCredentials) and loaded.password.get_secret_value() == "rotated"
    assert secrets.describe_secret(SecretId=secret_name(workspace))["Name"] == f"roster/{workspace}/salesforce"
    vault.delete(workspace)
    assert vault.load(workspace) is None


def test_mapping_auto_override_and_preview(emulator: SalesforceEmulator, store: SyncStore) -> None:
    sync = make_sync(emulator, store)
    workspace = new_workspace(sync, "Contact")
    auto = sync.mapping(workspace, "Contact")
    assert auto.fields["Email"].field == "email" and auto.fields["MailingCountry"].field == "country"
    with pytest.raises(MappingError, match="'Favourite_Colour__c'"):
        sync.set_mapping(workspace, "Contact", {"Favourite_Colour__c": "colour"})
    records = sync.preview(workspace, "Contact", {"Email": "email", "Title": "job_title"})
    assert len(records) == 10 and all(set(record.fields) <= {"email", "job_title"} for record in records)
    saved = sync.set_mapping(workspace, "Contact", {"Email": "email", "Title": "job_title"})
    assert store.mapping(workspace, "Contact") == saved
    run = sync_now(sync, workspace, "Contact")
    some = profile_of(workspace, Kind.PEOPLE, "Contact", next(emulator.org.records("Contact"))["Id"])
    assert set(some.fields) <= {"email", "job_title", "company_domain", "company_name"}  # unmapped: not stored
    assert run.counts.read == 240


def test_due_syncs_follow_the_schedule(emulator: SalesforceEmulator, store: SyncStore) -> None:
    sync = make_sync(emulator, store)
    workspace = new_workspace(sync, "Account")
    store.put_config(workspace, SyncConfig(incremental_minutes=30, full_days=2))
    now = START

    def due() -> set[tuple[str, Mode]]:
        return {(item.object, item.mode) for item in due_syncs(store, now) if item.workspace == workspace}

    assert due() == {("Account", Mode.FULL)}
    sync_now(sync, workspace, "Account")
    assert due() == set()
    now = START + timedelta(minutes=31)
    assert due() == {("Account", Mode.INCREMENTAL)}
    now = START + timedelta(days=2)
    assert due() == {("Account", Mode.FULL)}
    sync.enable(workspace, "Account", False)
    assert due() == set()


# -- Bulk query limits: windows without ORDER BY, failures that repeat ------------------------------------


def test_a_large_object_imports_in_windows_without_order_by(store: SyncStore) -> None:
    """An object over the emulator's "large" threshold, where ORDER BY turns PK chunking off and the job times
    out (Salesforce's Bulk API 2.0 query considerations), imports in windows of SystemModstamp with no ORDER BY,
    with gzip-compressed results, and the mark moves to the newest record."""
    clock = ManualClock(START)
    org = generate_org(13, accounts=0, contacts=0, leads=0, clock=clock)
    for second in range(40):
        for index in range(second % 7 + 1):  # 1 to 7 records share each second
            org.create("Contact", {"LastName": f"Large {second}-{index}", "Title": f"Title {second}-{index}"})
        clock.advance(1)
    total = org.count("Contact")
    chunking = Chunking(large_records=50, unchunked_polls=3, timeout_records=100)
    with SalesforceEmulator(org, chunking=chunking) as emulator:
        emulator.fail_next("bulk_job_failed", error=QUERY_TIMEOUT)  # a timeout once is retried like any failure
        sync = make_sync(emulator, store, page_records=20, batch_records=7)
        workspace = new_workspace(sync, "Contact")
        store.put_config(workspace, SyncConfig(window_records=30))
        run = sync_now(sync, workspace, "Contact")
        assert run.status is SyncStatus.SUCCEEDED and run.counts.read == run.counts.created == total > 100
        queries = [job.query for job in emulator.query_jobs.values()]
        assert all("ORDER BY" not in query and "LIMIT" not in query for query in queries)
        windows = set(queries)  # the window that timed out ran twice, as one query
        assert len(queries) == len(windows) + 1 and len(windows) >= math.ceil(total / 30) // 2  # spans adapt
        assert run.job_attempts == 0 and len(run.problems) == 1 and "QUERY_TIMEOUT" in run.problems[0]
        assert emulator.compressed_by_kind["bulk_query_results"] == emulator.calls_by_kind["bulk_query_results"]
        newest = max((row["SystemModstamp"], row["Id"]) for row in org.records("Contact"))
        mark = store.state(workspace, "Contact").watermark
        assert mark is not None and (parse_time(mark.stamp), mark.id) == (parse_time(newest[0]), newest[1])
        people = salesforce_people(workspace)
        assert {p.records.popitem()[1].record_id for p in people} == {row["Id"] for row in org.records("Contact")}


def test_a_job_failing_twice_for_the_same_reason_is_not_created_a_third_time(
    emulator: SalesforceEmulator, store: SyncStore
) -> None:
    """A query timeout (or any failure) that repeats would repeat forever: after the second the run fails with
    the reason and what to do, and no third job is created; different reasons are retried as before."""
    sync = make_sync(emulator, store)
    workspace = new_workspace(sync, "Account")
    emulator.fail_next("bulk_job_failed", count=5, error=QUERY_TIMEOUT)
    message = sync.start(workspace, "Account", Mode.FULL)
    assert message is not None
    with pytest.raises(PageFailed) as failed:
        sync.run(message, FOREVER)
    assert emulator.calls_by_kind["bulk_query_create"] == 2
    assert failed.value.code == "bulk_query_refused" and not failed.value.parked
    assert "twice" in failed.value.reason and "QUERY_TIMEOUT" in failed.value.reason
    assert "window_records" in failed.value.reason
    status = {row.object: row for row in sync.status(workspace)}["Account"]
    assert status.status is SyncStatus.FAILED and status.error == failed.value.reason
    assert status.last_run is not None and status.last_run.error_code == "bulk_query_refused"
    assert sync.run(message, FOREVER) is None and emulator.calls_by_kind["bulk_query_create"] == 2  # over for good
    emulator.clear_failures()

    emulator.reset_calls()
    emulator.fail_next("bulk_job_failed", error=QUERY_TIMEOUT)
    emulator.fail_next("bulk_job_failed", error="InvalidBatch : Failed to process query: INVALID_FIELD: No such column")
    run = sync_now(sync, workspace, "Account", Mode.FULL)  # two different reasons: the third job runs
    assert run.status is SyncStatus.SUCCEEDED and run.job_attempts == 2 and run.counts.read == 25
    assert emulator.calls_by_kind["bulk_query_create"] == 3


def test_a_query_salesforce_refuses_fails_the_run_with_its_reason(
    emulator: SalesforceEmulator, store: SyncStore
) -> None:
    """A job Salesforce refuses to create (a field it does not know, say one deleted since it was mapped) is
    not retried: the run fails at once with Salesforce's own code and message."""
    sync = make_sync(emulator, store)
    workspace = new_workspace(sync, "Account")
    mapping = sync.mapping(workspace, "Account")
    bogus = mapping.fields["Name"].model_copy()
    store.put_mapping(workspace, mapping.model_copy(update={"fields": {**mapping.fields, "Gone__c": bogus}}))
    message = sync.start(workspace, "Account", Mode.FULL)
    assert message is not None
    with pytest.raises(PageFailed) as failed:
        sync.run(message, FOREVER)
    assert not failed.value.parked and emulator.calls_by_kind["bulk_query_create"] == 1
    assert "HTTP 400: INVALID_FIELD" in failed.value.reason and "No such column 'Gone__c'" in failed.value.reason
    assert store.state(workspace, "Account").status is SyncStatus.FAILED


@example(
    groups=[(12, 1), (12, 1), (12, 0)], window=5, edits=[(3, 2, 1), (9, 2, 0), (14, 1, 2)], page=4, handovers={6, 11}
)
@given(
    groups=st.lists(st.tuples(st.integers(1, 12), st.integers(0, 3)), min_size=1, max_size=6),
    window=st.integers(1, 9),
    edits=st.lists(st.tuples(st.integers(0, 40), st.integers(1, 4), st.integers(0, 3)), max_size=6),
    page=st.integers(2, 9),
    handovers=st.sets(st.integers(0, 40), max_size=5),
)
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_windows_miss_nothing_and_count_nothing_twice(
    store: SyncStore,
    groups: list[tuple[int, int]],
    window: int,
    edits: list[tuple[int, int, int]],
    page: int,
    handovers: set[int],
) -> None:
    """Many records share each SystemModstamp (groups created in one second), windows are small so their edges
    fall on those stamps, and records are edited and created while the sync runs (at any of its steps: between
    windows, pages, polls), which also hands over to a continuation now and then as a Lambda near its deadline
    does. A full sync then an incremental one leave every record imported with its latest values; no record is
    imported twice or counted as changed when it was not."""
    clock = ManualClock(START)
    org = generate_org(21, accounts=0, contacts=0, leads=0, clock=clock)
    serial = iter(range(10_000))
    for size, gap in groups:
        for _ in range(size):
            org.create("Contact", {"LastName": f"Tied {next(serial)}", "Title": "first"})
        clock.advance(gap)
    edited = 0
    steps: dict[int, tuple[int, int]] = {step: (count, created) for step, count, created in edits}
    calls = iter(range(10_000))

    def remaining() -> float:
        """The worker's clock check, called at every step of the run: edits land here."""
        nonlocal edited
        step = next(calls)
        if step in steps:
            count, created = steps[step]
            clock.advance(1)  # a save moves SystemModstamp past every earlier one of the record
            ids = sorted(row["Id"] for row in org.records("Contact"))
            for index in range(count):
                org.update("Contact", ids[(step * 7 + index * 3) % len(ids)], {"Title": f"edit {next(serial)}"})
                edited += 1
            for _ in range(created):
                org.create("Contact", {"LastName": f"During {next(serial)}", "Title": "first"})
        return 0.0 if step in handovers else 1e9

    with SalesforceEmulator(org) as emulator:
        sync = make_sync(emulator, store, page_records=page, batch_records=max(1, page // 2))
        workspace = new_workspace(sync, "Contact")
        store.put_config(workspace, SyncConfig(window_records=window))
        sync.set_mapping(workspace, "Contact", {"LastName": "last_name", "Title": "job_title"})
        runs = []
        for mode in (Mode.FULL, Mode.INCREMENTAL):
            message = sync.start(workspace, "Contact", mode)
            assert message is not None
            drain(sync, message, remaining)
            run = store.run(workspace, "Contact", message.run_id)
            assert run is not None and run.status is SyncStatus.SUCCEEDED
            runs.append(run)
            steps.clear()  # the incremental run sees the last edits, and makes none
            clock.advance(1)
        records = {row["Id"]: row for row in org.records("Contact")}
        assert sum(run.counts.created for run in runs) == len(records)  # each record imported once
        assert sum(run.counts.unchanged for run in runs) == 0  # no version of a record resolved twice
        assert sum(run.counts.updated for run in runs) <= edited
        for record_id, row in records.items():
            person = profile_of(workspace, Kind.PEOPLE, "Contact", record_id)
            assert person.fields["job_title"] == row["Title"], record_id


def test_tasks_and_events_never_sync_together(emulator: SalesforceEmulator, store: SyncStore) -> None:
    """They share the activity roll-ups: one waits while the other runs, then starts."""
    sync = make_sync(emulator, store)
    workspace = new_workspace(sync, "Task", "Event")
    task = sync.start(workspace, "Task")
    assert task is not None
    assert sync.start(workspace, "Event") is None  # Tasks are running
    drain(sync, task)
    event = sync.start(workspace, "Event")
    assert event is not None and sync.start(workspace, "Task") is None
    drain(sync, event)
    assert sync.start(workspace, "Task") is not None

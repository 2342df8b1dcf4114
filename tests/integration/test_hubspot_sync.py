"""The HubSpot import end to end: the emulator over HTTPS, hubspot-api-client, the sync engine, moto DynamoDB."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hubspot import HubSpot
from ulid import ULID

from roster import aws
from roster.connectors.core.mapping import FieldMapping, MappingError
from roster.connectors.core.runs import PageFailed, due_syncs
from roster.connectors.core.state import Mode, Status
from roster.connectors.hubspot import connection as hs_connection
from roster.connectors.hubspot.connection import AnyCredentials, Connection, OAuthCredentials, PrivateAppCredentials
from roster.connectors.hubspot.describe import HubSpotObject
from roster.connectors.hubspot.importer import HubSpotSync, SyncMessage
from roster.connectors.hubspot.store import HubSpotRun, HubSpotStore
from roster.identity.aliases import record_alias
from roster.identity.resolver import resolver_for
from roster.profiles.fields import Kind
from roster.profiles.model import IncomingRecord, Profile
from roster.profiles.model import Status as ProfileStatus
from roster.segments.compiler import compile_filter
from roster.segments.filters import Group, catalog_for, check_filter
from roster.store.profiles import ProfileStore
from roster.store.workspaces import WorkspaceStore, matching_setting_name
from roster_dev.emulators.hubspot import HubSpotEmulator, ManualClock, generate_portal
from roster_dev.local.stack import LocalStack
from tests.runs import FOREVER, drain, run_to_end

START = datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC)
OBJECTS: tuple[HubSpotObject, ...] = ("companies", "contacts", "deals")


@pytest.fixture
def hs() -> Iterator[HubSpotEmulator]:
    portal = generate_portal(11, contacts=120, companies=20, deals=30, clock=ManualClock(START))
    with HubSpotEmulator(portal) as fresh:
        yield fresh


@pytest.fixture
def store(stack: LocalStack) -> HubSpotStore:
    aws.clients()  # point the models at the local stack's tables
    return HubSpotStore()


def clock_of(hs: HubSpotEmulator) -> ManualClock:
    clock = hs.portal.clock
    assert isinstance(clock, ManualClock)
    return clock


class Waits(list[float]):
    """The waits a connection asked for; each lets the emulator's clock run on by as much."""

    def __init__(self, clock: ManualClock) -> None:
        super().__init__()
        self.clock = clock

    def __call__(self, seconds: float) -> None:
        self.append(seconds)
        self.clock.advance(seconds)


def private_app(hs: HubSpotEmulator, token: str | None = None) -> PrivateAppCredentials:
    return PrivateAppCredentials.model_validate({"token": token or hs.token, "host": hs.url})


@dataclass
class WatchedSync(HubSpotSync):
    """The sync, with the waits its connections asked for and the connections it made."""

    waits: Waits | None = None
    connections: list[Connection] = field(default_factory=list)


def make_sync(
    hs: HubSpotEmulator,
    store: HubSpotStore,
    credentials: AnyCredentials | None = None,
    kind: type[WatchedSync] = WatchedSync,
    **options: Any,
) -> WatchedSync:
    profiles, workspaces = ProfileStore(), WorkspaceStore()
    creds = credentials or private_app(hs)
    waits = Waits(clock_of(hs))
    connections: list[Connection] = []

    def connect(workspace: str) -> Connection:
        budget = sync.budget(workspace)
        connection = Connection(creds, hs.ca_path, budget, sleep=waits, now=lambda: clock_of(hs)().timestamp())
        connections.append(connection)
        return connection

    sync = kind(
        store,
        lambda workspace, kind: resolver_for(profiles, workspaces, workspace, kind),
        connect,
        clock=clock_of(hs),
        sleep=waits,
        waits=waits,
        connections=connections,
        **options,
    )
    return sync


def new_workspace(sync: HubSpotSync, *objects: HubSpotObject) -> str:
    workspace = f"hs-{str(ULID()).lower()}"
    for obj in objects:
        sync.enable(workspace, obj)
    return workspace


def sync_now(sync: HubSpotSync, workspace: str, obj: HubSpotObject, mode: Mode | None = None) -> HubSpotRun:
    return run_to_end(sync, sync.start(workspace, obj, mode))


def one_page() -> Callable[[], float]:
    """A deadline that comes after the first page: the worker reads one page and hands over."""
    left = iter([1e9, 0.0])
    return lambda: next(left, 0.0)


def profile_of(workspace: str, kind: Kind, obj: str, record_id: int | str) -> Profile | None:
    return ProfileStore().lookup(workspace, kind, record_alias("hubspot", obj, str(record_id)))


def active(workspace: str, kind: Kind) -> list[Profile]:
    return [p for p in ProfileStore().scan(workspace, kind) if p.status is ProfileStatus.ACTIVE]


# -- full and incremental -------------------------------------------------------------------------------


def test_full_sync_imports_contacts_companies_and_deals_on_their_company(
    hs: HubSpotEmulator, store: HubSpotStore
) -> None:
    sync = make_sync(hs, store)
    workspace = new_workspace(sync, *OBJECTS)
    runs = {obj: sync_now(sync, workspace, obj) for obj in OBJECTS}
    portal = hs.portal
    for obj in OBJECTS:
        assert runs[obj].status is Status.SUCCEEDED, runs[obj].error
        assert runs[obj].mode is Mode.FULL
        assert runs[obj].counts.read == len(portal.live(obj))
    for contact in portal.live("contacts"):
        profile = profile_of(workspace, Kind.PEOPLE, "contacts", contact.id)
        assert profile is not None
        email = contact.properties.get("email")
        if email:
            assert email.lower() in [str(value).lower() for value in [profile.fields.get("email")]]
        companies = portal.associations("contacts", contact.id, "companies")
        if companies:
            company = portal.get("companies", min(companies))
            domain = company.properties.get("domain")
            if domain:
                assert profile.fields.get("company_domain") == domain.lower()
    with_deals = 0
    for company in portal.live("companies"):
        deals = portal.associations("companies", company.id, "deals")
        profile = profile_of(workspace, Kind.COMPANIES, "companies", company.id)
        assert profile is not None
        held = {deal["id"] for deal in profile.fields.get("deals") or []}
        if deals:
            with_deals += 1
        assert held <= {str(deal) for deal in deals}
    assert with_deals > 0
    # a custom property is mapped as a custom field of its own name
    mapping = store.mapping(workspace, "contacts")
    assert mapping is not None and mapping.fields["loyalty_points"].field == "loyalty_points"


def test_incremental_reads_only_what_changed_and_equal_times_at_the_mark_are_not_missed(
    hs: HubSpotEmulator, store: HubSpotStore
) -> None:
    sync = make_sync(hs, store)
    workspace = new_workspace(sync, "contacts")
    full = sync_now(sync, workspace, "contacts")
    assert full.status is Status.SUCCEEDED
    clock = clock_of(hs)
    clock.advance(60)
    target = hs.portal.live("contacts")[3]
    hs.portal.update("contacts", target.id, {"jobtitle": "Chief Cartographer"})
    clock.advance(20 * 60)
    incremental = sync_now(sync, workspace, "contacts")
    assert incremental.mode is Mode.INCREMENTAL
    assert incremental.status is Status.SUCCEEDED
    assert 1 <= incremental.counts.read < full.counts.read
    profile = profile_of(workspace, Kind.PEOPLE, "contacts", target.id)
    assert profile is not None and profile.fields.get("job_title") == "Chief Cartographer"
    # a record stamped at the very time the mark was taken is read by the next incremental (the overlap)
    state = store.state(workspace, "contacts")
    assert state.watermark is not None
    late = hs.portal.live("contacts")[5]
    hs.portal.update("contacts", late.id, {"jobtitle": "Late Indexer"})
    record = hs.portal.get("contacts", late.id)
    record.properties["lastmodifieddate"] = str(state.watermark)  # committed at the mark's millisecond
    clock.advance(20 * 60)
    sync_now(sync, workspace, "contacts")
    profile = profile_of(workspace, Kind.PEOPLE, "contacts", late.id)
    assert profile is not None and profile.fields.get("job_title") == "Late Indexer"


def test_a_bulk_edit_of_12000_records_sharing_one_time_is_read_past_the_10000_cap(
    hs: HubSpotEmulator, store: HubSpotStore
) -> None:
    portal = hs.portal
    sync = make_sync(hs, store)
    workspace = new_workspace(sync, "contacts")
    sync.set_mapping(workspace, "contacts", {"email": "email", "jobtitle": "job_title"})
    before = sync_now(sync, workspace, "contacts", Mode.FULL)
    assert before.status is Status.SUCCEEDED, before.error
    clock_of(hs).advance(60)
    records = portal.add_many("contacts", 12_000, lambda n: {"email": f"bulk{n}@bulk-example.org"})
    clock_of(hs).advance(60)
    moment = portal.bulk_edit("contacts", [record.id for record in records], {"jobtitle": "Bulk Edited"})
    assert len({portal.get("contacts", r.id).properties["lastmodifieddate"] for r in records}) == 1
    clock_of(hs).advance(20 * 60)
    hs.calls_by_kind.clear()
    run = sync_now(sync, workspace, "contacts")
    assert run.mode is Mode.INCREMENTAL and run.status is Status.SUCCEEDED, run.error
    assert run.counts.read >= 12_000
    assert hs.calls_by_kind["search"] >= 12_000 // 200
    for record in (records[0], records[9_999], records[10_000], records[-1]):
        profile = profile_of(workspace, Kind.PEOPLE, "contacts", record.id)
        assert profile is not None and profile.fields.get("job_title") == "Bulk Edited", moment


# -- merges and archives --------------------------------------------------------------------------------


def test_a_merge_in_hubspot_merges_the_two_profiles(hs: HubSpotEmulator, store: HubSpotStore) -> None:
    portal = hs.portal
    first = portal.create("contacts", {"email": "ada@merge-example.org", "firstname": "Ada"})
    second = portal.create("contacts", {"email": "ada.l@merge-example.org", "lastname": "Lovelace"})
    sync = make_sync(hs, store)
    workspace = new_workspace(sync, "contacts")
    sync_now(sync, workspace, "contacts")
    one, two = (profile_of(workspace, Kind.PEOPLE, "contacts", r.id) for r in (first, second))
    assert one is not None and two is not None and one.profile_id != two.profile_id
    clock_of(hs).advance(60)
    survivor = portal.merge("contacts", first.id, second.id)
    clock_of(hs).advance(20 * 60)
    run = sync_now(sync, workspace, "contacts")
    assert run.status is Status.SUCCEEDED, run.error
    merged = {
        profile.profile_id
        for profile in (profile_of(workspace, Kind.PEOPLE, "contacts", r) for r in (first.id, second.id, survivor.id))
        if profile is not None
    }
    assert len(merged) == 1
    profile = profile_of(workspace, Kind.PEOPLE, "contacts", survivor.id)
    assert profile is not None and profile.status is ProfileStatus.ACTIVE
    assert {"hubspot:contacts:" + str(i) for i in (first.id, second.id, survivor.id)} <= set(profile.records)


def test_an_archive_removes_the_source_link(hs: HubSpotEmulator, store: HubSpotStore) -> None:
    sync = make_sync(hs, store)
    workspace = new_workspace(sync, "contacts")
    sync_now(sync, workspace, "contacts")
    gone = hs.portal.live("contacts")[7]
    key = f"hubspot:contacts:{gone.id}"
    profile = profile_of(workspace, Kind.PEOPLE, "contacts", gone.id)
    assert profile is not None and key in profile.records
    clock_of(hs).advance(60)
    hs.portal.archive("contacts", gone.id)
    clock_of(hs).advance(20 * 60)
    hs.calls_by_kind.clear()
    soon = sync_now(sync, workspace, "contacts")  # incrementals list archived records once a day, not each time
    assert soon.counts.deleted == 0 and hs.calls_by_kind["list"] == 0
    clock_of(hs).advance(24 * 3600)
    run = sync_now(sync, workspace, "contacts")
    assert run.mode is Mode.INCREMENTAL and run.counts.deleted == 1
    assert store.state(workspace, "contacts").archived_mark == run.until
    after = ProfileStore().get(workspace, Kind.PEOPLE, profile.profile_id)
    assert after is not None
    assert key not in after.records or after.status is ProfileStatus.ARCHIVED


# -- failures, limits, tokens, hand-over -----------------------------------------------------------------


def test_a_429_waits_its_retry_after_and_the_run_goes_on(hs: HubSpotEmulator, store: HubSpotStore) -> None:
    sync = make_sync(hs, store)
    workspace = new_workspace(sync, "contacts")
    hs.fail_next("rate_limit", 2, on="list")
    run = sync_now(sync, workspace, "contacts")
    assert run.status is Status.SUCCEEDED, run.error
    assert run.counts.read == len(hs.portal.live("contacts"))
    waits = sync.waits
    assert waits is not None and len(waits) >= 2 and all(wait >= 1 for wait in waits)


def test_a_rate_limit_that_outlasts_the_retries_parks_the_run_and_a_redrive_resumes(
    hs: HubSpotEmulator, store: HubSpotStore
) -> None:
    sync = make_sync(hs, store, page_records=25)
    workspace = new_workspace(sync, "contacts")
    message = sync.start(workspace, "contacts")
    assert message is not None
    pages = iter([1e9, 1e9, 0.0])  # the first page, then the deadline
    following = sync.run(message, lambda: next(pages, 0.0))
    assert following is not None
    hs.fail_next("server_error", 10, on="list")
    with pytest.raises(PageFailed) as failed:
        sync.run(following, FOREVER)
    assert failed.value.parked and failed.value.code == "hubspot_unavailable"
    assert store.run(workspace, "contacts", message.run_id).status is Status.PARKED  # type: ignore[union-attr]
    hs.clear_failures()
    drain(sync, failed.value.message)
    run = store.run(workspace, "contacts", message.run_id)
    assert run is not None and run.status is Status.SUCCEEDED
    assert run.counts.read == len(hs.portal.live("contacts"))  # nothing counted twice, nothing skipped


def test_a_crash_between_pages_resumes_from_the_checkpoint(hs: HubSpotEmulator, store: HubSpotStore) -> None:
    sync = make_sync(hs, store, page_records=20)
    workspace = new_workspace(sync, "contacts")
    message = sync.start(workspace, "contacts")
    assert message is not None
    # each invocation reads one page and hands over; a message delivered twice (a crash after the commit, before
    # the delete) reads on from the committed last id, so the total is still every contact once
    invocations = 0
    following: SyncMessage | None = message
    while following is not None:
        again = sync.run(following, one_page())
        if again is not None and invocations % 2 == 0:
            again = sync.run(following, one_page())  # the same message, redelivered
        following = again
        invocations += 1
    run = store.run(workspace, "contacts", message.run_id)
    assert run is not None and run.status is Status.SUCCEEDED
    total = len(hs.portal.live("contacts"))
    assert invocations >= 3  # it handed over several times, each time after a page and a redelivery
    assert run.counts.read == total
    assert len(active(workspace, Kind.PEOPLE)) <= total


def test_oauth_access_tokens_are_renewed_from_the_refresh_token(hs: HubSpotEmulator, store: HubSpotStore) -> None:
    app = hs.auth.app
    token = HubSpot(host=hs.url, ssl_ca_cert=hs.ca_path).oauth.tokens_api.create(
        grant_type="authorization_code",
        code=hs.auth.grant_code(),
        redirect_uri=app.redirect_uri,
        client_id=app.client_id,
        client_secret=app.client_secret,
    )
    credentials = OAuthCredentials.model_validate(
        {
            "client_id": app.client_id,
            "client_secret": app.client_secret,
            "refresh_token": token.refresh_token,
            "host": hs.url,
        }
    )
    sync = make_sync(hs, store, credentials, page_records=30)
    workspace = new_workspace(sync, "contacts")
    message = sync.start(workspace, "contacts")
    assert message is not None
    following = sync.run(message, one_page())
    assert following is not None
    hs.auth.expire_access_tokens()  # revoked or expired early: HubSpot answers 401
    connection = sync.connections[-1]
    drain(sync, following)
    clock_of(hs).advance(31 * 60)  # past the 30-minute lifetime: renewed before the call
    run = sync_now(sync, workspace, "contacts", Mode.FULL)
    assert run.status is Status.SUCCEEDED, run.error
    assert connection.calls > 0
    check = hs_connection.test_connection(
        OAuthCredentials.model_validate({**credentials.model_dump(), "refresh_token": "nope"}), hs.ca_path
    )
    assert not check.ok and check.code == "bad_refresh_token"


# -- connection test, mapping, schedule, segments -------------------------------------------------------


def test_the_connection_test_says_why(hs: HubSpotEmulator) -> None:
    assert hs_connection.test_connection(private_app(hs), hs.ca_path).ok
    bad = hs_connection.test_connection(private_app(hs, "pat-na1-not-a-token"), hs.ca_path)
    assert not bad.ok and bad.code == "bad_token"
    narrow = hs.auth.private_app_token(frozenset({"crm.objects.contacts.read"}))
    missing = hs_connection.test_connection(private_app(hs, narrow), hs.ca_path)
    assert not missing.ok and missing.code == "missing_scope"
    assert [check.object for check in missing.objects if check.ok] == ["contacts"]
    assert "crm.objects.companies.read" in (missing.reason or "")
    hs.fail_next("rate_limit", 1)
    limited = hs_connection.test_connection(private_app(hs), hs.ca_path)
    assert not limited.ok and limited.code == "rate_limited"


def test_a_mapping_names_the_property_at_fault_and_preview_shows_ten_records(
    hs: HubSpotEmulator, store: HubSpotStore
) -> None:
    sync = make_sync(hs, store)
    workspace = new_workspace(sync)
    with pytest.raises(MappingError, match="emial"):
        sync.set_mapping(workspace, "contacts", {"emial": "email"})
    with pytest.raises(MappingError, match="is calculated"):  # export rules: only on properties HubSpot lets us set
        sync.set_mapping(workspace, "contacts", {"hs_email_domain": FieldMapping(field="d", export="always")})
    records = sync.preview(workspace, "contacts", {"email": "email", "customer_tier": "tier"})
    assert len(records) == 10
    assert all(set(record.fields) <= {"email", "tier"} for record in records)


def test_the_scheduler_starts_full_then_incrementals(hs: HubSpotEmulator, store: HubSpotStore) -> None:
    sync = make_sync(hs, store)
    workspace = new_workspace(sync, "companies")
    now = clock_of(hs)()

    def due(at: datetime) -> set[tuple[str, Mode]]:
        return {(item.object, item.mode) for item in due_syncs(store, at) if item.workspace == workspace}

    assert due(now) == {("companies", Mode.FULL)}
    sync_now(sync, workspace, "companies")
    assert due(clock_of(hs)()) == set()
    assert due(clock_of(hs)() + timedelta(minutes=15)) == {("companies", Mode.INCREMENTAL)}
    assert due(clock_of(hs)() + timedelta(days=7)) == {("companies", Mode.FULL)}


def test_deals_are_filterable_on_their_company(hs: HubSpotEmulator, store: HubSpotStore) -> None:
    portal = hs.portal
    company = portal.create("companies", {"name": "Deal Co", "domain": "dealco-example.com"})
    deal = portal.create(
        "deals",
        {"dealname": "Big one", "dealstage": "closedwon", "amount": "125000", "pipeline": "default"},
    )
    portal.associate("deals", deal.id, "companies", company.id)
    sync = make_sync(hs, store)
    workspace = new_workspace(sync, "companies", "deals")
    sync_now(sync, workspace, "companies")
    run = sync_now(sync, workspace, "deals")
    assert run.status is Status.SUCCEEDED, run.error
    profile = profile_of(workspace, Kind.COMPANIES, "companies", company.id)
    assert profile is not None
    catalog = catalog_for(Kind.COMPANIES)
    tree = Group.model_validate(
        {
            "conditions": [
                {
                    "related": "deals",
                    "where": {
                        "conditions": [
                            {"field": "stage", "op": "eq", "value": "closedwon"},
                            {"field": "amount", "op": "gt", "value": 100000},
                            {"field": "pipeline", "op": "eq", "value": "default"},
                        ]
                    },
                }
            ]
        }
    )
    compiled = compile_filter(check_filter(tree, catalog), catalog)
    assert compiled.matches(profile.fields, {})
    others = [p for p in active(workspace, Kind.COMPANIES) if p.profile_id != profile.profile_id]
    assert not any(
        compiled.matches(p.fields, {})
        and any(d.get("amount", 0) <= 100000 for d in p.fields.get("deals") or [])
        and not any(d.get("amount", 0) > 100000 for d in p.fields.get("deals") or [])
        for p in others
    )


def test_import_record_matching_applies_to_hubspot_as_to_every_source(hs: HubSpotEmulator, store: HubSpotStore) -> None:
    contact = hs.portal.create("contacts", {"email": "grace@match-example.org", "firstname": "Grace"})
    sync = make_sync(hs, store)
    joined: dict[bool, bool] = {}
    for matching in (True, False):
        workspace = new_workspace(sync, "contacts")
        resolver = resolver_for(ProfileStore(), WorkspaceStore(), workspace, Kind.PEOPLE)
        email = "grace@match-example.org"
        resolver.upsert([IncomingRecord("csv", "people", email, "2026-11-01T00:00:00.000000Z", {"email": email})])
        if not matching:
            setting = matching_setting_name(Kind.PEOPLE, "hubspot", "contacts")
            WorkspaceStore().put_setting(workspace, setting, {"match_on": []})
        sync_now(sync, workspace, "contacts")
        profile = profile_of(workspace, Kind.PEOPLE, "contacts", contact.id)
        assert profile is not None
        joined[matching] = f"csv:people:{email}" in profile.records
    assert joined == {True: True, False: False}  # by e-mail by default; apart when HubSpot contacts match on nothing


def test_an_archived_deal_leaves_its_company(hs: HubSpotEmulator, store: HubSpotStore) -> None:
    portal = hs.portal
    company = portal.create("companies", {"name": "Two Deals", "domain": "twodeals-example.com"})
    kept, gone = (portal.create("deals", {"dealname": name, "amount": "10"}) for name in ("Kept", "Gone"))
    for deal in (kept, gone):
        portal.associate("deals", deal.id, "companies", company.id)
    sync = make_sync(hs, store)
    workspace = new_workspace(sync, "companies", "deals")
    sync_now(sync, workspace, "companies")
    sync_now(sync, workspace, "deals")

    def listed() -> set[str]:
        profile = profile_of(workspace, Kind.COMPANIES, "companies", company.id)
        assert profile is not None
        return {deal["id"] for deal in profile.fields.get("deals") or []}

    assert listed() == {str(kept.id), str(gone.id)}
    clock_of(hs).advance(60)
    portal.archive("deals", gone.id)
    clock_of(hs).advance(24 * 3600)
    run = sync_now(sync, workspace, "deals")
    assert run.status is Status.SUCCEEDED and run.counts.deleted == 1
    assert listed() == {str(kept.id)}


def test_the_daily_limit_parks_the_run_at_once_until_the_day_turns(hs: HubSpotEmulator, store: HubSpotStore) -> None:
    sync = make_sync(hs, store)
    workspace = new_workspace(sync, "contacts")
    message = sync.start(workspace, "contacts")
    assert message is not None
    hs.fail_next("daily_limit", 1, on="list")
    with pytest.raises(PageFailed) as failed:
        sync.run(message, FOREVER)
    assert failed.value.parked and failed.value.code == "daily_limit"
    assert sync.waits == []  # no wait inside the call: seconds would not help
    state = store.state(workspace, "contacts")
    assert state.status is Status.PARKED and "daily API limit" in (state.error or "")
    calls = hs.calls
    with pytest.raises(PageFailed) as again:  # redriven the same day: HubSpot said the day is spent, so no call
        sync.run(failed.value.message, FOREVER)
    assert again.value.code == "daily_budget" and hs.calls == calls
    assert sync.start(workspace, "contacts") is None  # the scheduler leaves it parked until the day turns
    clock_of(hs).advance(24 * 3600)
    resumed = sync.start(workspace, "contacts")
    assert resumed is not None and resumed.run_id == message.run_id  # the parked run, not a new one
    drain(sync, resumed)
    run = store.run(workspace, "contacts", message.run_id)
    assert run is not None and run.status is Status.SUCCEEDED and run.counts.read == len(hs.portal.live("contacts"))

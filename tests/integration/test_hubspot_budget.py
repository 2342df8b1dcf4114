"""The portal's API budget end to end: counters on the local stack's DynamoDB, workers in threads, the emulator
enforcing HubSpot's limits on a manual clock."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import pytest
from ulid import ULID

from roster.connectors.core.runs import PageFailed
from roster.connectors.core.state import Mode, Status
from roster.connectors.hubspot.budget import Budget, BudgetSpent, Limits, Pace
from roster.connectors.hubspot.describe import HubSpotObject
from roster.connectors.hubspot.importer import HubSpotSync, api_math
from roster.connectors.hubspot.store import HubSpotStore
from roster.profiles.fields import Kind
from roster.store import jobs
from roster.store.counters import Counters
from roster_dev.emulators.hubspot import HubSpotEmulator, HubSpotPortal, ManualClock, RateLimits, generate_portal
from tests.integration.test_hubspot_sync import (
    START,
    WatchedSync,
    clock_of,
    make_sync,
    new_workspace,
    profile_of,
)
from tests.runs import drain


@dataclass
class LimitedSync(WatchedSync):
    """The sync with the budget's limits set by the test (a tiny day) rather than by a tier."""

    limits: Limits | None = None

    def budget(self, workspace: str) -> Budget:
        budget = super().budget(workspace)
        budget.limits = self.limits or budget.limits
        return budget


def limited(hs: HubSpotEmulator, store: HubSpotStore, limits: Limits, page_records: int) -> LimitedSync:
    sync = make_sync(hs, store, kind=LimitedSync, limits=limits, page_records=page_records)
    assert isinstance(sync, LimitedSync)
    return sync


def portal(contacts: int = 120) -> HubSpotPortal:
    return generate_portal(11, contacts=contacts, companies=20, deals=0, clock=ManualClock(START))


class SharedTime:
    """Seconds on one clock for several threads: a sleep moves it on for everyone."""

    def __init__(self) -> None:
        self.moment = START.timestamp()
        self.lock = threading.Lock()

    def now(self) -> float:
        with self.lock:
            return self.moment

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.moment += seconds


def test_two_workers_spending_at_once_never_exceed_the_day_or_the_pace(stack: object) -> None:
    workspace = f"hs-{str(ULID()).lower()}"
    limits = Limits(per_ten_seconds=40, daily=300)
    time = SharedTime()
    spent: list[int] = []

    def worker() -> None:
        budget = Budget(workspace, limits, reserve_percent=0, counters=Counters(), now=time.now, sleep=time.sleep)
        calls = 0
        while True:
            try:
                budget.spend()
            except BudgetSpent:
                break
            calls += 1
        spent.append(calls)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(spent) == limits.daily  # the whole day, and not one call more
    assert all(calls > 0 for calls in spent)  # both took part
    pace = Pace.within(limits.per_ten_seconds, 10.0)
    first, last = int(START.timestamp() // pace.width), int(time.now() // pace.width)
    counters = Counters()
    slices = [counters.used(jobs.hubspot_budget(workspace, f"ten#{index}")) for index in range(first, last + 1)]
    assert sum(slices) == limits.daily
    assert max(slices) <= pace.capacity
    # any rolling 10 seconds touches at most 11 one-second slices: never more than HubSpot's limit in them
    assert all(sum(slices[start : start + 11]) <= limits.per_ten_seconds for start in range(len(slices)))


def test_a_sync_at_the_daily_allowance_parks_and_resumes_the_next_day_with_nothing_missed(stack: object) -> None:
    with HubSpotEmulator(portal()) as hs:
        store = HubSpotStore()
        sync = limited(hs, store, Limits(190, 8), page_records=20)  # a day of 8 calls: less than one full sync
        workspace = new_workspace(sync, "contacts")
        store.put_config(workspace, store.config(workspace).model_copy(update={"reserve_percent": 0}))
        message = sync.start(workspace, "contacts")
        assert message is not None
        with pytest.raises(PageFailed) as parked:
            drain(sync, message)
        assert parked.value.code == "daily_budget" and parked.value.parked
        assert hs.daily_usage() == 8  # the day's allowance spent, and no call beyond it
        run = store.run(workspace, "contacts", message.run_id)
        assert run is not None and run.status is Status.PARKED and run.list_after is not None  # at a checkpoint
        assert "resumes after" in (store.state(workspace, "contacts").error or "")
        clock_of(hs).advance(3600)
        assert sync.start(workspace, "contacts") is None  # the same day: it waits
        days, finished = 0, False
        while not finished:
            clock_of(hs).advance(24 * 3600)
            days += 1
            resumed = sync.start(workspace, "contacts")
            assert resumed is not None and resumed.run_id == message.run_id
            try:
                drain(sync, resumed)
                finished = True
            except PageFailed as again:
                assert again.code == "daily_budget"
        run = store.run(workspace, "contacts", message.run_id)
        assert run is not None and run.status is Status.SUCCEEDED
        assert days >= 1
        contacts = hs.portal.live("contacts")
        assert run.counts.read == len(contacts)  # nothing read twice
        assert all(profile_of(workspace, Kind.PEOPLE, "contacts", c.id) is not None for c in contacts)  # none missed


def test_two_concurrent_syncs_of_one_portal_share_its_day(stack: object) -> None:
    with HubSpotEmulator(portal()) as hs:
        store = HubSpotStore()
        sync = limited(hs, store, Limits(190, 10), page_records=10)
        workspace = new_workspace(sync, "contacts", "companies")
        store.put_config(workspace, store.config(workspace).model_copy(update={"reserve_percent": 0}))
        objects: tuple[HubSpotObject, ...] = ("contacts", "companies")
        messages = {obj: sync.start(workspace, obj) for obj in objects}
        outcomes: dict[str, str] = {}

        def work(obj: HubSpotObject) -> None:
            try:
                drain(sync, messages[obj])
                outcomes[obj] = "done"
            except PageFailed as failed:
                outcomes[obj] = failed.code

        threads = [threading.Thread(target=work, args=(obj,)) for obj in objects]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert hs.daily_usage() == 10  # the two workers together spent the day, and not one call more
        assert outcomes["contacts"] == "daily_budget"  # it needs many days' worth (companies may finish in one)

        def finished(obj: HubSpotObject) -> bool:
            run = store.run(workspace, obj, messages[obj].run_id)  # type: ignore[union-attr]
            return run is not None and run.status is Status.SUCCEEDED

        for _ in range(20):  # day after day, both resume where they stopped until they are done
            clock_of(hs).advance(24 * 3600)
            for obj in objects:
                if finished(obj):
                    continue
                message = sync.start(workspace, obj)
                assert message is not None and message.run_id == messages[obj].run_id  # type: ignore[union-attr]
                try:
                    drain(sync, message)
                except PageFailed as failed:
                    assert failed.code == "daily_budget"
                assert hs.daily_usage() <= 10
        for obj in objects:
            run = store.run(workspace, obj, messages[obj].run_id)  # type: ignore[union-attr]
            assert run is not None and run.status is Status.SUCCEEDED
            assert run.counts.read == len(hs.portal.live(obj))


def test_a_storm_of_429s_is_waited_out_as_retry_after_says(stack: object) -> None:
    # the portal allows far less than the tier the budget paces for (other apps use it too): HubSpot answers 429
    with HubSpotEmulator(portal(), rate_limits=RateLimits(per_ten_seconds=3, daily=10**6)) as hs:
        store = HubSpotStore()
        sync = limited(hs, store, Limits(190, 10**6), page_records=10)
        workspace = new_workspace(sync, "contacts")
        message = sync.start(workspace, "contacts")
        drain(sync, message)
        run = store.run(workspace, "contacts", message.run_id)  # type: ignore[union-attr]
        assert run is not None
        assert run.status is Status.SUCCEEDED, run.error
        assert run.counts.read == len(hs.portal.live("contacts"))
        refused = hs.calls - hs.daily_usage()
        assert refused >= 5  # a storm, not one 429
        assert run.api_calls == hs.calls  # each refused attempt was spent from the budget too
        waits: list[float] = sync.waits or []
        assert len([wait for wait in waits if wait >= 1]) >= refused  # each 429 waited its Retry-After (≥ 1 s)


def own_companies(contacts: int) -> HubSpotPortal:
    """A portal where every contact has a company of its own: the costliest case api_math estimates."""
    built = HubSpotPortal(clock=ManualClock(START))
    companies = built.add_many("companies", contacts, lambda n: {"name": f"Co {n}", "domain": f"co{n}.example.com"})
    people = built.add_many("contacts", contacts, lambda n: {"email": f"p{n}@co{n}.example.com"})
    for person, company in zip(people, companies, strict=True):
        built.associate("contacts", person.id, "companies", company.id)
    return built


def test_api_math_matches_the_calls_a_real_sync_counts(stack: object) -> None:
    records = 250
    with HubSpotEmulator(own_companies(records)) as hs:
        store = HubSpotStore()
        sync: HubSpotSync = make_sync(hs, store)
        workspace = new_workspace(sync, "contacts")
        sync.mapping(workspace, "contacts")  # the first sync's properties read, saved beforehand
        store.put_mapping(workspace, sync.mapping(workspace, "contacts"))
        estimate = api_math(records)
        hs.calls_by_kind.clear()
        full = sync.start(workspace, "contacts", Mode.FULL)
        drain(sync, full)
        full_run = store.run(workspace, "contacts", full.run_id)  # type: ignore[union-attr]
        assert full_run is not None and full_run.status is Status.SUCCEEDED
        assert full_run.api_calls == hs.calls == estimate.full_calls
        clock_of(hs).advance(60)
        hs.portal.bulk_edit("contacts", [c.id for c in hs.portal.live("contacts")], {"jobtitle": "Changed"})
        clock_of(hs).advance(20 * 60)
        hs.calls_by_kind.clear()
        incremental = sync.start(workspace, "contacts", Mode.INCREMENTAL)
        drain(sync, incremental)
        run = store.run(workspace, "contacts", incremental.run_id)  # type: ignore[union-attr]
        assert run is not None and run.counts.read == records
        assert run.api_calls == hs.calls == estimate.incremental_calls

"""Signals on the local stack, read from the signals emulator through the generic HTTP provider and from
Roster's own history: look-back edges, recurrence, never replacing a newer event, redelivery, budget stop
and resume, `signal.fired` events, the Signal Summary and companion segments.

Each test pins the emulator's events for its records, so what must fire is known exactly.
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from ulid import ULID

from roster.enrich.runs import RecordOutcome, RunStatus
from roster.enrich.service import Enrichments
from roster.eventbus import Event
from roster.identity.resolver import Resolver
from roster.profiles.fields import Kind
from roster.profiles.model import IncomingRecord
from roster.segments.filters import Group
from roster.segments.manager import SegmentManager
from roster.signals.fired import DETAIL_TYPE, SignalFired
from roster.signals.service import Signals, SignalSettings, months_before
from roster.store.enrichments import EnrichmentStore
from roster.store.profiles import ProfileStore
from roster.store.segments import Segment, SegmentStore
from roster.store.workspaces import WorkspaceStore
from roster_dev.emulators.signals import SignalsEmulator
from roster_dev.local.runner import Runner
from roster_dev.local.stack import LocalStack
from tests.conftest import Api
from tests.integration.test_enrichment_runs import Queue, deliver_tolerating_busy, drain

NOW = datetime.now(UTC)  # segments judge "within the last N days" against today's date
TODAY = NOW.date()
SINCE_3_MONTHS = months_before(TODAY, 3)
FUNDED = (TODAY - timedelta(days=74)).isoformat()
HIRED = (TODAY - timedelta(days=45)).isoformat()


@pytest.fixture(scope="module")
def emulator() -> Iterator[SignalsEmulator]:
    with SignalsEmulator(today=TODAY) as running:
        yield running


@pytest.fixture
def published() -> list[Event]:
    return []


@pytest.fixture
def queue() -> Queue:
    return Queue()


@pytest.fixture
def workspace(stack: LocalStack) -> str:
    return f"t-{str(ULID()).lower()}"


@pytest.fixture
def signals(stack: LocalStack, queue: Queue, published: list[Event]) -> Signals:
    from roster.aws import clients

    aws = clients()
    ticks = itertools.count()
    enrichments = Enrichments.wire(
        EnrichmentStore(),
        ProfileStore(),
        SegmentStore(),
        WorkspaceStore(),
        aws.s3,
        aws.settings.uploads_bucket,
        queue.send,
        secrets=lambda name: "unused",
        clock=lambda: NOW + timedelta(microseconds=next(ticks)),  # each write observed later than the one before
        max_batch=4,
        publish=published.extend,
    )
    segments = SegmentManager(SegmentStore(), ProfileStore(), WorkspaceStore(), lambda message: None)
    return Signals(enrichments, segments, WorkspaceStore(), ProfileStore(), lambda: NOW)


def people(
    workspace: str, *emails: str, source: str = "crm", observed: str = "2026-01-01T00:00:00.000000Z"
) -> list[str]:
    records = [
        IncomingRecord(
            source, "contact", f"c{index}", observed, {"email": email, "company_domain": email.split("@")[1]}
        )
        for index, email in enumerate(emails)
    ]
    return [str(r.profile_id) for r in Resolver(ProfileStore(), workspace, Kind.PEOPLE).upsert(records)]


def companies(workspace: str, *domains: str) -> list[str]:
    records = [
        IncomingRecord("crm", "account", f"a{index}", "2026-01-01T00:00:00.000000Z", {"domain": domain, "name": domain})
        for index, domain in enumerate(domains)
    ]
    return [str(r.profile_id) for r in Resolver(ProfileStore(), workspace, Kind.COMPANIES).upsert(records)]


def fired_filter(days: int) -> dict[str, Any]:
    return {
        "match": "all",
        "conditions": [{"field": "signal_job_change_date", "op": "within_last_days", "value": days}],
    }


def add(signals: Signals, workspace: str, emulator: SignalsEmulator | None, signal: str, **settings: Any) -> str:
    audience = "all-people" if signal == "job_change" else "all-companies"
    values: dict[str, Any] = {"signal": signal, "audiences": [audience], "budget_credits": 1000}
    if emulator is not None:
        values["provider"] = emulator.provider(signal)
    created = signals.create(workspace, SignalSettings.model_validate(values | settings), created_by="test")
    return created.signal_id


def run(signals: Signals, queue: Queue, workspace: str, signal_id: str, *, twice: bool = False) -> Any:
    started = signals.start(workspace, signal_id)
    drain(signals.enrichments, queue, twice=twice)
    return signals.enrichments.runs.get(workspace, started.run_id)


def fields(workspace: str, kind: Kind, profile_id: str) -> dict[str, Any]:
    profile = ProfileStore().get(workspace, kind, profile_id)
    assert profile is not None
    return profile.fields


def position(company: str, domain: str, start: date, title: str = "VP of Sales") -> dict[str, Any]:
    return {"company": company, "domain": domain, "title": title, "start_date": start.isoformat()}


def test_look_back_starts_that_many_calendar_months_ago() -> None:
    assert months_before(date(2026, 5, 31), 3) == date(2026, 2, 28)
    assert months_before(date(2026, 1, 10), 12) == date(2025, 1, 10)


def test_a_job_change_inside_the_look_back_is_written_with_provenance_and_fires_once(
    signals: Signals, queue: Queue, workspace: str, emulator: SignalsEmulator, published: list[Event]
) -> None:
    inside, edge, outside, stayed = (f"{name}@acme-{workspace}.com" for name in ("ada", "ben", "carla", "dana"))
    old = position("Acme", f"acme-{workspace}.com", date(2019, 1, 1))
    emulator.data.put("employment", inside, [old, position("Globex", "globex.com", TODAY - timedelta(days=20))])
    emulator.data.put("employment", edge, [old, position("Initech", "initech.com", SINCE_3_MONTHS)])
    emulator.data.put("employment", outside, [old, position("Hooli", "hooli.com", SINCE_3_MONTHS - timedelta(days=1))])
    emulator.data.put("employment", stayed, [old])
    ids = dict(zip((inside, edge, outside, stayed), people(workspace, inside, edge, outside, stayed), strict=True))
    signal_id = add(signals, workspace, emulator, "job_change", lookback_months=3)

    report = run(signals, queue, workspace, signal_id, twice=True)  # every message delivered twice

    assert report.status is RunStatus.COMPLETED
    assert report.outcomes[RecordOutcome.ENRICHED] == 2
    assert report.outcomes[RecordOutcome.NOT_FOUND] == 2
    assert report.credits_spent == 4.0  # each record checked is charged once
    got = fields(workspace, Kind.PEOPLE, ids[inside])
    assert got["signal_job_change"] == "Globex (globex.com)"
    assert got["signal_job_change_date"] == (TODAY - timedelta(days=20)).isoformat()
    assert "new title: VP of Sales" in got["signal_job_change_details"]
    assert f"previous employer: Acme (acme-{workspace}.com)" in got["signal_job_change_details"]
    assert got["signal_summary"] == [f"{(TODAY - timedelta(days=20)).isoformat()} Job Change: Globex (globex.com)"]
    profile = ProfileStore().get(workspace, Kind.PEOPLE, ids[inside])
    assert profile is not None
    assert profile.provenance["signal_job_change"].source == "signal"
    assert profile.provenance["signal_job_change"].record == f"signal:{signal_id}:{ids[inside]}"
    assert fields(workspace, Kind.PEOPLE, ids[edge])["signal_job_change_date"] == SINCE_3_MONTHS.isoformat()
    assert "signal_job_change" not in fields(workspace, Kind.PEOPLE, ids[outside])  # one day outside the look-back
    assert "signal_job_change" not in fields(workspace, Kind.PEOPLE, ids[stayed])
    fired = [SignalFired.model_validate_json(event.detail) for event in published]
    assert all(event.detail_type == DETAIL_TYPE for event in published)
    assert sorted(event.profile_id for event in fired) == sorted([ids[inside], ids[edge]])
    assert {event.signal_id for event in fired} == {signal_id}


def test_recurrence_reports_only_new_events_and_never_replaces_a_newer_one(
    signals: Signals, queue: Queue, workspace: str, emulator: SignalsEmulator, published: list[Event]
) -> None:
    email = f"eve@initech-{workspace}.com"
    old = position("Initech", f"initech-{workspace}.com", date(2018, 1, 1))
    newer = position("Globex", "globex.com", TODAY - timedelta(days=10))
    emulator.data.put("employment", email, [old, newer])
    (pid,) = people(workspace, email)
    signal_id = add(signals, workspace, emulator, "job_change")
    run(signals, queue, workspace, signal_id)
    version = ProfileStore().get(workspace, Kind.PEOPLE, pid).version  # type: ignore[union-attr]

    again = run(signals, queue, workspace, signal_id)  # nothing changed at the vendor

    assert again.outcomes[RecordOutcome.ENRICHED] == 0
    assert ProfileStore().get(workspace, Kind.PEOPLE, pid).version == version  # type: ignore[union-attr]
    assert len(published) == 1

    # the vendor now reports an older move (inside the look-back) as the latest: it does not replace the newer one
    emulator.data.put("employment", email, [old, position("Hooli", "hooli.com", TODAY - timedelta(days=40))])
    run(signals, queue, workspace, signal_id)
    assert fields(workspace, Kind.PEOPLE, pid)["signal_job_change"] == "Globex (globex.com)"

    # a later move fires, and the earlier event stays in the record's signal history
    emulator.data.put(
        "employment", email, [old, newer, position("Umbrella", "umbrella.com", TODAY - timedelta(days=1))]
    )
    later = run(signals, queue, workspace, signal_id)
    assert later.outcomes[RecordOutcome.ENRICHED] == 1
    assert fields(workspace, Kind.PEOPLE, pid)["signal_job_change"] == "Umbrella (umbrella.com)"
    detail = signals.record(workspace, Kind.PEOPLE, pid)
    assert detail is not None
    (entry,) = detail.signals
    assert entry.signal_id == signal_id and entry.latest.value == "Umbrella (umbrella.com)"
    assert {"field": "signal_job_change", "value": "Globex (globex.com)"}.items() <= entry.history[
        0
    ].model_dump().items()
    assert len(published) == 2


def test_roster_history_of_the_employer_domain_is_evidence_of_a_job_change(
    signals: Signals, queue: Queue, workspace: str
) -> None:
    email = f"finn@oldco-{workspace}.com"
    (pid,) = people(workspace, email)
    moved_on = TODAY - timedelta(days=25)
    moved = IncomingRecord(
        "webinar",
        "row",
        "r1",
        f"{moved_on.isoformat()}T09:00:00.000000Z",
        {"email": email, "company_domain": "newco.com"},
    )
    Resolver(ProfileStore(), workspace, Kind.PEOPLE).upsert([moved])
    signal_id = add(signals, workspace, None, "job_change")  # no data provider: Roster's own history only

    report = run(signals, queue, workspace, signal_id)

    assert report.outcomes[RecordOutcome.ENRICHED] == 1
    assert report.credits_spent == 0.0
    got = fields(workspace, Kind.PEOPLE, pid)
    assert got["signal_job_change"] == "newco.com"
    assert got["signal_job_change_date"] == moved_on.isoformat()
    assert any(line.startswith("evidence: roster history (webinar:row:r1") for line in got["signal_job_change_details"])


def test_company_signals_fire_on_funding_hires_and_hiring_spikes_with_one_summary(
    signals: Signals, queue: Queue, workspace: str, emulator: SignalsEmulator, published: list[Event]
) -> None:
    domain = f"vertex-{workspace}.io"
    quiet = f"quiet-{workspace}.io"
    (pid, quiet_id) = companies(workspace, domain, quiet)
    emulator.data.put(
        "funding",
        domain,
        [
            {
                "round": "Seed",
                "amount": 2_000_000,
                "currency": "USD",
                "date": (TODAY - timedelta(days=700)).isoformat(),
                "investors": ["Kite Ventures"],
            },
            {
                "round": "Series A",
                "amount": 12_000_000,
                "currency": "USD",
                "date": FUNDED,
                "investors": ["Granite Fund", "Summit Partners"],
            },
        ],
    )
    emulator.data.put(
        "hires",
        domain,
        [
            {"name": "Grace Kim", "title": "CTO", "start_date": HIRED},
            {"name": "Old Hire", "title": "CEO", "start_date": (TODAY - timedelta(days=400)).isoformat()},
        ],
    )
    baseline = [{"department": "Sales", "posted_date": (TODAY - timedelta(days=d)).isoformat()} for d in (50, 80, 110)]
    burst = [
        {"department": "Engineering", "posted_date": (TODAY - timedelta(days=d)).isoformat()} for d in (2, 5, 9, 14)
    ]
    emulator.data.put("jobs", domain, baseline + burst)
    for feed in ("funding", "hires", "jobs"):
        emulator.data.put(feed, quiet, baseline if feed == "jobs" else [])
    ids = [add(signals, workspace, emulator, kind) for kind in ("funding", "new_hire", "hiring_spike")]

    reports = [run(signals, queue, workspace, signal_id) for signal_id in ids]

    assert [r.outcomes[RecordOutcome.ENRICHED] for r in reports] == [1, 1, 1]
    got = fields(workspace, Kind.COMPANIES, pid)
    assert got["signal_funding"] == "Series A 12,000,000 USD"
    assert got["signal_funding_date"] == FUNDED
    assert "investors: Granite Fund, Summit Partners" in got["signal_funding_details"]
    assert got["signal_new_hire"] == "Grace Kim, CTO"
    assert got["signal_hiring_spike"] == "Engineering: 4 roles in 30 days"
    assert got["signal_hiring_spike_date"] == (TODAY - timedelta(days=2)).isoformat()
    assert got["signal_summary"] == [
        f"{FUNDED} Funding: Series A 12,000,000 USD",
        f"{HIRED} New Hire: Grace Kim, CTO",
        f"{(TODAY - timedelta(days=2)).isoformat()} Hiring Spike: Engineering: 4 roles in 30 days",
    ]
    assert not any(name.startswith("signal_") for name in fields(workspace, Kind.COMPANIES, quiet_id))
    assert len(published) == 3
    listed = {detail.signal_id: detail for detail in signals.all(workspace)}
    assert {listed[i].hits for i in ids} == {1}
    assert all(listed[i].last_run is not None and listed[i].records_checked == 2 for i in ids)


def test_the_budget_stops_a_signal_run_and_resume_finishes_it(
    signals: Signals, queue: Queue, workspace: str, emulator: SignalsEmulator
) -> None:
    emails = [f"p{index}@stopco-{workspace}.com" for index in range(6)]
    for email in emails:
        emulator.data.put(
            "employment",
            email,
            [position("Stopco", f"stopco-{workspace}.com", date(2019, 1, 1)), position("Go", "go.com", TODAY)],
        )
    people(workspace, *emails)
    signal_id = add(signals, workspace, emulator, "job_change", budget_credits=4)

    stopped = run(signals, queue, workspace, signal_id)

    assert stopped.status is RunStatus.STOPPED_BY_BUDGET
    assert stopped.outcomes[RecordOutcome.ENRICHED] == 4 and stopped.credits_spent == 4.0
    signals.enrichments.budgets.set(workspace, signal_id, 10)
    signals.enrichments.runs.resume(workspace, stopped.run_id)
    drain(signals.enrichments, queue)
    done = signals.enrichments.runs.get(workspace, stopped.run_id)
    assert done.status is RunStatus.COMPLETED
    assert done.outcomes[RecordOutcome.ENRICHED] == 6 and done.credits_spent == 6.0


def test_concurrent_workers_on_one_signal_run_stay_within_its_budget(
    signals: Signals, queue: Queue, workspace: str, emulator: SignalsEmulator, published: list[Event]
) -> None:
    emails = [f"p{index}@busyco-{workspace}.com" for index in range(30)]
    for email in emails:
        emulator.data.put(
            "employment",
            email,
            [position("Busyco", f"busyco-{workspace}.com", date(2019, 1, 1)), position("Go", "go.com", TODAY)],
        )
    people(workspace, *emails)
    signal_id = add(signals, workspace, emulator, "job_change", budget_credits=13)
    started = signals.start(workspace, signal_id)
    for dispatch in queue.take():
        deliver_tolerating_busy(signals.enrichments, dispatch)
    batches = queue.take() * 2  # every batch delivered twice, all at once
    random.shuffle(batches)
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda message: deliver_tolerating_busy(signals.enrichments, message), batches))
    done = signals.enrichments.runs.get(workspace, started.run_id)
    assert done.status is RunStatus.STOPPED_BY_BUDGET
    assert done.outcomes[RecordOutcome.ENRICHED] == 13 and done.credits_spent == 13.0
    assert signals.enrichments.budgets.report(workspace, signal_id).remaining_credits == 0
    fired = [event for event in published if event.detail_type == DETAIL_TYPE]
    assert len(fired) == 13  # one signal.fired per record charged, none for a redelivered batch


def test_the_cost_preview_counts_the_audience_before_saving(
    signals: Signals, workspace: str, emulator: SignalsEmulator
) -> None:
    people(workspace, *(f"q{index}@preview-{workspace}.com" for index in range(3)))
    settings = SignalSettings.model_validate(
        {
            "signal": "job_change",
            "audiences": ["all-people"],
            "provider": emulator.provider("job_change", 2.5),
            "budget_credits": 5,
        }
    )
    preview = signals.preview(workspace, settings)
    assert (preview.records, preview.credits_per_record, preview.credits, preview.records_within_budget) == (
        3,
        2.5,
        7.5,
        2,
    )
    assert signals.all(workspace) == []  # nothing saved


def test_the_companion_segment_keeps_the_filters_and_adds_the_signal(
    signals: Signals, queue: Queue, workspace: str, emulator: SignalsEmulator
) -> None:
    emails = [f"r{index}@{'big' if index % 2 else 'small'}-{workspace}.com" for index in range(6)]
    for index, email in enumerate(emails):
        moves = [position("Gone", "gone.com", TODAY - timedelta(days=5 if index < 4 else 60))]
        emulator.data.put("employment", email, [position("Was", email.split("@")[1], date(2019, 1, 1)), *moves])
    ids = people(workspace, *emails)
    original = {"match": "all", "conditions": [{"field": "email", "op": "contains", "value": "@big-"}]}
    store = SegmentStore()
    store.save(Segment(workspace, "seg-big", "Big accounts", Kind.PEOPLE, original, "test"))
    signal_id = add(signals, workspace, emulator, "job_change", audiences=["seg-big"], companion_days=30)
    for index in (1, 3, 5):  # the audience's members
        store.enter(workspace, "seg-big", Kind.PEOPLE, ids[index])

    run(signals, queue, workspace, signal_id)

    detail = signals.get(workspace, signal_id)
    companion = signals.segments.get(workspace, detail.companions["seg-big"])
    assert companion.name == "Big accounts + Job Change (last 30 days)"
    preview = signals.segments.preview(workspace, Kind.PEOPLE, Group.model_validate(companion.filter))
    expected = {
        pid
        for pid in ids
        if "@big-" in fields(workspace, Kind.PEOPLE, pid)["email"]
        and (when := fields(workspace, Kind.PEOPLE, pid).get("signal_job_change_date"))
        and date.fromisoformat(when) >= TODAY - timedelta(days=30)
    }
    assert expected == {ids[1], ids[3]}
    assert preview.count == len(expected)

    smaller = {"match": "all", "conditions": [{"field": "email", "op": "contains", "value": "@small-"}]}
    signals.segments.edit(workspace, "seg-big", tree=Group.model_validate(smaller))  # the audience is edited
    followed = signals.segments.get(workspace, detail.companions["seg-big"])
    assert followed.filter["conditions"][0] == smaller and followed.filter["conditions"][1] == fired_filter(30)
    preview = signals.segments.preview(workspace, Kind.PEOPLE, Group.model_validate(followed.filter))
    assert preview.count == 0  # the signal ran on the big accounts only


def test_generated_vendor_data_fires_every_signal_type_on_some_records(emulator: SignalsEmulator) -> None:
    """The emulator's own data (no pins) has events of every type within the last two years."""
    from roster.signals.detect import DETECTORS
    from roster.signals.kinds import SignalType

    feeds = {
        SignalType.JOB_CHANGE: "employment",
        SignalType.NEW_HIRE: "hires",
        SignalType.FUNDING: "funding",
        SignalType.HIRING_SPIKE: "jobs",
    }
    for signal, feed in feeds.items():
        keys = [
            f"person{index}@company{index % 7}.com" if feed == "employment" else f"company{index}.com"
            for index in range(40)
        ]
        found = [DETECTORS[signal](emulator.data.events(feed, key), "vendor", {}) for key in keys]  # type: ignore[arg-type]
        assert any(found), signal
        dates = [event.on for events in found for event in events]
        assert all(TODAY - timedelta(days=731) <= on <= TODAY for on in dates)
    assert emulator.data.events("funding", "company3.com") == emulator.data.events("funding", "company3.com")


def test_the_signals_api_end_to_end(api: Api, runner: Runner, emulator: SignalsEmulator) -> None:
    """Preview, create with a companion segment, run through the worker function, list, and a record's signals."""
    email = f"gia@oldco-{api.workspace}.com"
    emulator.data.put(
        "employment",
        email,
        [position("Oldco", f"oldco-{api.workspace}.com", date(2019, 1, 1)), position("Newco", "newco.com", TODAY)],
    )
    code, answer = api.call("POST", "/v1/people/upsert", {"records": [{"source": "crm", "fields": {"email": email}}]})
    assert code == 200, answer
    pid = answer["results"][0]["profile_id"]
    settings = {"signal": "job_change", "audiences": ["all-people"], "provider": emulator.provider("job_change", 2)}

    code, preview = api.call("POST", "/v1/signals/preview", settings)
    assert (code, preview["records"], preview["credits_per_record"]) == (200, 1, 2.0)
    code, tried = api.call("POST", "/v1/signals/test", {"signal": settings})
    assert code == 200 and tried["rows"][0]["outputs"]["signal_job_change"] == "Newco (newco.com)", tried
    code, untouched = api.call("GET", f"/v1/people/{pid}")
    assert code == 200 and "signal_job_change" not in untouched["fields"], untouched  # a test writes nothing
    code, created = api.call("POST", "/v1/signals", settings | {"budget_credits": 10, "recurrence": "daily"})
    assert code == 201, created
    assert created["recurrence"] == "daily" and created["since"] == months_before(TODAY, 3).isoformat()
    code, problem = api.call("POST", "/v1/signals", settings | {"signal_id": created["signal_id"]})
    assert code == 409, problem
    code, problem = api.call("POST", "/v1/signals", settings | {"signal": "funding"})
    assert code == 422 and "companies" in problem["message"], problem

    code, started = api.call("POST", f"/v1/signals/{created['signal_id']}/runs")
    assert code == 202, started
    runner.drain()

    code, listed = api.call("GET", "/v1/signals")
    (signal,) = listed["signals"]
    assert (signal["hits"], signal["spent_credits"], signal["last_run"]["status"]) == (1, 2.0, "completed")
    code, record = api.call("GET", f"/v1/signals/records/people/{pid}")
    assert code == 200 and record["signals"][0]["latest"]["value"] == "Newco (newco.com)", record
    companion_id = signal["companions"]["all-people"]
    code, companion = api.call("GET", f"/v1/segments/{companion_id}")
    assert code == 200 and companion["name"] == "All People + Job Change (last 30 days)", companion
    assert companion["based_on"] == "all-people" and companion["kept_by"].startswith("signal "), companion
    assert api.call("DELETE", f"/v1/segments/{companion_id}")[0] == 409  # kept by the signal
    code, enrichments = api.call("GET", "/v1/enrichments")
    assert enrichments["enrichments"] == []  # signals are listed under /v1/signals
    code, _ = api.call("DELETE", f"/v1/signals/{created['signal_id']}")
    assert code == 204
    code, _ = api.call("GET", f"/v1/signals/{created['signal_id']}")
    assert code == 404
    code, companion = api.call("GET", f"/v1/segments/{companion_id}")
    assert code == 200 and companion["kept_by"] is None, "the companion stays, a segment of its own"
    assert api.call("DELETE", f"/v1/segments/{companion_id}")[0] == 204


def test_a_weekly_signal_is_started_by_the_schedule_once_per_firing(
    signals: Signals, queue: Queue, workspace: str, emulator: SignalsEmulator
) -> None:
    from roster.enrich.continuous import ContinuousEnrichment
    from roster.enrich.runs import Trigger

    email = f"hal@weekly-{workspace}.com"
    emulator.data.put(
        "employment",
        email,
        [position("Weekly", f"weekly-{workspace}.com", date(2019, 1, 1)), position("N", "n.com", TODAY)],
    )
    (pid,) = people(workspace, email)
    signal_id = add(signals, workspace, emulator, "job_change", recurrence="weekly")
    schedule = ContinuousEnrichment(
        signals.enrichments.store, signals.enrichments.definitions, signals.enrichments.runs
    )
    later = datetime.now(UTC) + timedelta(days=8)  # a Monday midnight has passed since the signal was saved

    first = schedule.run_scheduled(later)
    again = schedule.run_scheduled(later)  # a retried invocation of the same firing
    drain(signals.enrichments, queue)

    mine = [run for run in first if run.enrichment_id == signal_id]
    assert len(mine) == 1 and mine[0].trigger is Trigger.SCHEDULED
    assert not [run for run in again if run.enrichment_id == signal_id]
    assert fields(workspace, Kind.PEOPLE, pid)["signal_job_change_date"] == TODAY.isoformat()


def test_the_cli_adds_lists_and_shows_signals(
    api: Api, runner: Runner, emulator: SignalsEmulator, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from roster_dev.cli import app as cli

    email = f"ivy@cli-{api.workspace}.com"
    emulator.data.put(
        "employment",
        email,
        [position("Cli", f"cli-{api.workspace}.com", date(2019, 1, 1)), position("M", "m.com", TODAY)],
    )
    code, answer = api.call("POST", "/v1/people/upsert", {"records": [{"source": "crm", "fields": {"email": email}}]})
    assert code == 200, answer
    provider = tmp_path / "provider.json"
    provider.write_text(json.dumps(emulator.provider("job_change")))
    env = {"ROSTER_URL": runner.serve(), "ROSTER_API_KEY": api.key, "COLUMNS": "250"}
    cli_runner = CliRunner()
    options = ["-a", "all-people", "--provider", str(provider), "--budget", "5"]

    preview = cli_runner.invoke(cli, ["signals", "preview", "job_change", *options], env=env)
    assert preview.exit_code == 0 and '"records": 1' in preview.output, preview.output
    added = cli_runner.invoke(cli, ["signals", "add", "job_change", *options, "--lookback", "6", "--run"], env=env)
    assert added.exit_code == 0, added.output
    runner.drain()
    listed = cli_runner.invoke(cli, ["signals", "list"], env=env)
    assert listed.exit_code == 0 and "6 months" in listed.output and "completed" in listed.output, listed.output
    segments = cli_runner.invoke(cli, ["segments", "list"], env=env)
    assert segments.exit_code == 0 and "live, kept by signal" in segments.output, segments.output
    bad = cli_runner.invoke(cli, ["signals", "add", "funding", "-a", "all-people"], env=env)
    assert bad.exit_code == 1 and "data provider" in bad.output, bad.output


def test_an_older_event_read_before_a_concurrent_run_wrote_a_newer_one_is_dropped(
    signals: Signals, queue: Queue, workspace: str, emulator: SignalsEmulator
) -> None:
    """A worker that read the profile before another run wrote a newer event, and then hits the write
    conflict, drops its older event instead of writing it over the newer one."""
    from functools import partial

    from roster.enrich.worker import _newer_event
    from roster.signals.kinds import SignalType

    email = f"jo@race-{workspace}.com"
    old = position("Race", f"race-{workspace}.com", date(2019, 1, 1))
    emulator.data.put("employment", email, [old, position("Newer", "newer.com", TODAY - timedelta(days=3))])
    (pid,) = people(workspace, email)
    stale = ProfileStore().get(workspace, Kind.PEOPLE, pid)
    assert stale is not None
    signal_id = add(signals, workspace, emulator, "job_change")
    run(signals, queue, workspace, signal_id)  # the other run writes the newer event

    older = {
        "signal_job_change": "Older (older.com)",
        "signal_job_change_date": (TODAY - timedelta(days=9)).isoformat(),
    }
    record = IncomingRecord("signal", signal_id, pid, "2030-01-01T00:00:00.000000Z", older)
    wanted = partial(_newer_event, SignalType.JOB_CHANGE, older)
    _, _, written = signals.enrichments.worker._write(stale, record, {}, wanted)

    assert not written
    assert fields(workspace, Kind.PEOPLE, pid)["signal_job_change"] == "Newer (newer.com)"

"""Actions end to end on the local stack: segment events → intake → per-destination drains → a webhook receiver
that verifies every signature (the reference verifier), with failures the receiver is told to give."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from roster.actions.destinations.audiences import sha256_hex
from roster.profiles.fields import Kind
from roster.profiles.values import format_time
from roster.segments.events import Change, MembershipChange, MembershipEvent
from roster.services import services
from roster_dev.emulators.ads import AdPlatforms
from roster_dev.emulators.webhooks import Failure, WebhookReceiver
from roster_dev.local.runner import Runner
from tests.conftest import Api, fill

VP = {"match": "all", "conditions": [{"field": "job_title", "op": "contains", "value": "vp"}]}


class Clock:
    """The actions' clock, moved by the test (retries wait hours; the test does not)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    moved = Clock()
    monkeypatch.setattr(services.actions, "clock", moved)
    monkeypatch.setattr(services.actions, "sleep", lambda seconds: None)  # the rate budget's pacing
    return moved


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as running:
        yield running


def upsert(api: Api, *records: dict[str, Any]) -> list[str]:
    status, body = api.call(
        "POST", "/v1/people/upsert", {"records": [{"source": "test", "fields": r} for r in records]}
    )
    assert status == 200, body
    return [result["profile_id"] for result in body["results"]]


def webhook(api: Api, receiver: WebhookReceiver, **extra: Any) -> str:
    """A webhook destination for the receiver; the receiver learns the secret Roster made."""
    body = {"name": "hook", "kind": "webhook", "settings": {"url": receiver.url}, "ca_bundle": receiver.ca_path}
    status, created = api.call("POST", "/v1/destinations", body | extra)
    assert status == 201, created
    assert created["secret"].startswith("whsec_")
    receiver.secrets.append(created["secret"])
    return str(created["destination"]["destination_id"])


def segment(api: Api, runner: Runner) -> str:
    status, created = api.call("POST", "/v1/segments", {"name": "VPs", "kind": "people", "filter": VP})
    assert status == 201, created
    runner.drain()
    return str(created["segment_id"])


def action(api: Api, segment_id: str, destination_id: str, **extra: Any) -> str:
    body = {"name": "tell", "segment_id": segment_id, "destination_id": destination_id, "fields": ["job_title"]}
    status, created = api.call("POST", "/v1/actions", body | extra)
    assert status == 201, created
    return str(created["action"]["action_id"])


def transitions(receiver: WebhookReceiver) -> list[tuple[str, str]]:
    return [(each.body["type"], each.body["data"]["id"]) for each in receiver.received]


def test_a_person_entering_and_leaving_a_segment_reaches_a_verifying_receiver(
    api: Api, runner: Runner, receiver: WebhookReceiver, clock: Clock
) -> None:
    sid = segment(api, runner)
    destination = webhook(api, receiver)
    action_id = action(api, sid, destination, trigger="both")
    [ada] = upsert(api, {"email": "ada@example.com", "job_title": "VP Engineering"})
    runner.drain()
    upsert(api, {"email": "ada@example.com", "job_title": "Engineer"})
    runner.drain()

    assert transitions(receiver) == [("segment.entered", ada), ("segment.exited", ada)]
    assert receiver.refused == []
    first = receiver.received[0].body["data"]
    assert first["fields"] == {"email": "ada@example.com", "job_title": "VP Engineering"}

    status, log = api.call("GET", f"/v1/people/{ada}/deliveries")
    assert status == 200, log
    assert [(each["transition"], each["status"]) for each in log["deliveries"]] == [
        ("exited", "delivered"),
        ("entered", "delivered"),
    ]
    assert log["deliveries"][1]["log"][0]["answer"].startswith("204")
    status, listed = api.call("GET", f"/v1/actions/{action_id}/deliveries")
    assert status == 200 and len(listed["deliveries"]) == 2


def sweep(runner: Runner) -> None:
    """The minute schedule's run, then everything it queued."""
    runner.invoke("ActionSweepFunction", fill("action_sweep.json"))
    runner.drain()


def deliveries(api: Api, action_id: str) -> list[dict[str, Any]]:
    status, listed = api.call("GET", f"/v1/actions/{action_id}/deliveries")
    assert status == 200, listed
    return list(listed["deliveries"])


def test_410_disables_the_endpoint_until_it_is_enabled(
    api: Api, runner: Runner, receiver: WebhookReceiver, clock: Clock
) -> None:
    sid = segment(api, runner)
    destination = webhook(api, receiver)
    action(api, sid, destination)
    receiver.fail(Failure(410))
    [ada, bob] = upsert(api, {"email": "ada@x.co", "job_title": "VP"}, {"email": "bob@x.co", "job_title": "VP"})
    runner.drain()
    _status, shown = api.call("GET", f"/v1/destinations/{destination}")
    assert shown["destination"]["status"] == "disabled"
    assert shown["destination"]["disabled_reason"].startswith("410")
    assert shown["pending"] == 2 and receiver.received == []
    sweep(runner)
    assert receiver.answers[410] == 1 and receiver.received == []  # nothing more is sent while disabled

    assert api.call("POST", f"/v1/destinations/{destination}/enable")[0] == 200
    runner.drain()
    assert sorted(receiver.ids()) == sorted(each.webhook_id for each in receiver.received)
    assert {each.body["data"]["id"] for each in receiver.received} == {ada, bob}


def test_429_pauses_the_destination_for_retry_after(
    api: Api, runner: Runner, receiver: WebhookReceiver, clock: Clock
) -> None:
    sid = segment(api, runner)
    destination = webhook(api, receiver)
    action_id = action(api, sid, destination)
    receiver.fail(Failure(429, retry_after="600"))
    [ada] = upsert(api, {"email": "ada@x.co", "job_title": "VP"})
    runner.drain()
    [waiting] = deliveries(api, action_id)
    assert (waiting["status"], waiting["attempts"]) == ("pending", 1)
    assert waiting["log"][0]["answer"].startswith("429")
    clock.advance(minutes=5)
    sweep(runner)
    assert receiver.received == []  # still inside Retry-After
    clock.advance(minutes=6)
    sweep(runner)
    assert transitions(receiver) == [("segment.entered", ada)]


def test_5xx_is_retried_for_about_3_days_then_dead_and_replayed(
    api: Api, runner: Runner, receiver: WebhookReceiver, clock: Clock
) -> None:
    sid = segment(api, runner)
    destination = webhook(api, receiver)
    action_id = action(api, sid, destination)
    receiver.fail(*[Failure(503)] * 10)
    upsert(api, {"email": "ada@x.co", "job_title": "VP"})
    runner.drain()
    waited = timedelta()
    for _ in range(9):
        [delivery] = deliveries(api, action_id)
        assert delivery["status"] == "pending"
        due = datetime.fromisoformat(delivery["due_at"])
        waited += due - clock.now
        clock.now = due
        sweep(runner)
    [dead] = deliveries(api, action_id)
    assert (dead["status"], dead["attempts"]) == ("dead", 10)
    assert timedelta(days=2) < waited < timedelta(days=4)
    assert receiver.answers[503] == 10 and receiver.received == []

    status, replayed = api.call("POST", f"/v1/actions/{action_id}/deliveries/replay", {"status": "dead"})
    assert (status, replayed) == (200, {"replayed": 1})
    runner.drain()
    assert len(receiver.received) == 1
    assert deliveries(api, action_id)[0]["status"] == "delivered"


def test_a_failing_destination_does_not_stall_another(
    api: Api, runner: Runner, receiver: WebhookReceiver, clock: Clock
) -> None:
    sid = segment(api, runner)
    with WebhookReceiver() as healthy:
        failing = webhook(api, receiver)
        working = webhook(api, healthy)
        action(api, sid, failing)
        action(api, sid, working)
        receiver.fail(*[Failure(500)] * 20)
        people = upsert(api, *({"email": f"p{n}@x.co", "job_title": "VP"} for n in range(5)))
        runner.drain()
        assert {each.body["data"]["id"] for each in healthy.received} == set(people)
        assert receiver.received == [] and receiver.answers[500] == 5


def test_out_of_order_and_repeated_events_leave_the_receiver_in_step(
    api: Api, runner: Runner, receiver: WebhookReceiver, clock: Clock
) -> None:
    sid = segment(api, runner)
    destination = webhook(api, receiver)
    action(api, sid, destination, trigger="both", entry="every")
    first, second = "2026-11-01T10:00:00.000000Z", "2026-11-02T10:00:00.000000Z"

    def event(change: Change, stint: str, at: str) -> MembershipChange:
        detail = MembershipEvent(
            workspace=api.workspace, segment_id=sid, kind=Kind.PEOPLE, profile_id="p1", time=at, entered_at=stint
        )
        return MembershipChange(change, detail)

    enter1 = event(Change.ENTERED, first, first)
    exit1 = event(Change.EXITED, first, "2026-11-01T12:00:00.000000Z")
    enter2 = event(Change.ENTERED, second, second)
    services.actions.intake([enter1, enter2, enter1])  # the exit comes late, the first entry twice
    services.actions.intake([exit1, enter2, exit1])
    runner.drain()
    assert [each.body["type"] for each in receiver.received] == ["segment.entered", "segment.exited", "segment.entered"]
    assert receiver.duplicates == 0


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("https://10.0.0.8/hook", "private"),
        ("http://[::1]:8080/hook", "loopback"),
        ("https://hooks.internal.example/hook", "private"),
    ],
)
def test_webhooks_to_internal_addresses_are_refused_when_saved(
    api: Api, names: dict[str, list[str]], url: str, why: str
) -> None:
    names["hooks.internal.example"] = ["192.168.1.20"]
    status, body = api.call("POST", "/v1/destinations", {"name": "x", "kind": "webhook", "settings": {"url": url}})
    assert status == 422, body
    assert why in body["message"]
    assert api.call("GET", "/v1/destinations")[1] == []


def test_backfill_counts_first_then_sends_each_member_once(
    api: Api, runner: Runner, receiver: WebhookReceiver, clock: Clock
) -> None:
    people = upsert(api, *({"email": f"m{n}@x.co", "job_title": "VP"} for n in range(3)))
    upsert(api, {"email": "dev@x.co", "job_title": "Developer"})
    sid = segment(api, runner)
    destination = webhook(api, receiver)
    action_id = action(api, sid, destination)
    assert api.call("POST", f"/v1/actions/{action_id}/backfill", {}) == (200, {"members": 3, "started": False})
    runner.drain()
    assert receiver.received == []
    assert api.call("POST", f"/v1/actions/{action_id}/backfill", {"dry_run": False})[0] == 200
    runner.drain()
    assert sorted(each.body["data"]["id"] for each in receiver.received) == sorted(people)
    api.call("POST", f"/v1/actions/{action_id}/backfill", {"dry_run": False})  # again: nothing new to send
    runner.drain()
    assert len(receiver.received) == 3 and receiver.duplicates == 0


def test_a_rotated_secret_signs_with_both_until_the_receiver_switches(
    api: Api, runner: Runner, receiver: WebhookReceiver, clock: Clock
) -> None:
    sid = segment(api, runner)
    destination = webhook(api, receiver)
    action(api, sid, destination)
    old = receiver.secrets[0]
    status, rotated = api.call("POST", f"/v1/destinations/{destination}/secret", {})
    assert status == 200 and rotated["secret"].startswith("whsec_") and rotated["secret"] != old
    upsert(api, {"email": "ada@x.co", "job_title": "VP"})
    runner.drain()
    assert len(receiver.received) == 1  # the receiver still knows only the old secret
    assert len(receiver.received[0].signature.split()) == 2
    status, shown = api.call("GET", f"/v1/destinations/{destination}")
    assert old not in shown["secret"] and rotated["secret"] not in shown["secret"]


@pytest.fixture(scope="module")
def ad_platforms() -> Iterator[AdPlatforms]:
    platforms = AdPlatforms().start()
    yield platforms
    platforms.stop()


@pytest.mark.parametrize(("kind", "minimum"), [("meta", 100), ("google_ads", 1000), ("linkedin", 300)])
def test_an_ad_audience_follows_the_segment_through_the_whole_pipeline(
    api: Api, runner: Runner, clock: Clock, ad_platforms: AdPlatforms, kind: str, minimum: int
) -> None:
    sid = segment(api, runner)
    platform = {"meta": ad_platforms.meta, "google_ads": ad_platforms.google, "linkedin": ad_platforms.linkedin}[kind]
    reach = ad_platforms.destinations()[kind]
    audience = next(iter(reach["options"].values()))
    body = {"name": "ads", "kind": kind} | {key: reach[key] for key in ("settings", "secret", "ca_bundle")}
    status, made = api.call("POST", "/v1/destinations", body)
    assert status == 201, made
    assert reach["secret"] not in made["secret"]
    destination = made["destination"]["destination_id"]
    status, tested = api.call("POST", f"/v1/destinations/{destination}/test")  # credentials, no audience touched
    assert status == 200 and tested["status"] == "delivered", tested
    refused = {"name": "x", "segment_id": sid, "destination_id": destination, "options": reach["options"]}
    assert api.call("POST", "/v1/actions", refused)[0] == 422  # an audience follows its segment: both, every
    action_id = action(api, sid, destination, trigger="both", entry="every", options=reach["options"])
    before = platform.size(audience)
    ada, ben = "ada@pipeline.example", "ben@pipeline.example"
    upsert(api, {"email": ada, "job_title": "VP"}, {"email": ben, "job_title": "VP"})
    runner.drain()
    assert platform.has(audience, sha256_hex(ada)) and platform.has(audience, sha256_hex(ben))
    upsert(api, {"email": ada, "job_title": "Engineer"})
    runner.drain()
    assert not platform.has(audience, sha256_hex(ada)) and platform.has(audience, sha256_hex(ben))
    upsert(api, {"email": ada, "job_title": "VP Sales"})
    runner.drain()
    assert platform.has(audience, sha256_hex(ada)) and platform.size(audience) == before + 2
    status, shown = api.call("GET", f"/v1/actions/{action_id}")
    assert status == 200, shown
    assert shown["audience"] == {"size": before + 2, "minimum": minimum}  # as the platform reports it


def test_a_destination_keeps_to_its_rate_budget(
    api: Api, runner: Runner, receiver: WebhookReceiver, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    waits: list[float] = []
    elapsed = [0.0]  # time passes only while the drain sleeps: the test measures the pacing, not the machine

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        elapsed[0] += seconds

    monkeypatch.setattr(services.actions, "sleep", sleep)
    monkeypatch.setattr(services.actions, "monotonic", lambda: elapsed[0])
    sid = segment(api, runner)
    destination = webhook(api, receiver, requests_per_second=2)
    action(api, sid, destination)
    upsert(api, *({"email": f"r{n}@x.co", "job_title": "VP"} for n in range(4)))
    runner.drain()
    assert len(receiver.received) == 4
    assert waits == [0.5, 0.5, 0.5]  # 2 a second: half a second apart
    upsert(api, {"email": "r4@x.co", "job_title": "VP"})  # another drain, right after (the test's clock stands still)
    runner.drain()
    assert len(receiver.received) == 5
    assert waits == [0.5, 0.5, 0.5, 0.5], "the pace carries over from one drain to the next"


def test_records_failing_the_quality_gate_are_skipped_and_say_so(
    api: Api, runner: Runner, receiver: WebhookReceiver, clock: Clock
) -> None:
    sid = segment(api, runner)
    destination = webhook(api, receiver)
    gate = {"match": "all", "conditions": [{"field": "phone", "op": "is_not_empty"}]}
    company_gate = {"match": "all", "conditions": [{"field": "company.employee_count", "op": "gt", "value": 5}]}
    status, refused = api.call(
        "POST",
        "/v1/actions",
        {"name": "x", "segment_id": sid, "destination_id": destination, "quality_gate": company_gate},
    )
    assert status == 422 and "own fields" in refused["message"]
    action(api, sid, destination, quality_gate=gate)  # its gate's segment is built while ada and ben arrive: news
    [ada, ben] = upsert(
        api, {"email": "ada@x.co", "job_title": "VP", "phone": "+14155552671"}, {"email": "ben@x.co", "job_title": "VP"}
    )
    runner.drain()
    assert transitions(receiver) == [("segment.entered", ada)]
    status, log = api.call("GET", f"/v1/people/{ben}/deliveries")
    [skipped] = log["deliveries"]
    assert (skipped["transition"], skipped["status"]) == ("entered", "skipped")
    assert skipped["log"][0]["answer"] == "not sent: failed the action's quality gate"

    upsert(api, {"email": "ben@x.co", "phone": "+14155552672"})  # ben passes the gate now: he is sent
    runner.drain()
    assert transitions(receiver) == [("segment.entered", ada), ("segment.entered", ben)]


def meta_action(api: Api, ad_platforms: AdPlatforms, segment_id: str, **extra: Any) -> tuple[str, str]:
    """A Meta audience destination and an action keeping it in step with the segment: (action, audience)."""
    reach = ad_platforms.destinations()["meta"]
    audience = str(next(iter(reach["options"].values())))
    body = {"name": "ads", "kind": "meta"} | {key: reach[key] for key in ("settings", "secret", "ca_bundle")}
    status, made = api.call("POST", "/v1/destinations", body)
    assert status == 201, made
    destination = made["destination"]["destination_id"]
    return action(api, segment_id, destination, trigger="both", entry="every", options=reach["options"], **extra), (
        audience
    )


def test_a_member_that_stops_passing_the_quality_gate_leaves_the_audience(
    api: Api, runner: Runner, clock: Clock, ad_platforms: AdPlatforms
) -> None:
    """The gate is kept up to date like the segment: failing it later is an exit, and so the audience loses the
    person while they stay in the segment; passing it again brings them back."""
    sid = segment(api, runner)
    consent = {"match": "all", "conditions": [{"field": "country", "op": "in", "value": ["US", "CA"]}]}
    action_id, audience = meta_action(api, ad_platforms, sid, quality_gate=consent)
    runner.drain()
    status, shown = api.call("GET", f"/v1/actions/{action_id}")
    kept = shown["action"]["gate_segment_id"]
    status, listed = api.call("GET", f"/v1/segments/{kept}")
    assert status == 200 and listed["based_on"] == sid and listed["kept_by"].startswith(f"action {action_id}")

    upsert(api, {"email": "dee@gate.example", "job_title": "VP Sales", "country": "US"})
    runner.drain()
    assert ad_platforms.meta.has(audience, sha256_hex("dee@gate.example"))

    upsert(api, {"email": "dee@gate.example", "country": "DE"})  # still a VP, no longer passes the gate
    runner.drain()
    assert not ad_platforms.meta.has(audience, sha256_hex("dee@gate.example"))
    status, member = api.call("GET", f"/v1/segments/{sid}/count")
    assert member["count"] == 1, "she is still in the segment"

    upsert(api, {"email": "dee@gate.example", "country": "CA"})
    runner.drain()
    assert ad_platforms.meta.has(audience, sha256_hex("dee@gate.example"))
    sent = [(each["transition"], each["status"]) for each in deliveries(api, action_id)]
    assert sorted(sent) == [("entered", "delivered"), ("entered", "delivered"), ("exited", "delivered")]


def test_the_gate_follows_edits_of_its_segment_and_goes_with_its_action(
    api: Api, runner: Runner, receiver: WebhookReceiver, clock: Clock
) -> None:
    sid = segment(api, runner)
    [eve] = upsert(api, {"email": "eve@x.co", "job_title": "Director", "phone": "+14155552673"})
    destination = webhook(api, receiver)
    gate = {"match": "all", "conditions": [{"field": "phone", "op": "is_not_empty"}]}
    action_id = action(api, sid, destination, trigger="both", quality_gate=gate)
    runner.drain()
    _status, shown = api.call("GET", f"/v1/actions/{action_id}")
    kept = shown["action"]["gate_segment_id"]

    status, refused = api.call("PATCH", f"/v1/segments/{kept}", {"filter": gate})
    assert status == 409 and refused["error"] == "kept" and sid in refused["message"]
    status, refused = api.call("DELETE", f"/v1/segments/{kept}")
    assert status == 409 and refused["error"] == "kept"

    directors = {"match": "any", "conditions": [VP, {"field": "job_title", "op": "contains", "value": "director"}]}
    status, edited = api.call("PATCH", f"/v1/segments/{sid}", {"filter": directors})
    assert status == 200, edited
    runner.drain()
    assert transitions(receiver) == [("segment.entered", eve)], "an edit of the segment moves the gate's members"

    status, _ = api.call("DELETE", f"/v1/actions/{action_id}")
    assert status == 204
    runner.drain()
    status, _ = api.call("GET", f"/v1/segments/{kept}")
    assert status == 404


def test_backfill_of_a_gated_action_counts_and_sends_only_members_passing_the_gate(
    api: Api, runner: Runner, receiver: WebhookReceiver, clock: Clock
) -> None:
    sid = segment(api, runner)
    [fay, _gus] = upsert(
        api, {"email": "fay@x.co", "job_title": "VP", "phone": "+14155552674"}, {"email": "gus@x.co", "job_title": "VP"}
    )
    runner.drain()
    destination = webhook(api, receiver)
    gate = {"match": "all", "conditions": [{"field": "phone", "op": "is_not_empty"}]}
    clock.now = datetime.now(UTC)  # the action is created after they entered the segment (memberships: real time)
    action_id = action(api, sid, destination, quality_gate=gate)
    runner.drain()
    assert receiver.received == [], "members at creation are sent only by a backfill"
    status, counted = api.call("POST", f"/v1/actions/{action_id}/backfill", {})
    assert status == 200 and counted["members"] == 1, counted
    status, _ = api.call("POST", f"/v1/actions/{action_id}/backfill", {"dry_run": False})
    runner.drain()
    assert transitions(receiver) == [("segment.entered", fay)]


def test_an_entry_and_exit_both_unsent_never_reach_an_ad_audience(
    api: Api, runner: Runner, clock: Clock, ad_platforms: AdPlatforms
) -> None:
    """Adding and removing the same person is a no-op the platform need not see: both are settled as collapsed."""
    sid = segment(api, runner)
    action_id, audience = meta_action(api, ad_platforms, sid)
    [cal] = upsert(api, {"email": "cal@collapse.example", "job_title": "Engineer"})
    runner.drain()
    stay = "2026-11-01T10:00:00.000000Z"

    def change(kind: Change, at: str) -> MembershipChange:
        event = MembershipEvent(
            workspace=api.workspace, segment_id=sid, kind=Kind.PEOPLE, profile_id=cal, time=at, entered_at=stay
        )
        return MembershipChange(kind, event)

    services.actions.intake([change(Change.ENTERED, stay), change(Change.EXITED, "2026-11-01T10:05:00.000000Z")])
    runner.drain()
    assert not ad_platforms.meta.has(audience, sha256_hex("cal@collapse.example"))
    assert sorted(each["status"] for each in deliveries(api, action_id)) == ["collapsed", "collapsed"]


def test_a_gates_first_build_sends_only_who_entered_the_segment_after_the_action_was_made(
    api: Api, runner: Runner, receiver: WebhookReceiver, clock: Clock
) -> None:
    """The gate's first build finds the members at creation (not sent) and maybe a newcomer before its own entry
    into the action's segment is written (sent: the build's entries are told apart by that entry)."""
    sid = segment(api, runner)
    [old] = upsert(api, {"email": "old@x.co", "job_title": "VP", "phone": "+14155552675"})
    runner.drain()
    destination = webhook(api, receiver)
    gate = {"match": "all", "conditions": [{"field": "phone", "op": "is_not_empty"}]}
    clock.now = datetime.now(UTC)
    action_id = action(api, sid, destination, quality_gate=gate)
    runner.drain()
    assert receiver.received == [], "a member at creation"
    made = services.actions.require_action(api.workspace, action_id)
    assert made.gate_segment_id and made.gate_first_run
    [new] = upsert(api, {"email": "new@x.co", "job_title": "VP", "phone": "+14155552676"})  # not taken in yet

    def by_first_build(profile_id: str) -> MembershipChange:
        at = format_time(datetime.now(UTC))
        event = MembershipEvent(
            workspace=api.workspace,
            segment_id=str(made.gate_segment_id),
            kind=Kind.PEOPLE,
            profile_id=profile_id,
            time=at,
            run=made.gate_first_run,
        )
        return MembershipChange(Change.ENTERED, event)

    services.actions.intake([by_first_build(old), by_first_build(new)])
    runner.drain()
    assert transitions(receiver) == [("segment.entered", new)]


def test_an_action_made_before_gates_were_kept_still_checks_its_gate_on_entry(
    api: Api, runner: Runner, receiver: WebhookReceiver, clock: Clock
) -> None:
    """Actions saved by an earlier Roster have a gate but no kept segment: their gate still holds at entry."""
    sid = segment(api, runner)
    destination = webhook(api, receiver)
    gate = {"match": "all", "conditions": [{"field": "phone", "op": "is_not_empty"}]}
    action_id = action(api, sid, destination, quality_gate=gate)
    saved = services.actions.require_action(api.workspace, action_id)
    earlier = saved.model_dump(mode="json", exclude={"gate_segment_id", "gate_first_run"})
    services.actions.store.put_config(api.workspace, f"action#{action_id}", earlier)
    [ada, ben] = upsert(
        api, {"email": "ada@x.co", "job_title": "VP", "phone": "+14155552677"}, {"email": "ben@x.co", "job_title": "VP"}
    )
    runner.drain()
    assert transitions(receiver) == [("segment.entered", ada)]
    _status, log = api.call("GET", f"/v1/people/{ben}/deliveries")
    assert [each["status"] for each in log["deliveries"]] == ["skipped"]
    has_email = {"match": "all", "conditions": [{"field": "email", "op": "is_not_empty"}]}
    status, edited = api.call("PATCH", f"/v1/actions/{action_id}", {"quality_gate": has_email})
    assert status == 200 and edited["action"]["quality_gate"]["conditions"][0]["field"] == "email", edited
    [cy] = upsert(api, {"email": "cy@x.co", "job_title": "VP"})  # no phone: passes the new gate
    runner.drain()
    assert transitions(receiver) == [("segment.entered", ada), ("segment.entered", cy)]


def test_an_action_turned_off_holds_its_deliveries_and_sends_them_in_order_when_on(
    api: Api, runner: Runner, receiver: WebhookReceiver, clock: Clock
) -> None:
    from typer.testing import CliRunner

    from roster_dev.cli import app as cli

    sid = segment(api, runner)
    destination = webhook(api, receiver)
    action_id = action(api, sid, destination, trigger="both")
    env = {"ROSTER_URL": runner.serve(), "ROSTER_API_KEY": api.key, "COLUMNS": "250"}
    off = CliRunner().invoke(cli, ["actions", "edit", action_id, "--off", "--name", "tell (paused)"], env=env)
    assert off.exit_code == 0 and "off (deliveries held)" in off.output, off.output
    [ada] = upsert(api, {"email": "ada@hold.co", "job_title": "VP"})
    runner.drain()
    upsert(api, {"email": "ada@hold.co", "job_title": "Engineer"})
    runner.drain()
    sweep(runner)
    assert receiver.received == [], "nothing is sent while the action is off"
    assert sorted(each["status"] for each in deliveries(api, action_id)) == ["blocked", "held"]

    on = CliRunner().invoke(cli, ["actions", "edit", action_id, "--on"], env=env)
    assert on.exit_code == 0 and ": on" in on.output, on.output
    runner.drain()
    assert transitions(receiver) == [("segment.entered", ada), ("segment.exited", ada)]
    _status, shown = api.call("GET", f"/v1/actions/{action_id}")
    assert shown["action"]["name"] == "tell (paused)" and shown["action"]["enabled"]


def test_editing_a_gate_recomputes_who_passes_and_an_audience_follows(
    api: Api, runner: Runner, clock: Clock, ad_platforms: AdPlatforms
) -> None:
    sid = segment(api, runner)
    us = {"match": "all", "conditions": [{"field": "country", "op": "in", "value": ["US"]}]}
    action_id, audience = meta_action(api, ad_platforms, sid, quality_gate=us)
    runner.drain()
    upsert(api, {"email": "us@edit.example", "job_title": "VP", "country": "US"})
    upsert(api, {"email": "ca@edit.example", "job_title": "VP", "country": "CA"})
    runner.drain()
    assert ad_platforms.meta.has(audience, sha256_hex("us@edit.example"))
    assert not ad_platforms.meta.has(audience, sha256_hex("ca@edit.example"))

    ca = {"match": "all", "conditions": [{"field": "country", "op": "in", "value": ["CA"]}]}
    status, edited = api.call("PATCH", f"/v1/actions/{action_id}", {"quality_gate": ca})
    assert status == 200 and edited["action"]["quality_gate"]["conditions"][0]["value"] == ["CA"], edited
    runner.drain()
    assert not ad_platforms.meta.has(audience, sha256_hex("us@edit.example")), "fails the new gate: removed"
    assert ad_platforms.meta.has(audience, sha256_hex("ca@edit.example")), "passes it now: added"

    status, refused = api.call("PATCH", f"/v1/actions/{action_id}", {"quality_gate": None})
    assert status == 409 and "new action" in refused["message"], refused
    status, refused = api.call("PATCH", f"/v1/actions/{action_id}", {"cooldown_hours": 5})
    assert status == 422 and "cooldown" in refused["message"], refused
    status, refused = api.call("PATCH", f"/v1/actions/{action_id}", {"segment_id": sid})
    assert status == 422, refused

"""Segments end to end on the local stack: API, real-time membership, rebuilds and exactly-once events."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ulid import ULID

from roster.profiles.fields import Kind
from roster.segments.filters import Group
from roster.services import services
from roster.store.segments import Segment
from roster_dev.local.metering import count_aws_calls
from roster_dev.local.runner import Runner
from roster_dev.local.stack import LocalStack
from tests.conftest import EVENTS, Api, fill, new_workspace

SENIOR_AT_MIDSIZE = {
    "match": "all",
    "conditions": [
        {"field": "company.employee_count", "op": "gt", "value": 50},
        {
            "match": "any",
            "conditions": [
                {"field": "job_title", "op": "contains", "value": "vp"},
                {"field": "seniority", "op": "in", "value": ["Director", "C-Suite"]},
            ],
        },
    ],
}


class EventLog:
    """Every segment event published on the bus, read from an SQS queue a rule sends them to."""

    def __init__(self, stack: LocalStack) -> None:
        self.sqs = stack.client("sqs")
        self.url = self.sqs.create_queue(QueueName="segment-events-under-test")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events = stack.client("events")
        bus = stack.refs["RosterEventBus"]
        events.put_rule(
            Name="segments-under-test", EventBusName=bus, EventPattern=json.dumps({"source": ["roster.segments"]})
        )
        events.put_targets(Rule="segments-under-test", EventBusName=bus, Targets=[{"Id": "queue", "Arn": arn}])
        self.seen: list[dict[str, Any]] = []

    def read(self, workspace: str) -> list[tuple[str, str, str]]:
        """(change, segment, profile) of every event of a workspace so far, in order."""
        while True:
            messages = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                break
            for message in messages:
                self.seen.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
        return [
            (event["detail-type"], event["detail"]["segment_id"], event["detail"]["profile_id"])
            for event in self.seen
            if event["detail"]["workspace"] == workspace
        ]


@pytest.fixture(scope="module")
def event_log(stack: LocalStack) -> EventLog:
    return EventLog(stack)


def upsert(api: Api, kind: str, *records: dict[str, Any]) -> list[str]:
    status, body = api.call(
        "POST", f"/v1/{kind}/upsert", {"records": [{"source": "test", "fields": r} for r in records]}
    )
    assert status == 200, body
    return [result["profile_id"] for result in body["results"]]


def members(api: Api, segment_id: str) -> set[str]:
    found: set[str] = set()
    cursor: str | None = None
    while True:
        query = {"limit": "2"} | ({"cursor": cursor} if cursor else {})
        status, page = api.call("GET", f"/v1/segments/{segment_id}/members", **query)
        assert status == 200, page
        found |= {profile["profile_id"] for profile in page["profiles"]}
        cursor = page["cursor"]
        if not cursor:
            return found


def create(api: Api, name: str, kind: str, tree: dict[str, Any], **extra: Any) -> dict[str, Any]:
    status, body = api.call("POST", "/v1/segments", {"name": name, "kind": kind, "filter": tree, **extra})
    assert status == 201, body
    return body  # type: ignore[no-any-return]


def test_edits_move_people_in_and_out_with_one_event_each(api: Api, runner: Runner, event_log: EventLog) -> None:
    upsert(api, "companies", {"domain": "big.co", "employee_count": 500}, {"domain": "tiny.co", "employee_count": 5})
    ada, bob, cy = upsert(
        api,
        "people",
        {"email": "ada@big.co", "job_title": "VP Engineering", "company_domain": "big.co"},
        {"email": "bob@tiny.co", "job_title": "VP Sales", "company_domain": "tiny.co"},
        {"email": "cy@big.co", "job_title": "Engineer", "company_domain": "big.co"},
    )
    segment = create(api, "Senior at mid-size", "people", SENIOR_AT_MIDSIZE)
    sid = segment["segment_id"]
    assert segment["rebuilding"]
    runner.drain()
    assert members(api, sid) == {ada}
    assert api.call("GET", f"/v1/segments/{sid}/count")[1] == {"segment_id": sid, "count": 1, "rebuilding": False}

    upsert(api, "people", {"email": "cy@big.co", "job_title": "VP Product"})  # cy is promoted: enters
    upsert(api, "people", {"email": "ada@big.co", "job_title": "Engineer"})  # ada steps down: exits
    runner.drain()
    assert members(api, sid) == {cy}

    upsert(api, "companies", {"domain": "tiny.co", "employee_count": 80})  # bob's company grows: fan-out
    runner.drain()
    assert members(api, sid) == {cy, bob}

    assert api.call("POST", f"/v1/people/{cy}/archive")[0] == 200  # archived records leave every segment
    runner.drain()
    assert members(api, sid) == {bob}
    assert api.call("POST", f"/v1/people/{cy}/unarchive")[0] == 200
    runner.drain()
    assert members(api, sid) == {cy, bob}

    events = event_log.read(api.workspace)
    assert events == [
        ("segment.entered", sid, ada),
        ("segment.entered", sid, cy),
        ("segment.exited", sid, ada),
        ("segment.entered", sid, bob),
        ("segment.exited", sid, cy),
        ("segment.entered", sid, cy),
    ]
    assert api.call("GET", f"/v1/segments/{sid}/count")[1]["count"] == 2


def test_merged_away_profiles_leave_and_survivors_are_evaluated(api: Api, runner: Runner) -> None:
    first, second = upsert(
        api,
        "people",
        {"email": "m1@x.io", "tags": ["vip"]},
        {"linkedin_url": "https://www.linkedin.com/in/merge-me", "tags": ["vip"]},
    )
    sid = create(api, "VIPs", "people", {"conditions": [{"field": "tags", "op": "has_any", "value": ["VIP"]}]})[
        "segment_id"
    ]
    runner.drain()
    assert members(api, sid) == {first, second}
    # one record bridges both: they merge into one survivor
    upsert(api, "people", {"email": "m1@x.io", "linkedin_url": "https://linkedin.com/in/merge-me/"})
    runner.drain()
    assert members(api, sid) == {min(first, second)}


def test_editing_a_filter_applies_only_the_difference(api: Api, runner: Runner, event_log: EventLog) -> None:
    ids = upsert(api, "companies", *({"domain": f"c{n}.com", "employee_count": n * 10} for n in range(1, 7)))
    sid = create(api, "Over 25", "companies", {"conditions": [{"field": "employee_count", "op": "gt", "value": 25}]})[
        "segment_id"
    ]
    runner.drain()
    assert members(api, sid) == set(ids[2:])
    status, edited = api.call(
        "PATCH",
        f"/v1/segments/{sid}",
        {"filter": {"conditions": [{"field": "employee_count", "op": "between", "value": [20, 40]}]}},
    )
    assert status == 200 and edited["rebuilding"], edited
    runner.drain()
    assert members(api, sid) == set(ids[1:4])
    changes = Counter(change for change, segment, _ in event_log.read(api.workspace) if segment == sid)
    assert changes == {"segment.entered": 4 + 1, "segment.exited": 2}  # then c2 entered, c5 and c6 left


def test_an_entry_names_the_rebuild_run_that_made_it(api: Api, runner: Runner, event_log: EventLog) -> None:
    """Consumers tell members found by a filter being saved from records that changed (actions do not fire again
    for a re-entry by a rebuild, nor send a gate's members at creation)."""
    [ann] = upsert(api, "people", {"email": "ann@run.co", "job_title": "VP"})
    runner.drain()
    sid = create(api, "VPs", "people", {"conditions": [{"field": "job_title", "op": "contains", "value": "vp"}]})[
        "segment_id"
    ]
    runner.drain()
    [bo] = upsert(api, "people", {"email": "bo@run.co", "job_title": "VP"})
    runner.drain()
    event_log.read(api.workspace)
    mine = [event["detail"] for event in event_log.seen if event["detail"]["workspace"] == api.workspace]
    runs = {detail["profile_id"]: detail["run"] for detail in mine}
    saved = services.segment_store.get(api.workspace, sid)
    assert saved is not None and saved.rebuild_run is not None
    assert runs == {ann: saved.rebuild_run, bo: None}


def test_a_kept_segment_follows_its_base_through_edits_drafts_and_deletion(api: Api, runner: Runner) -> None:
    ids = upsert(api, "companies", *({"domain": f"k{n}.com", "employee_count": n * 10} for n in range(1, 7)))
    over_25 = {"conditions": [{"field": "employee_count", "op": "gt", "value": 25}]}
    sid = create(api, "Over 25", "companies", over_25)["segment_id"]
    even = Group.model_validate({"match": "any", "conditions": [{"field": "domain", "op": "in", "value": ["k4.com"]}]})
    kept = services.segments.create_kept(api.workspace, sid, even, name="k4", kept_by="a test", created_by="t")
    runner.drain()
    assert members(api, kept.segment_id) == {ids[3]}
    assert api.call("PATCH", f"/v1/segments/{sid}", {"filter": {"conditions": []}, "draft": True})[0] == 200
    runner.drain()
    assert api.call("GET", f"/v1/segments/{kept.segment_id}")[1]["draft"] is True
    assert members(api, kept.segment_id) == set()
    assert api.call("PATCH", f"/v1/segments/{sid}", {"filter": {"conditions": []}, "draft": False})[0] == 200
    runner.drain()
    assert members(api, kept.segment_id) == {ids[3]}
    assert api.call("DELETE", f"/v1/segments/{sid}")[0] == 204
    runner.drain()
    assert api.call("GET", f"/v1/segments/{kept.segment_id}")[0] == 404


def test_company_segments_filter_on_opportunities(api: Api, runner: Runner) -> None:
    won, lost = upsert(
        api,
        "companies",
        {"domain": "won.com", "opportunities": [{"stage": "Closed Won", "amount": 25000}, {"stage": "Prospecting"}]},
        {"domain": "lost.com", "opportunities": [{"stage": "Closed Lost", "amount": 90000}]},
    )
    tree = {
        "conditions": [
            {
                "related": "opportunities",
                "where": {
                    "conditions": [
                        {"field": "stage", "op": "eq", "value": "closed won"},
                        {"field": "amount", "op": "gt", "value": 10000},
                    ]
                },
            }
        ]
    }
    sid = create(api, "Won big", "companies", tree)["segment_id"]
    runner.drain()
    assert members(api, sid) == {won}
    status, preview = api.call("POST", "/v1/segments/preview", {"kind": "companies", "filter": tree})
    assert status == 200 and preview["count"] == 1 and preview["complete"]
    assert [p["profile_id"] for p in preview["sample"]] == [won]
    assert lost not in members(api, sid)


def test_bad_filters_are_rejected_with_the_node_path(api: Api) -> None:
    bad = {"conditions": [{"conditions": [{"field": "company.employee_count", "op": "contains", "value": "x"}]}]}
    status, body = api.call("POST", "/v1/segments", {"name": "bad", "kind": "people", "filter": bad})
    assert status == 422
    assert body["errors"] == [
        {"path": "filter.conditions[0].conditions[0].op", "message": body["errors"][0]["message"]}
    ]
    assert "does not fit number field" in body["errors"][0]["message"]
    status, body = api.call(
        "POST", "/v1/segments", {"name": "bad", "kind": "people", "filter": {"conditions": [{"field": "x"}]}}
    )
    assert status == 422  # schema: a condition needs an operator


def test_lists_tabs_built_ins_drafts_and_isolation(api: Api, runner: Runner, stack: LocalStack) -> None:
    upsert(api, "people", {"email": "one@a.com"}, {"email": "two@a.com"})
    live = create(api, "Live", "people", {})
    draft = create(api, "Draft", "people", {}, draft=True)
    runner.drain()
    rows = {row["segment_id"]: row for row in api.call("GET", "/v1/segments")[1]["segments"]}
    assert rows["all-people"]["name"] == "All People" and rows["all-people"]["count"] == 2
    assert rows["all-companies"]["built_in"]
    assert rows[live["segment_id"]]["count"] == 2 and rows[draft["segment_id"]]["count"] == 0
    key_id = api.key.removeprefix("rst_").partition(".")[0]
    assert rows[live["segment_id"]]["created_by"] == key_id

    def tab(name: str) -> set[str]:
        return {row["segment_id"] for row in api.call("GET", "/v1/segments", tab=name)[1]["segments"]}

    assert tab("mine") == {live["segment_id"]}
    assert tab("drafts") == {draft["segment_id"]}
    assert tab("others") == {"all-people", "all-companies"}

    assert len(members(api, "all-people")) == 2
    assert api.call("PATCH", "/v1/segments/all-people", {"name": "x"})[0] == 409
    assert api.call("PATCH", f"/v1/segments/{draft['segment_id']}", {"draft": False})[0] == 200  # publish
    runner.drain()
    assert api.call("GET", f"/v1/segments/{draft['segment_id']}/count")[1]["count"] == 2

    other = new_workspace(runner, stack)
    assert other.call("GET", f"/v1/segments/{live['segment_id']}")[0] == 404
    assert other.call("GET", f"/v1/segments/{live['segment_id']}/members")[0] == 404
    assert other.call("DELETE", f"/v1/segments/{live['segment_id']}")[0] == 404
    assert api.call("DELETE", f"/v1/segments/{live['segment_id']}")[0] == 204
    runner.drain()
    assert api.call("GET", f"/v1/segments/{live['segment_id']}")[0] == 404


def test_custom_fields_become_filterable(api: Api, runner: Runner) -> None:
    bad = {"conditions": [{"field": "lead_score", "op": "gte", "value": 80}]}
    assert api.call("POST", "/v1/segments", {"name": "Hot", "kind": "people", "filter": bad})[0] == 422
    status, catalog = api.call("PUT", "/v1/people/fields/lead_score", {"type": "number"})
    assert status == 200 and catalog["custom"] == {"lead_score": "number"}
    assert catalog["fields"]["company.employee_count"] == "number"
    hot, _ = upsert(api, "people", {"email": "hot@a.com", "lead_score": 91}, {"email": "cold@a.com", "lead_score": 12})
    sid = create(api, "Hot", "people", bad)["segment_id"]
    runner.drain()
    assert members(api, sid) == {hot}


def test_redelivered_stream_records_change_nothing(api: Api, runner: Runner, event_log: EventLog) -> None:
    (pid,) = upsert(api, "people", {"email": "ada@example.com", "job_title": "Engineer"})
    sid = create(api, "VPs", "people", {"conditions": [{"field": "job_title", "op": "starts_with", "value": "VP"}]})[
        "segment_id"
    ]
    runner.drain()
    assert members(api, sid) == set()
    change = fill("segment_stream.json", workspace=api.workspace, profile_id=pid)
    for _ in range(3):  # the same stream record, delivered three times
        assert runner.invoke("SegmentStreamFunction", change) == {"batchItemFailures": []}
    assert members(api, sid) == {pid}
    entered = fill("segment_events.json", workspace=api.workspace, segment_id=sid, profile_id=pid, event_id="ev-1")
    for _ in range(3):
        assert runner.invoke("SegmentEventsFunction", entered) == {"batchItemFailures": []}
    runner.drain()  # the real stream record of the entry is published too, under its own event id
    published = [e for e in event_log.read(api.workspace) if e[1] == sid]
    assert published == [("segment.entered", sid, pid), ("segment.entered", sid, pid)]
    assert api.call("GET", f"/v1/segments/{sid}/count")[1]["count"] == 1

    work = fill("segment_worker.json", workspace=api.workspace, segment_id=sid, run="stale-run")
    assert runner.invoke("SegmentWorkerFunction", work) == {"batchItemFailures": []}  # a stale run does nothing
    assert members(api, sid) == {pid}


NOBODY = {"conditions": [{"field": "job_title", "op": "starts_with", "value": "nobody has this title"}]}


def stream_record(
    workspace: str, segment_id: str, profile_id: str, event_id: str, sequence: int, name: str = "INSERT"
) -> dict[str, Any]:
    """One memberships-table stream record: INSERT (an entry), REMOVE (an exit) or MODIFY (no change)."""
    event = fill("segment_events.json", workspace=workspace, segment_id=segment_id, profile_id=profile_id)
    record: dict[str, Any] = event["Records"][0]
    record["eventID"], record["eventName"] = event_id, name
    record["dynamodb"]["SequenceNumber"] = str(sequence)
    if name == "REMOVE":
        record["dynamodb"]["OldImage"] = record["dynamodb"].pop("NewImage")
    elif name == "MODIFY":
        record["dynamodb"]["OldImage"] = record["dynamodb"]["NewImage"]
    return record


def member_count(workspace: str, segment_id: str) -> int | None:
    """The member count on a segment's row (the one segment events keep), None when it is gone."""
    segment = services.segment_store.get(workspace, segment_id)
    return None if segment is None else segment.member_count


def published(change: tuple[str, str, str]) -> tuple[str, str, str]:
    segment_id, profile_id, name = change
    return ("segment.entered" if name == "INSERT" else "segment.exited", segment_id, profile_id)


def test_a_stream_batch_publishes_each_change_once_with_few_requests(
    api: Api, runner: Runner, event_log: EventLog
) -> None:
    first, second, gone = (create(api, name, "people", NOBODY)["segment_id"] for name in ("First", "Second", "Gone"))
    runner.drain()
    assert api.call("DELETE", f"/v1/segments/{gone}")[0] == 204
    runner.drain()
    ws = api.workspace
    changes = [(first, f"a{n}", "INSERT") for n in range(12)] + [(second, f"b{n}", "INSERT") for n in range(9)]
    changes += [(first, "a0", "REMOVE"), (second, "b0", "REMOVE"), (first, "a1", "REMOVE"), (first, "a2", "REMOVE")]
    records = [stream_record(ws, *change[:2], f"{ws}-{n}", n + 1, change[2]) for n, change in enumerate(changes)]
    batch = [
        *records[:10],
        records[4],  # the same record twice in one batch
        *records[10:],
        stream_record(ws, gone, "c0", f"{ws}-gone", 50),  # its segment was deleted: not published
        stream_record(ws, first, "a5", f"{ws}-modify", 51, "MODIFY"),  # no membership change
    ]
    with count_aws_calls() as calls:
        assert runner.invoke("SegmentEventsFunction", {"Records": batch}) == {"batchItemFailures": []}
    expected = [published(change) for change in changes]
    assert event_log.read(ws) == expected  # each change once, in stream order
    assert calls["events.PutEvents"] == 3, calls  # 25 entries: 10 + 10 + 5 (EventBridge refuses more than 10)
    assert sum(calls.values()) <= 10, calls  # before batching: 106 (4 a change), 28 for a redelivery
    assert (member_count(ws, first), member_count(ws, second), member_count(ws, gone)) == (12 - 3, 9 - 1, None)

    with count_aws_calls() as again:  # the whole batch delivered again
        assert runner.invoke("SegmentEventsFunction", {"Records": batch}) == {"batchItemFailures": []}
    assert event_log.read(ws) == expected
    assert (member_count(ws, first), member_count(ws, second)) == (9, 8)
    assert dict(again) == {"dynamodb.BatchGetItem": 2}  # the done marks, and whether the deleted segment exists


def test_a_duplicate_committed_meanwhile_and_a_segment_deleted_meanwhile_are_not_counted(
    api: Api, runner: Runner, event_log: EventLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept, deleted = (create(api, name, "people", NOBODY)["segment_id"] for name in ("Kept", "Deleted"))
    runner.drain()
    ws = api.workspace
    changes = [(kept, "p0", "INSERT"), (kept, "p1", "INSERT"), (deleted, "q0", "INSERT"), (kept, "p2", "INSERT")]
    batch = [stream_record(ws, *change[:2], f"{ws}-{n}", n + 1, change[2]) for n, change in enumerate(changes)]
    store = services.segment_store
    commit = store.count_events

    def racing(deltas: dict[tuple[str, str], int], event_ids: list[str], expires_at: int) -> bool:
        monkeypatch.setattr(store, "count_events", commit)  # the race happens once
        assert commit({(ws, kept): 1}, [f"{ws}-0"], expires_at)  # another delivery of p0's record got there first
        store.delete(ws, deleted)
        return commit(deltas, event_ids, expires_at)

    monkeypatch.setattr(store, "count_events", racing)
    assert runner.invoke("SegmentEventsFunction", {"Records": batch}) == {"batchItemFailures": []}
    assert event_log.read(ws) == [published(change) for change in changes]  # all were published before
    assert member_count(ws, kept) == 3  # p0 counted once, by the other delivery
    assert store.events_done(record["eventID"] for record in batch) == {f"{ws}-0", f"{ws}-1", f"{ws}-3"}


def test_a_batch_committed_in_part_resumes_at_its_first_uncommitted_record(
    api: Api, runner: Runner, event_log: EventLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = (create(api, name, "people", NOBODY)["segment_id"] for name in ("First", "Second"))
    runner.drain()
    ws = api.workspace
    changes = [(first if n % 3 else second, f"p{n}", "INSERT") for n in range(100)]  # one full stream batch
    batch = [stream_record(ws, *change[:2], f"{ws}-{n}", n + 1, change[2]) for n, change in enumerate(changes)]
    store = services.segment_store
    commit, commits = store.count_events, []

    def failing_second(deltas: dict[tuple[str, str], int], event_ids: list[str], expires_at: int) -> bool:
        commits.append(list(event_ids))
        if len(commits) > 1:
            raise RuntimeError("throttled")
        return commit(deltas, event_ids, expires_at)

    monkeypatch.setattr(store, "count_events", failing_second)
    with count_aws_calls() as calls:
        result = runner.invoke("SegmentEventsFunction", {"Records": batch})
    assert calls["events.PutEvents"] == 10
    # 100 items a transaction: 98 records and their 2 segments, then the last 2 records (which failed)
    assert [len(ids) for ids in commits[:2]] == [98, 2]
    assert result == {"batchItemFailures": [{"itemIdentifier": "99"}]}
    assert (member_count(ws, first), member_count(ws, second)) == (65, 33)  # p0..p97 counted

    monkeypatch.setattr(store, "count_events", commit)
    assert runner.invoke("SegmentEventsFunction", {"Records": batch[98:]}) == {"batchItemFailures": []}
    assert (member_count(ws, first), member_count(ws, second)) == (66, 34)
    # every change published; the uncommitted ones again when the stream resumed (at least once)
    assert event_log.read(ws) == [published(change) for change in changes + changes[98:]]


# the events of any batches with duplicates and redeliveries count each distinct change once
stream_deliveries = st.lists(st.tuples(st.integers(0, 1), st.booleans()), min_size=1, max_size=30).flatmap(
    lambda changes: st.tuples(
        st.just(changes), st.lists(st.lists(st.integers(0, len(changes) - 1), max_size=40), max_size=4)
    )
)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(deliveries=stream_deliveries)
def test_any_redeliveries_count_and_publish_each_change_once(
    deliveries: tuple[list[tuple[int, bool]], list[list[int]]], runner: Runner, event_log: EventLog
) -> None:
    changes, batches = deliveries
    ws = f"p-{ULID()}".lower()
    segments = [f"s{n}" for n in range(2)]
    for sid in segments:
        services.segment_store.save(Segment(ws, sid, sid, Kind.PEOPLE, {}, "test"))
    records = [
        stream_record(ws, segments[s], f"p{n}", f"{ws}-{n}", n + 1, "INSERT" if entered else "REMOVE")
        for n, (s, entered) in enumerate(changes)
    ]
    for batch in [*batches, list(range(len(records)))]:  # the stream delivers every record at least once
        if batch:
            event = {"Records": [records[n] for n in batch]}
            assert runner.invoke("SegmentEventsFunction", event) == {"batchItemFailures": []}
    for s, sid in enumerate(segments):
        assert member_count(ws, sid) == sum(1 if entered else -1 for seg, entered in changes if seg == s)
    expected = [
        ("segment.entered" if entered else "segment.exited", segments[s], f"p{n}")
        for n, (s, entered) in enumerate(changes)
    ]
    assert sorted(event_log.read(ws)) == sorted(expected)


def test_relative_date_segments_are_rebuilt_by_the_daily_schedule(
    api: Api, runner: Runner, event_log: EventLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The calendar moves a record in: news like a change to it, so its entry names no run."""
    today = date.today()
    [due] = upsert(api, "people", {"email": "due@cal.co", "created_date": (today - timedelta(days=31)).isoformat()})
    runner.drain()
    recent = {"conditions": [{"field": "created_date", "op": "within_last_days", "value": 30}]}
    sid = create(api, "Recent", "people", recent)["segment_id"]
    runner.drain()
    assert members(api, sid) == set()
    monkeypatch.setattr(services.membership, "clock", lambda: today - timedelta(days=2))  # as if run 2 days ago
    schedule = json.loads((EVENTS / "segment_schedule.json").read_text())
    started = runner.invoke("SegmentScheduleFunction", schedule)["rebuilds_started"]
    assert started >= 1
    runner.drain()
    assert members(api, sid) == {due}
    assert event_log.read(api.workspace) == [("segment.entered", sid, due)]
    assert [event["detail"]["run"] for event in event_log.seen if event["detail"]["segment_id"] == sid] == [None]


# --- membership after any sequence of changes equals membership computed from scratch ----------

TITLES = ["VP Sales", "Engineer", "Director of Ops", "vp marketing", None]
SIZES = [5, 60, 500, None]
change_steps = st.lists(
    st.one_of(
        st.tuples(st.just("person"), st.integers(0, 3), st.sampled_from(TITLES), st.integers(0, 1)),
        st.tuples(st.just("company"), st.integers(0, 1), st.sampled_from(SIZES), st.just(0)),
        st.tuples(st.just("archive"), st.integers(0, 3), st.booleans(), st.just(0)),
    ),
    min_size=1,
    max_size=6,
)


@pytest.fixture(scope="module")
def property_workspace(runner: Runner, stack: LocalStack) -> Iterator[Api]:
    yield new_workspace(runner, stack)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(steps=change_steps)
def test_membership_after_any_changes_equals_a_rebuild_from_scratch(
    steps: list[tuple[str, int, Any, int]], runner: Runner, stack: LocalStack
) -> None:
    api = new_workspace(runner, stack)
    domains = ["one.com", "two.com"]
    upsert(api, "companies", *({"domain": d, "employee_count": 100} for d in domains))
    people = upsert(
        api, "people", *({"email": f"p{n}@{domains[n % 2]}", "company_domain": domains[n % 2]} for n in range(4))
    )
    live = create(api, "Live", "people", SENIOR_AT_MIDSIZE)["segment_id"]
    runner.drain()
    for step, index, value, other in steps:
        if step == "person":
            upsert(
                api,
                "people",
                {"email": f"p{index}@{domains[index % 2]}", "job_title": value, "company_domain": domains[other]},
            )
        elif step == "company":
            upsert(api, "companies", {"domain": domains[index], "employee_count": value})
        else:
            api.call("POST", f"/v1/people/{people[index]}/{'archive' if value else 'unarchive'}")
        runner.drain()
    scratch = create(api, "Scratch", "people", SENIOR_AT_MIDSIZE)["segment_id"]
    runner.drain()
    assert members(api, live) == members(api, scratch)

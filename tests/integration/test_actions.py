"""Actions end to end on the local stack: segment events → intake → per-destination drains → a webhook receiver
that verifies every signature (the reference verifier), with failures the receiver is told to give."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from roster.services import services
from roster_dev.emulators.webhooks import Failure, WebhookReceiver
from roster_dev.local.runner import Runner
from tests.conftest import Api

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
    status, body = api.call("POST", "/v1/people/upsert", {"records": [{"source": "test", "fields": r} for r in records]})
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

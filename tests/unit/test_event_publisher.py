"""EventPublisher: ten entries a PutEvents, in order; refused entries are sent again, never dropped."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tenacity import wait_none

from roster.eventbus import Event, EventPublisher, PublishFailed


class FakeEvents:
    """An EventBridge client that refuses the events named in `refuse` the given number of times."""

    def __init__(self, refuse: dict[str, int] | None = None) -> None:
        self.refuse = dict(refuse or {})
        self.calls: list[list[dict[str, Any]]] = []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # boto3 names it Entries
        assert len(Entries) <= 10
        self.calls.append(Entries)
        results: list[dict[str, Any]] = []
        for entry in Entries:
            name = json.loads(entry["Detail"])["n"]
            if self.refuse.get(name, 0) > 0:
                self.refuse[name] -= 1
                results.append({"ErrorCode": "ThrottlingException", "ErrorMessage": "Rate exceeded"})
            else:
                results.append({"EventId": f"id-{name}"})
        return {"FailedEntryCount": sum("ErrorCode" in r for r in results), "Entries": results}

    def sent(self) -> list[str]:
        """Every entry accepted, in the order they were accepted."""
        accepted = []
        for call in self.calls:
            accepted += [json.loads(entry["Detail"])["n"] for entry in call]
        return accepted


def events(count: int) -> list[Event]:
    return [Event("roster.segments", "segment.entered", json.dumps({"n": f"e{n}"})) for n in range(count)]


def publisher(client: FakeEvents, attempts: int = 5) -> EventPublisher:
    return EventPublisher(client, "bus", attempts=attempts, wait=wait_none(), sleep=lambda _: None)


def test_events_go_ten_a_request_in_order_with_the_same_entry_shape() -> None:
    client = FakeEvents()
    publisher(client).publish(events(25))
    assert [len(call) for call in client.calls] == [10, 10, 5]
    assert client.sent() == [f"e{n}" for n in range(25)]
    assert client.calls[0][0] == {
        "Source": "roster.segments",
        "DetailType": "segment.entered",
        "Detail": '{"n": "e0"}',
        "EventBusName": "bus",
    }
    publisher(client).publish([])
    assert len(client.calls) == 3


def test_refused_entries_are_sent_again_before_later_events() -> None:
    client = FakeEvents(refuse={"e3": 2, "e5": 1})
    publisher(client).publish(events(12))
    sent = [[json.loads(entry["Detail"])["n"] for entry in call] for call in client.calls]
    assert sent == [[f"e{n}" for n in range(10)], ["e3", "e5"], ["e3"], ["e10", "e11"]]


def test_entries_refused_on_every_attempt_fail_the_batch() -> None:
    client = FakeEvents(refuse={"e1": 99})
    with pytest.raises(PublishFailed, match="ThrottlingException"):
        publisher(client, attempts=3).publish(events(12))
    assert len(client.calls) == 3  # nothing after the refused entry was sent

"""EventBridge: the one place that turns events into `PutEvents` entries and sends them."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter
from tenacity.wait import WaitBaseT

MAX_ENTRIES = 10  # PutEvents takes at most ten entries a request
ATTEMPTS = 5
WAIT = wait_exponential_jitter(multiplier=0.05, max=2)


@dataclass(frozen=True)
class Event:
    source: str
    detail_type: str
    detail: str  # JSON


class PublishFailed(RuntimeError):
    """EventBridge kept refusing some entries; nothing after them was sent."""


class EventPublisher:
    """Publishes events on one bus in stream order, ten a request. Entries EventBridge refuses
    (`FailedEntryCount`) are sent again, alone, before any later event; after `attempts` tries
    the publisher raises `PublishFailed` rather than drop them."""

    def __init__(
        self,
        client: Any,
        bus_name: str,
        attempts: int = ATTEMPTS,
        wait: WaitBaseT = WAIT,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.bus_name = bus_name
        self.attempts = attempts
        self.wait = wait
        self.sleep = sleep

    def publish(self, events: Sequence[Event]) -> None:
        for start in range(0, len(events), MAX_ENTRIES):
            self._send([self._entry(event) for event in events[start : start + MAX_ENTRIES]])

    def _entry(self, event: Event) -> dict[str, str]:
        return {
            "Source": event.source,
            "DetailType": event.detail_type,
            "Detail": event.detail,
            "EventBusName": self.bus_name,
        }

    def _send(self, entries: list[dict[str, str]]) -> None:
        retrying = Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=self.wait,
            retry=retry_if_exception_type(PublishFailed),
            sleep=self.sleep,
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                response = self.client.put_events(Entries=entries)
                if response.get("FailedEntryCount"):
                    refused = [
                        (entry, result)
                        for entry, result in zip(entries, response["Entries"], strict=True)
                        if result.get("ErrorCode")
                    ]
                    entries = [entry for entry, _ in refused]
                    code, message = refused[0][1]["ErrorCode"], refused[0][1].get("ErrorMessage", "")
                    raise PublishFailed(f"EventBridge refused {len(refused)} event(s), first: {code} {message}")

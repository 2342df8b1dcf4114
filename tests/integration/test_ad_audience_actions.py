"""An ad audience kept in step through the whole actions path on the local stack: segment events → intake →
the destination's drain → the Google Ads, Meta and LinkedIn emulators; the action shows the size the platform
reports."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from roster.actions.destinations.audiences import sha256_hex
from roster.services import services
from roster_dev.emulators.ads import AdPlatforms
from roster_dev.local.runner import Runner
from tests.conftest import Api

VP = {"match": "all", "conditions": [{"field": "job_title", "op": "contains", "value": "vp"}]}


@pytest.fixture(scope="module")
def platforms() -> Iterator[AdPlatforms]:
    running = AdPlatforms().start()
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def no_pacing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services.actions, "sleep", lambda seconds: None)  # the rate budget's pacing


def upsert(api: Api, *records: dict[str, Any]) -> None:
    status, body = api.call(
        "POST", "/v1/people/upsert", {"records": [{"source": "test", "fields": r} for r in records]}
    )
    assert status == 200, body


def audience_action(api: Api, runner: Runner, platforms: AdPlatforms, kind: str) -> str:
    status, segment = api.call("POST", "/v1/segments", {"name": "VPs", "kind": "people", "filter": VP})
    assert status == 201, segment
    runner.drain()
    setup = platforms.destinations()[kind]
    body = {"name": kind, "kind": kind, "settings": setup["settings"], "secret": setup["secret"]}
    status, created = api.call("POST", "/v1/destinations", body | {"ca_bundle": setup["ca_bundle"]})
    assert status == 201, created
    destination = created["destination"]["destination_id"]
    status, tested = api.call("POST", f"/v1/destinations/{destination}/test")
    assert status == 200 and tested["status"] == "delivered", tested
    action = {
        "name": f"{kind} audience",
        "segment_id": segment["segment_id"],
        "destination_id": destination,
        "trigger": "both",
        "entry": "every",
        "identifiers": ["email", "phone", "country"],
        "options": setup["options"],
    }
    status, made = api.call("POST", "/v1/actions", action)
    assert status == 201, made
    return str(made["action"]["action_id"])


@pytest.mark.parametrize(
    ("kind", "audience_of"), [("meta", "meta"), ("linkedin", "linkedin"), ("google_ads", "google")]
)
def test_an_audience_gains_and_loses_a_person_as_they_enter_and_leave(
    api: Api, runner: Runner, platforms: AdPlatforms, kind: str, audience_of: str
) -> None:
    emulator = getattr(platforms, audience_of)
    audience = platforms.audiences[kind]
    action_id = audience_action(api, runner, platforms, kind)
    before = emulator.size(audience)
    email = f"{kind}.ada@example.com"
    upsert(api, {"email": email, "phone": "(415) 555-2671", "country": "US", "job_title": "VP Sales"})
    runner.drain()
    assert emulator.has(audience, sha256_hex(email))
    status, shown = api.call("GET", f"/v1/actions/{action_id}")
    assert status == 200 and shown["audience"]["size"] == before + 1, shown
    assert shown["audience"]["minimum"] in (100, 300, 1000)
    upsert(api, {"email": email, "job_title": "Engineer"})
    runner.drain()
    assert not emulator.has(audience, sha256_hex(email))
    upsert(api, {"email": email, "job_title": "VP Marketing"})
    runner.drain()
    assert emulator.has(audience, sha256_hex(email)) and emulator.size(audience) == before + 1

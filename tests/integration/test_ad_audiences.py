"""Ad-audience destinations against their emulators: audiences kept in step, batch limits, failures."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from roster.actions.destinations import meta
from roster.actions.destinations.audiences import AudienceUnreadable, sha256_hex
from roster.actions.destinations.base import AudienceStatus, Delivery, OutcomeStatus, Transition
from roster.outbound import guard
from roster.profiles.fields import Kind
from roster_dev.emulators.meta import MetaEmulator

_serial = iter(range(10**9))


def change(transition: Transition, email: str | None = None, **fields: Any) -> Delivery:
    number = next(_serial)
    values = {"email": email, **fields} if email is not None else fields
    return Delivery(
        delivery_id=f"d{number}",
        action_id="a1",
        segment_id="s1",
        kind=Kind.PEOPLE,
        profile_id=f"p-{email or number}",
        transition=transition,
        occurred_at="2026-11-29T22:00:00Z",
        fields=values,
    )


def enter(email: str | None = None, **fields: Any) -> Delivery:
    return change(Transition.ENTERED, email, **fields)


def leave(email: str | None = None, **fields: Any) -> Delivery:
    return change(Transition.EXITED, email, **fields)


def session_for(ca_path: str) -> requests.Session:
    session = guard(requests.Session())
    session.verify = ca_path
    return session


# -- Meta ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def meta_platform() -> Iterator[MetaEmulator]:
    with MetaEmulator() as running:
        yield running


@pytest.fixture
def meta_adapter(meta_platform: MetaEmulator) -> meta.MetaAdapter:
    settings = meta.MetaSettings(api_url=meta_platform.url)
    options = meta.MetaOptions(audience_id=meta_platform.create_audience())
    return meta.build(settings, options, meta_platform.token, session_for(meta_platform.ca_path))


def meta_audience(adapter: meta.MetaAdapter) -> str:
    return adapter.edge.rsplit("/", 1)[1]


def test_meta_audience_follows_enter_exit_enter(meta_platform: MetaEmulator, meta_adapter: meta.MetaAdapter) -> None:
    audience = meta_audience(meta_adapter)
    ada, ben = "Ada@Example.com ", "ben@example.com"
    outcomes = meta_adapter.send([enter(ada, first_name="Ada"), enter(ben)])
    assert [outcome.status for outcome in outcomes] == [OutcomeStatus.DELIVERED] * 2
    assert meta_platform.has(audience, sha256_hex("ada@example.com"))
    assert meta_platform.size(audience) == 2
    meta_adapter.send([leave(ada)])
    assert not meta_platform.has(audience, sha256_hex("ada@example.com"))
    assert meta_platform.has(audience, sha256_hex(ben))
    meta_adapter.send([enter(ada), leave(ben)])
    assert meta_platform.has(audience, sha256_hex("ada@example.com"))
    assert meta_platform.size(audience) == 1
    assert meta_adapter.audience_status() == AudienceStatus(size=1, minimum=meta.MINIMUM)


def test_meta_sends_25000_changes_in_3_requests_of_one_session(
    meta_platform: MetaEmulator, meta_adapter: meta.MetaAdapter
) -> None:
    before = meta_platform.requests["add_users"]
    sessions = len(meta_platform.sessions)
    deliveries = [enter(f"person{index}@example.com") for index in range(25_000)]
    outcomes = meta_adapter.send(deliveries)
    assert all(outcome.status is OutcomeStatus.DELIVERED for outcome in outcomes)
    assert meta_platform.requests["add_users"] - before == 3
    assert meta_platform.size(meta_audience(meta_adapter)) == 25_000
    uploads = meta_platform.sessions[sessions:]
    assert [upload["batch_seq"] for upload in uploads] == [1, 2, 3]
    assert [upload["last_batch_flag"] for upload in uploads] == [False, False, True]
    assert len({upload["session_id"] for upload in uploads}) == 1


def test_meta_refuses_an_oversize_or_unhashed_request(meta_platform: MetaEmulator) -> None:
    audience = meta_platform.create_audience()
    url = f"{meta_platform.url}/v25.0/{audience}/users"
    session = session_for(meta_platform.ca_path)
    rows = [[sha256_hex(f"p{index}@example.com")] for index in range(meta.MAX_ROWS + 1)]
    too_many = session.post(url, data={"access_token": meta_platform.token, "payload": _payload(["EMAIL"], rows)})
    assert too_many.status_code == 400 and "at most 10000" in too_many.json()["error"]["message"]
    plain = session.post(
        url, data={"access_token": meta_platform.token, "payload": _payload(["EMAIL"], [["ada@example.com"]])}
    )
    assert plain.status_code == 400 and "SHA-256" in plain.json()["error"]["message"]
    assert meta_platform.size(audience) == 0


def _payload(schema: list[str], rows: list[list[str]]) -> str:
    import json

    return json.dumps({"schema": schema, "data": rows})


def test_meta_a_record_without_email_or_phone_fails_alone(
    meta_platform: MetaEmulator, meta_adapter: meta.MetaAdapter
) -> None:
    outcomes = meta_adapter.send([enter("ada@example.com"), enter(first_name="Nobody"), enter("not an address")])
    assert [outcome.status for outcome in outcomes] == [
        OutcomeStatus.DELIVERED,
        OutcomeStatus.FAILED,
        OutcomeStatus.FAILED,
    ]
    assert "no e-mail or phone" in outcomes[1].answer
    assert "'not an address' is not an e-mail address" in outcomes[2].answer
    assert meta_platform.size(meta_audience(meta_adapter)) == 1


def test_meta_throttling_and_outages_retry_and_an_expired_token_disables(
    meta_platform: MetaEmulator, meta_adapter: meta.MetaAdapter
) -> None:
    meta_platform.fail_next("throttled")
    [throttled] = meta_adapter.send([enter("ada@example.com")])
    assert throttled.status is OutcomeStatus.RETRY and throttled.retry_after == 120
    meta_platform.fail_next("server_error")
    [down] = meta_adapter.send([enter("ada@example.com")])
    assert down.status is OutcomeStatus.RETRY and down.answer.startswith("500")
    meta_platform.fail_next("expired_token")
    [expired] = meta_adapter.send([enter("ada@example.com")])
    assert expired.status is OutcomeStatus.DISABLED and "Session has expired" in expired.answer
    assert meta_platform.size(meta_audience(meta_adapter)) == 0
    [sent] = meta_adapter.send([enter("ada@example.com")])
    assert sent.status is OutcomeStatus.DELIVERED


def test_meta_a_deleted_audience_disables_and_its_size_is_unreadable(meta_platform: MetaEmulator) -> None:
    settings = meta.MetaSettings(api_url=meta_platform.url)
    adapter = meta.build(
        settings, meta.MetaOptions(audience_id="1234"), meta_platform.token, session_for(meta_platform.ca_path)
    )
    [gone] = adapter.send([enter("ada@example.com")])
    assert gone.status is OutcomeStatus.DISABLED and "does not exist" in gone.answer
    with pytest.raises(AudienceUnreadable, match="does not exist"):
        adapter.audience_status()

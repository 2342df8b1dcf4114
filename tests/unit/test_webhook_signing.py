"""Webhook signatures as the Standard Webhooks spec defines them, checked against its reference vector and the
reference verifier (`standardwebhooks`)."""

from __future__ import annotations

import time

import pytest
import requests
import responses
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from roster.actions.destinations.base import Delivery, OutcomeStatus, Transition
from roster.actions.destinations.webhook import (
    WebhookAdapter,
    WebhookSettings,
    new_secret,
    payload,
    secret_keys,
    sign,
)
from roster.profiles.fields import Kind

# The spec's reference vector (standard-webhooks libraries' `test_sign_function`).
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
URL = "https://hooks.example.com/roster"


def delivery(transition: Transition = Transition.ENTERED) -> Delivery:
    return Delivery(
        delivery_id="dlv_1",
        action_id="act_1",
        segment_id="seg_1",
        kind=Kind.PEOPLE,
        profile_id="p_1",
        transition=transition,
        occurred_at="2026-11-29T10:00:00Z",
        fields={"email": "ada@example.com"},
    )


def test_signature_matches_the_spec_reference_vector() -> None:
    assert sign(secret_keys(SPEC_SECRET), SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE


def test_rotation_signs_with_both_secrets_new_first() -> None:
    new = new_secret()
    header = sign(secret_keys(f"{new} {SPEC_SECRET}"), SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY)
    first, second = header.split(" ")
    assert second == SPEC_SIGNATURE
    assert first == sign(secret_keys(new), SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY)


@pytest.mark.parametrize(
    "secret", ["MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_not base64!", "whsec_c2hvcnQ=", "", "a b c"]
)
def test_unusable_secrets_are_refused(secret: str) -> None:
    with pytest.raises(ValueError, match="webhook secret"):
        secret_keys(secret)


@given(st.binary(max_size=2000), st.text(min_size=1, max_size=40).filter(lambda s: "." not in s and s.isprintable()))
def test_reference_verifier_accepts_what_roster_signs(body: bytes, message_id: str) -> None:
    secret = new_secret()
    text = body.decode("latin-1").encode()
    now = int(time.time())
    headers = {
        "webhook-id": message_id,
        "webhook-timestamp": str(now),
        "webhook-signature": sign(secret_keys(secret), message_id, now, text),
    }
    Webhook(secret).verify(text, headers, json_parse=False)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(text, headers, json_parse=False)


@responses.activate
def test_adapter_posts_a_verifiable_request() -> None:
    secret = new_secret()
    responses.post(URL, status=204)
    adapter = WebhookAdapter(WebhookSettings(url=URL).url, secret_keys(secret), requests.Session())
    [outcome] = adapter.send([delivery()])
    assert outcome.status is OutcomeStatus.DELIVERED
    sent = responses.calls[0].request
    assert isinstance(sent.body, bytes)
    body = Webhook(secret).verify(sent.body, dict(sent.headers))
    assert sent.headers["webhook-id"] == "dlv_1"
    assert body["type"] == "segment.entered"
    assert body["data"]["fields"] == {"email": "ada@example.com"}
    assert sent.body == payload(delivery())


@pytest.mark.parametrize(
    ("status", "headers", "expected", "wait"),
    [
        (200, {}, OutcomeStatus.DELIVERED, None),
        (299, {}, OutcomeStatus.DELIVERED, None),
        (301, {"Location": "https://elsewhere.example.com/"}, OutcomeStatus.RETRY, None),
        (410, {}, OutcomeStatus.DISABLED, None),
        (429, {"Retry-After": "120"}, OutcomeStatus.RETRY, 120.0),
        (502, {"Retry-After": "7"}, OutcomeStatus.RETRY, 7.0),
        (504, {}, OutcomeStatus.RETRY, None),
        (500, {"Retry-After": "7"}, OutcomeStatus.RETRY, None),
        (400, {}, OutcomeStatus.RETRY, None),
    ],
)
@responses.activate
def test_only_2xx_succeeds_and_410_disables(
    status: int, headers: dict[str, str], expected: OutcomeStatus, wait: float | None
) -> None:
    responses.post(URL, status=status, headers=headers, body="nope")
    adapter = WebhookAdapter(URL, secret_keys(new_secret()), requests.Session())
    [outcome] = adapter.send([delivery()])
    assert (outcome.status, outcome.retry_after) == (expected, wait)
    assert outcome.answer.startswith(str(status))
    assert len(responses.calls) == 1  # redirects are not followed

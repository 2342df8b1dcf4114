"""Webhook destination: one signed POST per membership change, as the Standard Webhooks spec describes.

Each request carries `webhook-id` (the delivery id: the same on every retry, so receivers can drop duplicates),
`webhook-timestamp` (seconds, when this attempt was signed) and `webhook-signature`: `v1,` + base64 HMAC-SHA256 of
`id.timestamp.body` keyed with the secret's bytes (`whsec_` + base64). While a secret is being rotated the
destination holds two (new first, space separated) and the header carries a signature for each.

Only a 2xx answer is a success. 410 Gone disables the endpoint; any other answer, a timeout or a connection failure
is retried on the delivery core's schedule (429, 502 and 504 after the `Retry-After` the receiver gives).
Redirects are not followed. Only public addresses are called (`roster.outbound`), checked when the destination is
saved and again on every request.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Sequence

import requests
from pydantic import BaseModel, ConfigDict, Field, field_validator

from roster.actions.destinations.base import Delivery, Outcome, OutcomeStatus
from roster.enrich.providers.http import retry_after_seconds
from roster.outbound import OutboundRefused, Unresolvable, check_url

SECRET_PREFIX = "whsec_"  # noqa: S105 (the prefix, not a secret)
SECRET_BYTES = 32
MAX_SECRETS = 2  # the current secret and, during a rotation, the one before it
TIMEOUT_SECONDS = 20.0  # the spec suggests 15-30 s
SLOW_DOWN = frozenset({429, 502, 504})  # the receiver asks for less: honour Retry-After
MAX_ANSWER = 200


class WebhookSettings(BaseModel):
    """Where the endpoint is."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=2048, description="the receiver's https:// (or http://) URL")

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if not url.startswith(("https://", "http://")):
            raise ValueError("url must start with https:// or http://")
        return url


class WebhookOptions(BaseModel):
    """A webhook takes no per-action options: the action's payload fields say what is sent."""

    model_config = ConfigDict(extra="forbid")


def new_secret() -> str:
    """A fresh signing secret, `whsec_` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_keys(secret: str) -> list[bytes]:
    """The keys of a destination's secret: one `whsec_...` value, or two (new first) during a rotation."""
    values = secret.split()
    if not 1 <= len(values) <= MAX_SECRETS:
        raise ValueError(f"a webhook secret is one or {MAX_SECRETS} whsec_ values separated by a space")
    keys = []
    for value in values:
        if not value.startswith(SECRET_PREFIX):
            raise ValueError("a webhook secret starts with whsec_ followed by base64")
        try:
            key = base64.b64decode(value[len(SECRET_PREFIX) :], validate=True)
        except binascii.Error:
            raise ValueError("a webhook secret starts with whsec_ followed by base64") from None
        if len(key) < 24:
            raise ValueError("a webhook secret needs at least 24 bytes after whsec_")
        keys.append(key)
    return keys


def sign(keys: Sequence[bytes], message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header: `v1,<base64>` per key, space separated."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    return " ".join("v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode() for key in keys)


def payload(delivery: Delivery) -> bytes:
    """The body: `type`, `timestamp` and `data`, the envelope the spec recommends."""
    return json.dumps(
        {
            "type": f"segment.{delivery.transition}",
            "timestamp": delivery.occurred_at,
            "data": {
                "action_id": delivery.action_id,
                "segment_id": delivery.segment_id,
                "kind": str(delivery.kind),
                "id": delivery.profile_id,
                "fields": dict(delivery.fields),
            },
        },
        separators=(",", ":"),
        sort_keys=True,
        default=str,
    ).encode()


def answer(response: requests.Response) -> str:
    """`410 Gone: <first characters of the body>`, one short line for the delivery log."""
    excerpt = " ".join(response.text[:MAX_ANSWER].split()) if response.content else ""
    text = f"{response.status_code} {response.reason or ''}".strip()
    return f"{text}: {excerpt}"[:MAX_ANSWER] if excerpt else text


def outcome(delivery_id: str, response: requests.Response) -> Outcome:
    """What an answer means: 2xx delivered, 410 disabled, anything else retried (after Retry-After when slowing)."""
    status = response.status_code
    if 200 <= status < 300:
        return Outcome(delivery_id, OutcomeStatus.DELIVERED, answer(response))
    if status == 410:
        return Outcome(delivery_id, OutcomeStatus.DISABLED, answer(response))
    wait = retry_after_seconds(response.headers.get("Retry-After")) if status in SLOW_DOWN else None
    return Outcome(delivery_id, OutcomeStatus.RETRY, answer(response), retry_after=wait)


class WebhookAdapter:
    """Posts each change to one URL, signed with the destination's secret(s)."""

    max_batch = 1
    exits_undo_entries = False  # the receiver hears every change

    def __init__(
        self, url: str, keys: Sequence[bytes], session: requests.Session, clock: Callable[[], float] = time.time
    ) -> None:
        self.url = url
        self.keys = list(keys)
        self.session = session
        self.clock = clock

    def send(self, deliveries: Sequence[Delivery]) -> list[Outcome]:
        return [self.post(delivery.delivery_id, payload(delivery)) for delivery in deliveries]

    def post(self, message_id: str, body: bytes) -> Outcome:
        """One signed request, and what its answer means."""
        timestamp = int(self.clock())
        headers = {
            "content-type": "application/json",
            "webhook-id": message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(self.keys, message_id, timestamp, body),
        }
        try:
            response = self.session.post(
                self.url, data=body, headers=headers, timeout=TIMEOUT_SECONDS, allow_redirects=False
            )
        except OutboundRefused as refused:
            return Outcome(message_id, OutcomeStatus.FAILED, f"refused: {refused}")
        except Unresolvable as error:
            return Outcome(message_id, OutcomeStatus.RETRY, str(error))
        except requests.Timeout:
            return Outcome(message_id, OutcomeStatus.RETRY, f"no answer within {TIMEOUT_SECONDS:.0f} s")
        except requests.RequestException as error:
            return Outcome(message_id, OutcomeStatus.RETRY, f"connection failed ({type(error).__name__})")
        return outcome(message_id, response)


def build(settings: WebhookSettings, options: WebhookOptions, secret: str, session: requests.Session) -> WebhookAdapter:
    return WebhookAdapter(settings.url, secret_keys(secret), session)


def check(settings: WebhookSettings) -> None:
    """At save time: the URL must name a public address (raises OutboundRefused or Unresolvable)."""
    check_url(settings.url)


def check_secret(secret: str) -> None:
    secret_keys(secret)


def probe(settings: WebhookSettings, secret: str, session: requests.Session) -> Outcome:
    """A signed `roster.test` event, to see the receiver answer and check its signature verification."""
    body = json.dumps(
        {"type": "roster.test", "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "data": {}},
        separators=(",", ":"),
    ).encode()
    return build(settings, WebhookOptions(), secret, session).post(f"test_{secrets.token_hex(8)}", body)

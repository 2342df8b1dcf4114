"""A webhook receiver over HTTPS on 127.0.0.1, as a customer's endpoint would take Roster's webhooks.

Every POST is verified with the reference verifier (`standardwebhooks`) against the secrets the receiver knows
(several, as during a rotation): a missing or wrong signature, or a timestamp more than 5 minutes off, answers
401 and is recorded as refused. A verified request is recorded (id, timestamp, body, headers) and answered 204,
unless failures were queued with `fail(...)`: each answers one request (410 Gone, 429 or 5xx with a Retry-After,
or a slow answer), in order. A request whose `webhook-id` was received before is a duplicate: answered 204 and
counted, not recorded twice, as the spec asks receivers to do.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from roster_dev.emulators.https import Certificate, Handler, PayloadTooLarge, Response, Server
from roster_dev.emulators.serving import Served

MAX_BODY = 1 << 20


@dataclass(frozen=True)
class Failure:
    """How to answer one request instead of 204."""

    status: int
    retry_after: str | None = None
    delay_seconds: float = 0.0  # answer this late (a slow receiver)


@dataclass(frozen=True)
class Received:
    webhook_id: str
    timestamp: str
    body: dict[str, Any]
    signature: str


class WebhookReceiver(Served):
    thread_name = "webhook-receiver"

    def __init__(self, secrets: list[str] | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.secrets = list(secrets or [])  # every secret that verifies (a rotation's old and new)
        self.host = host
        self.port = port
        self.received: list[Received] = []
        self.refused: list[str] = []  # why each refused request was refused
        self.answers: Counter[int] = Counter()
        self.duplicates = 0
        self._failures: list[Failure] = []
        self._lock = threading.Lock()
        self._certificate = Certificate("Roster webhook receiver")
        self.ca_path = self._certificate.ca_path

    def _listen(self) -> Server:
        return Server((self.host, self.port), self._certificate.server_context(), self)

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}/hooks/roster"

    def fail(self, *failures: Failure) -> None:
        """Answer the next requests with these failures, one each, in order."""
        with self._lock:
            self._failures.extend(failures)

    def ids(self) -> list[str]:
        with self._lock:
            return [each.webhook_id for each in self.received]

    def handle(self, handler: Handler) -> None:
        if handler.command != "POST":
            handler.send(Response(405, b'{"error": "POST only"}'))
            return
        try:
            body = handler.read_body(MAX_BODY)
        except PayloadTooLarge:
            handler.send(Response(413, b'{"error": "too large"}'))
            return
        headers = {name.lower(): value for name, value in handler.headers.items()}
        verified = self._verify(body, headers)
        if verified is None:
            handler.send(Response(401, b'{"error": "signature not verified"}'))
            return
        with self._lock:
            failure = self._failures.pop(0) if self._failures else None
        if failure is not None:
            if failure.delay_seconds:
                time.sleep(failure.delay_seconds)
            extra = {"Retry-After": failure.retry_after} if failure.retry_after else None
            self._answer(handler, failure.status, extra)
            return
        with self._lock:
            if any(each.webhook_id == headers["webhook-id"] for each in self.received):
                self.duplicates += 1
            else:
                signature = headers["webhook-signature"]
                self.received.append(Received(headers["webhook-id"], headers["webhook-timestamp"], verified, signature))
        self._answer(handler, 204)

    def _answer(self, handler: Handler, status: int, headers: dict[str, str] | None = None) -> None:
        with self._lock:
            self.answers[status] += 1
        handler.send(Response(status, b"" if status == 204 else b'{"error": "told to fail"}', headers=headers))

    def _verify(self, body: bytes, headers: dict[str, str]) -> dict[str, Any] | None:
        """The body, when one of the known secrets verifies the request; else None (and why is recorded)."""
        reason = "no secret configured"
        for secret in self.secrets:
            try:
                Webhook(secret).verify(body, headers, json_parse=False)
            except WebhookVerificationError as refused:
                reason = str(refused)
                continue
            parsed: dict[str, Any] = json.loads(body)
            return parsed
        with self._lock:
            self.refused.append(reason)
            self.answers[401] += 1
        return None

"""What the ad-platform emulators (Google Ads, Meta, LinkedIn) share: HTTPS on a throwaway CA, audiences that keep
their members, a check that identifiers are hashed, request counters and injected failures.

A member is one person: the set of hashed identifiers they were added with. Adding a person who shares an
identifier with a member merges them (one person); removing by any of a member's identifiers removes the member,
as the platforms match people. Tests read `members(audience)` and `size(audience)` to see an audience in step.
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

from roster_dev.emulators.https import Certificate, Handler, PayloadTooLarge, Response, Server
from roster_dev.emulators.serving import Served

HEX_DIGEST = re.compile(r"[0-9a-f]{64}")
MAX_BODY = 64 * 1024 * 1024


def hashed(value: Any) -> bool:
    """Whether a value is a SHA-256 hex digest (64 lower-case hex characters), never plain PII."""
    return isinstance(value, str) and HEX_DIGEST.fullmatch(value) is not None


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(status, json.dumps(payload).encode(), "application/json; charset=UTF-8", headers)


class Audience:
    """One audience's members, each a frozenset of hashed identifiers (indexed by identifier)."""

    def __init__(self) -> None:
        self._members: dict[int, frozenset[str]] = {}
        self._owner: dict[str, int] = {}  # identifier -> member key
        self._next = 0

    def add(self, identifiers: Iterable[str]) -> None:
        person = frozenset(identifiers)
        for key in {self._owner[identifier] for identifier in person if identifier in self._owner}:
            person |= self._drop(key)
        self._next += 1
        self._members[self._next] = person
        self._owner.update(dict.fromkeys(person, self._next))

    def remove(self, identifiers: Iterable[str]) -> None:
        for key in {self._owner[identifier] for identifier in identifiers if identifier in self._owner}:
            self._drop(key)

    def _drop(self, key: int) -> frozenset[str]:
        member = self._members.pop(key)
        for identifier in member:
            del self._owner[identifier]
        return member

    def has(self, identifier: str) -> bool:
        return identifier in self._owner

    def members(self) -> list[frozenset[str]]:
        return list(self._members.values())

    def __len__(self) -> int:
        return len(self._members)


@dataclass
class Injection:
    kind: str
    remaining: int


class AudienceEmulator(Served):
    """An HTTPS ad platform; subclasses answer `route(request)` and name their failure kinds."""

    failure_kinds: ClassVar[frozenset[str]]
    organization: ClassVar[str]

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.requests: Counter[str] = Counter()  # by route name, e.g. "add_users"
        self._lock = threading.RLock()
        self._audiences: dict[str, Audience] = {}
        self._injections: list[Injection] = []
        self._certificate = Certificate(self.organization)
        self.ca_path = self._certificate.ca_path

    def _listen(self) -> Server:
        return Server((self.host, self.port), self._certificate.server_context(), self)

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    # -- audiences --------------------------------------------------------------------------------------

    def audience(self, audience_id: str) -> Audience:
        with self._lock:
            return self._audiences.setdefault(audience_id, Audience())

    def members(self, audience_id: str) -> list[frozenset[str]]:
        with self._lock:
            return self.audience(audience_id).members()

    def size(self, audience_id: str) -> int:
        with self._lock:
            return len(self.audience(audience_id))

    def has(self, audience_id: str, identifier: str) -> bool:
        """Whether a member has this hashed identifier."""
        with self._lock:
            return self.audience(audience_id).has(identifier)

    # -- failures ---------------------------------------------------------------------------------------

    def fail_next(self, kind: str, count: int = 1) -> None:
        """Make the next `count` requests fail that way (see the subclass's `failure_kinds`)."""
        if kind not in self.failure_kinds:
            raise ValueError(f"unknown failure kind {kind!r}; one of {sorted(self.failure_kinds)}")
        with self._lock:
            self._injections.append(Injection(kind, count))

    def take_injection(self) -> str | None:
        with self._lock:
            if not self._injections:
                return None
            injection = self._injections[0]
            injection.remaining -= 1
            if injection.remaining <= 0:
                self._injections.pop(0)
            return injection.kind

    # -- serving ----------------------------------------------------------------------------------------

    def handle(self, handler: Handler) -> None:
        parts = urlsplit(handler.path)
        try:
            body = handler.read_body(MAX_BODY)
        except PayloadTooLarge:
            handler.send(json_response(413, {"error": "request too large"}))
            return
        request = Request(handler.command, parts.path, parse_qs(parts.query), dict(handler.headers.items()), body)
        handler.send(self.route(request))

    def route(self, request: Request) -> Response:
        raise NotImplementedError

    def count(self, name: str) -> None:
        with self._lock:
            self.requests[name] += 1


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((value for key, value in self.headers.items() if key.lower() == lowered), None)

    def bearer(self) -> str | None:
        value = self.header("Authorization") or ""
        return value[len("Bearer ") :] if value.startswith("Bearer ") else None

    def form(self) -> dict[str, str]:
        """Query and form-encoded body parameters (the body wins), one value each."""
        values = {name: found[0] for name, found in self.query.items()}
        if "application/x-www-form-urlencoded" in (self.header("Content-Type") or ""):
            values.update({name: found[0] for name, found in parse_qs(self.body.decode()).items()})
        return values

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None

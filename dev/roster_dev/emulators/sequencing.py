"""What the Outreach, Salesloft and Apollo emulators share: HTTPS on a throwaway CA, routing, a credential check,
failure injection and request counting. Each platform's package supplies its routes, its records and the exact
shapes of its answers (errors, rate-limit headers).

Failures are injected for the next N requests (of one route, if named; a route that takes no bearer token, such
as Outreach's OAuth token endpoint, only when named): `rate_limit` (429 with the platform's
rate-limit headers), `server_error` (500), `expired_token` (401, as an expired access token gets), `garbled` (200
with an HTML page, as a proxy in front of a platform may send). `revoke()` makes the credential fail for good.

`OAuthEmulator` adds an OAuth token endpoint as Outreach and Salesloft run it: `POST /oauth/token` (form-encoded,
`grant_type=refresh_token` with the app's client id and secret) answers a new two-hour access token and a new
refresh token; the refresh token used stops working (400 `invalid_grant`), as does every refresh token once
`revoke()`d. Time is the emulator's `now()`: tests `advance()` it past an access token's two hours instead of
waiting.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal
from urllib.parse import parse_qs, unquote, urlsplit

from roster_dev.emulators.https import Certificate, Handler, PayloadTooLarge, Response, Server
from roster_dev.emulators.serving import Served

TOKEN_SECONDS = 7_200  # an OAuth access token's life
FailureKind = Literal["rate_limit", "server_error", "expired_token", "garbled"]
FAILURE_KINDS: tuple[FailureKind, ...] = ("rate_limit", "server_error", "expired_token", "garbled")
MAX_BODY = 1024 * 1024


@dataclass
class Request:
    """One request as a route sees it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        """The JSON body; PlatformError-free: a route decides what an unreadable body means (None)."""
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None

    def one(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None


class PlatformError(Exception):
    """An answer in the platform's own error shape."""

    def __init__(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.payload = payload
        self.headers = headers or {}


def reply(status: int, payload: Any, content_type: str = "application/json; charset=utf-8") -> Response:
    return Response(status, json.dumps(payload).encode(), content_type)


@dataclass
class _Injection:
    kind: FailureKind
    remaining: int
    on: str | None


Route = tuple[str, str, "re.Pattern[str]", Callable[..., Response]]


@dataclass
class Ids:
    """Sequential ids per record type, as the platforms hand out (numbers; Apollo's are hex strings)."""

    next: Counter[str] = field(default_factory=Counter)

    def take(self, kind: str, start: int = 1000) -> int:
        self.next[kind] += 1
        return start + self.next[kind]


class SequencerEmulator(Served):
    """The shared HTTPS face; subclasses give `routes()`, `authenticated()` and the platform's failure answers."""

    kind: ClassVar[str]  # the destination kind Roster knows this platform by
    organization: ClassVar[str]
    content_type: ClassVar[str] = "application/json; charset=utf-8"
    open_routes: ClassVar[frozenset[str]] = frozenset()  # routes that take no bearer token (an OAuth token endpoint)

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.token = secrets.token_urlsafe(24)
        self.lock = threading.RLock()
        self.calls: Counter[str] = Counter()
        self.ids = Ids()
        self._revoked: set[str] = set()
        self._injections: list[_Injection] = []
        self._certificate = Certificate(self.organization)
        self.ca_path = self._certificate.ca_path
        self._routes: list[Route] = [
            (method, name, re.compile(pattern), func) for method, name, pattern, func in self.routes()
        ]

    def _listen(self) -> Server:
        return Server((self.host, self.port), self._certificate.server_context(), self)

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    def destination(self) -> dict[str, Any]:
        """How Roster reaches this emulator (local stack only): the destination's kind, settings, secret and CA
        bundle, and the options of an action that enrols people in the emulator's ready-made sequence."""
        return {
            "kind": self.kind,
            "settings": self.settings(),
            "secret": self.secret(),
            "ca_bundle": self.ca_path,
            "options": self.options(),
        }

    # -- what a platform supplies --------------------------------------------------------------------------

    def settings(self) -> dict[str, Any]:
        """The destination's settings that point Roster at this emulator."""
        return {"api_url": self.url}

    def options(self) -> dict[str, Any]:
        """An action's options naming the ready-made sequence (and sender)."""
        raise NotImplementedError

    def secret(self) -> str:
        """The destination's secret as a user gives it (the token or key by default)."""
        return self.token

    def accepts(self, credential: str | None) -> bool:
        """Whether a request's credential is good now (the one token by default)."""
        return credential == self.token

    def routes(self) -> list[tuple[str, str, str, Callable[..., Response]]]:
        """(method, name, path pattern, handler(request, **groups))."""
        raise NotImplementedError

    def credential(self, request: Request) -> str | None:
        """The credential the request carries (a bearer token by default)."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None

    def unauthorized(self, reason: str) -> Response:
        raise NotImplementedError

    def too_many(self) -> Response:
        raise NotImplementedError

    def server_error(self) -> Response:
        return reply(500, {"error": "Internal Server Error"}, self.content_type)

    def limit_headers(self) -> dict[str, str]:
        """Rate-limit headers every answer carries."""
        return {}

    def check(self, request: Request, route: str) -> Response | None:
        """A platform's own checks before the route runs (content type, key kind); None lets it run."""
        return None

    # -- failures --------------------------------------------------------------------------------------------

    def fail_next(self, kind: FailureKind, count: int = 1, *, on: str | None = None) -> None:
        """Make the next `count` requests (of route `on`, e.g. `"enrol"`) fail that way; an OAuth token endpoint
        fails only when named (`on="token"`)."""
        if kind not in FAILURE_KINDS:
            raise ValueError(f"unknown failure kind: {kind}")
        with self.lock:
            self._injections.append(_Injection(kind, count, on))

    def revoke(self) -> None:
        """The current credential stops working (as a revoked token or deleted key does)."""
        with self.lock:
            self._revoked.add(self.token)

    def _take_injection(self, route: str) -> _Injection | None:
        with self.lock:
            for injection in self._injections:
                if injection.on != route and (injection.on is not None or route in self.open_routes):
                    continue
                injection.remaining -= 1
                if injection.remaining <= 0:
                    self._injections.remove(injection)
                return injection
        return None

    # -- serving ---------------------------------------------------------------------------------------------

    def handle(self, handler: Handler) -> None:
        url = urlsplit(handler.path)
        path = unquote(url.path)
        routed: tuple[str, Callable[..., Response], dict[str, str]] | None = None
        for method, name, pattern, func in self._routes:
            match = pattern.fullmatch(path) if method == handler.command else None
            if match:
                routed = (name, func, match.groupdict())
                break
        name = routed[0] if routed else "unknown"
        with self.lock:
            self.calls[name] += 1
        try:
            body = handler.read_body(MAX_BODY)
        except PayloadTooLarge:
            handler.send(reply(413, {"error": "Request Entity Too Large"}, self.content_type))
            return
        request = Request(
            handler.command,
            path,
            parse_qs(url.query, keep_blank_values=True),
            {key.lower(): value for key, value in handler.headers.items()},
            body,
        )
        handler.send(self._answer(request, routed))

    def _answer(self, request: Request, routed: tuple[str, Callable[..., Response], dict[str, str]] | None) -> Response:
        if routed is None:
            return reply(404, {"error": f"no route for {request.method} {request.path}"}, self.content_type)
        name, func, groups = routed
        injection = self._take_injection(name)
        if injection is not None and injection.kind == "rate_limit":
            return self.too_many()
        if injection is not None and injection.kind == "server_error":
            return self.server_error()
        if injection is not None and injection.kind == "garbled":
            return Response(200, b"<html><body>Down for maintenance</body></html>", "text/html")
        credential = self.credential(request)
        with self.lock:
            revoked = credential in self._revoked
        if name not in self.open_routes:
            if (injection is not None and injection.kind == "expired_token") or revoked:
                return self.unauthorized("The access token expired or was revoked")
            if not self.accepts(credential):
                return self.unauthorized("No valid credential given")
        refused = self.check(request, name)
        if refused is not None:
            return refused
        try:
            with self.lock:
                response = func(request, **groups)
        except PlatformError as error:
            response = reply(error.status, error.payload, self.content_type)
            response.headers = error.headers
        response.headers = {**self.limit_headers(), **(response.headers or {})}
        return response


def _oauth_error(status: int, error: str, description: str) -> Response:
    return reply(status, {"error": error, "error_description": description})


class OAuthEmulator(SequencerEmulator):
    """A platform whose users connect an OAuth app: `secret()` is the app's client and a user's refresh token,
    `token` the current access token; `oauth_scope` is what a token answer says it grants."""

    open_routes = frozenset({"token"})
    oauth_scope: ClassVar[str] = ""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.skipped = 0.0  # seconds `advance`d
        self.client_id = secrets.token_urlsafe(16)
        self.client_secret = secrets.token_urlsafe(32)
        self.refresh_token = secrets.token_urlsafe(32)
        self.granted = True  # the user's authorization of the app stands (`revoke` ends it)
        self.access_tokens: dict[str, float] = {}  # token -> when it expires
        super().__init__(host, port)
        self.access_tokens[self.token] = self.now() + TOKEN_SECONDS

    def now(self) -> float:
        return self.clock() + self.skipped

    def advance(self, seconds: float) -> None:
        """Move the platform's time on (access tokens expire by it)."""
        with self.lock:
            self.skipped += seconds

    def oauth_secret(self) -> str:
        """What a user saves as the destination's secret to connect by OAuth: the app's client and their refresh
        token."""
        with self.lock:
            credentials = {
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "refresh_token": self.refresh_token,
            }
        return json.dumps(credentials)

    def secret(self) -> str:
        return self.oauth_secret()

    def accepts(self, credential: str | None) -> bool:
        with self.lock:
            expires = self.access_tokens.get(credential or "")
        return expires is not None and self.now() < expires

    def revoke(self) -> None:
        """The user takes the app's access away: every access and refresh token stops working."""
        with self.lock:
            super().revoke()
            self.access_tokens.clear()
            self.granted = False

    def token_route(self) -> tuple[str, str, str, Callable[..., Response]]:
        return ("POST", "token", r"/oauth/token", self._token)

    def _token(self, request: Request) -> Response:
        """`grant_type=refresh_token`: a new access token and a new refresh token; the one used stops working."""
        form = {name: values[-1] for name, values in parse_qs(request.body.decode(errors="replace")).items()}
        if form.get("grant_type") != "refresh_token":
            return _oauth_error(400, "unsupported_grant_type", "The authorization grant type is not supported.")
        if (form.get("client_id"), form.get("client_secret")) != (self.client_id, self.client_secret):
            return _oauth_error(401, "invalid_client", "Client authentication failed due to unknown client.")
        if not self.granted or form.get("refresh_token") != self.refresh_token:
            return _oauth_error(
                400,
                "invalid_grant",
                "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI "
                "used in the authorization request, or was issued to another client.",
            )
        self.token = secrets.token_urlsafe(24)
        self.refresh_token = secrets.token_urlsafe(32)
        self.access_tokens[self.token] = self.now() + TOKEN_SECONDS
        body = {
            "access_token": self.token,
            "token_type": "bearer",
            "expires_in": TOKEN_SECONDS,
            "refresh_token": self.refresh_token,
            "scope": self.oauth_scope,
            "created_at": int(self.now()),
        }
        return reply(200, body)

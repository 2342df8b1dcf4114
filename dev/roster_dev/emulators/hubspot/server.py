"""The HTTPS face of the emulated portal: CRM v3 objects, search, batch, associations v4, properties, merges,
OAuth, rate limits, as `hubspot-api-client` speaks them through its `host=` setting (trusting `ca_path`).

Every request is counted by kind, rate limits are kept per portal on the portal's clock, and failures can be
injected for the next N matching requests to rehearse what a real portal does on a bad day.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import uuid
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, Self
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from roster.connectors.hubspot.budget import TIERS, Limits, Tier
from roster_dev.emulators.https import Certificate, Handler, PayloadTooLarge, Response, Server
from roster_dev.emulators.hubspot.auth import ALL_SCOPES, Auth, OAuthApp
from roster_dev.emulators.hubspot.errors import HubSpotError, validation
from roster_dev.emulators.hubspot.portal import ASSOCIATION_TYPES, SINGULAR, Clock, HubSpotPortal, Record
from roster_dev.emulators.hubspot.schema import DEFAULT_PROPERTIES, PropertyDef, iso
from roster_dev.emulators.hubspot.search import search
from roster_dev.emulators.serving import Served

if TYPE_CHECKING:
    from hubspot import HubSpot

FailureKind = Literal[
    "rate_limit",  # 429, policy TEN_SECONDLY_ROLLING, with Retry-After
    "daily_limit",  # 429, policy DAILY
    "expired_token",  # 401 EXPIRED_AUTHENTICATION
    "server_error",  # 500
    "bad_gateway",  # 502 (an HTML page, as HubSpot's edge sends)
    "gateway_timeout",  # 504
    "timeout",  # no answer: the connection is held until the client gives up (or `hold` seconds), then closed
    "dropped",  # the connection is closed without an answer
]
_KINDS: tuple[str, ...] = ("rate_limit", "daily_limit", "expired_token", "server_error", "bad_gateway")
_KINDS += ("gateway_timeout", "timeout", "dropped")
BATCH_LIMIT = 100
LIST_LIMIT = 100
TEN_SECONDS = timedelta(seconds=10)
_Route = tuple[str, str, "re.Pattern[str]", str | None, Callable[..., Response]]


#: HubSpot's allowances by subscription, as Roster's budget knows them (one table: the layer's).
RateLimits = Limits
#: No throttling at all, for tests about something else that make many calls quickly.
NO_LIMITS = RateLimits(10**9, 10**12, 10**9)


@dataclass
class _Injection:
    kind: FailureKind
    remaining: int
    on: str | None


def _json(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(status, json.dumps(payload).encode(), headers=headers)


def _load(body: bytes) -> Any:
    try:
        return json.loads(body or b"{}")
    except ValueError as error:
        raise HubSpotError("VALIDATION_ERROR", f"Invalid input JSON on line 1: {error}") from None


def _list_cursor(after: str) -> int:
    """The id a list page starts from: HubSpot's cursors are opaque (`NTI1Cg%3D%3D`, base64 of an id)."""
    if not after:
        return 0
    try:
        return int(base64.b64decode(unquote(after), validate=True).decode().strip())
    except ValueError:
        raise validation(f"Invalid paging cursor: {after!r}", after=[after]) from None


def _inputs(payload: Any) -> list[dict[str, Any]]:
    inputs = payload.get("inputs") if isinstance(payload, dict) else None
    if not isinstance(inputs, list) or not all(isinstance(item, dict) for item in inputs):
        raise validation("Invalid input JSON: `inputs` must be a list of objects")
    if len(inputs) > BATCH_LIMIT:
        raise validation(f"Too many inputs: {len(inputs)} (a batch takes at most {BATCH_LIMIT})")
    return inputs


class HubSpotEmulator(Served):
    """An HTTPS HubSpot for tests and the demo: `with HubSpotEmulator(portal) as hs: hs.client().crm...`."""

    thread_name = "hubspot-emulator"

    def __init__(
        self,
        portal: HubSpotPortal | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tier: Tier = "professional",
        rate_limits: RateLimits | None = None,
        rate_clock: Clock | None = None,
        app: OAuthApp | None = None,
    ) -> None:
        self.portal = portal or HubSpotPortal()
        self.host = host
        self.port = port
        self.limits = rate_limits or TIERS[tier]
        #: Times the rate-limit windows: the portal's clock unless told otherwise, so a test on a ManualClock lets
        #: a window pass by advancing it (e.g. from the sleep it hands its client) instead of waiting.
        self.rate_clock: Clock = rate_clock or self.portal.clock
        self.auth = Auth(self.portal, app or OAuthApp())
        self.token = self.auth.private_app_token()
        self.calls_by_kind: Counter[str] = Counter()
        self._lock = threading.RLock()
        self._recent: deque[datetime] = deque()  # requests in the rolling 10 seconds
        self._recent_search: dict[str, deque[datetime]] = {}
        self._daily: Counter[str] = Counter()  # by UTC day
        self._injections: list[_Injection] = []
        self._stopping = threading.Event()
        self._certificate = Certificate("Roster HubSpot emulator")
        self.ca_path = self._certificate.ca_path
        self._routes = self._build_routes()

    # -- lifecycle --------------------------------------------------------------------------------------

    def _listen(self) -> Server:
        return Server((self.host, self.port), self._certificate.server_context(), self)

    def start(self) -> Self:
        self._stopping.clear()
        return super().start()

    def stop(self) -> None:
        self._stopping.set()  # a request sleeping out a timeout injection wakes and ends
        super().stop()

    @property
    def url(self) -> str:
        """`https://127.0.0.1:PORT`: what `hubspot-api-client` takes as `host=` (a restart keeps the port)."""
        return f"https://{self.host}:{self.port}"

    def client(self, access_token: str | None = None, **config: Any) -> HubSpot:
        """An unmodified `hubspot.HubSpot` pointed at this emulator and trusting its CA."""
        from hubspot import HubSpot

        return HubSpot(access_token=access_token or self.token, host=self.url, ssl_ca_cert=self.ca_path, **config)

    # -- counters, limits, failures ---------------------------------------------------------------------

    @property
    def calls(self) -> int:
        with self._lock:
            return sum(self.calls_by_kind.values())

    def reset_calls(self) -> None:
        """Zero the counters and the rate-limit windows (as if a day had passed)."""
        with self._lock:
            self.calls_by_kind.clear()
            self._recent.clear()
            self._recent_search.clear()
            self._daily.clear()

    def daily_usage(self) -> int:
        with self._lock:
            return self._daily[self.rate_clock().astimezone(UTC).date().isoformat()]

    def fail_next(self, kind: FailureKind, count: int = 1, *, on: str | None = None) -> None:
        """Make the next `count` requests (of call kind `on`, e.g. `"search"`, `"batch_update"`) fail that way."""
        if kind not in _KINDS:
            raise ValueError(f"unknown failure kind: {kind}")
        with self._lock:
            self._injections.append(_Injection(kind, count, on))

    def clear_failures(self) -> None:
        with self._lock:
            self._injections.clear()

    def _take_injection(self, call: str) -> _Injection | None:
        with self._lock:
            for injection in self._injections:
                if injection.on is not None and injection.on != call:
                    continue
                injection.remaining -= 1
                if injection.remaining <= 0:
                    self._injections.remove(injection)
                return injection
        return None

    def _rate_limited(self, kind: str, token: str) -> Response | None:
        """Count the call against the portal's windows; a 429 with HubSpot's body when one is exhausted."""
        now = self.rate_clock()
        day = now.astimezone(UTC).date().isoformat()
        with self._lock:
            while self._recent and self._recent[0] <= now - TEN_SECONDS:
                self._recent.popleft()
            if self._daily[day] >= self.limits.daily:
                return self._too_many("DAILY", "You have reached your daily limit.", None)
            if kind == "search":
                window = self._recent_search.setdefault(token, deque())
                while window and window[0] <= now - timedelta(seconds=1):
                    window.popleft()
                if len(window) >= self.limits.search_per_second:
                    retry = max(1, int((window[0] + timedelta(seconds=1) - now).total_seconds() + 0.999))
                    return self._too_many("SECONDLY", "You have reached your secondly limit.", retry)
                window.append(now)
            elif len(self._recent) >= self.limits.per_ten_seconds:
                retry = max(1, int((self._recent[0] + TEN_SECONDS - now).total_seconds() + 0.999))
                return self._too_many(
                    "TEN_SECONDLY_ROLLING", "You have reached your ten_secondly_rolling limit.", retry
                )
            else:
                self._recent.append(now)
            self._daily[day] += 1
        return None

    def _too_many(self, policy: str, message: str, retry_after: int | None) -> Response:
        """HubSpot's 429: the policy hit, and `Retry-After` seconds where waiting helps (not for the daily one)."""
        group = {"TEN_SECONDLY_ROLLING": "ten-secondly", "SECONDLY": "secondly", "DAILY": "daily"}[policy]
        body = {
            "status": "error",
            "message": message,
            "errorType": "RATE_LIMIT",
            "correlationId": str(uuid.uuid4()),
            "policyName": policy,
            "groupName": f"publicapi:private-app-api-calls-{group}:{self.portal.portal_id}",
        }
        headers = {"Retry-After": str(retry_after)} if retry_after else {}
        return _json(429, body, headers)

    def _limit_headers(self) -> dict[str, str]:
        """`X-HubSpot-RateLimit-*`, as non-search responses carry them."""
        now = self.rate_clock()
        with self._lock:
            used = sum(1 for moment in self._recent if moment > now - TEN_SECONDS)
            daily = self._daily[now.astimezone(UTC).date().isoformat()]
        remaining = max(0, self.limits.per_ten_seconds - used)
        return {
            "X-HubSpot-RateLimit-Daily": str(self.limits.daily),
            "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, self.limits.daily - daily)),
            "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
            "X-HubSpot-RateLimit-Max": str(self.limits.per_ten_seconds),
            "X-HubSpot-RateLimit-Remaining": str(remaining),
            "X-HubSpot-RateLimit-Secondly": str(self.limits.per_ten_seconds // 10),
            "X-HubSpot-RateLimit-Secondly-Remaining": str(remaining // 10),
        }

    # -- routing ----------------------------------------------------------------------------------------

    def _build_routes(self) -> list[_Route]:
        obj = r"/crm/v3/objects/(?P<object_type>[\w-]+)"
        specs: list[tuple[str, str, str, str | None, Callable[..., Response]]] = [
            ("POST", "oauth_token", r"/oauth/v1/token", None, self._oauth_token),
            ("GET", "oauth_authorize", r"/oauth/authorize", None, self._oauth_authorize),
            ("GET", "oauth_access_token", r"/oauth/v1/access-tokens/(?P<token>[^/]+)", None, self._access_info),
            ("GET", "oauth_refresh_token", r"/oauth/v1/refresh-tokens/(?P<token>[^/]+)", None, self._refresh_info),
            ("DELETE", "oauth_refresh_revoke", r"/oauth/v1/refresh-tokens/(?P<token>[^/]+)", None, self._revoke),
            ("GET", "account_details", r"/account-info/v3/details", "", self._account),
            ("GET", "owners", r"/crm/v3/owners", "crm.objects.owners.read", self._owners),
            ("GET", "pipelines", r"/crm/v3/pipelines/(?P<object_type>[\w-]+)", "read", self._pipelines),
            (
                "POST",
                "private_app_token_info",
                r"/oauth/v2/private-apps/get/access-token-info",
                None,
                self._private_app_info,
            ),
            ("GET", "account_usage", r"/account-info/v3/api-usage/daily/private-apps", "", self._usage),
            ("GET", "properties_list", r"/crm/v3/properties/(?P<object_type>[\w-]+)", "schemas.read", self._props),
            (
                "GET",
                "properties_get",
                r"/crm/v3/properties/(?P<object_type>[\w-]+)/(?P<name>\w+)",
                "schemas.read",
                self._prop,
            ),
            (
                "POST",
                "properties_create",
                r"/crm/v3/properties/(?P<object_type>[\w-]+)",
                "schemas.write",
                self._prop_create,
            ),
            ("POST", "search", obj + r"/search", "read", self._search),
            ("POST", "batch_read", obj + r"/batch/read", "read", self._batch_read),
            ("POST", "batch_create", obj + r"/batch/create", "write", self._batch_create),
            ("POST", "batch_update", obj + r"/batch/update", "write", self._batch_update),
            ("POST", "batch_upsert", obj + r"/batch/upsert", "write", self._batch_upsert),
            ("POST", "batch_archive", obj + r"/batch/archive", "write", self._batch_archive),
            ("POST", "merge", obj + r"/merge", "write", self._merge),
            ("GET", "list", obj, "read", self._list),
            ("POST", "create", obj, "write", self._create),
            ("GET", "get", obj + r"/(?P<object_id>[^/]+)", "read", self._get),
            ("PATCH", "update", obj + r"/(?P<object_id>[^/]+)", "write", self._update),
            ("DELETE", "archive", obj + r"/(?P<object_id>[^/]+)", "write", self._archive),
            (
                "POST",
                "associations_read",
                r"/crm/v4/associations/(?P<object_type>[\w-]+)/(?P<to_type>[\w-]+)/batch/read",
                "read",
                self._associations_read,
            ),
            (
                "POST",
                "associations_create",
                r"/crm/v4/associations/(?P<object_type>[\w-]+)/(?P<to_type>[\w-]+)/batch/associate/default",
                "write",
                self._associations_default,
            ),
        ]
        return [(method, kind, re.compile(pattern + "/?"), scope, func) for method, kind, pattern, scope, func in specs]

    def handle(self, handler: Handler) -> None:
        """Count, authenticate, limit, inject failures, dispatch, and answer in HubSpot's shapes."""
        url = urlsplit(handler.path)
        query = parse_qs(url.query, keep_blank_values=True)
        method = handler.command
        routed = None
        for route_method, kind, pattern, scope, func in self._routes:
            match = pattern.fullmatch(url.path) if route_method == method else None
            if match:
                routed = (kind, scope, func, {key: unquote(value) for key, value in match.groupdict().items()})
                break
        kind = routed[0] if routed else "unknown"
        with self._lock:
            self.calls_by_kind[kind] += 1
        try:
            body = handler.read_body(64 * 1024 * 1024)
        except PayloadTooLarge:
            handler.send(_json(413, HubSpotError("VALIDATION_ERROR", "Request entity too large").body()))
            return
        injection = self._take_injection(kind)
        if injection is not None and injection.kind in {"timeout", "dropped"}:
            if injection.kind == "timeout":
                self._stopping.wait(60)
            handler.drop()
            return
        if routed is None:
            handler.send(Response(404, b"", "text/html;charset=utf-8"))
            return
        _, scope, func, groups = routed
        headers: dict[str, str] = {}
        response = self._guard(handler, kind, scope, groups, injection)
        if response is None:
            try:
                response = func(query=query, body=body, **groups)
            except HubSpotError as error:
                response = _json(error.status, error.body())
            except Exception as error:  # an emulator bug must still look like a HubSpot 500
                response = _json(500, HubSpotError("INTERNAL_ERROR", f"{type(error).__name__}: {error}").body())
            if scope is not None and kind != "search":
                headers = self._limit_headers()
        response.headers = {**headers, **(response.headers or {})}
        handler.send(response)

    def _guard(
        self, handler: Handler, kind: str, scope: str | None, groups: dict[str, str], injection: _Injection | None
    ) -> Response | None:
        if injection is not None:
            if injection.kind == "rate_limit":
                return self._too_many("TEN_SECONDLY_ROLLING", "You have reached your ten_secondly_rolling limit.", 1)
            if injection.kind == "daily_limit":
                return self._too_many("DAILY", "You have reached your daily limit.", None)
            if injection.kind == "server_error":
                return _json(500, HubSpotError("INTERNAL_ERROR", "internal error", status=500).body())
            if injection.kind == "bad_gateway":
                return Response(502, b"<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html")
            if injection.kind == "gateway_timeout":
                return Response(504, b"<html><body><h1>504 Gateway Time-out</h1></body></html>", "text/html")
        if scope is None:
            return None
        header = handler.headers.get("Authorization") or ""
        scheme, _, token = header.partition(" ")
        token = token.strip()
        found = self.auth.lookup(token) if scheme.lower() == "bearer" else None
        if found is None:
            return _json(
                401,
                HubSpotError(
                    "INVALID_AUTHENTICATION",
                    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can "
                    "find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                    status=401,
                ).body(),
            )
        now = self.portal.clock()
        if (injection is not None and injection.kind == "expired_token") or (
            found.expires is not None and found.expires <= now
        ):
            ago = int((now - found.expires).total_seconds()) if found.expires is not None else 0
            return _json(
                401,
                HubSpotError(
                    "EXPIRED_AUTHENTICATION",
                    f"The OAuth token used to make this call expired {ago} second(s) ago.",
                    status=401,
                ).body(),
            )
        if scope:  # a full scope, or "[family.]verb" on the path's object type
            object_type = self._scope_type(groups.get("object_type", ""))
            family, _, verb = scope.rpartition(".")
            needed = scope if scope.startswith("crm.") else f"crm.{family or 'objects'}.{object_type}.{verb}"
            if needed not in found.scopes:
                return _json(
                    403,
                    HubSpotError(
                        "MISSING_SCOPES",
                        "This app hasn't been granted all required scopes to make this call. Read more about "
                        "required scopes here: https://developers.hubspot.com/scopes.",
                        status=403,
                        errors=[
                            {
                                "message": "One or more of the following scopes are required.",
                                "context": {"requiredGranularScopes": [needed]},
                            }
                        ],
                        extra={"links": {"scopes": "https://developers.hubspot.com/scopes"}},
                    ).body(),
                )
        return self._rate_limited(kind, token)

    def _scope_type(self, name: str) -> str:
        try:
            return self.portal.object_type(name)
        except HubSpotError:
            return name

    # -- serialization ----------------------------------------------------------------------------------

    def _wanted(self, object_type: str, names: list[str] | None) -> list[str]:
        """Requested properties (unknown names dropped, as HubSpot ignores them), or the type's defaults."""
        if not names:
            return list(DEFAULT_PROPERTIES[object_type])
        known = self.portal.properties[object_type]
        return [name for name in dict.fromkeys(names) if name in known]

    def _public(self, record: Record, names: list[str], associations: list[str] | None = None) -> dict[str, Any]:
        public: dict[str, Any] = {
            "id": str(record.id),
            "properties": {name: record.properties.get(name) for name in names},
            "createdAt": iso(record.created),
            "updatedAt": iso(record.updated),
            "archived": record.archived,
        }
        if record.archived_at is not None:
            public["archivedAt"] = iso(record.archived_at)
        for to_name in associations or []:
            to_type = self._scope_type(to_name)
            if to_type not in self.portal.records or (record.object_type, to_type) not in ASSOCIATION_TYPES:
                continue
            linked = self.portal.associations(record.object_type, record.id, to_type)
            if linked:
                label = f"{SINGULAR[record.object_type]}_to_{SINGULAR[to_type]}"
                public.setdefault("associations", {})[to_name] = {
                    "results": [{"id": str(to_id), "type": label} for to_id in linked]
                }
        return public

    @staticmethod
    def _listed(query: dict[str, list[str]], name: str) -> list[str]:
        """A list query parameter, repeated (`a=1&a=2`) or comma-separated (`a=1,2`)."""
        return [part for value in query.get(name, []) for part in value.split(",") if part]

    @staticmethod
    def _flag(query: dict[str, list[str]], name: str) -> bool:
        return (query.get(name) or ["false"])[-1].lower() == "true"

    def _batch_answer(
        self, results: list[dict[str, Any]], errors: list[HubSpotError], started: str, ok: int
    ) -> Response:
        payload: dict[str, Any] = {"status": "COMPLETE", "results": results}
        if errors:
            payload["numErrors"] = len(errors)
            payload["errors"] = [error.batch_entry() for error in errors]
        payload |= {"startedAt": started, "completedAt": iso(self.portal.clock())}
        return _json(207 if errors else ok, payload)

    # -- objects ----------------------------------------------------------------------------------------

    def _list(self, object_type: str, query: dict[str, list[str]], **_: Any) -> Response:
        kind = self.portal.object_type(object_type)
        limit = int((query.get("limit") or ["10"])[-1])
        if not 1 <= limit <= LIST_LIMIT:
            raise validation(f"limit must be between 1 and {LIST_LIMIT}", limit=[str(limit)])
        after = _list_cursor((query.get("after") or [""])[-1])
        archived = self._flag(query, "archived")
        pool = self.portal.page(kind, after, limit + 1, archived=archived)
        page = pool[:limit]
        names = self._wanted(kind, self._listed(query, "properties"))
        associations = self._listed(query, "associations")
        payload: dict[str, Any] = {"results": [self._public(record, names, associations) for record in page]}
        if len(pool) > limit:
            next_after = quote(base64.b64encode(f"{page[-1].id + 1}\n".encode()).decode(), safe="")
            link = f"{self.url}/crm/v3/objects/{object_type}?{urlencode({'limit': limit, 'after': next_after})}"
            payload["paging"] = {"next": {"after": next_after, "link": link}}
        return _json(200, payload)

    def _get(self, object_type: str, object_id: str, query: dict[str, list[str]], **_: Any) -> Response:
        kind = self.portal.object_type(object_type)
        id_property = (query.get("idProperty") or [""])[-1]
        archived = self._flag(query, "archived")
        if id_property:
            found = self.portal.find(kind, id_property, object_id)
            if found is None:
                raise HubSpotError("OBJECT_NOT_FOUND", "resource not found", status=404)
            record = found
        else:
            record = self.portal.get(kind, object_id, archived=archived)
        names = self._wanted(kind, self._listed(query, "properties"))
        return _json(200, self._public(record, names, self._listed(query, "associations")))

    def _create(self, object_type: str, body: bytes, **_: Any) -> Response:
        kind = self.portal.object_type(object_type)
        payload = _load(body)
        record = self.portal.create(kind, payload.get("properties") or {})
        self._associate_inputs(kind, record, payload.get("associations") or [])
        return _json(201, self._public(record, self._wanted(kind, list(payload.get("properties") or {}))))

    def _associate_inputs(self, kind: str, record: Record, associations: list[dict[str, Any]]) -> None:
        for association in associations:
            to_id = int(association["to"]["id"])
            type_ids = {int(item.get("associationTypeId", 0)) for item in association.get("types") or []}
            for to_type in ("companies", "contacts", "deals"):
                pair = ASSOCIATION_TYPES.get((kind, to_type))
                if pair and type_ids & set(pair) and to_id in self.portal.records[to_type]:
                    self.portal.associate(kind, record.id, to_type, to_id, primary=pair[0] in type_ids)

    def _update(self, object_type: str, object_id: str, body: bytes, query: dict[str, list[str]], **_: Any) -> Response:
        kind = self.portal.object_type(object_type)
        payload = _load(body)
        id_property = (query.get("idProperty") or [""])[-1]
        target = self.portal.find(kind, id_property, object_id) if id_property else self.portal.get(kind, object_id)
        if target is None:
            raise HubSpotError("OBJECT_NOT_FOUND", "resource not found", status=404)
        record = self.portal.update(kind, target.id, payload.get("properties") or {})
        return _json(200, self._public(record, self._wanted(kind, list(payload.get("properties") or {}))))

    def _archive(self, object_type: str, object_id: str, **_: Any) -> Response:
        self.portal.archive(self.portal.object_type(object_type), object_id)
        return Response(204)

    def _search(self, object_type: str, body: bytes, **_: Any) -> Response:
        kind = self.portal.object_type(object_type)
        request = _load(body)
        page = search(self.portal, kind, request)
        names = self._wanted(kind, list(request.get("properties") or []))
        payload: dict[str, Any] = {"total": page.total, "results": [self._public(r, names) for r in page.records]}
        if page.next_after is not None:
            payload["paging"] = {"next": {"after": str(page.next_after)}}
        return _json(200, payload)

    def _batch_read(self, object_type: str, body: bytes, query: dict[str, list[str]], **_: Any) -> Response:
        kind = self.portal.object_type(object_type)
        started = iso(self.portal.clock())
        payload = _load(body)
        inputs = _inputs(payload)
        id_property = payload.get("idProperty")
        archived = self._flag(query, "archived")
        names = self._wanted(kind, list(payload.get("properties") or []))
        results: list[dict[str, Any]] = []
        missing: list[str] = []
        for item in inputs:
            wanted = str(item.get("id", ""))
            try:
                if id_property:
                    found = self.portal.find(kind, id_property, wanted)
                    if found is None:
                        raise HubSpotError("OBJECT_NOT_FOUND", "not found", status=404)
                    record = found
                else:
                    record = self.portal.get(kind, wanted, archived=archived)
            except HubSpotError:
                missing.append(wanted)
                continue
            results.append(self._public(record, names))
        errors = []
        if missing:
            noun = SINGULAR[kind].upper()
            errors.append(
                HubSpotError(
                    "OBJECT_NOT_FOUND",
                    f"Could not get some {noun} objects, they may be deleted or not exist. Check that ids are valid.",
                    context={"ids": missing},
                )
            )
        return self._batch_answer(results, errors, started, 200)

    def _batch_create(self, object_type: str, body: bytes, **_: Any) -> Response:
        """All or nothing, as HubSpot's batch create: one invalid input fails the batch with its reason."""
        kind = self.portal.object_type(object_type)
        started = iso(self.portal.clock())
        inputs = _inputs(_load(body))
        with self.portal.lock:
            for index, item in enumerate(inputs):
                try:
                    self.portal.validated(kind, item.get("properties") or {})
                except HubSpotError as error:
                    error.message = f"{error.message} (input {index})"
                    raise
            emails = [str((item.get("properties") or {}).get("email", "")).lower() for item in inputs]
            repeated = {email for email in emails if email and emails.count(email) > 1}
            if repeated:
                raise HubSpotError("VALIDATION_ERROR", f"Duplicate emails in one batch: {sorted(repeated)}")
            records = []
            for item in inputs:
                record = self.portal.create(kind, item.get("properties") or {})
                self._associate_inputs(kind, record, item.get("associations") or [])
                records.append(record)
        names = self._wanted(kind, sorted({name for item in inputs for name in item.get("properties") or {}}))
        return self._batch_answer([self._public(r, names) for r in records], [], started, 201)

    def _batch_update(self, object_type: str, body: bytes, **_: Any) -> Response:
        """Each input on its own: the valid ones are applied, the others come back in `errors` (207)."""
        kind = self.portal.object_type(object_type)
        started = iso(self.portal.clock())
        inputs = _inputs(_load(body))
        results: list[dict[str, Any]] = []
        errors: list[HubSpotError] = []
        for item in inputs:
            wanted = str(item.get("id", ""))
            id_property = item.get("idProperty")
            try:
                target = self.portal.find(kind, id_property, wanted) if id_property else self.portal.get(kind, wanted)
                if target is None:
                    raise HubSpotError("OBJECT_NOT_FOUND", "not found", status=404)
                record = self.portal.update(kind, target.id, item.get("properties") or {})
            except HubSpotError as error:
                if error.category == "OBJECT_NOT_FOUND":
                    error = HubSpotError(
                        "OBJECT_NOT_FOUND",
                        f"Could not update some {SINGULAR[kind].upper()} objects, they may be deleted or not exist.",
                        context={"ids": [wanted]},
                    )
                else:
                    error.context = {**(error.context or {}), "ids": [wanted]}
                errors.append(error)
                continue
            results.append(self._public(record, self._wanted(kind, list(item.get("properties") or {}))))
        return self._batch_answer(results, errors, started, 200)

    def _batch_upsert(self, object_type: str, body: bytes, **_: Any) -> Response:
        """Create or update by a unique property (`idProperty`); each result says whether it is `new`."""
        kind = self.portal.object_type(object_type)
        started = iso(self.portal.clock())
        inputs = _inputs(_load(body))
        results: list[dict[str, Any]] = []
        errors: list[HubSpotError] = []
        for item in inputs:
            id_property = str(item.get("idProperty") or "")
            value = str(item.get("id", ""))
            definition = self.portal.properties[kind].get(id_property)
            if definition is None or not definition.has_unique_value:
                raise validation(
                    f"Upsert requires a unique identifier property; {id_property or 'no idProperty'} is not one.",
                    idProperty=[id_property],
                )
            properties = dict(item.get("properties") or {})
            try:
                existing = self.portal.find(kind, id_property, value)
                if existing is None:
                    record = self.portal.create(kind, {**properties, id_property: value})
                else:
                    record = self.portal.update(kind, existing.id, properties)
            except HubSpotError as error:
                error.context = {**(error.context or {}), "ids": [value]}
                errors.append(error)
                continue
            public = self._public(record, self._wanted(kind, [id_property, *properties]))
            results.append({**public, "new": existing is None})
        return self._batch_answer(results, errors, started, 200)

    def _batch_archive(self, object_type: str, body: bytes, **_: Any) -> Response:
        kind = self.portal.object_type(object_type)
        for item in _inputs(_load(body)):
            try:
                self.portal.archive(kind, str(item.get("id", "")))
            except HubSpotError:
                continue  # HubSpot answers 204 for ids already gone
        return Response(204)

    def _merge(self, object_type: str, body: bytes, **_: Any) -> Response:
        kind = self.portal.object_type(object_type)
        payload = _load(body)
        primary, other = payload.get("primaryObjectId"), payload.get("objectIdToMerge")
        if not primary or not other:
            raise validation("primaryObjectId and objectIdToMerge are both required")
        record = self.portal.merge(kind, str(primary), str(other))
        return _json(200, self._public(record, self._wanted(kind, None)))

    # -- associations -----------------------------------------------------------------------------------

    def _associations_read(self, object_type: str, to_type: str, body: bytes, **_: Any) -> Response:
        kind, target = self.portal.object_type(object_type), self.portal.object_type(to_type)
        started = iso(self.portal.clock())
        results: list[dict[str, Any]] = []
        errors: list[HubSpotError] = []
        labelled = ASSOCIATION_TYPES.get((kind, target), (0, 0))[0]
        for item in _inputs(_load(body)):
            from_id = str(item.get("id", ""))
            try:
                record = self.portal.get(kind, from_id)
            except HubSpotError:
                record = None
            linked = self.portal.associations(kind, record.id, target) if record else {}
            if not linked:
                errors.append(
                    HubSpotError(
                        "OBJECT_NOT_FOUND",
                        f"No {SINGULAR[target]} is associated with {SINGULAR[kind]} {from_id}.",
                        sub_category="crm.associations.NO_ASSOCIATIONS_FOUND",
                        context={
                            "fromObjectId": [from_id],
                            "fromObjectType": [SINGULAR[kind]],
                            "toObjectType": [SINGULAR[target]],
                        },
                    )
                )
                continue
            results.append(
                {
                    "from": {"id": from_id},
                    "to": [
                        {
                            "toObjectId": to_id,
                            "associationTypes": [
                                {
                                    "category": "HUBSPOT_DEFINED",
                                    "typeId": type_id,
                                    "label": "Primary" if type_id == labelled and type_id in {1, 5} else None,
                                }
                                for type_id in sorted(types)
                            ],
                        }
                        for to_id, types in linked.items()
                    ],
                }
            )
        return self._batch_answer(results, errors, started, 200)

    def _associations_default(self, object_type: str, to_type: str, body: bytes, **_: Any) -> Response:
        kind, target = self.portal.object_type(object_type), self.portal.object_type(to_type)
        started = iso(self.portal.clock())
        results = []
        for item in _inputs(_load(body)):
            from_record = self.portal.get(kind, str(item["from"]["id"]))
            to_record = self.portal.get(target, str(item["to"]["id"]))
            self.portal.associate(kind, from_record.id, target, to_record.id, primary=False)
            unlabelled = ASSOCIATION_TYPES[(kind, target)][1]
            results.append(
                {
                    "from": {"id": str(from_record.id)},
                    "to": {"id": str(to_record.id)},
                    "associationSpec": {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": unlabelled},
                }
            )
        return self._batch_answer(results, [], started, 200)

    # -- properties -------------------------------------------------------------------------------------

    def _props(self, object_type: str, **_: Any) -> Response:
        kind = self.portal.object_type(object_type)
        with self.portal.lock:
            described = [definition.describe() for definition in self.portal.properties[kind].values()]
        return _json(200, {"results": described})

    def _prop(self, object_type: str, name: str, **_: Any) -> Response:
        return _json(200, self.portal.property(self.portal.object_type(object_type), name).describe())

    def _prop_create(self, object_type: str, body: bytes, **_: Any) -> Response:
        kind = self.portal.object_type(object_type)
        payload = _load(body)
        kind_of = payload.get("type")
        name = payload.get("name")
        if kind_of not in {"string", "number", "date", "datetime", "enumeration", "bool", "phone_number"}:
            raise validation(f"Invalid property type: {kind_of!r}", type=[str(kind_of)])
        if not isinstance(name, str) or not name or not name.replace("_", "").isalnum() or name != name.lower():
            raise validation(f"Invalid property name: {name!r} (lowercase letters, digits and _)", name=[str(name)])
        options = tuple(str(option.get("value")) for option in payload.get("options") or [])
        definition = PropertyDef(
            name,
            str(payload.get("label") or name),
            kind_of,
            options,
            group=str(payload.get("groupName") or "contactinformation"),
            has_unique_value=bool(payload.get("hasUniqueValue")),
            field_type=payload.get("fieldType"),
            description=str(payload.get("description") or ""),
        )
        return _json(201, self.portal.add_property(kind, definition).describe())

    # -- account and OAuth ------------------------------------------------------------------------------

    def _owners(self, **_: Any) -> Response:
        """`GET /crm/v3/owners/`: the people `hubspot_owner_id` values name."""
        created = iso(datetime(2024, 2, 1, 9, 0, tzinfo=UTC))
        owners = [
            {
                "id": owner_id,
                "email": email,
                "type": "PERSON",
                "firstName": first,
                "lastName": last,
                "userId": int(owner_id) + 1_000_000,
                "userIdIncludingInactive": int(owner_id) + 1_000_000,
                "createdAt": created,
                "updatedAt": created,
                "archived": False,
            }
            for owner_id, (first, last, email) in zip(self.portal.owners, self.portal.owner_people, strict=True)
        ]
        return _json(200, {"results": owners})

    def _pipelines(self, object_type: str, **_: Any) -> Response:
        """`GET /crm/v3/pipelines/deals`: the default sales pipeline and its stages (closed ones flagged)."""
        if self.portal.object_type(object_type) != "deals":
            return _json(200, {"results": []})
        created = iso(datetime(2024, 2, 1, 9, 0, tzinfo=UTC))
        stages = self.portal.property("deals", "dealstage").options
        probability = {"closedwon": "1.0", "closedlost": "0.0"}
        return _json(
            200,
            {
                "results": [
                    {
                        "id": "default",
                        "label": "Sales Pipeline",
                        "displayOrder": 0,
                        "createdAt": created,
                        "updatedAt": created,
                        "archived": False,
                        "stages": [
                            {
                                "id": stage,
                                "label": stage.replace("_", " ").title(),
                                "displayOrder": index,
                                "metadata": {
                                    "isClosed": str(stage in probability).lower(),
                                    "probability": probability.get(stage, f"{0.2 * (index + 1):.1f}"),
                                },
                                "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
                                "createdAt": created,
                                "updatedAt": created,
                                "archived": False,
                            }
                            for index, stage in enumerate(stages)
                        ],
                    }
                ]
            },
        )

    def _private_app_info(self, body: bytes, **_: Any) -> Response:
        """`POST /oauth/v2/private-apps/get/access-token-info`: the scopes a private-app token carries."""
        token = str(_load(body).get("tokenKey") or "")
        found = self.auth.lookup(token)
        if found is None or found.kind != "private_app":
            raise HubSpotError("BAD_REQUEST", "Unknown or invalid private app token", status=400)
        return _json(
            200,
            {
                "userId": 52_550_153,
                "hubId": self.portal.portal_id,
                "appId": 2_718_281,
                "scopes": sorted(found.scopes),
            },
        )

    def _account(self, **_: Any) -> Response:
        return _json(
            200,
            {
                "portalId": self.portal.portal_id,
                "accountType": "STANDARD",
                "timeZone": "US/Eastern",
                "companyCurrency": "USD",
                "additionalCurrencies": [],
                "utcOffset": "-05:00",
                "utcOffsetMilliseconds": -18_000_000,
                "uiDomain": "app.hubspot.com",
                "dataHostingLocation": "na1",
            },
        )

    def _usage(self, **_: Any) -> Response:
        now = self.rate_clock().astimezone(UTC)
        resets = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)
        return _json(
            200,
            {
                "results": [
                    {
                        "name": "private-apps-api-calls-daily",
                        "usageLimit": self.limits.daily,
                        "currentUsage": self.daily_usage(),
                        "collectedAt": iso(now),
                        "fetchStatus": "SUCCESS",
                        "resetsAt": iso(resets),
                    }
                ]
            },
        )

    def _oauth_token(self, body: bytes, **_: Any) -> Response:
        form = {key: values[-1] for key, values in parse_qs(body.decode("utf-8", "replace")).items()}
        status, payload = self.auth.token(form)
        return _json(status, payload)

    def _oauth_authorize(self, query: dict[str, list[str]], **_: Any) -> Response:
        status, answer = self.auth.authorize({key: values[-1] for key, values in query.items()})
        if status == 302:
            return Response(302, headers={"Location": answer}, content_type="text/html;charset=utf-8")
        return Response(status, answer.encode(), "text/plain;charset=utf-8")

    def _access_info(self, token: str, **_: Any) -> Response:
        info = self.auth.access_token_info(token)
        if info is None:
            return _json(404, {"status": "error", "message": "Token not found", "correlationId": str(uuid.uuid4())})
        return _json(200, info)

    def _refresh_info(self, token: str, **_: Any) -> Response:
        info = self.auth.refresh_token_info(token)
        if info is None:
            return _json(404, {"status": "error", "message": "Token not found", "correlationId": str(uuid.uuid4())})
        return _json(200, info)

    def _revoke(self, token: str, **_: Any) -> Response:
        self.auth.revoke(token)
        return Response(204)


__all__ = ["ALL_SCOPES", "NO_LIMITS", "TIERS", "FailureKind", "HubSpotEmulator", "RateLimits"]

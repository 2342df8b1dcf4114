"""An Outreach org over HTTPS: prospects, sequences, mailboxes and sequence states, as API v2 (JSON:API) serves them.

Checked as Outreach documents it: a bearer access token on every request (401 otherwise: an unknown one, one two
hours old, once `revoke`d or an `expired_token` failure is injected), the JSON:API media type as every request's
Content-Type (415 with Outreach's `unsupportedMediaType` error otherwise), `data.type` and the relationships a
sequence state needs. A prospect can be in a sequence once: a second `POST /api/v2/sequenceStates` answers 422 "has
already been in this sequence". Every answer carries `X-RateLimit-Limit/Remaining/Reset`; an injected 429 says when
the hour resets and sends no `Retry-After`.

OAuth as Outreach runs it (`OAuthEmulator`): `fail_next(..., on="token")` makes the token endpoint fail.
Tests read `prospects`, `sequence_states` and the current `refresh_token` directly.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from roster_dev.emulators.https import Response
from roster_dev.emulators.sequencing import OAuthEmulator, PlatformError, Request, reply

JSON_API = "application/vnd.api+json"
HOURLY_LIMIT = 10_000
ACTIVE = {"active", "paused", "pending"}


def _error(status: int, id_: str, title: str, detail: str, **extra: Any) -> PlatformError:
    return PlatformError(status, {"errors": [{"id": id_, "title": title, "detail": detail, **extra}]})


def _identifier(relationships: Any, name: str) -> int:
    """The id of a to-one relationship (`{"data": {"type": name, "id": 1}}`), or 422."""
    data = relationships.get(name, {}).get("data") if isinstance(relationships, dict) else None
    if not isinstance(data, dict) or data.get("type") != name or not isinstance(data.get("id"), int):
        raise _error(
            422,
            "validationError",
            "Validation Error",
            f"{name} relationship must be {{'data': {{'type': '{name}', 'id': <integer>}}}}",
            source={"pointer": f"/data/relationships/{name}"},
        )
    return int(data["id"])


class OutreachEmulator(OAuthEmulator):
    """`with OutreachEmulator() as outreach:` — `outreach.secret()` (or the current access token, `outreach.token`),
    `.sequence_id` and `.mailbox_id` are ready to use."""

    kind = "outreach"
    organization = "Roster Outreach emulator"
    thread_name = "outreach-emulator"
    content_type = JSON_API

    oauth_scope = "prospects.all sequences.all sequenceStates.all mailboxes.read users.read"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, clock: Callable[[], float] = time.time) -> None:
        self.prospects: dict[int, dict[str, Any]] = {}
        self.sequences: dict[int, dict[str, Any]] = {}
        self.mailboxes: dict[int, dict[str, Any]] = {}
        self.sequence_states: dict[int, dict[str, Any]] = {}
        self.used = 0
        super().__init__(host, port, clock)
        self.sequence_id = self.add_sequence("Roster nurture")
        self.mailbox_id = self.add_mailbox("sender@example.com")

    def add_sequence(self, name: str) -> int:
        with self.lock:
            sequence_id = self.ids.take("sequence", 100)
            self.sequences[sequence_id] = {"name": name}
            return sequence_id

    def add_mailbox(self, email: str) -> int:
        with self.lock:
            mailbox_id = self.ids.take("mailbox", 10)
            self.mailboxes[mailbox_id] = {"email": email}
            return mailbox_id

    def enrolled(self, sequence_id: int | None = None) -> list[dict[str, Any]]:
        """Sequence states (of one sequence, if given), each with its prospect's e-mail addresses."""
        with self.lock:
            return [
                {**state, "id": state_id, "emails": self.prospects[state["prospect"]]["emails"]}
                for state_id, state in self.sequence_states.items()
                if sequence_id is None or state["sequence"] == sequence_id
            ]

    def options(self) -> dict[str, Any]:
        return {"sequence_id": self.sequence_id, "mailbox_id": self.mailbox_id}

    # -- protocol --------------------------------------------------------------------------------------------

    def routes(self) -> list[tuple[str, str, str, Callable[..., Response]]]:
        return [
            self.token_route(),
            ("GET", "users", r"/api/v2/users", self._list_users),
            ("GET", "find", r"/api/v2/prospects", self._list_prospects),
            ("POST", "create", r"/api/v2/prospects", self._create_prospect),
            ("GET", "states", r"/api/v2/sequenceStates", self._list_states),
            ("POST", "enrol", r"/api/v2/sequenceStates", self._create_state),
            ("POST", "finish", r"/api/v2/sequenceStates/(?P<state_id>\d+)/actions/finish", self._finish),
        ]

    def unauthorized(self, reason: str) -> Response:
        return reply(401, {"errors": [{"id": "unauthorized", "title": "Unauthorized", "detail": reason}]}, JSON_API)

    def too_many(self) -> Response:
        response = reply(
            429,
            {"errors": [{"id": "rateLimitExceeded", "title": "Rate Limit Exceeded", "detail": "Too many requests."}]},
            JSON_API,
        )
        response.headers = {**self.limit_headers(), "X-RateLimit-Remaining": "0"}
        return response

    def server_error(self) -> Response:
        return reply(500, {"errors": [{"id": "internalServerError", "title": "Internal Server Error"}]}, JSON_API)

    def limit_headers(self) -> dict[str, str]:
        now = self.now()
        with self.lock:
            self.used += 1
            remaining = max(0, HOURLY_LIMIT - self.used)
        return {
            "X-RateLimit-Limit": str(HOURLY_LIMIT),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": str(int(now // 3600 + 1) * 3600),
        }

    def check(self, request: Request, route: str) -> Response | None:
        """Outreach: "All requests must specify the JSON API media type within the Content-Type request header"
        (its OAuth token endpoint takes a form)."""
        if route == "token" or request.headers.get("content-type", "").split(";")[0].strip() == JSON_API:
            return None
        detail = f"Expected Content-Type header to be '{JSON_API}'."
        body = {"errors": [{"id": "unsupportedMediaType", "title": "Unsupported Media Type", "details": detail}]}
        return reply(415, body, JSON_API)

    def _resource(
        self, type_: str, id_: int, attributes: dict[str, Any], relationships: dict[str, Any]
    ) -> dict[str, Any]:
        return {
            "type": type_,
            "id": id_,
            "attributes": attributes,
            "relationships": relationships,
            "links": {"self": f"{self.url}/api/v2/{type_}s/{id_}"},
        }

    def _prospect(self, prospect_id: int) -> dict[str, Any]:
        return self._resource("prospect", prospect_id, self.prospects[prospect_id], {})

    def _state(self, state_id: int) -> dict[str, Any]:
        state = self.sequence_states[state_id]
        relationships = {
            name: {"data": {"type": name, "id": state[name]}} for name in ("prospect", "sequence", "mailbox")
        }
        return self._resource("sequenceState", state_id, {"state": state["state"]}, relationships)

    def _list_users(self, request: Request) -> Response:
        user = self._resource("user", 1, {"email": "owner@example.com", "name": "Org Owner"}, {})
        return reply(200, {"data": [user], "meta": {"count": 1}}, JSON_API)

    def _list_prospects(self, request: Request) -> Response:
        wanted = {email.strip().lower() for email in (request.one("filter[emails]") or "").split(",") if email.strip()}
        found = [
            self._prospect(prospect_id)
            for prospect_id, prospect in sorted(self.prospects.items())
            if not wanted or wanted & {email.lower() for email in prospect["emails"]}
        ]
        return reply(200, {"data": found[:50], "meta": {"count": len(found)}}, JSON_API)

    def _create_prospect(self, request: Request) -> Response:
        body = request.json()
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict) or data.get("type") != "prospect":
            raise _error(422, "validationError", "Validation Error", "data.type must be 'prospect'")
        attributes = data.get("attributes")
        if not isinstance(attributes, dict):
            raise _error(422, "validationError", "Validation Error", "data.attributes must be an object")
        emails = attributes.get("emails", [])
        if not isinstance(emails, list) or not all(isinstance(email, str) and "@" in email for email in emails):
            raise _error(422, "validationError", "Validation Error", "emails must be a list of e-mail addresses")
        taken = {email.lower() for prospect in self.prospects.values() for email in prospect["emails"]}
        duplicate = [email for email in emails if email.lower() in taken]
        if duplicate:
            raise _error(422, "validationError", "Validation Error", f"Contacts email {duplicate[0]} is already taken")
        prospect_id = self.ids.take("prospect")
        self.prospects[prospect_id] = {**attributes, "emails": emails}
        return reply(201, {"data": self._prospect(prospect_id)}, JSON_API)

    def _list_states(self, request: Request) -> Response:
        prospect = request.one("filter[prospect][id]")
        sequence = request.one("filter[sequence][id]")
        found = [
            self._state(state_id)
            for state_id, state in sorted(self.sequence_states.items())
            if (prospect is None or str(state["prospect"]) == prospect)
            and (sequence is None or str(state["sequence"]) == sequence)
        ]
        return reply(200, {"data": found[:50], "meta": {"count": len(found)}}, JSON_API)

    def _create_state(self, request: Request) -> Response:
        body = request.json()
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict) or data.get("type") != "sequenceState":
            raise _error(422, "validationError", "Validation Error", "data.type must be 'sequenceState'")
        relationships = data.get("relationships")
        prospect, sequence, mailbox = (_identifier(relationships, name) for name in ("prospect", "sequence", "mailbox"))
        for name, id_, known in (
            ("prospect", prospect, self.prospects),
            ("sequence", sequence, self.sequences),
            ("mailbox", mailbox, self.mailboxes),
        ):
            if id_ not in known:
                raise _error(422, "validationError", "Validation Error", f"{name} {id_} does not exist")
        if any(s["prospect"] == prospect and s["sequence"] == sequence for s in self.sequence_states.values()):
            raise _error(
                422,
                "validationError",
                "Validation Error",
                "Prospect has already been in this sequence",
                code="has already been in this sequence",
                source={"pointer": "/data/relationships/sequence"},
            )
        state_id = self.ids.take("sequenceState")
        self.sequence_states[state_id] = {
            "prospect": prospect,
            "sequence": sequence,
            "mailbox": mailbox,
            "state": "active",
        }
        return reply(201, {"data": self._state(state_id)}, JSON_API)

    def _finish(self, request: Request, state_id: str) -> Response:
        state = self.sequence_states.get(int(state_id))
        if state is None:
            raise _error(
                404, "resourceNotFound", "Resource Not Found", f"Could not find 'sequenceState' with ID '{state_id}'."
            )
        if state["state"] not in ACTIVE:
            raise _error(
                422, "validationError", "Validation Error", f"Cannot finish a sequence state that is {state['state']}"
            )
        state["state"] = "finished"
        return reply(200, {"data": self._state(int(state_id))}, JSON_API)

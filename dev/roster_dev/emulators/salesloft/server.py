"""A Salesloft team over HTTPS: people, cadences, users and cadence memberships, as API v2 serves them.

Checked as Salesloft documents it: a bearer token on every request (401 otherwise), `person_id` and `cadence_id`
as query parameters of `POST /v2/cadence_memberships` (both required, both must exist), a person created with an
`email_address` unique on the team. A person already on a cadence is refused with 422, as Salesloft refuses a
second membership. `DELETE /v2/cadence_memberships/{id}` takes the person off the cadence (204). Paths are served
with and without the `.json` suffix. Every answer carries `x-ratelimit-endpoint-cost` and
`x-ratelimit-remaining-minute`; an injected 429 carries `Retry-After`. Tests read `people` and `memberships`.

A request is authenticated by the team's API key (`api_key`, which does not expire) or by an OAuth access token
(`OAuthEmulator`: two hours, handed out with a rotated refresh token by `POST /oauth/token`, which Salesloft serves
on `accounts.salesloft.com`; `fail_next(..., on="token")` makes it fail). `SalesloftEmulator(oauth=True)` describes
itself to Roster with the OAuth secret, otherwise with the API key. `revoke()` ends both.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any

from roster_dev.emulators.https import Response
from roster_dev.emulators.sequencing import OAuthEmulator, PlatformError, Request, reply

MINUTE_LIMIT = 600
RETRY_AFTER = 30  # seconds an injected 429 asks to wait
PERSON_FIELDS = frozenset(
    """email_address first_name last_name title person_company_name linkedin_url phone city state country
    secondary_email_address personal_email_address owner_id account_id""".split()
)


def _invalid(field: str, message: str) -> PlatformError:
    return PlatformError(422, {"status": 422, "errors": {field: [message]}})


def _integer(request: Request, name: str) -> int:
    value = request.one(name)
    if value is None or not value.isdigit():
        raise _invalid(name, "is required and must be an integer (query parameter)")
    return int(value)


class SalesloftEmulator(OAuthEmulator):
    """`with SalesloftEmulator() as salesloft:` — `salesloft.secret()` (the API key, or with `oauth=True` the OAuth
    client and refresh token) and `salesloft.cadence_id` are ready to use."""

    kind = "salesloft"
    organization = "Roster Salesloft emulator"
    thread_name = "salesloft-emulator"
    oauth_scope = "people:all cadences:all cadence_memberships:all users:read"

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, clock: Callable[[], float] = time.time, *, oauth: bool = False
    ) -> None:
        self.oauth = oauth
        self.api_key = secrets.token_urlsafe(24)
        self.people: dict[int, dict[str, Any]] = {}
        self.cadences: dict[int, dict[str, Any]] = {}
        self.users: dict[int, dict[str, Any]] = {}
        self.memberships: dict[int, dict[str, Any]] = {}
        super().__init__(host, port, clock)
        self.user_id = self.add_user("owner@example.com")
        self.cadence_id = self.add_cadence("Roster nurture")

    def add_user(self, email: str) -> int:
        with self.lock:
            user_id = self.ids.take("user", 10)
            self.users[user_id] = {"email": email}
            return user_id

    def add_cadence(self, name: str) -> int:
        with self.lock:
            cadence_id = self.ids.take("cadence", 100)
            self.cadences[cadence_id] = {"name": name}
            return cadence_id

    def on_cadence(self, cadence_id: int | None = None) -> list[dict[str, Any]]:
        """Current memberships (of one cadence, if given), each with its person's e-mail address."""
        with self.lock:
            return [
                {**membership, "id": membership_id, "email": self.people[membership["person_id"]]["email_address"]}
                for membership_id, membership in self.memberships.items()
                if membership["currently_on_cadence"] and (cadence_id is None or membership["cadence_id"] == cadence_id)
            ]

    def options(self) -> dict[str, Any]:
        return {"cadence_id": self.cadence_id}

    def settings(self) -> dict[str, Any]:
        return {**super().settings(), "token_url": f"{self.url}/oauth/token"}

    def secret(self) -> str:
        return self.oauth_secret() if self.oauth else self.api_key

    def accepts(self, credential: str | None) -> bool:
        return credential == self.api_key or super().accepts(credential)

    def revoke(self) -> None:
        """The key is deleted and the user takes the app's access away."""
        with self.lock:
            super().revoke()
            self._revoked.add(self.api_key)

    # -- protocol --------------------------------------------------------------------------------------------

    def routes(self) -> list[tuple[str, str, str, Callable[..., Response]]]:
        json = r"(?:\.json)?"
        return [
            self.token_route(),
            ("GET", "me", rf"/v2/me{json}", self._me),
            ("GET", "find", rf"/v2/people{json}", self._list_people),
            ("POST", "create", rf"/v2/people{json}", self._create_person),
            ("GET", "memberships", rf"/v2/cadence_memberships{json}", self._list_memberships),
            ("POST", "enrol", rf"/v2/cadence_memberships{json}", self._create_membership),
            ("DELETE", "remove", rf"/v2/cadence_memberships/(?P<membership_id>\d+){json}", self._delete_membership),
        ]

    def unauthorized(self, reason: str) -> Response:
        return reply(401, {"error": "Not authorized", "error_description": reason})

    def too_many(self) -> Response:
        response = reply(429, {"error": "Too many requests: the team's rate limit is used up"})
        response.headers = {**self.limit_headers(remaining=0), "Retry-After": str(RETRY_AFTER)}
        return response

    def limit_headers(self, remaining: int = MINUTE_LIMIT - 1) -> dict[str, str]:
        return {"x-ratelimit-endpoint-cost": "1", "x-ratelimit-remaining-minute": str(remaining)}

    def _person(self, person_id: int) -> dict[str, Any]:
        return {"id": person_id, **self.people[person_id]}

    def _membership(self, membership_id: int) -> dict[str, Any]:
        membership = self.memberships[membership_id]
        return {
            "id": membership_id,
            "currently_on_cadence": membership["currently_on_cadence"],
            "person": {"id": membership["person_id"], "_href": f"{self.url}/v2/people/{membership['person_id']}"},
            "cadence": {"id": membership["cadence_id"], "_href": f"{self.url}/v2/cadences/{membership['cadence_id']}"},
            "user": {"id": membership["user_id"], "_href": f"{self.url}/v2/users/{membership['user_id']}"},
        }

    @staticmethod
    def _page(records: list[dict[str, Any]]) -> Response:
        paging = {"per_page": 25, "current_page": 1, "next_page": None, "prev_page": None}
        return reply(200, {"metadata": {"filtering": {}, "paging": paging, "sorting": {}}, "data": records[:25]})

    def _me(self, request: Request) -> Response:
        return reply(200, {"data": {"id": self.user_id, **self.users[self.user_id]}})

    def _list_people(self, request: Request) -> Response:
        wanted = {email.strip().lower() for email in request.query.get("email_addresses[]", [])}
        found = [
            self._person(person_id)
            for person_id, person in sorted(self.people.items())
            if not wanted or person["email_address"].lower() in wanted
        ]
        return self._page(found)

    def _create_person(self, request: Request) -> Response:
        body = request.json()
        if not isinstance(body, dict):
            raise _invalid("base", "the body must be a JSON object")
        unknown = sorted(set(body) - PERSON_FIELDS)
        if unknown:
            raise _invalid(unknown[0], "is not a person field")
        email = body.get("email_address")
        if not isinstance(email, str) or "@" not in email:
            if not (body.get("phone") and body.get("last_name")):
                raise _invalid("email_address", "is required (or phone and last_name)")
        elif any(person["email_address"].lower() == email.lower() for person in self.people.values()):
            raise _invalid("email_address", "has already been taken")
        person_id = self.ids.take("person")
        self.people[person_id] = {name: body.get(name) for name in sorted(PERSON_FIELDS)}
        return reply(200, {"data": self._person(person_id)})

    def _list_memberships(self, request: Request) -> Response:
        person, cadence = request.one("person_id"), request.one("cadence_id")
        current = request.one("currently_on_cadence")
        found = [
            self._membership(membership_id)
            for membership_id, membership in sorted(self.memberships.items())
            if (person is None or str(membership["person_id"]) == person)
            and (cadence is None or str(membership["cadence_id"]) == cadence)
            and (current is None or membership["currently_on_cadence"] == (current == "true"))
        ]
        return self._page(found)

    def _create_membership(self, request: Request) -> Response:
        person_id, cadence_id = _integer(request, "person_id"), _integer(request, "cadence_id")
        user_id = int(request.one("user_id") or self.user_id)
        if person_id not in self.people:
            raise PlatformError(404, {"error": "A person was not found with the given id"})
        if cadence_id not in self.cadences or user_id not in self.users:
            raise PlatformError(404, {"error": "The cadence or user was not found"})
        if any(
            m["person_id"] == person_id and m["cadence_id"] == cadence_id and m["currently_on_cadence"]
            for m in self.memberships.values()
        ):
            raise _invalid("person_id", "is already on this cadence")
        membership_id = self.ids.take("membership")
        self.memberships[membership_id] = {
            "person_id": person_id,
            "cadence_id": cadence_id,
            "user_id": user_id,
            "currently_on_cadence": True,
        }
        return reply(200, {"data": self._membership(membership_id)})

    def _delete_membership(self, request: Request, membership_id: str) -> Response:
        membership = self.memberships.get(int(membership_id))
        if membership is None or not membership["currently_on_cadence"]:
            raise PlatformError(404, {"error": "Cadence membership not found"})
        membership["currently_on_cadence"] = False
        return Response(204)

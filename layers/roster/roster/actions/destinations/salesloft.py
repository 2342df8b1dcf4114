"""Salesloft: add a person to a Salesloft cadence (API v2, an API key or an OAuth access token as bearer).

The secret is either an API key (a plain string, which does not expire) or, to connect by OAuth, a JSON object of
the OAuth app's `client_id` and `client_secret` and a user's `refresh_token`. Salesloft's access tokens last two
hours: Roster asks the token endpoint (`POST https://accounts.salesloft.com/oauth/token`,
`grant_type=refresh_token`) for one when the kept one has expired or is refused with a 401, and keeps the access
token and the rotated refresh token Salesloft answers in the secret (`oauth`).

Find the person by `GET /v2/people?email_addresses[]=`, else create them (`POST /v2/people`), then add them to the
cadence with `POST /v2/cadence_memberships?person_id=&cadence_id=` (and `user_id=` when the action names the user
the membership belongs to). A person already on the cadence is refused with 422; Roster then looks the membership
up (`GET /v2/cadence_memberships?person_id=&cadence_id=&currently_on_cadence=true`) and, finding it, counts the
entry as delivered. With `on_exit: remove` an exit deletes the membership (`DELETE /v2/cadence_memberships/{id}`).
Salesloft's rate limit is 600 cost a minute per team; its 429 carries `Retry-After`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import requests
from pydantic import Field, HttpUrl, field_validator

from roster.actions.destinations import sequencer
from roster.actions.destinations.base import KeptSecret, Outcome, OutcomeStatus
from roster.actions.destinations.oauth import AccessTokens, OAuthCredentials, credentials_of
from roster.actions.destinations.sequencer import (
    Connection,
    Person,
    Refused,
    SequencerAdapter,
    SequencerOptions,
    SequencerSettings,
    Step,
    access_token,
    excerpt,
)
from roster.connectors.core.trust import local_stack

TOKEN_URL = "https://accounts.salesloft.com/oauth/token"  # noqa: S105 (an address, not a password)


class SalesloftSettings(SequencerSettings):
    """A Salesloft destination; the secret is an API key, or an OAuth app's client and a user's refresh token, with
    cadence and people scopes."""

    token_url: HttpUrl = Field(
        default=HttpUrl(TOKEN_URL), description="Salesloft's OAuth token endpoint (another: local stack only)"
    )

    @field_validator("token_url")
    @classmethod
    def _local_token_url(cls, value: HttpUrl) -> HttpUrl:
        if str(value) != TOKEN_URL and not local_stack():
            raise ValueError("token_url can be changed only on a local stack (to reach an emulator)")
        return value


class SalesloftOptions(SequencerOptions):
    cadence_id: int = Field(gt=0, description="The Salesloft cadence to add people to")
    user_id: int | None = Field(
        default=None, gt=0, description="The user the memberships belong to (default: the key's own user)"
    )


class SalesloftConnection(Connection):
    platform = "Salesloft"
    default_url = "https://api.salesloft.com"
    probe_path = "/v2/me"

    def __init__(self, session: requests.Session, settings: SalesloftSettings, secret: str, kept: KeptSecret) -> None:
        super().__init__(session, settings)
        credentials = oauth_credentials(secret)
        self._key = secret
        self.tokens = (
            None
            if credentials is None
            else AccessTokens(self.platform, str(settings.token_url), credentials, session, kept)
        )

    def headers(self) -> dict[str, str]:
        token = self._key if self.tokens is None else access_token(self.tokens)
        return {"Authorization": f"Bearer {token}", "Accept": "application/json"}

    def renewed(self) -> bool:
        return self.tokens is not None and self.tokens.expired()


class SalesloftAdapter(SequencerAdapter):
    options: SalesloftOptions

    def find(self, person: Person) -> str | None:
        people = self.call("GET", "/v2/people", params={"email_addresses[]": person.email}).json().get("data") or []
        return str(people[0]["id"]) if people else None

    def create(self, person: Person) -> str:
        fields: dict[str, Any] = {
            "email_address": person.email,
            "first_name": person.first_name,
            "last_name": person.last_name,
            "title": person.job_title,
            "person_company_name": person.company_name,
            "linkedin_url": person.linkedin_url,
            "phone": person.phone,
        }
        body = {name: value for name, value in fields.items() if value is not None}
        return str(self.call("POST", "/v2/people", json=body).json()["data"]["id"])

    def enrol(self, steps: Sequence[Step]) -> dict[str, Outcome]:
        return self.each(steps, self._add_one)

    def remove(self, steps: Sequence[Step]) -> dict[str, Outcome]:
        return self.each(steps, self._delete_one)

    def _memberships(self, step: Step) -> list[dict[str, Any]]:
        """The person's current memberships of the action's cadence."""
        params = {"person_id": step.person_id, "cadence_id": self.options.cadence_id, "currently_on_cadence": "true"}
        found: list[dict[str, Any]] = self.call("GET", "/v2/cadence_memberships", params=params).json().get("data")
        return found or []

    def _add_one(self, step: Step) -> Outcome:
        params: dict[str, Any] = {"person_id": step.person_id, "cadence_id": self.options.cadence_id}
        if self.options.user_id is not None:
            params["user_id"] = self.options.user_id
        response = self.call("POST", "/v2/cadence_memberships", params=params, accept=(422,))
        if response.status_code == 422:
            if not self._memberships(step):
                raise Refused(OutcomeStatus.FAILED, excerpt(response))
            return self.delivered(step.delivery, f"already on cadence {self.options.cadence_id}: {excerpt(response)}")
        membership = response.json()["data"]["id"]
        return self.delivered(step.delivery, f"{response.status_code} added: cadence membership {membership}")

    def _delete_one(self, step: Step) -> Outcome:
        memberships = self._memberships(step)
        if not memberships:
            return self.delivered(step.delivery, f"not on cadence {self.options.cadence_id}: nothing to remove")
        for membership in memberships:
            self.call("DELETE", f"/v2/cadence_memberships/{membership['id']}")
        removed = ", ".join(str(membership["id"]) for membership in memberships)
        return self.delivered(step.delivery, f"removed cadence membership {removed}")


def oauth_credentials(secret: str) -> OAuthCredentials | None:
    """The OAuth client and refresh token when the secret is a JSON object (a ValueError naming what is missing or
    wrong in it), None when it is an API key."""
    try:
        data = json.loads(secret)
    except ValueError:
        return None
    return credentials_of(secret, OAuthCredentials, "Salesloft OAuth") if isinstance(data, dict) else None


def check_secret(secret: str) -> None:
    """At save time: an API key as Salesloft issued it, or a complete OAuth JSON object."""
    if oauth_credentials(secret) is None:
        sequencer.check_secret(secret)


def build(
    settings: SalesloftSettings, options: SalesloftOptions, secret: str, session: requests.Session, kept: KeptSecret
) -> SalesloftAdapter:
    """The adapter for one action; `kept` is where an OAuth secret is saved with each new access token and rotated
    refresh token (an API key is never changed)."""
    return SalesloftAdapter(SalesloftConnection(session, settings, secret, kept), options)


def probe(settings: SalesloftSettings, secret: str, session: requests.Session, kept: KeptSecret) -> Outcome:
    """Whether Salesloft takes the key or OAuth credentials (`GET /v2/me`, after a refresh when due), sending no
    record."""
    return SalesloftConnection(session, settings, secret, kept).probe()

"""Outreach: enrol a person in an Outreach sequence (API v2, JSON:API, an OAuth access token as bearer).

The secret is the Outreach app's OAuth client and a user's refresh token (`client_id`, `client_secret`,
`refresh_token`, optionally the app's `redirect_uri`, which Outreach's refresh example sends too). Access tokens last
two hours; Roster asks `POST /oauth/token` (`grant_type=refresh_token`) for one when the kept one has expired or is
refused with a 401. Outreach rotates refresh tokens (each refresh answers a new one and the old one stops working)
and hands out one access token a minute per user: both are kept in the secret as soon as they arrive (`oauth`).

Find the prospect by `GET /api/v2/prospects?filter[emails]=`, else create one (`POST /api/v2/prospects`), then
enrol with `POST /api/v2/sequenceStates` relating prospect, sequence and mailbox (the sender). Outreach answers 422
"has already been in this sequence" to a second enrolment: that counts as delivered. With `on_exit: remove` an exit
finishes the person's active sequence state (`POST /api/v2/sequenceStates/{id}/actions/finish`). Every request
carries the JSON:API media type, which Outreach requires (415 otherwise). Outreach allows 10,000 requests an hour
per user; its 429 says when the window resets (`X-RateLimit-Reset`, epoch seconds) when it sends no `Retry-After`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import requests
from pydantic import Field

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

JSON_API = "application/vnd.api+json"
#: Sequence states a prospect is still being sequenced in (finishing any other is refused by Outreach).
ACTIVE_STATES = frozenset({"active", "paused", "pending"})


class OutreachSettings(SequencerSettings):
    """An Outreach destination; the secret is an OAuth client and the refresh token of a user allowed to sequence
    prospects (`OutreachCredentials`)."""


class OutreachCredentials(OAuthCredentials):
    """The secret: the app's client id and secret, the user's refresh token, and the app's redirect URI if given."""

    redirect_uri: str | None = Field(default=None, min_length=1)

    def token_form(self) -> dict[str, str]:
        form = super().token_form()
        if self.redirect_uri:
            form["redirect_uri"] = self.redirect_uri
        return form


class OutreachOptions(SequencerOptions):
    sequence_id: int = Field(gt=0, description="The Outreach sequence to enrol people in")
    mailbox_id: int = Field(gt=0, description="The mailbox the sequence's e-mails are sent from")


class OutreachConnection(Connection):
    platform = "Outreach"
    default_url = "https://api.outreach.io"
    probe_path = "/api/v2/users?page[size]=1"

    def __init__(
        self,
        session: requests.Session,
        settings: OutreachSettings,
        credentials: OutreachCredentials,
        kept: KeptSecret,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(session, settings)
        self.tokens = AccessTokens(self.platform, f"{self.base_url}/oauth/token", credentials, session, kept, clock)
        self._clock = clock

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {access_token(self.tokens)}", "Content-Type": JSON_API, "Accept": JSON_API}

    def renewed(self) -> bool:
        return self.tokens.expired()

    def wait_asked(self, response: requests.Response) -> float | None:
        asked = super().wait_asked(response)
        reset = response.headers.get("X-RateLimit-Reset", "")
        if asked is None and reset.strip().isdigit():
            return max(0.0, float(reset) - self._clock())
        return asked


class OutreachAdapter(SequencerAdapter):
    options: OutreachOptions

    def find(self, person: Person) -> str | None:
        found = self.call("GET", "/api/v2/prospects", params={"filter[emails]": person.email}).json()
        prospects = found.get("data") or []
        return str(prospects[0]["id"]) if prospects else None

    def create(self, person: Person) -> str:
        attributes: dict[str, Any] = {
            "emails": [person.email],
            "firstName": person.first_name,
            "lastName": person.last_name,
            "title": person.job_title,
            "company": person.company_name,
            "linkedInUrl": person.linkedin_url,
            "workPhones": [person.phone] if person.phone else None,
        }
        body = {"data": {"type": "prospect", "attributes": {k: v for k, v in attributes.items() if v is not None}}}
        return str(self.call("POST", "/api/v2/prospects", json=body).json()["data"]["id"])

    def enrol(self, steps: Sequence[Step]) -> dict[str, Outcome]:
        return self.each(steps, self._enrol_one)

    def remove(self, steps: Sequence[Step]) -> dict[str, Outcome]:
        return self.each(steps, self._finish_one)

    def _enrol_one(self, step: Step) -> Outcome:
        body = {
            "data": {
                "type": "sequenceState",
                "relationships": {
                    "prospect": {"data": {"type": "prospect", "id": int(str(step.person_id))}},
                    "sequence": {"data": {"type": "sequence", "id": self.options.sequence_id}},
                    "mailbox": {"data": {"type": "mailbox", "id": self.options.mailbox_id}},
                },
            }
        }
        response = self.call("POST", "/api/v2/sequenceStates", json=body, accept=(422,))
        if response.status_code == 422:
            if not _already_in_sequence(response):
                raise Refused(OutcomeStatus.FAILED, excerpt(response))
            return self.delivered(step.delivery, f"already in sequence {self.options.sequence_id}: {excerpt(response)}")
        state = response.json()["data"]["id"]
        return self.delivered(step.delivery, f"{response.status_code} enrolled: sequenceState {state}")

    def _finish_one(self, step: Step) -> Outcome:
        params = {"filter[prospect][id]": step.person_id, "filter[sequence][id]": self.options.sequence_id}
        states = self.call("GET", "/api/v2/sequenceStates", params=params).json().get("data") or []
        active = [state for state in states if state.get("attributes", {}).get("state") in ACTIVE_STATES]
        if not active:
            answer = f"not active in sequence {self.options.sequence_id}: nothing to finish"
            return self.delivered(step.delivery, answer)
        for state in active:
            self.call("POST", f"/api/v2/sequenceStates/{state['id']}/actions/finish")
        finished = ", ".join(str(state["id"]) for state in active)
        return self.delivered(step.delivery, f"finished sequenceState {finished}")


def _already_in_sequence(response: requests.Response) -> bool:
    """Outreach's 422 for a prospect the sequence has had already (`has already been in this sequence`)."""
    try:
        errors = response.json().get("errors") or []
    except ValueError:
        return False
    return any("already" in str(error.get(key, "")).lower() for error in errors for key in ("code", "detail", "title"))


def outreach_credentials(secret: str) -> OutreachCredentials:
    return credentials_of(secret, OutreachCredentials, "Outreach")


def check_secret(secret: str) -> None:
    """At save time: the JSON of client id, client secret and refresh token (a bare access token would stop
    working within two hours)."""
    outreach_credentials(secret)


def build(
    settings: OutreachSettings, options: OutreachOptions, secret: str, session: requests.Session, kept: KeptSecret
) -> OutreachAdapter:
    """The adapter for one action; `kept` is where the secret is saved with each new access token and rotated
    refresh token."""
    return OutreachAdapter(OutreachConnection(session, settings, outreach_credentials(secret), kept), options)


def probe(settings: OutreachSettings, secret: str, session: requests.Session, kept: KeptSecret) -> Outcome:
    """Whether Outreach takes the credentials (`GET /api/v2/users`, after a refresh when due), sending no record."""
    return OutreachConnection(session, settings, outreach_credentials(secret), kept).probe()

"""OAuth access tokens from a refresh token, for destinations whose secret is an OAuth client and a user's refresh
token (Google Ads, Outreach).

The secret is a JSON object: `client_id`, `client_secret`, `refresh_token` (plus what the platform needs besides).
An access token is asked for (`grant_type=refresh_token` at the platform's token endpoint) when the secret holds
none that is still good for another minute, and once more when the platform answers 401 to one Roster kept. Each
new access token, with its expiry and the refresh token the platform answered with, is saved back into the secret
at once (`KeptSecret.save`): a platform that rotates refresh tokens (Outreach) stops taking the old one as soon as
it has handed out the new, and the next drain, in whichever Lambda, starts from what was saved; and the access
token is reused until it expires instead of being asked for on every drain (Outreach hands out one a minute per
user). A
refresh token the platform refuses (`invalid_grant`: revoked, expired, or rotated away) disables the destination
(the user reconnects it by saving a new secret), unless the kept secret has a newer one by then: another run that
uses the same secret at the same time (a destination test during a drain) renewed it first.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TypeVar

import requests
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from roster.actions.destinations.audiences import Refusal, call, json_of
from roster.actions.destinations.base import KeptSecret, OutcomeStatus
from roster.actions.destinations.webhook import answer
from roster.enrich.providers.http import retry_after_seconds

TOKEN_MARGIN_SECONDS = 60.0  # an access token is renewed this long before the platform says it expires
DEFAULT_LIFETIME_SECONDS = 3600.0  # when the platform's answer gives no `expires_in`


class OAuthCredentials(BaseModel):
    """The OAuth part of a destination's secret; `access_token` and `expires_at` are Roster's, kept in it."""

    model_config = ConfigDict(extra="forbid")

    client_id: str = Field(min_length=1)
    client_secret: str = Field(min_length=1)
    refresh_token: str = Field(min_length=1)
    access_token: str | None = Field(default=None, min_length=1)
    expires_at: float | None = None  # epoch seconds the access token is good until (less the margin)

    def token_form(self) -> dict[str, str]:
        """The form a refresh posts (a platform's credentials may add to it)."""
        return {
            "grant_type": "refresh_token",
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "refresh_token": self.refresh_token,
        }


C = TypeVar("C", bound=OAuthCredentials)


def credentials_of(secret: str, model: type[C], platform: str) -> C:
    """The secret's JSON as `model`, or a ValueError naming what is missing or wrong (never echoing a value)."""
    required = sorted(name for name, info in model.model_fields.items() if info.is_required())
    shape = f"a {platform} secret is a JSON object with {', '.join(required)}"
    try:
        data = json.loads(secret)
    except ValueError:
        raise ValueError(f"{shape}; this is not JSON") from None
    if not isinstance(data, dict):
        raise ValueError(f"{shape}; this is JSON but not an object")
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problems = sorted(
            {f"{'.'.join(str(part) for part in each['loc'])}: {_said(each['type'])}" for each in error.errors()}
        )
        raise ValueError(f"{shape}; {'; '.join(problems)}") from None


def _said(error_type: str) -> str:
    return {
        "missing": "missing",
        "extra_forbidden": "not a key Roster knows",
        "string_too_short": "empty",
        "string_type": "not a string",
    }.get(error_type, "not valid")


class AccessTokens:
    """The access token for calls on the credentials' behalf: the kept one while it is good, else a new one."""

    def __init__(
        self,
        platform: str,
        token_url: str,
        credentials: OAuthCredentials,
        session: requests.Session,
        kept: KeptSecret,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.platform = platform
        self.token_url = token_url
        self.credentials = credentials
        self.session = session
        self.kept = kept
        self.clock = clock  # wall-clock: an expiry kept in the secret is read by later Lambdas

    def token(self) -> str | Refusal:
        """A good access token, or what stopped Roster getting one (a refused refresh token disables, unless the
        kept secret holds a newer one: another run, e.g. a destination test, renewed it meanwhile)."""
        for attempt in range(2):
            held = self.credentials
            if held.access_token and held.expires_at is not None and self.clock() < held.expires_at:
                return held.access_token
            response = call(self.session, "POST", self.token_url, data=held.token_form())
            if isinstance(response, Refusal):  # no answer (retried), or an address Roster may not call (disabled)
                status = OutcomeStatus.DISABLED if response.status is OutcomeStatus.FAILED else response.status
                return Refusal(status, f"{self.platform}'s token endpoint: {response.answer}", response.retry_after)
            body = json_of(response)
            if response.status_code in (400, 401) and isinstance(body, dict) and "error" in body:
                if not attempt and self._newer_kept():
                    continue
                said = f"{self.platform} refused the credentials (reconnect the destination with new ones)"
                return Refusal(OutcomeStatus.DISABLED, f"{said}: {answer(response)}")
            if not response.ok or not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
                asked = retry_after_seconds(response.headers.get("Retry-After"))  # Outreach: one token a minute
                return Refusal(OutcomeStatus.RETRY, f"{self.platform} gave no access token: {answer(response)}", asked)
            lifetime = float(body.get("expires_in") or DEFAULT_LIFETIME_SECONDS)
            rotated = body.get("refresh_token")
            self.credentials = held.model_copy(
                update={
                    "access_token": body["access_token"],
                    "expires_at": self.clock() + lifetime - TOKEN_MARGIN_SECONDS,
                    "refresh_token": rotated if isinstance(rotated, str) and rotated else held.refresh_token,
                }
            )
            self.kept.save(self.credentials.model_dump_json(exclude_none=True))
            return str(body["access_token"])
        raise AssertionError("unreachable")

    def _newer_kept(self) -> bool:
        """Take the kept secret when its refresh token is not the one just refused (it was renewed meanwhile)."""
        try:
            stored = type(self.credentials).model_validate_json(self.kept.load() or "")
        except ValueError:
            return False
        if stored.refresh_token == self.credentials.refresh_token:
            return False
        self.credentials = stored
        return True

    def expired(self) -> bool:
        """After a 401: drop the access token; True when there was one (then a new one is worth asking for)."""
        if self.credentials.access_token is None:
            return False
        self.credentials = self.credentials.model_copy(update={"access_token": None, "expires_at": None})
        return True

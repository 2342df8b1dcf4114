"""LinkedIn DMP segments (Marketing API, Matched Audiences): a segment's members kept in a user DMP segment.

Entries and exits go as one batch, `POST /rest/dmpSegments/{id}/users` with `X-RestLi-Method: BATCH_CREATE` and
`{"elements": [{"action": "ADD" | "REMOVE", "userIds": [{"idType": "SHA256_EMAIL", "idValue": ...}]}]}`, at most
5,000 elements a request, with a bearer token and the `LinkedIn-Version` (YYYYMM) the request is written for.
LinkedIn matches people on e-mail: the SHA-256 hex of the address trimmed and lower-cased. `firstName` and
`lastName` travel in clear text, so they go only when the action's identifiers include `first_name`/`last_name`.

Each element gets its own status in the answer (201 done, 4xx refused with a message). 401 (token expired or
revoked), 403 (no access to the segment) and 426 (an API version LinkedIn no longer serves) disable the
destination; 429 and 5xx retry. A segment serves ads from 300 matched members; its size is the LinkedIn
destination's `audienceSize`, unknown while LinkedIn is still building it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import requests
from pydantic import BaseModel, ConfigDict, Field

from roster.actions.destinations.audiences import (
    AudienceUnreadable,
    PlatformSettings,
    Refusal,
    call,
    chunks,
    json_of,
    not_a_person,
    person,
    probed,
    refusal,
    sha256_hex,
    unusable,
)
from roster.actions.destinations.base import AudienceStatus, Delivery, Outcome, OutcomeStatus, Transition
from roster.actions.destinations.webhook import answer

API_URL = "https://api.linkedin.com"
LINKEDIN_VERSION = "202610"
MAX_ELEMENTS = 5_000
MINIMUM = 300
MAX_NAME = 35
ACTIONS = {Transition.ENTERED: "ADD", Transition.EXITED: "REMOVE"}


class LinkedInSettings(PlatformSettings):
    """LinkedIn's Marketing API and the monthly version Roster speaks (LinkedIn serves each for about a year)."""

    api_url: str = Field(default=API_URL, description="the API's base URL (another only for a test double)")
    linkedin_version: str = Field(default=LINKEDIN_VERSION, pattern=r"^20\d{4}$", description="YYYYMM")


class LinkedInOptions(BaseModel):
    """Which DMP segment the action keeps (the action's `identifiers` say which fields go)."""

    model_config = ConfigDict(extra="forbid")

    segment_id: str = Field(pattern=r"^\d{1,20}$", description="the DMP segment's id")


def element(delivery: Delivery) -> dict[str, Any] | None:
    """The batch element for a change, or None when the record has no usable e-mail."""
    record = person(delivery.fields)
    if record.email is None:
        return None
    item: dict[str, Any] = {
        "action": ACTIONS[delivery.transition],
        "userIds": [{"idType": "SHA256_EMAIL", "idValue": sha256_hex(record.email)}],
    }
    for key, value in (("firstName", record.first_name), ("lastName", record.last_name)):
        if value:
            item[key] = value[:MAX_NAME]
    return item


def linkedin_refusal(response: requests.Response) -> Refusal:
    text = answer(response)
    if response.status_code == 401:
        return Refusal(OutcomeStatus.DISABLED, f"LinkedIn refused the access token (reconnect): {text}")
    if response.status_code == 426:
        return Refusal(OutcomeStatus.DISABLED, f"LinkedIn no longer serves this LinkedIn-Version: {text}")
    return refusal(response)


class LinkedInAdapter:
    """Adds entries to and removes exits from one DMP segment."""

    max_batch = MAX_ELEMENTS
    exits_undo_entries = True

    def __init__(
        self, settings: LinkedInSettings, options: LinkedInOptions, token: str, session: requests.Session
    ) -> None:
        self.segment = f"{settings.api_url.rstrip('/')}/rest/dmpSegments/{options.segment_id}"
        self.headers = {
            "Authorization": f"Bearer {token}",
            "LinkedIn-Version": settings.linkedin_version,
            "X-Restli-Protocol-Version": "2.0.0",
        }
        self.session = session

    def send(self, deliveries: Sequence[Delivery]) -> list[Outcome]:
        outcomes: dict[str, Outcome] = {}
        batch: list[tuple[Delivery, dict[str, Any]]] = []
        for delivery in deliveries:
            refused = not_a_person(delivery)
            if refused is not None:
                outcomes[delivery.delivery_id] = refused
                continue
            item = element(delivery)
            if item is None:
                outcomes[delivery.delivery_id] = unusable(delivery, person(delivery.fields), "e-mail")
            else:
                batch.append((delivery, item))
        for part in chunks(batch, MAX_ELEMENTS):
            for outcome in self._post(part):
                outcomes[outcome.delivery_id] = outcome
        return [outcomes[delivery.delivery_id] for delivery in deliveries]

    def _post(self, part: Sequence[tuple[Delivery, dict[str, Any]]]) -> list[Outcome]:
        deliveries = [delivery for delivery, _ in part]
        response = call(
            self.session,
            "POST",
            f"{self.segment}/users",
            json={"elements": [item for _, item in part]},
            headers={**self.headers, "X-RestLi-Method": "BATCH_CREATE"},
        )
        if isinstance(response, Refusal):
            return response.outcomes(deliveries)
        if not response.ok:
            return linkedin_refusal(response).outcomes(deliveries)
        results = (json_of(response) or {}).get("elements")
        if not isinstance(results, list) or len(results) != len(deliveries):
            return Refusal(OutcomeStatus.RETRY, f"unexpected answer: {answer(response)}").outcomes(deliveries)
        outcomes = []
        for delivery, result in zip(deliveries, results, strict=True):
            status = result.get("status") if isinstance(result, dict) else None
            if isinstance(status, int) and 200 <= status < 300:
                outcomes.append(Outcome(delivery.delivery_id, OutcomeStatus.DELIVERED, f"{status}"))
            else:
                said = f"{status}: {result.get('message', '')}" if isinstance(result, dict) else str(result)
                outcomes.append(Outcome(delivery.delivery_id, OutcomeStatus.FAILED, said[:200]))
        return outcomes

    def audience_status(self) -> AudienceStatus:
        response = call(self.session, "GET", self.segment, headers=self.headers)
        if isinstance(response, Refusal):
            raise AudienceUnreadable(response.answer)
        if not response.ok:
            raise AudienceUnreadable(linkedin_refusal(response).answer)
        destinations = (json_of(response) or {}).get("destinations") or []
        sizes = [
            target.get("audienceSize")
            for target in destinations
            if isinstance(target, dict) and target.get("destination") == "LINKEDIN"
        ]
        size = sizes[0] if sizes and isinstance(sizes[0], int) else None
        return AudienceStatus(size=size, minimum=MINIMUM)


def build(
    settings: LinkedInSettings, options: LinkedInOptions, secret: str, session: requests.Session
) -> LinkedInAdapter:
    """The secret is the OAuth access token (scope `rw_dmp_segments`)."""
    return LinkedInAdapter(settings, options, secret.strip(), session)


def probe(settings: LinkedInSettings, secret: str, session: requests.Session) -> Outcome:
    """`GET /rest/adAccountUsers?q=authenticatedUser`: the token and version work, and which ad accounts it reaches."""
    headers = {
        "Authorization": f"Bearer {secret.strip()}",
        "LinkedIn-Version": settings.linkedin_version,
        "X-Restli-Protocol-Version": "2.0.0",
    }
    url = f"{settings.api_url.rstrip('/')}/rest/adAccountUsers"
    response = call(session, "GET", url, params={"q": "authenticatedUser"}, headers=headers)
    if not isinstance(response, Refusal) and not response.ok:
        response = linkedin_refusal(response)

    def said(ok: requests.Response) -> str:
        accounts = [item.get("account") for item in (json_of(ok) or {}).get("elements") or []]
        return f"{ok.status_code}: the token reaches {len(accounts)} ad account(s): {', '.join(map(str, accounts))}"

    return probed(response, said)

"""Meta Custom Audiences (Marketing API): a segment's members kept in a customer-list audience.

An entry is `POST /{version}/{audience_id}/users` and an exit `DELETE` on the same edge, each with `payload`
(`schema` and one row of SHA-256 hex digests a person, `""` where a value is missing) and `access_token`; Meta takes
at most 10,000 rows a request, so larger sends go in several requests of one upload `session`. Meta's
normalization: e-mails trimmed and lower-cased; phones as digits only with the country code and no `+` or leading
zeros (E.164 without the `+`); first and last names lower-cased with letters only (no punctuation or spaces;
letters outside a-z kept, as UTF-8). A person needs an e-mail or a phone.

Meta's errors come as `{"error": {"code": ...}}`: code 190 (expired or revoked token) and permission codes disable
the destination; throttling codes (4, 17, 32, 613, 80003) and transient ones retry after the wait Meta gives in
`X-Business-Use-Case-Usage`. An audience serves ads from 100 matched people; its size is Meta's lower bound
(`approximate_count_lower_bound`), or unknown while Meta says -1.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from typing import Any

import requests
from pydantic import BaseModel, ConfigDict, Field

from roster.actions.destinations.audiences import (
    AudienceUnreadable,
    Person,
    PlatformSettings,
    Refusal,
    call,
    chunks,
    json_of,
    not_a_person,
    noting,
    person,
    probed,
    refusal,
    sha256_hex,
    unusable,
)
from roster.actions.destinations.base import AudienceStatus, Delivery, Outcome, OutcomeStatus, Transition
from roster.actions.destinations.webhook import answer

API_URL = "https://graph.facebook.com"
API_VERSION = "v25.0"
MAX_ROWS = 10_000
MINIMUM = 100
SCHEMA = ("EMAIL", "PHONE", "FN", "LN")
TOKEN_CODES = frozenset({102, 190})  # session or access token invalid, expired or revoked
THROTTLE_CODES = frozenset({4, 17, 32, 613, 80003})
TRANSIENT_CODES = frozenset({1, 2})


class MetaSettings(PlatformSettings):
    """Meta's Graph API (another base URL only for a test double such as the local emulator)."""

    api_url: str = Field(default=API_URL, description="the Graph API's base URL")
    api_version: str = Field(default=API_VERSION, pattern=r"^v\d+\.\d+$")


class MetaOptions(BaseModel):
    """Which customer-list audience the action keeps (the action's `identifiers` say which fields go)."""

    model_config = ConfigDict(extra="forbid")

    audience_id: str = Field(pattern=r"^\d{1,20}$", description="the Custom Audience's id")


def meta_name(text: str) -> str:
    """`O'Brien-Smith` -> `obriensmith`: lower case, letters only."""
    return "".join(character for character in text.lower() if character.isalpha())


def meta_row(record: Person) -> list[str] | None:
    """The person's row under SCHEMA (digests, `""` where missing), or None without an e-mail or a phone."""
    phone = record.phone[1:] if record.phone else None
    if record.email is None and phone is None:
        return None
    first = meta_name(record.first_name) if record.first_name else ""
    last = meta_name(record.last_name) if record.last_name else ""
    return [sha256_hex(value) if value else "" for value in (record.email, phone, first, last)]


def regain_seconds(response: requests.Response) -> float | None:
    """The longest `estimated_time_to_regain_access` (minutes) in `X-Business-Use-Case-Usage`, in seconds."""
    try:
        usage = json.loads(response.headers.get("X-Business-Use-Case-Usage") or "{}")
        minutes = [
            float(entry.get("estimated_time_to_regain_access") or 0) for entries in usage.values() for entry in entries
        ]
    except (ValueError, AttributeError, TypeError):
        return None
    return max(minutes) * 60 if minutes and max(minutes) > 0 else None


def meta_refusal(response: requests.Response) -> Refusal:
    """What Meta's error means for the request's deliveries."""
    body = json_of(response)
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    text = answer(response)
    if code in TOKEN_CODES:
        return Refusal(OutcomeStatus.DISABLED, f"Meta refused the access token (reconnect): {text}")
    if code == 100 and isinstance(error, dict) and error.get("error_subcode") == 33:
        return Refusal(OutcomeStatus.DISABLED, f"the audience does not exist (or the token cannot see it): {text}")
    if code == 10 or (isinstance(code, int) and 200 <= code <= 299):
        return Refusal(OutcomeStatus.DISABLED, f"the token may not manage this audience: {text}")
    if code in THROTTLE_CODES:
        return Refusal(OutcomeStatus.RETRY, text, regain_seconds(response))
    if code in TRANSIENT_CODES or (isinstance(error, dict) and error.get("is_transient")):
        return Refusal(OutcomeStatus.RETRY, text)
    return refusal(response)


class MetaAdapter:
    """Adds entries to and removes exits from one Custom Audience."""

    max_batch = MAX_ROWS
    exits_undo_entries = True

    def __init__(self, settings: MetaSettings, options: MetaOptions, token: str, session: requests.Session) -> None:
        self.edge = f"{settings.api_url.rstrip('/')}/{settings.api_version}/{options.audience_id}"
        self.token = token
        self.session = session

    def send(self, deliveries: Sequence[Delivery]) -> list[Outcome]:
        outcomes: dict[str, Outcome] = {}
        problems: dict[str, tuple[str, ...]] = {}
        rows: dict[Transition, list[tuple[Delivery, list[str]]]] = {Transition.ENTERED: [], Transition.EXITED: []}
        for delivery in deliveries:
            refused = not_a_person(delivery)
            if refused is not None:
                outcomes[delivery.delivery_id] = refused
                continue
            record = person(delivery.fields)
            problems[delivery.delivery_id] = record.problems
            row = meta_row(record)
            if row is None:
                outcomes[delivery.delivery_id] = unusable(delivery, record, "e-mail or phone")
            else:
                rows[delivery.transition].append((delivery, row))
        for transition, method in ((Transition.ENTERED, "POST"), (Transition.EXITED, "DELETE")):
            group = rows[transition]
            parts = chunks(group, MAX_ROWS)
            session_id = secrets.randbelow(2**53 - 1) + 1
            for sequence, part in enumerate(parts, start=1):
                upload = {
                    "session_id": session_id,
                    "batch_seq": sequence,
                    "last_batch_flag": sequence == len(parts),
                    "estimated_num_total": len(group),
                }
                for outcome in self._upload(method, part, upload):
                    outcomes[outcome.delivery_id] = outcome
        return [noting(outcomes[d.delivery_id], problems.get(d.delivery_id, ())) for d in deliveries]

    def _upload(self, method: str, part: Sequence[tuple[Delivery, list[str]]], upload: dict[str, Any]) -> list[Outcome]:
        deliveries = [delivery for delivery, _ in part]
        payload = {"schema": list(SCHEMA), "data": [row for _, row in part]}
        form = {"access_token": self.token, "payload": json.dumps(payload), "session": json.dumps(upload)}
        response = call(self.session, method, f"{self.edge}/users", data=form)
        if isinstance(response, Refusal):
            return response.outcomes(deliveries)
        if not response.ok:
            return meta_refusal(response).outcomes(deliveries)
        body = json_of(response) or {}
        said = f"{response.status_code}: {body.get('num_received', '?')} received, "
        said += f"{body.get('num_invalid_entries', '?')} invalid (session {upload['session_id']})"
        return [Outcome(delivery.delivery_id, OutcomeStatus.DELIVERED, said) for delivery in deliveries]

    def audience_status(self) -> AudienceStatus:
        fields = "approximate_count_lower_bound,approximate_count_upper_bound,delivery_status"
        response = call(self.session, "GET", self.edge, params={"fields": fields, "access_token": self.token})
        if isinstance(response, Refusal):
            raise AudienceUnreadable(response.answer)
        if not response.ok:
            raise AudienceUnreadable(meta_refusal(response).answer)
        lower = (json_of(response) or {}).get("approximate_count_lower_bound")
        size = int(lower) if isinstance(lower, int) and lower >= 0 else None
        return AudienceStatus(size=size, minimum=MINIMUM)


def build(settings: MetaSettings, options: MetaOptions, secret: str, session: requests.Session) -> MetaAdapter:
    """The secret is the access token (a system user's, so it does not expire with a person's session)."""
    return MetaAdapter(settings, options, secret.strip(), session)


def probe(settings: MetaSettings, secret: str, session: requests.Session) -> Outcome:
    """`GET /me`: does Meta take the token (no audience is touched)."""
    url = f"{settings.api_url.rstrip('/')}/{settings.api_version}/me"
    response = call(session, "GET", url, params={"fields": "id,name", "access_token": secret.strip()})
    if not isinstance(response, Refusal) and not response.ok:
        response = meta_refusal(response)
    return probed(response, lambda ok: f"{ok.status_code}: token of {(json_of(ok) or {}).get('name', '?')}")

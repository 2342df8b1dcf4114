"""An Apollo team over HTTPS: contacts, sequences (emailer campaigns) and email accounts, as API v1 serves them.

Checked as Apollo documents it: the API key in the `X-Api-Key` header (401 without a valid one), a master key for
the sequence endpoints (`plain_key` is a valid non-master key: 403 there), parameters taken from the query string
or a JSON body (Apollo merges both), `emailer_campaign_id`, `contact_ids[]` and `send_email_from_email_account_id`
required when adding to a sequence. Adding answers which contacts were added and which were skipped and why
(`skipped_contact_ids`): `contacts_already_exists_in_current_campaign` for one the sequence has already,
`contacts_without_email`, `contact_not_found`, `contacts_active_in_other_campaigns` unless
`sequence_active_in_other_campaigns`. `run_dedupe` on a new contact returns the one with that e-mail instead.
Answers carry `x-rate-limit-minute` and `x-minute-requests-left` (and hourly, daily); an injected 429 has the minute
used up. Tests read `contacts` and `statuses` ((contact, sequence) -> status).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from roster_dev.emulators.https import Response
from roster_dev.emulators.sequencing import PlatformError, Request, SequencerEmulator, reply

MINUTE_LIMIT, HOURLY_LIMIT, DAILY_LIMIT = 200, 2_000, 10_000
CONTACT_FIELDS = frozenset(
    """email first_name last_name title organization_name linkedin_url direct_phone account_id website_url
    present_raw_address label_names""".split()
)
REMOVE_MODES = {"remove": None, "stop": "paused", "mark_as_finished": "finished"}
ACTIVE = {"active", "paused"}


def _hex_id() -> str:
    return secrets.token_hex(12)


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


class ApolloEmulator(SequencerEmulator):
    """`with ApolloEmulator() as apollo:` — `apollo.token` (a master key), `.sequence_id`, `.email_account_id`."""

    kind = "apollo"
    organization = "Roster Apollo emulator"
    thread_name = "apollo-emulator"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.contacts: dict[str, dict[str, Any]] = {}
        self.sequences: dict[str, dict[str, Any]] = {}
        self.email_accounts: dict[str, dict[str, Any]] = {}
        self.statuses: dict[tuple[str, str], str] = {}
        super().__init__(host, port)
        self.plain_key = secrets.token_urlsafe(24)
        self.sequence_id = self.add_sequence("Roster nurture")
        self.email_account_id = self.add_email_account("sender@example.com")

    def add_sequence(self, name: str) -> str:
        with self.lock:
            sequence_id = _hex_id()
            self.sequences[sequence_id] = {"name": name, "active": True}
            return sequence_id

    def add_email_account(self, email: str) -> str:
        with self.lock:
            account_id = _hex_id()
            self.email_accounts[account_id] = {"email": email}
            return account_id

    def in_sequence(self, sequence_id: str) -> dict[str, str]:
        """E-mail address -> status of every contact the sequence has (active, paused, finished)."""
        with self.lock:
            return {
                self.contacts[contact]["email"]: status
                for (contact, sequence), status in self.statuses.items()
                if sequence == sequence_id
            }

    def options(self) -> dict[str, Any]:
        return {"sequence_id": self.sequence_id, "email_account_id": self.email_account_id}

    # -- protocol --------------------------------------------------------------------------------------------

    def routes(self) -> list[tuple[str, str, str, Callable[..., Response]]]:
        campaigns = r"/api/v1/emailer_campaigns"
        return [
            ("GET", "health", r"/api/v1/auth/health", self._health),
            ("POST", "find", r"/api/v1/contacts/search", self._search),
            ("POST", "create", r"/api/v1/contacts", self._create),
            ("POST", "remove", rf"{campaigns}/remove_or_stop_contact_ids", self._remove),
            ("POST", "enrol", rf"{campaigns}/(?P<sequence_id>[0-9a-f]+)/add_contact_ids", self._add),
        ]

    def credential(self, request: Request) -> str | None:
        key = request.headers.get("x-api-key", "").strip()
        return self.token if key == self.plain_key else key or None  # a non-master key is a valid credential

    def check(self, request: Request, route: str) -> Response | None:
        if route in {"enrol", "remove"} and request.headers.get("x-api-key", "").strip() == self.plain_key:
            return reply(403, {"error": "This endpoint requires a master API key", "error_code": "API_INACCESSIBLE"})
        return None

    def unauthorized(self, reason: str) -> Response:
        return reply(401, {"error": "Invalid access credentials.", "error_code": "INVALID_API_KEY", "detail": reason})

    def too_many(self) -> Response:
        response = reply(429, {"error": "The maximum number of api calls allowed for this minute has been reached."})
        response.headers = self.limit_headers(minute_left=0)
        return response

    def limit_headers(self, minute_left: int = MINUTE_LIMIT - 1) -> dict[str, str]:
        return {
            "x-rate-limit-minute": str(MINUTE_LIMIT),
            "x-minute-requests-left": str(minute_left),
            "x-rate-limit-hourly": str(HOURLY_LIMIT),
            "x-hourly-requests-left": str(HOURLY_LIMIT - 1),
            "x-rate-limit-24-hour": str(DAILY_LIMIT),
            "x-24-hour-requests-left": str(DAILY_LIMIT - 1),
        }

    @staticmethod
    def _params(request: Request) -> dict[str, Any]:
        """Query parameters and a JSON body, merged as Apollo (Rails) does; `name[]` lists keep their brackets."""
        params: dict[str, Any] = {
            name: values if name.endswith("[]") else values[-1] for name, values in request.query.items()
        }
        body = request.json()
        if isinstance(body, dict):
            for name, value in body.items():
                params[f"{name}[]" if isinstance(value, list) and not name.endswith("[]") else name] = value
        return params

    def _contact(self, contact_id: str) -> dict[str, Any]:
        statuses = [
            {"emailer_campaign_id": sequence, "status": status}
            for (contact, sequence), status in self.statuses.items()
            if contact == contact_id
        ]
        return {"id": contact_id, **self.contacts[contact_id], "contact_campaign_statuses": statuses}

    def _health(self, request: Request) -> Response:
        return reply(200, {"healthy": True, "is_logged_in": True})

    def _search(self, request: Request) -> Response:
        keywords = str(self._params(request).get("q_keywords") or "").strip().lower()
        found = [
            self._contact(contact_id)
            for contact_id, contact in self.contacts.items()
            if keywords
            in " ".join(str(contact.get(name) or "") for name in ("email", "first_name", "last_name")).lower()
        ]
        pagination = {"page": 1, "per_page": 10, "total_entries": len(found), "total_pages": 1}
        return reply(200, {"contacts": found[:10], "pagination": pagination})

    def _create(self, request: Request) -> Response:
        params = self._params(request)
        fields = {name: params[name] for name in CONTACT_FIELDS if name in params}
        email = str(fields.get("email") or "").strip().lower()
        if _truthy(params.get("run_dedupe")) and email:
            for contact_id, contact in self.contacts.items():
                if str(contact.get("email") or "").lower() == email:
                    return reply(200, {"contact": self._contact(contact_id)})
        contact_id = _hex_id()
        self.contacts[contact_id] = {**fields, "email": email or None}
        return reply(200, {"contact": self._contact(contact_id)})

    def _add(self, request: Request, sequence_id: str) -> Response:
        params = self._params(request)
        if params.get("emailer_campaign_id") != sequence_id:
            raise PlatformError(422, {"error": "emailer_campaign_id is required and must be the sequence in the path"})
        contact_ids = params.get("contact_ids[]")
        if not isinstance(contact_ids, list) or not contact_ids:
            raise PlatformError(422, {"error": "contact_ids[] or label_names[] is required"})
        if sequence_id not in self.sequences:
            raise PlatformError(404, {"error": f"Sequence {sequence_id} not found"})
        if params.get("send_email_from_email_account_id") not in self.email_accounts:
            raise PlatformError(422, {"error": "send_email_from_email_account_id must be one of your email accounts"})
        others_allowed = _truthy(params.get("sequence_active_in_other_campaigns"))
        added: list[dict[str, Any]] = []
        skipped: dict[str, str] = {}
        for contact_id in map(str, contact_ids):
            reason = self._skip_reason(contact_id, sequence_id, others_allowed)
            if reason is not None:
                skipped[contact_id] = reason
                continue
            self.statuses[(contact_id, sequence_id)] = "active"
            added.append(self._contact(contact_id))
        campaign = {"id": sequence_id, **self.sequences[sequence_id]}
        return reply(200, {"contacts": added, "emailer_campaign": campaign, "skipped_contact_ids": skipped})

    def _skip_reason(self, contact_id: str, sequence_id: str, others_allowed: bool) -> str | None:
        if contact_id not in self.contacts:
            return "contact_not_found"
        if not self.contacts[contact_id].get("email"):
            return "contacts_without_email"
        if (contact_id, sequence_id) in self.statuses:
            return "contacts_already_exists_in_current_campaign"
        if not others_allowed and any(
            contact == contact_id and status in ACTIVE for (contact, _), status in self.statuses.items()
        ):
            return "contacts_active_in_other_campaigns"
        return None

    def _remove(self, request: Request) -> Response:
        params = self._params(request)
        sequences, contact_ids, mode = (
            params.get("emailer_campaign_ids[]"),
            params.get("contact_ids[]"),
            params.get("mode"),
        )
        if not isinstance(sequences, list) or not sequences or not isinstance(contact_ids, list) or not contact_ids:
            raise PlatformError(422, {"error": "emailer_campaign_ids[] and contact_ids[] are required"})
        if mode not in REMOVE_MODES:
            raise PlatformError(422, {"error": f"mode must be one of {', '.join(REMOVE_MODES)}"})
        for sequence_id in map(str, sequences):
            for contact_id in map(str, contact_ids):
                if (contact_id, sequence_id) not in self.statuses:
                    continue
                status = REMOVE_MODES[mode]
                if status is None:
                    del self.statuses[(contact_id, sequence_id)]
                else:
                    self.statuses[(contact_id, sequence_id)] = status
        touched = [self._contact(contact_id) for contact_id in map(str, contact_ids) if contact_id in self.contacts]
        return reply(200, {"contacts": touched})

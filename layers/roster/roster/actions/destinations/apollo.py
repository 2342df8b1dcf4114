"""Apollo: add a person to an Apollo sequence (REST API v1, a master API key in the `X-Api-Key` header).

Find the contact with `POST /api/v1/contacts/search` (`q_keywords` = the e-mail, then the exact address among the
results), else create one (`POST /api/v1/contacts` with `run_dedupe`, so Apollo does not duplicate a contact it
already has). Then one `POST /api/v1/emailer_campaigns/{id}/add_contact_ids` adds the whole batch, with the
sequence (`emailer_campaign_id`), `contact_ids[]` and the sending mailbox (`send_email_from_email_account_id`) as
Apollo documents them (query parameters). Apollo answers which contacts it added and which it skipped and why;
`contacts_already_exists_in_current_campaign` counts as delivered, any other reason fails that change with it.
With `on_exit: remove` exits go in one `POST /api/v1/emailer_campaigns/remove_or_stop_contact_ids` (`mode=remove`).
Sequence endpoints need a master key: a 403 (or 401) disables the destination.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import requests
from pydantic import Field

from roster.actions.destinations.base import Outcome, OutcomeStatus
from roster.actions.destinations.sequencer import (
    Connection,
    Person,
    SequencerAdapter,
    SequencerOptions,
    SequencerSettings,
    Step,
    excerpt,
)

#: Apollo's skip reason for a contact the sequence has already: the entry is delivered.
ALREADY_IN_SEQUENCE = "contacts_already_exists_in_current_campaign"
BATCH = 100  # contacts per add or remove request (Apollo documents no limit; this keeps a request small)


class ApolloSettings(SequencerSettings):
    """An Apollo destination; the secret is a master API key (sequence endpoints refuse other keys with 403)."""


class ApolloOptions(SequencerOptions):
    sequence_id: str = Field(min_length=1, max_length=64, description="The Apollo sequence (emailer campaign)")
    email_account_id: str = Field(
        min_length=1, max_length=64, description="The Apollo email account the sequence sends from"
    )
    while_in_other_sequences: bool = Field(
        default=False,
        description="Enrol people active in another sequence too (Apollo's `sequence_active_in_other_campaigns`; "
        "by default Apollo skips them and the change fails with that reason)",
    )


class ApolloConnection(Connection):
    platform = "Apollo"
    default_url = "https://api.apollo.io"
    probe_path = "/api/v1/auth/health"

    def __init__(self, session: requests.Session, settings: ApolloSettings, key: str) -> None:
        super().__init__(session, settings)
        self._key = key

    def headers(self) -> dict[str, str]:
        return {"X-Api-Key": self._key, "Content-Type": "application/json", "Cache-Control": "no-cache"}

    def auth_refused(self, response: requests.Response) -> bool:
        return response.status_code in (401, 403)

    def wait_asked(self, response: requests.Response) -> float | None:
        """`Retry-After`, else the window Apollo says is used up (`x-minute-requests-left`, hourly, daily)."""
        asked = super().wait_asked(response)
        if asked is not None:
            return asked
        for header, seconds in (
            ("x-24-hour-requests-left", 86400.0),
            ("x-hourly-requests-left", 3600.0),
            ("x-minute-requests-left", 60.0),
        ):
            if response.headers.get(header, "").strip() == "0":
                return seconds
        return None

    def probe_accepted(self, response: requests.Response) -> bool:
        """`auth/health` says in `is_logged_in` whether the key was taken."""
        try:
            return bool(response.json().get("is_logged_in") is True)
        except (ValueError, AttributeError):
            return False


class ApolloAdapter(SequencerAdapter):
    max_batch = BATCH
    options: ApolloOptions

    def find(self, person: Person) -> str | None:
        found = self.call("POST", "/api/v1/contacts/search", json={"q_keywords": person.email, "per_page": 10}).json()
        for contact in found.get("contacts") or []:
            if str(contact.get("email") or "").lower() == person.email:
                return str(contact["id"])
        return None

    def create(self, person: Person) -> str:
        fields: dict[str, Any] = {
            "email": person.email,
            "first_name": person.first_name,
            "last_name": person.last_name,
            "title": person.job_title,
            "organization_name": person.company_name,
            "linkedin_url": person.linkedin_url,
            "direct_phone": person.phone,
        }
        body = {name: value for name, value in fields.items() if value is not None} | {"run_dedupe": True}
        return str(self.call("POST", "/api/v1/contacts", json=body).json()["contact"]["id"])

    def enrol(self, steps: Sequence[Step]) -> dict[str, Outcome]:
        params = {
            "emailer_campaign_id": self.options.sequence_id,
            "contact_ids[]": sorted({str(step.person_id) for step in steps}),
            "send_email_from_email_account_id": self.options.email_account_id,
            "sequence_active_in_other_campaigns": str(self.options.while_in_other_sequences).lower(),
        }
        path = f"/api/v1/emailer_campaigns/{self.options.sequence_id}/add_contact_ids"
        response = self.call("POST", path, params=params)
        answer = response.json()
        added = {str(contact.get("id")) for contact in answer.get("contacts") or []}
        skipped = answer.get("skipped_contact_ids") or {}
        outcomes: dict[str, Outcome] = {}
        for step in steps:
            contact = str(step.person_id)
            reason = skipped.get(contact) if isinstance(skipped, dict) else None
            if reason == ALREADY_IN_SEQUENCE:
                outcome = self.delivered(step.delivery, f"contact {contact} already in sequence ({reason})")
            elif reason is not None:
                answer = f"Apollo skipped contact {contact}: {reason}"
                outcome = Outcome(step.delivery.delivery_id, OutcomeStatus.FAILED, answer)
            elif contact in added:
                outcome = self.delivered(step.delivery, f"{response.status_code} added contact {contact}")
            else:
                outcome = Outcome(
                    step.delivery.delivery_id,
                    OutcomeStatus.FAILED,
                    f"Apollo neither added nor skipped contact {contact}: {excerpt(response)}",
                )
            outcomes[step.delivery.delivery_id] = outcome
        return outcomes

    def remove(self, steps: Sequence[Step]) -> dict[str, Outcome]:
        params = {
            "emailer_campaign_ids[]": [self.options.sequence_id],
            "contact_ids[]": sorted({str(step.person_id) for step in steps}),
            "mode": "remove",
        }
        response = self.call("POST", "/api/v1/emailer_campaigns/remove_or_stop_contact_ids", params=params)
        return {
            step.delivery.delivery_id: self.delivered(
                step.delivery, f"{response.status_code} removed contact {step.person_id} from the sequence"
            )
            for step in steps
        }


def build(settings: ApolloSettings, options: ApolloOptions, secret: str, session: requests.Session) -> ApolloAdapter:
    """The adapter for one action; `secret` is the master API key."""
    return ApolloAdapter(ApolloConnection(session, settings, secret), options)


def probe(settings: ApolloSettings, secret: str, session: requests.Session) -> Outcome:
    """Whether Apollo takes the key (`GET /api/v1/auth/health`), sending no record. A key that is not a master
    key passes here and is refused (403) by the sequence endpoints on the first delivery."""
    return ApolloConnection(session, settings, secret).probe()

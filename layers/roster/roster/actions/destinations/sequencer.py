"""What the three sequencer destinations (Outreach, Salesloft, Apollo) share: enrol a person in the sequence an
action chose, and optionally take them out again when they leave the segment.

Per membership change: an entry finds the person by e-mail on the platform (or creates them), then enrols them; a
person who is enrolled already counts as delivered, so a redelivered entry never enrols anyone twice. An exit is
ignored unless the action's options say `on_exit: remove` (the default is `ignore`: a sequence usually runs its
course); then the person leaves the sequence (Outreach finishes the sequence state, Salesloft deletes the cadence
membership, Apollo removes the contact from the sequence). A person without an e-mail address, or a company, fails
alone with the reason. The platform's answer decides the rest: 401 (an expired or revoked token) disables the
destination (an OAuth connection, Outreach's or Salesloft's, first renews its access token once, see `oauth`), 429
and 5xx are retried after the platform's `Retry-After`, any other refusal fails that one change.
A 401 or 429 ends the batch: the changes not yet sent get the same outcome instead of being sent into a wall.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

import requests
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator

from roster.actions.destinations.audiences import Refusal
from roster.actions.destinations.base import Delivery, Outcome, OutcomeStatus, Transition
from roster.actions.destinations.oauth import AccessTokens
from roster.connectors.core.trust import local_stack
from roster.enrich.providers.http import retry_after_seconds
from roster.identity.aliases import normalize_email
from roster.outbound import OutboundRefused
from roster.profiles.fields import Kind

TIMEOUT = 30.0  # seconds a platform may take to answer one call
EXCERPT = 300  # characters of a platform's answer kept for the delivery log
#: What reading a 2xx answer that is not the JSON it should be raises (no body, HTML, a missing key).
UNREADABLE = (ValueError, LookupError, TypeError)


class SequencerSettings(BaseModel):
    """Where the platform is: its own API, or (local stack only) an emulator. Which CA to trust is the
    destination's `ca_bundle`, set on the session Roster hands the adapter."""

    model_config = ConfigDict(extra="forbid")

    api_url: HttpUrl | None = Field(default=None, description="Another API base URL (local stack only: an emulator)")

    @field_validator("api_url")
    @classmethod
    def _local_api_url(cls, value: HttpUrl | None) -> HttpUrl | None:
        if value is not None and not local_stack():
            raise ValueError("api_url can be changed only on a local stack (to reach an emulator)")
        return value


class SequencerOptions(BaseModel):
    """Per action: what an exit from the segment does (the sequence itself is named by each platform's options)."""

    model_config = ConfigDict(extra="forbid")

    on_exit: Literal["ignore", "remove"] = Field(
        default="ignore",
        description="`ignore` (default): a person who leaves the segment stays in the sequence; "
        "`remove`: they are taken out of it",
    )


@dataclass(frozen=True)
class Person:
    """What a sequencer gets to know about a person: the e-mail it is found by, and values to create them with."""

    email: str
    first_name: str | None
    last_name: str | None
    job_title: str | None
    company_name: str | None
    linkedin_url: str | None
    phone: str | None


class Refused(Exception):
    """The platform's answer that settles a change (or, for 401 and 429, the rest of the batch too)."""

    def __init__(self, status: OutcomeStatus, answer: str, retry_after: float | None = None, halts: bool = False):
        super().__init__(answer)
        self.status = status
        self.answer = answer
        self.retry_after = retry_after
        self.halts = halts


def excerpt(response: requests.Response) -> str:
    """`422 {"errors": ...}`: the status and the start of the body, for the delivery log."""
    text = " ".join(response.text.split())[:EXCERPT]
    return f"{response.status_code} {text}".strip()


def _text(fields: Mapping[str, Any], name: str) -> str | None:
    value = fields.get(name)
    return value.strip() or None if isinstance(value, str) else None


def person_of(delivery: Delivery) -> Person:
    """The person a change is about; Refused (failed) when it cannot be enrolled anywhere."""
    if delivery.kind != Kind.PEOPLE:
        raise Refused(OutcomeStatus.FAILED, "a sequence enrols people; this record is a company")
    raw = delivery.fields.get("email")
    if not isinstance(raw, str) or not raw.strip():
        raise Refused(OutcomeStatus.FAILED, "no e-mail address: a sequencer finds and creates people by e-mail")
    email = normalize_email(raw)
    if email is None:
        raise Refused(OutcomeStatus.FAILED, f"not an e-mail address: {raw[:100]!r}")
    fields = delivery.fields
    return Person(
        email=email,
        first_name=_text(fields, "first_name"),
        last_name=_text(fields, "last_name"),
        job_title=_text(fields, "job_title"),
        company_name=_text(fields, "company_name"),
        linkedin_url=_text(fields, "linkedin_url"),
        phone=_text(fields, "phone"),
    )


@dataclass(frozen=True)
class Step:
    """A change on its way: the delivery, the person it is about and, once found, their id on the platform."""

    delivery: Delivery
    person: Person
    person_id: str | None = None


class Connection:
    """One platform's HTTP side: its URL, credentials, how it is called and what its refusals mean."""

    platform = "the sequencer"
    default_url = ""
    probe_path = ""  # a GET that needs valid credentials and changes nothing

    def __init__(self, session: requests.Session, settings: SequencerSettings) -> None:
        self.session = session
        self.base_url = str(settings.api_url or self.default_url).rstrip("/")

    def headers(self) -> dict[str, str]:
        raise NotImplementedError

    def wait_asked(self, response: requests.Response) -> float | None:
        """Seconds a 429 asks to wait: `Retry-After` unless the platform says it another way."""
        return retry_after_seconds(response.headers.get("Retry-After"))

    def renewed(self) -> bool:
        """After a 401: whether the credentials could be renewed (an expired access token dropped, a new one to be
        asked for), so the request is worth sending once more."""
        return False

    def auth_refused(self, response: requests.Response) -> bool:
        """Whether an answer means the credentials no longer work (then the destination is disabled)."""
        return response.status_code == 401

    def probe(self) -> Outcome:
        """Whether the platform takes the credentials, without sending a record (`POST /v1/destinations/{id}/test`)."""
        try:
            response = self.call("GET", self.probe_path)
        except Refused as refused:
            return Outcome("probe", refused.status, refused.answer, refused.retry_after)
        if not self.probe_accepted(response):
            return Outcome(
                "probe", OutcomeStatus.DISABLED, f"{self.platform} refused the credentials: {excerpt(response)}"
            )
        return Outcome(
            "probe", OutcomeStatus.DELIVERED, f"{self.platform} accepted the credentials: {excerpt(response)}"
        )

    def probe_accepted(self, response: requests.Response) -> bool:
        """Whether a 2xx answer to the probe means the credentials work (it does unless the platform says)."""
        return True

    def call(self, method: str, path: str, *, accept: Sequence[int] = (), **kwargs: Any) -> requests.Response:
        """One request; a 2xx (or a status in `accept`, for the caller to read) is returned, anything else refused.
        A 401 to credentials that can be renewed renews them and sends the request once more."""
        for attempt in range(2):
            try:
                response = self.session.request(
                    method, self.base_url + path, headers=self.headers(), timeout=TIMEOUT, **kwargs
                )
            except OutboundRefused as error:
                answer = f"{self.platform} cannot be called: {error}"
                raise Refused(OutcomeStatus.DISABLED, answer, halts=True) from None
            except requests.RequestException as error:
                raise Refused(OutcomeStatus.RETRY, f"no answer from {self.platform}: {type(error).__name__}") from None
            if response.status_code != 401 or attempt or not self.renewed():
                break
        if response.ok or response.status_code in accept:
            return response
        raise self.refusal(response)

    def refusal(self, response: requests.Response) -> Refused:
        """What a non-2xx answer means for the change."""
        status = response.status_code
        if self.auth_refused(response):
            answer = f"{self.platform} refused the credentials (reconnect the destination): {excerpt(response)}"
            return Refused(OutcomeStatus.DISABLED, answer, halts=True)
        if status == 429:
            return Refused(OutcomeStatus.RETRY, excerpt(response), self.wait_asked(response), halts=True)
        if status >= 500:
            asked = retry_after_seconds(response.headers.get("Retry-After"))
            return Refused(OutcomeStatus.RETRY, excerpt(response), asked)
        return Refused(OutcomeStatus.FAILED, excerpt(response))


def access_token(tokens: AccessTokens) -> str:
    """The OAuth access token to call with; Refused when there is none to be had (the rest of the batch would meet
    the same, so it halts)."""
    token = tokens.token()
    if isinstance(token, Refusal):
        raise Refused(token.status, token.answer, token.retry_after, halts=True)
    return token


class SequencerAdapter:
    """The shared flow; a platform supplies `find`, `create`, `enrol` and `remove` (and how it answers a refusal)."""

    max_batch = 1

    def __init__(self, connection: Connection, options: SequencerOptions) -> None:
        self.connection = connection
        self.platform = connection.platform
        self.call = connection.call
        self.options = options
        self._halt: Refused | None = None

    @property
    def exits_undo_entries(self) -> bool:
        return self.options.on_exit == "remove"

    # -- what a platform supplies ------------------------------------------------------------------------

    def find(self, person: Person) -> str | None:
        """The platform's id of the person with this e-mail address, if there is one."""
        raise NotImplementedError

    def create(self, person: Person) -> str:
        raise NotImplementedError

    def enrol(self, steps: Sequence[Step]) -> dict[str, Outcome]:
        """Enrol each step's person (found or created); an outcome per delivery id."""
        raise NotImplementedError

    def remove(self, steps: Sequence[Step]) -> dict[str, Outcome]:
        """Take each step's person out of the sequence; an outcome per delivery id."""
        raise NotImplementedError

    # -- the shared flow ---------------------------------------------------------------------------------

    def send(self, deliveries: Sequence[Delivery]) -> list[Outcome]:
        self._halt = None
        outcomes: dict[str, Outcome] = {}
        entries: list[Step] = []
        exits: list[Step] = []
        for delivery in deliveries:
            outcome = self.attempt(delivery, partial(self._prepare, delivery, entries, exits))
            if outcome is not None:
                outcomes[delivery.delivery_id] = outcome
        for steps, action in ((entries, self.enrol), (exits, self.remove)):
            if not steps:
                continue
            try:
                outcomes.update(self._halted(steps) if self._halt else action(steps))
            except UNREADABLE as error:
                refused = self._unreadable(error)
                outcomes.update({step.delivery.delivery_id: self._outcome(step.delivery, refused) for step in steps})
            except Refused as refused:
                outcomes.update({step.delivery.delivery_id: self._outcome(step.delivery, refused) for step in steps})
        return [outcomes[delivery.delivery_id] for delivery in deliveries]

    def _prepare(self, delivery: Delivery, entries: list[Step], exits: list[Step]) -> Outcome | None:
        person = person_of(delivery)
        if delivery.transition == Transition.EXITED:
            if self.options.on_exit == "ignore":
                return self.delivered(delivery, "exit ignored: the action's on_exit is `ignore`")
            person_id = self.find(person)
            if person_id is None:
                return self.delivered(delivery, f"{person.email} is not in {self.platform}: nothing to remove")
            exits.append(Step(delivery, person, person_id))
            return None
        entries.append(Step(delivery, person, self.find(person) or self._create(person)))
        return None

    def _create(self, person: Person) -> str:
        """Create the person; when the platform refuses because someone created them meanwhile (a concurrent
        delivery), use that one."""
        try:
            return self.create(person)
        except Refused as refused:
            if refused.status != OutcomeStatus.FAILED:
                raise
            found = self.find(person)
            if found is None:
                raise
            return found

    def attempt(self, delivery: Delivery, work: Callable[[], Outcome | None]) -> Outcome | None:
        """Run one change's work; a refusal becomes its outcome, and a halting one (401, 429) every later one's."""
        if self._halt is not None:
            return self._outcome(delivery, self._halt)
        try:
            return work()
        except UNREADABLE as error:
            return self._outcome(delivery, self._unreadable(error))
        except Refused as refused:
            return self._outcome(delivery, refused)

    def _unreadable(self, error: Exception) -> Refused:
        """A 2xx answer without the JSON it should carry (e.g. a proxy's HTML page): sent again later, which is
        safe because every step first looks at what the platform already has."""
        answer = f"{self.platform} sent an answer Roster cannot read ({type(error).__name__}: {error})"
        return Refused(OutcomeStatus.RETRY, answer[:EXCERPT])

    def each(self, steps: Sequence[Step], work: Callable[[Step], Outcome]) -> dict[str, Outcome]:
        """For platforms that take one person a request: each refusal settles its own change (401, 429 the rest)."""
        outcomes: dict[str, Outcome] = {}
        for step in steps:
            outcome = self.attempt(step.delivery, partial(work, step))
            assert outcome is not None
            outcomes[step.delivery.delivery_id] = outcome
        return outcomes

    def _outcome(self, delivery: Delivery, refused: Refused) -> Outcome:
        if refused.halts and self._halt is None:
            stopped = f"not sent, the batch stopped at: {refused.answer}"
            self._halt = Refused(refused.status, stopped, refused.retry_after, halts=True)
        return Outcome(delivery.delivery_id, refused.status, refused.answer, refused.retry_after)

    def _halted(self, steps: Sequence[Step]) -> dict[str, Outcome]:
        assert self._halt is not None
        return {step.delivery.delivery_id: self._outcome(step.delivery, self._halt) for step in steps}

    @staticmethod
    def delivered(delivery: Delivery, answer: str) -> Outcome:
        return Outcome(delivery.delivery_id, OutcomeStatus.DELIVERED, answer)


def check_secret(secret: str) -> None:
    """At save time: the secret is the token or key itself (one line, no spaces), as the platform issued it."""
    if not secret.strip():
        raise ValueError("the secret is empty: give the platform's access token or API key")
    if any(character.isspace() for character in secret):
        raise ValueError("the secret contains spaces or line breaks: give only the access token or API key")

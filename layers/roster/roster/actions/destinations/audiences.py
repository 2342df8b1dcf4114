"""What the ad-audience destinations (Google Ads Customer Match, Meta Custom Audiences, LinkedIn DMP segments) share.

Each platform matches people by SHA-256 hex digests of identifiers it normalized first, and the digests only match
when Roster normalizes exactly as the platform does. The rules coincide for e-mail addresses (trimmed and
lower-cased: `normalize_email`, which also refuses what is not an address) and for the number a phone is read
as (E.164 via libphonenumber, a national number read in the record's `country`); they differ in how the phone
is written before hashing and in what a name may keep, so those live with each platform.

An adapter answers one outcome per delivery: a record without a usable identifier fails alone with the reason;
an answer about the whole request (auth refused, throttled, platform down) applies to every delivery sent in it.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol, TypeVar

import phonenumbers
import requests
from phonenumbers import NumberParseException, PhoneNumberFormat
from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

from roster.actions.destinations.base import Adapter, AudienceStatus, Delivery, KeptSecret, Outcome, OutcomeStatus
from roster.actions.destinations.webhook import answer
from roster.connectors.core.trust import local_stack
from roster.enrich.providers.http import retry_after_seconds
from roster.enrich.providers.phones import region_of
from roster.identity.aliases import normalize_email
from roster.outbound import OutboundRefused, Unresolvable, check_url
from roster.profiles.fields import Kind

TIMEOUT_SECONDS = 30.0
T = TypeVar("T")


class PlatformSettings(BaseModel):
    """What every ad platform's settings share: nothing unknown, and every `*_url` the platform's own (https), or
    on a local stack only another https:// URL (an emulator's)."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*")
    @classmethod
    def _platform_urls(cls, value: Any, info: ValidationInfo) -> Any:
        name = str(info.field_name)
        if not name.endswith("_url"):
            return value
        if not str(value).startswith("https://"):
            raise ValueError(f"{name} must be an https:// URL")
        if value != cls.model_fields[name].default and not local_stack():
            raise ValueError(f"{name} can be changed only on a local stack (to reach an emulator)")
        return value


def check(settings: BaseModel) -> None:
    """At save time: every `*_url` setting must name a public address (raises OutboundRefused or Unresolvable)."""
    for name, value in settings:
        if name.endswith("_url") and isinstance(value, str):
            check_url(value)


def check_token(secret: str) -> None:
    """An access token: one value, no spaces (the value itself is never echoed)."""
    if not secret.strip() or len(secret.split()) != 1:
        raise ValueError("the secret is the platform's access token: one value without spaces")


def probed(answered: requests.Response | Refusal, said: Callable[[requests.Response], str]) -> Outcome:
    """A test call's outcome: DELIVERED with `said(answer)` when the platform accepted the credentials, else what
    its refusal means (a test is never retried, so a RETRY just reports the answer)."""
    test_id = f"test_{secrets.token_hex(8)}"
    if isinstance(answered, Refusal):
        return Outcome(test_id, answered.status, answered.answer, answered.retry_after)
    return Outcome(test_id, OutcomeStatus.DELIVERED, said(answered))


class AudienceUnreadable(Exception):
    """The platform did not say how big the audience is (the reason is its answer)."""


class AudienceAdapter(Adapter, Protocol):
    """An adapter that also reads its audience's size from the platform (never estimated by Roster)."""

    def audience_status(self) -> AudienceStatus:
        """The size the platform reports and its minimum to serve ads; AudienceUnreadable when it will not say."""
        ...


def audience_reader(
    build: Callable[[Any, Any, str, requests.Session, KeptSecret], AudienceAdapter],
) -> Callable[[Any, Any, str, requests.Session, KeptSecret], AudienceStatus]:
    """The registry's `audience` hook for a kind: build the adapter, ask the platform."""

    def read(settings: Any, options: Any, secret: str, session: requests.Session, kept: KeptSecret) -> AudienceStatus:
        return build(settings, options, secret, session, kept).audience_status()

    return read


def sha256_hex(value: str) -> str:
    """The lower-case hex SHA-256 of the UTF-8 bytes, as every platform takes it."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def text_of(fields: Mapping[str, Any], name: str) -> str | None:
    value = fields.get(name)
    if isinstance(value, list):
        value = value[0] if value else None
    if value is None:
        return None
    text = str(value).strip()
    return text or None


@dataclass(frozen=True)
class Person:
    """A record's identifiers in the forms every platform starts from (None when absent or unusable)."""

    email: str | None  # trimmed, lower-cased, a valid address
    phone: str | None  # E.164, `+` and digits
    first_name: str | None  # as given, trimmed (each platform folds names its own way)
    last_name: str | None
    country: str | None  # ISO 3166-1 alpha-2, upper case
    postal_code: str | None
    problems: tuple[str, ...]  # why a given e-mail or phone could not be used


def person(fields: Mapping[str, Any]) -> Person:
    """Read `email`, `phone`, `first_name`, `last_name`, `country` and `postal_code` from a delivery's fields."""
    problems = []
    raw_email = text_of(fields, "email")
    email = normalize_email(raw_email) if raw_email else None
    if raw_email and email is None:
        problems.append(f"email {raw_email!r} is not an e-mail address")
    country = region_of(text_of(fields, "country"))
    raw_phone = text_of(fields, "phone")
    phone = None
    if raw_phone:
        phone = e164(raw_phone, country)
        if phone is None:
            problems.append(f"phone {raw_phone!r} is not a valid number (give +country code, or a country)")
    return Person(
        email=email,
        phone=phone,
        first_name=text_of(fields, "first_name"),
        last_name=text_of(fields, "last_name"),
        country=country,
        postal_code=text_of(fields, "postal_code"),
        problems=tuple(problems),
    )


def e164(text: str, region: str | None) -> str | None:
    """`+14155552671` for `(415) 555-2671` in US, or None when it is not a valid number."""
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def not_a_person(delivery: Delivery) -> Outcome | None:
    """The FAILED outcome of a company record: an ad audience holds people (match keys are a person's)."""
    if delivery.kind is Kind.PEOPLE:
        return None
    return Outcome(delivery.delivery_id, OutcomeStatus.FAILED, "not sent: an ad audience holds people, not companies")


def unusable(delivery: Delivery, person: Person, needs: str) -> Outcome:
    """The FAILED outcome of a record that has none of the identifiers the platform matches on."""
    reasons = "; ".join(person.problems) if person.problems else f"the record has no {needs}"
    return Outcome(delivery.delivery_id, OutcomeStatus.FAILED, f"not sent: {reasons}")


def noting(outcome: Outcome, problems: Sequence[str]) -> Outcome:
    """A delivered outcome that also says which of the record's identifiers were left out, and why."""
    if not problems or outcome.status is not OutcomeStatus.DELIVERED:
        return outcome
    return replace(outcome, answer=f"{outcome.answer}; left out: {'; '.join(problems)}")


@dataclass(frozen=True)
class Refusal:
    """An answer about a whole request, given to every delivery it carried."""

    status: OutcomeStatus
    answer: str
    retry_after: float | None = None

    def outcomes(self, deliveries: Sequence[Delivery]) -> list[Outcome]:
        return [Outcome(d.delivery_id, self.status, self.answer, self.retry_after) for d in deliveries]


def call(session: requests.Session, method: str, url: str, **kwargs: Any) -> requests.Response | Refusal:
    """One request; a connection that fails or times out is a RETRY, an address Roster may not call a FAILED."""
    try:
        return session.request(method, url, timeout=TIMEOUT_SECONDS, allow_redirects=False, **kwargs)
    except OutboundRefused as refused:
        return Refusal(OutcomeStatus.FAILED, f"refused: {refused}")
    except Unresolvable as error:
        return Refusal(OutcomeStatus.RETRY, str(error))
    except requests.Timeout:
        return Refusal(OutcomeStatus.RETRY, f"no answer within {TIMEOUT_SECONDS:.0f} s")
    except requests.RequestException as error:
        return Refusal(OutcomeStatus.RETRY, f"connection failed ({type(error).__name__})")


def refusal(response: requests.Response, *, retry_after: float | None = None, said: str | None = None) -> Refusal:
    """The usual meaning of a failed answer: 401/403 disable the destination (credentials or access gone, the
    reason in the answer), 404 too (the audience is gone), 409/429/5xx retry (after `Retry-After` or the
    platform's own hint), any other 4xx fails the request's deliveries. `said` summarizes the answer (else its
    status and first characters)."""
    status = response.status_code
    text = said or answer(response)
    if status in (401, 403, 404):
        return Refusal(OutcomeStatus.DISABLED, text)
    if status in (409, 429) or status >= 500:
        wait = retry_after_seconds(response.headers.get("Retry-After"))
        return Refusal(OutcomeStatus.RETRY, text, wait if wait is not None else retry_after)
    return Refusal(OutcomeStatus.FAILED, text)


def json_of(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def chunks(items: Sequence[T], size: int) -> list[Sequence[T]]:
    return [items[start : start + size] for start in range(0, len(items), size)]

"""Google Ads Customer Match: a segment's members kept in a Customer Match user list.

A send is one offline user data job (OfflineUserDataJobService, REST): `offlineUserDataJobs:create` for the user
list, `:addOperations` with one `create` (entry) or `remove` (exit) operation a person (partial failure on, so one
refused person does not sink the rest), then `:run`. Google takes at most 100,000 user identifiers a request and
20 a person, and recommends about 10,000 identifiers a request: Roster sends at most three a person (e-mail,
phone, address) and adds operations in requests of up to 10,000 identifiers, so 10,000 changes (the adapter's
batch) with an e-mail each take three requests (create, add, run). With `consent_granted`, jobs carry the
people's consent (ad_user_data and ad_personalization GRANTED), as Google asks since API v15. The job runs on
Google's side; while one runs, another job on the same list is refused (CONCURRENT_MODIFICATION) and the send is
retried, so an exit never overtakes its entry.

Customer Match normalization (Google's Customer Match guide and client-library examples): e-mails trimmed and
lower-cased (no other change: dropping dots in gmail.com addresses is Google's rule for enhanced conversions,
not for Customer Match); phones in E.164 with the `+`; first and last names lower-cased with extra spaces
removed; each SHA-256 hex. An address is sent only whole (both names hashed, plus the country code and postal code
in clear text, as Google requires). Requests carry the OAuth access token (refreshed from the stored refresh
token), the `developer-token` and, when the account is reached through a manager account, `login-customer-id`.

A list serves ads on Search and YouTube from 1,000 active members; its size is `user_list.size_for_search`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import requests
from pydantic import BaseModel, ConfigDict, Field, field_validator

from roster.actions.destinations.audiences import (
    AudienceUnreadable,
    Person,
    PlatformSettings,
    Refusal,
    call,
    json_of,
    not_a_person,
    noting,
    person,
    probed,
    refusal,
    sha256_hex,
    unusable,
)
from roster.actions.destinations.base import AudienceStatus, Delivery, KeptSecret, Outcome, OutcomeStatus, Transition
from roster.actions.destinations.oauth import AccessTokens, OAuthCredentials
from roster.actions.destinations.oauth import credentials_of as oauth_credentials
from roster.actions.destinations.webhook import answer

API_URL = "https://googleads.googleapis.com"
TOKEN_URL = "https://oauth2.googleapis.com/token"  # noqa: S105 (an address, not a secret)
API_VERSION = "v22"
MAX_BATCH = 10_000
MAX_IDENTIFIERS_PER_REQUEST = 100_000  # Google's limit
IDENTIFIERS_PER_REQUEST = 10_000  # what Google recommends a request carry "for optimal processing"
MAX_IDENTIFIERS_PER_PERSON = 20
MINIMUM = 1_000


def _customer(value: str) -> str:
    digits = value.replace("-", "").strip()
    if not re.fullmatch(r"\d{10}", digits):
        raise ValueError("a Google Ads customer id is 10 digits (123-456-7890)")
    return digits


class GoogleAdsSettings(PlatformSettings):
    """The Google Ads account the lists live in, and the manager account it is reached through (if any)."""

    customer_id: str = Field(description="the account's customer id, 10 digits (dashes allowed)")
    login_customer_id: str | None = Field(default=None, description="the manager account's id, when one is used")
    api_url: str = Field(default=API_URL, description="the API's base URL (another only for a test double)")
    token_url: str = Field(default=TOKEN_URL, description="Google's OAuth token endpoint")
    api_version: str = Field(default=API_VERSION, pattern=r"^v\d+$")
    consent_granted: bool = Field(
        default=False,
        description="the people sent consented to ad_user_data and ad_personalization (Google's EU user consent "
        "policy): jobs say so; otherwise jobs carry no consent and Google applies its own default",
    )

    @field_validator("customer_id", "login_customer_id")
    @classmethod
    def _digits(cls, value: str | None) -> str | None:
        return _customer(value) if value else None


class GoogleAdsOptions(BaseModel):
    """Which Customer Match list the action keeps (the action's `identifiers` say which fields go)."""

    model_config = ConfigDict(extra="forbid")

    user_list_id: str = Field(pattern=r"^\d{1,20}$", description="the Customer Match user list's id")


class GoogleAdsCredentials(OAuthCredentials):
    """The destination's secret, a JSON object: an OAuth client, its refresh token and the developer token."""

    developer_token: str = Field(min_length=1)


def google_name(text: str) -> str:
    """`  Mary  Ann ` -> `mary ann`: lower case, no extra spaces."""
    return " ".join(text.lower().split())


def user_identifiers(record: Person) -> list[dict[str, Any]]:
    """The person's UserIdentifiers (REST JSON), empty when none is usable."""
    found: list[dict[str, Any]] = []
    if record.email:
        found.append({"hashedEmail": sha256_hex(record.email)})
    if record.phone:
        found.append({"hashedPhoneNumber": sha256_hex(record.phone)})
    if record.first_name and record.last_name and record.country and record.postal_code:
        address = {
            "hashedFirstName": sha256_hex(google_name(record.first_name)),
            "hashedLastName": sha256_hex(google_name(record.last_name)),
            "countryCode": record.country,
            "postalCode": record.postal_code,
        }
        found.append({"addressInfo": address})
    return found[:MAX_IDENTIFIERS_PER_PERSON]


def retry_delay(response: requests.Response) -> float | None:
    """The `retryDelay` (`"30s"`) of a RESOURCE_EXHAUSTED answer's quota error details, in seconds."""
    body = json_of(response)
    details = body.get("error", {}).get("details", []) if isinstance(body, dict) else []
    for detail in details if isinstance(details, list) else []:
        for error in detail.get("errors", []) if isinstance(detail, dict) else []:
            delay = ((error.get("details") or {}).get("quotaErrorDetails") or {}).get("retryDelay")
            if isinstance(delay, str) and re.fullmatch(r"\d+(\.\d+)?s", delay):
                return float(delay[:-1])
    return None


def google_answer(response: requests.Response) -> str:
    """`409 ABORTED databaseError=CONCURRENT_MODIFICATION: Multiple requests ...`: status, codes, message."""
    body = json_of(response)
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return answer(response)
    codes = [
        f"{kind}={value}"
        for detail in error.get("details") or []
        for item in (detail.get("errors") or [] if isinstance(detail, dict) else [])
        for kind, value in (item.get("errorCode") or {}).items()
    ]
    said = f"{response.status_code} {error.get('status', '')} {','.join(codes)}".strip()
    return f"{said}: {error.get('message', '')}"[:200]


def partial_failures(body: Any) -> dict[int, str]:
    """Operation index -> Google's message, from an `addOperations` answer's `partialFailureError`."""
    failures: dict[int, str] = {}
    error = body.get("partialFailureError") if isinstance(body, dict) else None
    for detail in (error or {}).get("details", []):
        for item in detail.get("errors", []) if isinstance(detail, dict) else []:
            path = (item.get("location") or {}).get("fieldPathElements") or []
            index = next((step.get("index") for step in path if step.get("fieldName") == "operations"), None)
            if isinstance(index, int):
                code = ",".join(f"{kind}={value}" for kind, value in (item.get("errorCode") or {}).items())
                failures[index] = f"{code}: {item.get('message', '')}"[:200]
    return failures


class GoogleAdsApi:
    """Calls to one Google Ads account: an access token from the refresh token (see `oauth`), the developer token
    and the manager's `login-customer-id` on every request."""

    def __init__(
        self,
        settings: GoogleAdsSettings,
        credentials: GoogleAdsCredentials,
        session: requests.Session,
        kept: KeptSecret,
    ) -> None:
        self.settings = settings
        self.credentials = credentials
        self.session = session
        self.base = f"{settings.api_url.rstrip('/')}/{settings.api_version}"
        self.customer = f"customers/{settings.customer_id}"
        self.tokens = AccessTokens("Google", settings.token_url, credentials, session, kept)

    def post(self, path: str, payload: dict[str, Any]) -> requests.Response | Refusal:
        """POST to `{version}/{path}`; a 401 on a kept token refreshes it once."""
        for attempt in range(2):
            token = self.tokens.token()
            if isinstance(token, Refusal):
                return token
            headers = {"Authorization": f"Bearer {token}", "developer-token": self.credentials.developer_token}
            if self.settings.login_customer_id:
                headers["login-customer-id"] = self.settings.login_customer_id
            response = call(self.session, "POST", f"{self.base}/{path}", json=payload, headers=headers)
            if isinstance(response, Refusal) or response.status_code != 401 or attempt or not self.tokens.expired():
                return response
        raise AssertionError("unreachable")

    def search(self, query: str) -> requests.Response | Refusal:
        """A GAQL query; a failed answer comes back as what it means (a Refusal)."""
        response = self.post(f"{self.customer}/googleAds:search", {"query": query})
        if isinstance(response, Refusal) or response.ok:
            return response
        return google_refusal(response)


def google_refusal(response: requests.Response) -> Refusal:
    """What Google's answer means: a list that is gone disables; quota errors retry after Google's retryDelay."""
    said = google_answer(response)
    if "INVALID_USER_LIST_ID" in said:  # the list was removed (or never was in this account)
        return Refusal(OutcomeStatus.DISABLED, said)
    return refusal(response, retry_after=retry_delay(response), said=said)


class GoogleAdsAdapter:
    """Adds entries to and removes exits from one Customer Match list through offline user data jobs."""

    max_batch = MAX_BATCH
    exits_undo_entries = True

    def __init__(self, api: GoogleAdsApi, options: GoogleAdsOptions) -> None:
        self.api = api
        self.consent = "GRANTED" if api.settings.consent_granted else None
        self.user_list = f"{api.customer}/userLists/{options.user_list_id}"

    # -- sending --------------------------------------------------------------------------------------------

    def send(self, deliveries: Sequence[Delivery]) -> list[Outcome]:
        outcomes: dict[str, Outcome] = {}
        problems: dict[str, tuple[str, ...]] = {}
        batch: list[tuple[Delivery, dict[str, Any]]] = []
        for delivery in deliveries:
            refused = not_a_person(delivery)
            if refused is not None:
                outcomes[delivery.delivery_id] = refused
                continue
            record = person(delivery.fields)
            problems[delivery.delivery_id] = record.problems
            found = user_identifiers(record)
            if not found:
                outcomes[delivery.delivery_id] = unusable(delivery, record, "e-mail, phone or full address")
                continue
            verb = "create" if delivery.transition is Transition.ENTERED else "remove"
            batch.append((delivery, {verb: {"userIdentifiers": found}}))
        if batch:
            for outcome in self._job(batch):
                outcomes[outcome.delivery_id] = outcome
        return [noting(outcomes[d.delivery_id], problems.get(d.delivery_id, ())) for d in deliveries]

    def _job(self, batch: list[tuple[Delivery, dict[str, Any]]]) -> list[Outcome]:
        deliveries = [delivery for delivery, _ in batch]
        metadata: dict[str, Any] = {"userList": self.user_list}
        if self.consent is not None:
            metadata["consent"] = {"adUserData": self.consent, "adPersonalization": self.consent}
        job = {"type": "CUSTOMER_MATCH_USER_LIST", "customerMatchUserListMetadata": metadata}
        created = self.api.post(f"{self.api.customer}/offlineUserDataJobs:create", {"job": job})
        if isinstance(created, Refusal) or not created.ok:
            return self._refused(created, deliveries)
        name = (json_of(created) or {}).get("resourceName")
        if not isinstance(name, str):
            return Refusal(OutcomeStatus.RETRY, f"no job in the answer: {answer(created)}").outcomes(deliveries)
        failed: dict[str, Outcome] = {}
        start = 0
        while start < len(batch):
            end, identifiers = start, 0
            while end < len(batch) and (end == start or identifiers + _count(batch[end][1]) <= IDENTIFIERS_PER_REQUEST):
                identifiers += _count(batch[end][1])
                end += 1
            part = batch[start:end]
            added = self.api.post(
                f"{name}:addOperations", {"enablePartialFailure": True, "operations": [op for _, op in part]}
            )
            if isinstance(added, Refusal) or not added.ok:
                return [*failed.values(), *self._refused(added, [d for d, _ in batch if d.delivery_id not in failed])]
            for index, message in partial_failures(json_of(added)).items():
                delivery = part[index][0]
                failed[delivery.delivery_id] = Outcome(delivery.delivery_id, OutcomeStatus.FAILED, message)
            start = end
        sent = [delivery for delivery in deliveries if delivery.delivery_id not in failed]
        if not sent:
            return list(failed.values())
        ran = self.api.post(f"{name}:run", {})
        if isinstance(ran, Refusal) or not ran.ok:
            return [*failed.values(), *self._refused(ran, sent)]
        said = f"{ran.status_code}: job {name} running"
        return [*failed.values(), *(Outcome(d.delivery_id, OutcomeStatus.DELIVERED, said) for d in sent)]

    @staticmethod
    def _refused(response: requests.Response | Refusal, deliveries: Sequence[Delivery]) -> list[Outcome]:
        refused = response if isinstance(response, Refusal) else google_refusal(response)
        return refused.outcomes(deliveries)

    def audience_status(self) -> AudienceStatus:
        fields = "user_list.size_for_search, user_list.size_for_display"
        query = f"SELECT {fields} FROM user_list WHERE user_list.resource_name = '{self.user_list}'"  # noqa: S608 (GAQL; ids are digits)
        response = self.api.search(query)
        if isinstance(response, Refusal):
            raise AudienceUnreadable(response.answer)
        results = (json_of(response) or {}).get("results") or []
        if not results:
            raise AudienceUnreadable(f"no user list {self.user_list} in the account")
        size = (results[0].get("userList") or {}).get("sizeForSearch")  # int64: a string in JSON
        return AudienceStatus(size=int(size) if size is not None else None, minimum=MINIMUM)


def _count(operation: dict[str, Any]) -> int:
    return sum(len(body["userIdentifiers"]) for body in operation.values())


def credentials_of(secret: str) -> GoogleAdsCredentials:
    """The secret's JSON, or a ValueError saying which key is missing (never echoing the values)."""
    return oauth_credentials(secret, GoogleAdsCredentials, "Google Ads")


def build(
    settings: GoogleAdsSettings,
    options: GoogleAdsOptions,
    secret: str,
    session: requests.Session,
    kept: KeptSecret,
) -> GoogleAdsAdapter:
    return GoogleAdsAdapter(GoogleAdsApi(settings, credentials_of(secret), session, kept), options)


def check_secret(secret: str) -> None:
    credentials_of(secret)


def probe(settings: GoogleAdsSettings, secret: str, session: requests.Session, kept: KeptSecret) -> Outcome:
    """The credentials reach the account: a GAQL query for the customer (no list is touched)."""
    answered = GoogleAdsApi(settings, credentials_of(secret), session, kept).search("SELECT customer.id FROM customer")
    return probed(answered, lambda ok: f"{ok.status_code}: the credentials reach customer {settings.customer_id}")

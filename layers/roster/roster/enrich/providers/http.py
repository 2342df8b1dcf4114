"""A provider for any JSON enrichment API, described by configuration instead of code.

The request is built from templates. `{{field}}` names one of the provider's input fields and
`{{secret:NAME}}` a secret, read through the callable the provider is given (for every request, so
a rotated key takes effect at once; the callable should cache). Values are never pasted into the
request's text: in the URL they are percent-encoded (so `/`, `?`, `&` or `#` in a value cannot
change the path or add parameters), in the JSON body they fill string values of the parsed template
and are encoded by the JSON serializer, and the host is fixed by the configuration. Secrets go in
headers or the body only, never the URL, which HTTP libraries and servers write to their logs; input
fields go in the URL or the body only. Secrets never appear in our logs or reasons either: requests
are logged by provider name and status, exceptions by type, and an error message echoed by the API
has the secrets blanked out.

Answers: 2xx maps response paths (`data.person.title`, `emails[0].address`) to output fields;
404 is "not found"; 408, 429, 5xx and connection failures are retried with exponential backoff,
honouring Retry-After, and become retryable errors when retries run out; any other status is an
error with the status and a short reason. Redirects are not followed, so headers carrying
secrets never reach another host. Only public addresses are called (`roster.outbound`): a host that
resolves to a loopback, private, link-local or other internal address is refused before connecting.
"""

from __future__ import annotations

import email.utils
import http.cookiejar
import json
import logging
import math
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Self
from urllib.parse import quote, urlsplit

import requests
from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator, model_validator
from tenacity import RetryCallState, Retrying, retry_if_exception_type, wait_exponential_jitter

from roster.enrich.providers.base import Provider, ProviderResult
from roster.enrich.providers.ratelimit import RateLimiter
from roster.enrich.providers.text import optional_text, read_text
from roster.outbound import OutboundRefused, guard
from roster.profiles.fields import FIELD_NAME, FieldType, is_empty
from roster.profiles.limits import MAX_TEXT

logger = logging.getLogger(__name__)

#: `{{email}}` or `{{secret:API_KEY}}`; secret names may use the characters Secrets Manager allows.
_PLACEHOLDER = re.compile(r"\{\{\s*(secret:)?\s*([A-Za-z0-9_/+=.@-]+)\s*\}\}")
#: `data.person.title`, `emails[0].address`, `[0].id`.
_PATH = re.compile(r"(?:[^.\[\]]+|\[\d+\])(?:\.[^.\[\]]+|\[\d+\])*")
_PATH_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
#: Fields of an error body that usually hold the API's own explanation.
_MESSAGE_KEYS = ("message", "error_description", "error", "detail", "title")
_MAX_REASON_CHARS = 200
#: A list of objects is read, not stored whole (a signal keeps what it reports), so it may be longer.
MAX_RECORDS_CHARS = 200_000


class OutputMapping(BaseModel):
    """Where in the response an output field's value is, and its type."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str
    type: FieldType = FieldType.STRING

    @field_validator("path")
    @classmethod
    def _path_is_valid(cls, path: str) -> str:
        if not _PATH.fullmatch(path):
            raise ValueError("path must look like `data.person.title` or `emails[0].address`")
        return path

    def steps(self) -> list[str | int]:
        """The path as object keys and list indexes."""
        return [int(index) if index else key for key, index in _PATH_STEP.findall(self.path)]


class HttpProviderConfig(BaseModel):
    """How to ask one enrichment API about one record, and what its answer means."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=FIELD_NAME.pattern)
    method: Literal["GET", "POST", "PUT", "PATCH"] = "GET"
    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    body: JsonValue = None
    inputs: tuple[str, ...] = Field(min_length=1)  # required: a record without one is "not found", unsent
    optional_inputs: tuple[str, ...] = ()  # missing ones become "" in the URL and null in the body
    outputs: dict[str, OutputMapping] = Field(min_length=1)
    credits_per_record: float = Field(default=1.0, ge=0)
    batch_size: int = Field(default=50, ge=1, le=1000)
    rate_limit_per_second: float | None = Field(default=5.0, gt=0)
    concurrency: int = Field(default=4, ge=1, le=32)
    max_retries: int = Field(default=3, ge=0, le=10)
    backoff_seconds: float = Field(default=0.5, ge=0, le=60)
    max_wait_seconds: float = Field(default=30.0, ge=0, le=300)  # longer Retry-After: give up, retryable
    timeout_seconds: float = Field(default=10.0, gt=0, le=300)

    @model_validator(mode="after")
    def _templates_are_valid(self) -> Self:
        for field in (*self.inputs, *self.optional_inputs, *self.outputs):
            if not FIELD_NAME.fullmatch(field):
                raise ValueError(f"{field!r} is not a field name")
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname or "{{" in parts.netloc:
            raise ValueError("url must be http(s) with a fixed host")
        known = {*self.inputs, *self.optional_inputs}
        for template in (self.url, *_strings(self.body)):
            for is_secret, name in _placeholders(template):
                if not is_secret and name not in known:
                    raise ValueError(f"template uses {{{{{name}}}}}, which is not an input")
        if any(is_secret for is_secret, _ in _placeholders(self.url)):
            raise ValueError("secrets may not go in the url, which servers and HTTP libraries log; use a header")
        for template in self.headers.values():
            if any(not is_secret for is_secret, _ in _placeholders(template)):
                raise ValueError("headers may use secrets only, not input fields")
        return self

    @property
    def secret_names(self) -> frozenset[str]:
        templates = (*self.headers.values(), *_strings(self.body))
        return frozenset(name for template in templates for is_secret, name in _placeholders(template) if is_secret)


def _placeholders(template: str) -> list[tuple[bool, str]]:
    """(is a secret, name) of each placeholder; raises ValueError on a malformed one."""
    if "{{" in _PLACEHOLDER.sub("", template):
        raise ValueError("malformed placeholder: use {{field}} or {{secret:NAME}}")
    return [(bool(secret), name) for secret, name in _PLACEHOLDER.findall(template)]


def _strings(node: JsonValue) -> list[str]:
    """Every string value in a JSON template (object keys are literal)."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, list):
        return [text for item in node for text in _strings(item)]
    if isinstance(node, dict):
        return [text for item in node.values() for text in _strings(item)]
    return []


def _fill(template: str, values: Mapping[str, str], secrets: Mapping[str, str], encode: Callable[[str], str]) -> str:
    return _PLACEHOLDER.sub(lambda match: encode(secrets[match[2]] if match[1] else values.get(match[2], "")), template)


def _fill_json(node: JsonValue, values: Mapping[str, str], secrets: Mapping[str, str]) -> JsonValue:
    """The body template with placeholders filled in its string values; a lone missing input is null."""
    if isinstance(node, str):
        whole = _PLACEHOLDER.fullmatch(node)
        if whole and not whole[1] and whole[2] not in values:
            return None
        return _fill(node, values, secrets, str)
    if isinstance(node, list):
        return [_fill_json(item, values, secrets) for item in node]
    if isinstance(node, dict):
        return {key: _fill_json(item, values, secrets) for key, item in node.items()}
    return node


def _url_encode(value: str) -> str:
    return quote(value, safe="")


@dataclass(frozen=True, slots=True)
class _Request:
    url: str
    headers: dict[str, str]
    body: JsonValue


class _Retryable(Exception):
    """A failure that may pass if the same request is sent again later."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds a Retry-After header asks to wait (delta seconds or an HTTP date), or None."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class HttpProvider(Provider):
    """An enrichment API called once per record, on a few threads, within its rate limit."""

    def __init__(self, config: HttpProviderConfig, secrets: Callable[[str], str]) -> None:
        self.config = config
        self.name = config.name
        self.inputs = (*config.inputs, *config.optional_inputs)
        self.outputs = {field: mapping.type for field, mapping in config.outputs.items()}
        self.credits_per_record = config.credits_per_record
        self.batch_size = config.batch_size
        self.rate_limit_per_second = config.rate_limit_per_second
        self._secret = secrets
        self._secret_names = sorted(config.secret_names)
        self._limiter = RateLimiter(config.rate_limit_per_second) if config.rate_limit_per_second else None
        self._session = _session(config.concurrency)
        backoff = wait_exponential_jitter(
            multiplier=config.backoff_seconds, max=config.max_wait_seconds, jitter=config.backoff_seconds
        )
        self._retrying = Retrying(
            stop=self._gives_up,
            wait=lambda state: _retry_after(state) or backoff(state),
            retry=retry_if_exception_type(_Retryable),
            before_sleep=self._log_retry,
            reraise=True,
        )

    def enrich(self, records: Sequence[Mapping[str, Any]]) -> list[ProviderResult]:
        with ThreadPoolExecutor(max_workers=self.config.concurrency, thread_name_prefix=self.name) as pool:
            return list(pool.map(self.answer, records))

    def enrich_record(self, record: Mapping[str, Any]) -> ProviderResult:
        values = {field: read_text(record, field) for field in self.config.inputs}
        for field in self.config.optional_inputs:
            text = optional_text(record, field)
            if text is not None:
                values[field] = text
        try:
            secrets = {name: self._secret(name) for name in self._secret_names}
        except Exception as failure:
            logger.error("enrichment provider %s could not read a secret: %s", self.name, type(failure).__name__)
            return ProviderResult.error(f"could not read a secret of {self.name} ({type(failure).__name__})")
        request = _Request(
            url=_fill(self.config.url, values, {}, _url_encode),
            headers={name: _fill(value, values, secrets, str) for name, value in self.config.headers.items()},
            body=_fill_json(self.config.body, values, secrets),
        )
        retrying = self._retrying.copy()
        try:
            response = retrying(self._send, request)
        except _Retryable as failure:
            attempts = retrying.statistics.get("attempt_number", 1)
            return ProviderResult.error(f"{failure.reason}; gave up after {attempts} attempt(s)", retryable=True)
        except OutboundRefused as refused:
            return ProviderResult.error(f"{self.name} was not called: {refused}")
        except requests.RequestException as failure:
            return ProviderResult.error(f"request to {self.name} failed ({type(failure).__name__})")
        return self._result(response, secrets.values())

    def _send(self, request: _Request) -> requests.Response:
        if self._limiter is not None:
            self._limiter.acquire()
        try:
            response = self._session.request(
                self.config.method,
                request.url,
                headers=request.headers,
                json=request.body,
                timeout=self.config.timeout_seconds,
                allow_redirects=False,
            )
        except (requests.ConnectionError, requests.Timeout) as failure:
            raise _Retryable(f"could not reach {self.name} ({type(failure).__name__})") from None
        if response.status_code in (408, 429) or response.status_code >= 500:
            wait = retry_after_seconds(response.headers.get("Retry-After"))
            asked = "" if wait is None else f" (asked to retry after {wait:.0f} s)"
            raise _Retryable(f"HTTP {response.status_code}{asked}", wait)
        return response

    def _result(self, response: requests.Response, secrets: Collection[str]) -> ProviderResult:
        status = response.status_code
        if status == 404:
            return ProviderResult.not_found(f"{self.name} has no match (HTTP 404)")
        if status >= 300:
            return ProviderResult.error(f"HTTP {status}: {_short_reason(response, secrets)}")
        if not response.content:
            return ProviderResult.not_found(f"{self.name} answered HTTP {status} with no content")
        try:
            data = response.json()
        except ValueError:
            return ProviderResult.error(f"{self.name} answered HTTP {status} with a body that is not JSON")
        values: dict[str, Any] = {}
        problems: list[str] = []
        for field, mapping in self.config.outputs.items():
            value = _lookup(data, mapping.steps())
            if is_empty(value):
                continue
            try:
                values[field] = coerce(value, mapping.type)
            except ValueError as problem:
                problems.append(f"{field} ({mapping.path}): {problem}")
        if not values:
            return ProviderResult.not_found("; ".join([f"{self.name} answered without any mapped field", *problems]))
        return ProviderResult.found(values, reason="; ".join(problems) or None)

    def _gives_up(self, state: RetryCallState) -> bool:
        """After `max_retries` retries, or at once when asked to wait longer than we may (the run re-queues)."""
        wait = _retry_after(state)
        return state.attempt_number > self.config.max_retries or (
            wait is not None and wait > self.config.max_wait_seconds
        )

    def _log_retry(self, state: RetryCallState) -> None:
        failure = state.outcome.exception() if state.outcome else None
        reason = failure.reason if isinstance(failure, _Retryable) else "failure"
        logger.warning("enrichment provider %s: %s, retrying in %.1f s", self.name, reason, state.upcoming_sleep)


def _retry_after(state: RetryCallState) -> float | None:
    failure = state.outcome.exception() if state.outcome else None
    return failure.retry_after if isinstance(failure, _Retryable) else None


def _session(concurrency: int) -> requests.Session:
    """One connection pool for the provider's threads, to public addresses only, refusing cookies so no record's
    answer affects another's."""
    session = guard(requests.Session(), pool_maxsize=concurrency)
    session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    return session


def _short_reason(response: requests.Response, secrets: Collection[str]) -> str:
    """The API's own message when its body has one, else the status phrase; secrets blanked, one short line."""
    text = response.reason or "no reason given"
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        text = next((data[key] for key in _MESSAGE_KEYS if isinstance(data.get(key), str)), text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[secret]")
    text = " ".join("".join(char if char.isprintable() else " " for char in text).split())
    return text[:_MAX_REASON_CHARS]


def _lookup(data: Any, steps: list[str | int]) -> Any:
    """The value at a path, or None when the response does not have it."""
    for step in steps:
        if isinstance(step, int) and isinstance(data, list) and step < len(data):
            data = data[step]
        elif isinstance(step, str) and isinstance(data, dict):
            data = data.get(step)
        else:
            return None
    return data


def coerce(value: Any, kind: FieldType) -> Any:
    """A response value as the output field's type; raises ValueError saying why it cannot be."""
    if kind is FieldType.STRING:
        return _text(value)
    if kind is FieldType.NUMBER:
        try:
            number = float(value) if isinstance(value, str) else value
        except ValueError:
            raise ValueError("expected a number, got text that is not one") from None
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise ValueError(f"expected a number, got {_kind_of(value)}")
        if isinstance(number, float):
            if not math.isfinite(number):
                raise ValueError("expected a number, got infinity or NaN")
            return int(number) if number.is_integer() else number
        return number
    if kind is FieldType.BOOLEAN:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise ValueError(f"expected true or false, got {_kind_of(value)}")
    if kind is FieldType.DATE:
        text = _text(value).strip()
        try:
            datetime.fromisoformat(text)
        except ValueError:
            raise ValueError("expected an ISO 8601 date") from None
        return text
    if kind is FieldType.RECORDS:
        return _records(value)
    items = value if isinstance(value, list) else [value]
    return [_text(item) for item in items if not is_empty(item)]


def _records(value: Any) -> list[dict[str, Any]]:
    """A list of JSON objects (an API's events or related records), bounded like any answer."""
    items = value if isinstance(value, list) else [value]
    if any(not isinstance(item, dict) for item in items):
        raise ValueError("expected a list of objects")
    if len(json.dumps(items)) > MAX_RECORDS_CHARS:
        raise ValueError(f"longer than {MAX_RECORDS_CHARS} characters as JSON")
    return [dict(item) for item in items]


def _text(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"expected text, got {_kind_of(value)}")
    text = str(value)
    if len(text) > MAX_TEXT:  # a longer answer could not be stored: refused with a reason
        raise ValueError(f"longer than {MAX_TEXT:,} characters")
    return text


def _kind_of(value: Any) -> str:
    """A JSON value's kind, for reasons ("expected text, got an object")."""
    names = {bool: "a boolean", dict: "an object", list: "a list", str: "text", type(None): "null"}
    return names.get(type(value), "a number")

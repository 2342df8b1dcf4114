"""The HTTP provider against a real local HTTP server: mapping, retries, encoding, secrets, rate limit."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import pairwise
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roster.enrich.providers import HttpProvider, ResultStatus, http_provider
from roster.enrich.providers.text import InputProblem, optional_text, read_text
from roster_dev.local.outbound import allowed
from tests.conftest import Connections

SECRET = "sk_live_5ecret-value"


@dataclass(frozen=True)
class Received:
    """One request as the server saw it."""

    method: str
    raw_path: str
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def path(self) -> str:
        return urlsplit(self.raw_path).path

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.raw_path).query, keep_blank_values=True)


Reply = tuple[int, dict[str, str], Any]  # status, headers, JSON body (bytes are sent as they are)


@dataclass
class FakeApi:
    """A local enrichment API whose answers each test scripts with `reply`."""

    url: str
    reply: Callable[[Received], Reply] = lambda request: (200, {}, {})
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, request: Received) -> Reply:
        with self.lock:
            self.received.append(request)
        return self.reply(request)


@contextmanager
def serve(*, exempt: bool = True) -> Iterator[FakeApi]:
    """A FakeApi listening on a free local port until the block ends; `exempt` lists it as the local stack
    lists its emulators (Roster calls no other local address)."""

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            request = Received(
                self.command, self.path, dict(self.headers.items()), self.rfile.read(length), time.monotonic()
            )
            status, headers, body = fake.record(request)
            payload = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _handle

        def log_message(self, format: str, *args: Any) -> None:
            """Silent: the tests assert on what was received instead."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake = FakeApi(url=f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        if exempt:
            with allowed("127.0.0.1", server.server_address[1]):
                yield fake
        else:
            yield fake
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def api() -> Iterator[FakeApi]:
    with serve() as fake:
        yield fake


def provider(api_url: str, **overrides: Any) -> HttpProvider:
    config: dict[str, Any] = {
        "name": "acme_people",
        "method": "POST",
        "url": f"{api_url}/v1/people/{{{{email}}}}?name={{{{full_name}}}}&fields=title",
        "headers": {"Authorization": "Bearer {{secret:ACME_KEY}}", "Accept": "application/json"},
        "body": {"query": {"email": "{{email}}", "name": "{{full_name}}", "note": "lookup for {{email}}"}},
        "inputs": ["email"],
        "optional_inputs": ["full_name"],
        "outputs": {
            "job_title": {"path": "data.person.title"},
            "employee_count": {"path": "data.company.size", "type": "number"},
            "personal_email": {"path": "emails[0].address"},
            "skills": {"path": "data.person.skills", "type": "list"},
            "is_hiring": {"path": "data.company.hiring", "type": "boolean"},
        },
        "rate_limit_per_second": None,
        "backoff_seconds": 0.01,
        "max_wait_seconds": 2,
        "timeout_seconds": 5,
    }
    return http_provider({**config, **overrides}, {"ACME_KEY": SECRET}.__getitem__)


PERSON = {
    "data": {
        "person": {"title": "VP Sales", "skills": ["negotiation", "crm"]},
        "company": {"size": "250", "hiring": True},
    },
    "emails": [{"address": "jane.personal@example.org"}, {"address": "other@example.org"}],
}


def test_a_match_is_mapped_to_output_fields_of_their_types(api: FakeApi) -> None:
    api.reply = lambda request: (200, {"Content-Type": "application/json"}, PERSON)
    results = provider(api.url).enrich([{"email": "jane@acme.io", "full_name": "Jane Doe"}])
    assert len(results) == 1
    assert results[0].status is ResultStatus.FOUND
    assert results[0].values == {
        "job_title": "VP Sales",
        "employee_count": 250,
        "personal_email": "jane.personal@example.org",
        "skills": ["negotiation", "crm"],
        "is_hiring": True,
    }
    (request,) = api.received
    assert request.method == "POST"
    assert request.path == "/v1/people/jane%40acme.io"
    assert request.headers["Authorization"] == f"Bearer {SECRET}"
    assert json.loads(request.body) == {
        "query": {"email": "jane@acme.io", "name": "Jane Doe", "note": "lookup for jane@acme.io"}
    }


def test_partial_and_mistyped_answers(api: FakeApi) -> None:
    answers = {
        "some": {"data": {"person": {"title": "CTO"}, "company": {"size": "lots"}}},
        "none": {"data": {"person": None}, "emails": []},
        "text": b"<html>oops</html>",
        "empty": b"",
    }
    api.reply = lambda request: (200, {}, answers[request.path.rsplit("/", 1)[1]])
    some, none, text, empty = provider(api.url).enrich([{"email": name} for name in answers])
    assert some.status is ResultStatus.FOUND and some.values == {"job_title": "CTO"}
    assert some.reason == "employee_count (data.company.size): expected a number, got text that is not one"
    assert none.status is ResultStatus.NOT_FOUND and none.reason == "acme_people answered without any mapped field"
    assert text.status is ResultStatus.ERROR and text.reason is not None and "not JSON" in text.reason
    assert empty.status is ResultStatus.NOT_FOUND and empty.reason == "acme_people answered HTTP 200 with no content"


def test_404_is_not_found(api: FakeApi) -> None:
    api.reply = lambda request: (404, {}, {"error": "no such person"})
    (result,) = provider(api.url).enrich([{"email": "nobody@acme.io"}])
    assert result.status is ResultStatus.NOT_FOUND
    assert result.reason == "acme_people has no match (HTTP 404)"
    assert len(api.received) == 1


def test_a_record_without_its_required_input_is_not_sent(api: FakeApi) -> None:
    results = provider(api.url).enrich([{"full_name": "Jane Doe"}, {"email": ["a@b.c"]}])
    assert [(result.status, result.reason) for result in results] == [
        (ResultStatus.NOT_FOUND, "no email"),
        (ResultStatus.NOT_FOUND, "email is not text (got list)"),
    ]
    assert api.received == []


def test_429_with_retry_after_is_honoured_then_succeeds(api: FakeApi) -> None:
    api.reply = lambda request: (
        (429, {"Retry-After": "1"}, {"error": "slow down"}) if len(api.received) == 1 else (200, {}, PERSON)
    )
    (result,) = provider(api.url).enrich([{"email": "jane@acme.io"}])
    assert result.status is ResultStatus.FOUND
    first, second = api.received
    assert second.at - first.at >= 0.95


def test_a_retry_after_longer_than_we_may_wait_is_a_retryable_error_at_once(api: FakeApi) -> None:
    api.reply = lambda request: (429, {"Retry-After": "3600"}, {})
    (result,) = provider(api.url).enrich([{"email": "jane@acme.io"}])
    assert result.status is ResultStatus.ERROR and result.retryable
    assert result.reason == "HTTP 429 (asked to retry after 3600 s); gave up after 1 attempt(s)"
    assert len(api.received) == 1


def test_500_is_retried_then_a_retryable_error(api: FakeApi) -> None:
    api.reply = lambda request: (500, {}, {"error": "boom"})
    (result,) = provider(api.url, max_retries=2).enrich([{"email": "jane@acme.io"}])
    assert result.status is ResultStatus.ERROR and result.retryable
    assert result.reason == "HTTP 500; gave up after 3 attempt(s)"
    assert len(api.received) == 3


def test_503_then_success(api: FakeApi) -> None:
    api.reply = lambda request: (503, {}, {}) if len(api.received) < 3 else (200, {}, PERSON)
    (result,) = provider(api.url).enrich([{"email": "jane@acme.io"}])
    assert result.status is ResultStatus.FOUND
    assert len(api.received) == 3


def test_connection_failures_are_retried_then_a_retryable_error() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with allowed("127.0.0.1", port):
        (result,) = provider(f"http://127.0.0.1:{port}", max_retries=1).enrich([{"email": "jane@acme.io"}])
    assert result.status is ResultStatus.ERROR and result.retryable
    assert result.reason == "could not reach acme_people (ConnectionError); gave up after 2 attempt(s)"


def test_other_client_errors_are_not_retried_and_say_why(api: FakeApi) -> None:
    api.reply = lambda request: (422, {}, {"message": "invalid\n email\x00 format", "code": 17})
    (result,) = provider(api.url).enrich([{"email": "jane@acme.io"}])
    assert result.status is ResultStatus.ERROR and not result.retryable
    assert result.reason == "HTTP 422: invalid email format"
    assert len(api.received) == 1


def test_redirects_are_not_followed(api: FakeApi) -> None:
    api.reply = lambda request: (302, {"Location": "http://elsewhere.test/steal"}, {})
    (result,) = provider(api.url).enrich([{"email": "jane@acme.io"}])
    assert result.status is ResultStatus.ERROR and result.reason == "HTTP 302: Found"
    assert len(api.received) == 1


def test_internal_addresses_are_refused_before_connecting(connections: Connections) -> None:
    with serve(exempt=False) as internal:  # e.g. moto's endpoint on the local stack: not listed, so not called
        targets = [
            internal.url,
            "http://localhost:9",
            "http://[::1]:9",
            "http://0.0.0.0:9",
            "http://2130706433:9",
            "http://10.0.0.1",
            "http://169.254.169.254/latest/meta-data/iam",
        ]
        results = [provider(url).enrich([{"email": "jane@acme.io"}])[0] for url in targets]
    assert internal.received == []
    assert connections.made == []
    for result in results:
        assert result.status is ResultStatus.ERROR and not result.retryable
        assert result.reason is not None and result.reason.startswith("acme_people was not called: ")
        assert result.reason.endswith("address; Roster only calls public addresses")
    assert "169.254.169.254 is a link-local address" in str(results[-1].reason)
    assert "2130706433 resolves to 127.0.0.1, a loopback address" in str(results[4].reason)


def test_the_checked_address_is_the_one_connected_to(api: FakeApi, names: dict[str, list[str]]) -> None:
    """DNS is asked once per request and the connection goes to that answer, while the Host header keeps the name:
    a second, different answer (DNS rebinding) is never used."""
    port = int(api.url.rsplit(":", 1)[1])
    names["enrich.vendor.example"] = ["127.0.0.1"]
    api.reply = lambda request: (200, {}, PERSON)
    with allowed("enrich.vendor.example", port):
        results = provider(f"http://enrich.vendor.example:{port}").enrich([{"email": f"{n}@acme.io"} for n in "abc"])
    assert [result.status for result in results] == [ResultStatus.FOUND] * 3
    assert names["<lookups>"].count("enrich.vendor.example") == 3  # once per request, by the check
    assert {request.headers["Host"] for request in api.received} == {f"enrich.vendor.example:{port}"}


HOSTILE = {
    "email": "a&b=c/../admin?x=1#frag@evil.test",
    "full_name": 'Robert"); DROP TABLE students;-- ", "admin": true, "x": "<script>😀 Ñúñez&name=root',
}


def test_hostile_values_are_encoded_not_pasted(api: FakeApi) -> None:
    api.reply = lambda request: (200, {}, PERSON)
    (result,) = provider(api.url).enrich([HOSTILE])
    assert result.status is ResultStatus.FOUND
    (request,) = api.received
    assert request.path == "/v1/people/" + quote(HOSTILE["email"], safe="")
    assert request.query == {"name": [HOSTILE["full_name"]], "fields": ["title"]}
    assert json.loads(request.body) == {
        "query": {"email": HOSTILE["email"], "name": HOSTILE["full_name"], "note": f"lookup for {HOSTILE['email']}"}
    }


def test_missing_optional_inputs_are_empty_in_the_url_and_null_in_the_body(api: FakeApi) -> None:
    api.reply = lambda request: (200, {}, PERSON)
    provider(api.url).enrich([{"email": "jane@acme.io"}])
    (request,) = api.received
    assert request.query["name"] == [""]
    assert json.loads(request.body)["query"]["name"] is None


def test_secrets_reach_the_api_but_never_reasons_or_logs(api: FakeApi, caplog: pytest.LogCaptureFixture) -> None:
    answers: dict[str, Reply] = {
        "echo": (401, {}, {"error": f"key {SECRET} is revoked"}),
        "down": (503, {}, {"detail": f"upstream rejected {SECRET}"}),
        "ok": (200, {}, PERSON),
    }
    api.reply = lambda request: answers[request.path.rsplit("/", 1)[1]]
    caplog.set_level(logging.DEBUG)
    results = provider(api.url, max_retries=1).enrich([{"email": name} for name in answers])
    assert [result.status for result in results] == [ResultStatus.ERROR, ResultStatus.ERROR, ResultStatus.FOUND]
    assert results[0].reason == "HTTP 401: key [secret] is revoked"
    assert all(request.headers["Authorization"] == f"Bearer {SECRET}" for request in api.received)
    assert "retrying" in caplog.text
    assert SECRET not in caplog.text
    assert all(SECRET not in (result.reason or "") for result in results)


def test_a_secret_that_cannot_be_read_is_an_error_without_a_request(api: FakeApi) -> None:
    def no_secrets(name: str) -> str:
        raise KeyError(f"{name} is {SECRET}")

    config = provider(api.url).config
    (result,) = HttpProvider(config, no_secrets).enrich([{"email": "jane@acme.io"}])
    assert result.status is ResultStatus.ERROR
    assert result.reason == "could not read a secret of acme_people (KeyError)"
    assert api.received == []


def test_one_result_per_record_in_order_with_concurrency(api: FakeApi) -> None:
    def reply(request: Received) -> Reply:
        email = request.path.rsplit("/", 1)[1]
        time.sleep(0.01 * (hash(email) % 5))
        if email.startswith("missing"):
            return 404, {}, {}
        return 200, {}, {"data": {"person": {"title": email}}}

    api.reply = reply
    records = [{"email": f"{'missing' if index % 3 == 0 else 'person'}{index}"} for index in range(30)]
    results = provider(api.url, concurrency=8).enrich(records)
    assert len(results) == len(records)
    for record, result in zip(records, results, strict=True):
        if record["email"].startswith("missing"):
            assert result.status is ResultStatus.NOT_FOUND
        else:
            assert result.values == {"job_title": record["email"]}


def test_rate_limit_holds_across_threads(api: FakeApi) -> None:
    api.reply = lambda request: (200, {}, PERSON)
    rate = 20.0
    shared = provider(api.url, rate_limit_per_second=rate, concurrency=6)
    limiter = shared._limiter
    assert limiter is not None
    starts: list[float] = []  # the start each call was given (when a busy machine lets it run is another matter)
    acquire = limiter.acquire

    def recording() -> float:
        start = acquire()
        starts.append(start)
        return start

    limiter.acquire = recording  # type: ignore[method-assign]
    batches = [[{"email": f"p{batch}-{index}@acme.io"} for index in range(10)] for batch in range(3)]
    callers = [threading.Thread(target=shared.enrich, args=(batch,)) for batch in batches]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()
    assert len(api.received) == 30 and len(starts) == 30
    starts.sort()
    assert all(later - earlier >= 1 / rate - 1e-9 for earlier, later in pairwise(starts)), starts


@pytest.fixture(scope="module")
def echo_api() -> Iterator[FakeApi]:
    """Answers with the e-mail address as it arrived in the path, the query and the body."""

    def echo(request: Received) -> Reply:
        in_body = json.loads(request.body)["query"]["email"]
        in_path = unquote(request.path.removeprefix("/v1/people/"), errors="strict")
        return 200, {}, {"data": {"person": {"title": in_body, "skills": [in_path, *request.query["name"]]}}}

    with serve() as fake:
        fake.reply = echo
        yield fake


@settings(max_examples=150, deadline=None)
@given(
    records=st.lists(
        st.fixed_dictionaries(
            {},
            optional={
                "email": st.one_of(st.text(), st.none(), st.integers(), st.lists(st.text(), max_size=2)),
                "full_name": st.text(max_size=20),
            },
        ),
        max_size=6,
    )
)
def test_any_record_gets_one_result_and_its_value_arrives_intact(
    echo_api: FakeApi, records: list[dict[str, Any]]
) -> None:
    results = provider(echo_api.url, concurrency=3).enrich(records)
    assert len(results) == len(records)
    for record, result in zip(records, results, strict=True):
        try:
            email = read_text(record, "email")
        except InputProblem as problem:
            assert result.status is ResultStatus.NOT_FOUND and result.reason == str(problem)
            continue
        assert result.status is ResultStatus.FOUND
        assert result.values["job_title"] == email
        name = optional_text(record, "full_name")
        assert result.values["skills"] == ([email, name] if name else [email])  # from the path and the query

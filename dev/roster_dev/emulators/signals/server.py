"""A signals data vendor over plain HTTP on 127.0.0.1, as Roster's generic HTTP provider calls one.

`GET /v1/{feed}?email=...` (employment) or `?domain=...` (hires, funding, jobs) answers
`{"events": [...]}`; a request without the key answers 400, an unknown path 404. Requests are counted
per feed, so tests can measure provider calls per record. While it runs, its address is exempt from
the outbound check (`roster_dev.local.outbound`), like the Salesforce emulator's.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from roster_dev.emulators.serving import Served
from roster_dev.emulators.signals.data import FEEDS, Feed, SignalData

#: The query parameter each feed is keyed by, and the record field Roster fills it from.
KEYS: dict[Feed, str] = {"employment": "email", "hires": "domain", "funding": "domain", "jobs": "domain"}
#: The feed each signal type reads.
FEED_OF_SIGNAL: dict[str, Feed] = {
    "job_change": "employment",
    "new_hire": "hires",
    "funding": "funding",
    "hiring_spike": "jobs",
}


class SignalsEmulator(Served):
    thread_name = "signals-emulator"

    def __init__(self, today: date | None = None, seed: int = 2026, host: str = "127.0.0.1", port: int = 0) -> None:
        self.data = SignalData(today or date.today(), seed)
        self.host = host
        self.port = port
        self.requests: Counter[str] = Counter()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def provider(self, signal: str, credits_per_record: float = 1.0) -> dict[str, Any]:
        """The HTTP provider configuration with which Roster reads this emulator for a signal type."""
        feed = FEED_OF_SIGNAL[signal]
        key = KEYS[feed]
        return {
            "name": f"signals_{feed}",
            "url": f"{self.url}/v1/{feed}?{key}={{{{{key}}}}}",
            "inputs": [key],
            "outputs": {"events": {"path": "events", "type": "records"}},
            "credits_per_record": credits_per_record,
            "rate_limit_per_second": None,
        }

    def _listen(self) -> ThreadingHTTPServer:
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body = emulator.answer(self.path)
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return

        server = ThreadingHTTPServer((self.host, self.port), Handler)
        server.daemon_threads = True
        return server

    def answer(self, path: str) -> tuple[int, dict[str, Any]]:
        """The status and JSON body for a GET of `path`."""
        parts = urlsplit(path)
        feed = parts.path.removeprefix("/v1/")
        if feed not in FEEDS:
            return 404, {"message": f"no feed at {parts.path}"}
        key_name = KEYS[feed]
        key = parse_qs(parts.query).get(key_name, [""])[0]
        if not key.strip():
            return 400, {"message": f"give ?{key_name}="}
        self.requests[feed] += 1
        return 200, {key_name: key, "events": self.data.events(feed, key)}

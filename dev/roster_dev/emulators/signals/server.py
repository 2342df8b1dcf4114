"""A signals data vendor over plain HTTP on 127.0.0.1, as Roster's generic HTTP provider calls one.

`GET /v1/{feed}?email=...` (employment) or `?domain=...` (hires, funding, jobs) answers
`{"events": [...]}`; a request without the key answers 400, an unknown path 404. Requests are counted
per feed, so tests can measure provider calls per record. While it runs, its address is exempt from
the outbound check (`roster_dev.local.outbound`), like the Salesforce emulator's.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from roster_dev.emulators.signals.data import FEEDS, Feed, SignalData
from roster_dev.local import outbound

#: The query parameter each feed is keyed by, and the record field Roster fills it from.
KEYS: dict[Feed, str] = {"employment": "email", "hires": "domain", "funding": "domain", "jobs": "domain"}
#: The feed each signal type reads.
FEED_OF_SIGNAL: dict[str, Feed] = {
    "job_change": "employment",
    "new_hire": "hires",
    "funding": "funding",
    "hiring_spike": "jobs",
}


class SignalsEmulator:
    def __init__(self, today: date | None = None, seed: int = 2026, host: str = "127.0.0.1", port: int = 0) -> None:
        self.data = SignalData(today or date.today(), seed)
        self.host = host
        self.port = port
        self.requests: Counter[str] = Counter()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

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

    def start(self) -> Self:
        if self._server is not None:
            return self
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

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        outbound.allow(self.host, self.port)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="signals-emulator")
        self._thread.daemon = True
        self._thread.start()
        return self

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

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        outbound.disallow(self.host, self.port)
        self._server = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

"""The HTTPS plumbing every emulator shares: a threaded server on a throwaway CA, complete responses, body limits.

An emulator hands `Server` an object with `handle(handler)`; it reads the request from the `Handler` and answers
with `Handler.send(Response(...))`. `Server.drop_connections()` ends keep-alive connections too, so a stopped
emulator looks like an outage to pooled clients.
"""

from __future__ import annotations

import contextlib
import shutil
import ssl
import tempfile
import weakref
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from socket import IPPROTO_TCP, SHUT_RDWR, TCP_NODELAY, socket
from threading import Lock
from typing import Any, Protocol

import trustme


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json;charset=UTF-8"
    headers: dict[str, str] | None = None


class PayloadTooLarge(Exception):
    pass


class Emulator(Protocol):
    def handle(self, handler: Handler) -> None: ...


class Handler(BaseHTTPRequestHandler):
    """Hands each request to the emulator; TLS is negotiated here, in the request's own thread."""

    protocol_version = "HTTP/1.1"
    server: Server
    timeout = 60
    wbufsize = 1 << 16  # headers and body leave in one write (flushed after each request)

    def setup(self) -> None:
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(self.timeout)
            self.request.do_handshake()
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read counters, not access logs."""

    def _serve(self) -> None:
        self.server.emulator.handle(self)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def read_body(self, limit: int) -> bytes:
        """The request body (plain or chunked); over `limit` it is drained and refused."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            size = 0
            while True:
                length = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if length == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(length))
                self.rfile.readline()
                size += length
            if size > limit:
                raise PayloadTooLarge
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length > limit:
            remaining = length
            while remaining > 0:
                chunk = self.rfile.read(min(remaining, 1 << 20))
                if not chunk:
                    break
                remaining -= len(chunk)
            raise PayloadTooLarge
        return self.rfile.read(length) if length else b""

    def send(self, response: Response) -> None:
        """Write a complete response with a Content-Length, keeping the connection reusable."""
        self.send_response(response.status)
        for name, value in (response.headers or {}).items():
            self.send_header(name, value)
        if response.status != 204:
            self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if response.body and self.command != "HEAD":
            self.wfile.write(response.body)

    def drop(self) -> None:
        """Close the connection without answering, as a reset or a load balancer giving up does."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            socket.shutdown(self.request, SHUT_RDWR)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], context: ssl.SSLContext, emulator: Emulator) -> None:
        self.context = context
        self.emulator = emulator
        self.connections: set[socket] = set()
        self.connections_lock = Lock()
        super().__init__(address, Handler)

    def get_request(self) -> tuple[socket, Any]:
        sock, address = self.socket.accept()
        sock.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1)
        wrapped = self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        with self.connections_lock:
            self.connections.add(wrapped)
        return wrapped, address

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        """End keep-alive connections too, so a stopped emulator looks like an outage to pooled clients."""
        with self.connections_lock:
            connections = list(self.connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                socket.shutdown(connection, SHUT_RDWR)  # the plain socket call: the TLS layer is torn down with it

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Dropped connections and refused handshakes are normal in tests; say nothing."""


class Certificate:
    """A throwaway CA and a 127.0.0.1/localhost certificate; clients trust `ca_path` (deleted with this object)."""

    def __init__(self, organization: str) -> None:
        self._ca = trustme.CA(organization_name=organization)
        self._cert = self._ca.issue_cert("127.0.0.1", "localhost")
        self._dir = Path(tempfile.mkdtemp(prefix="roster-emulator-"))
        self._finalizer = weakref.finalize(self, shutil.rmtree, str(self._dir), True)
        self.ca_path = str(self._dir / "ca.pem")
        self._ca.cert_pem.write_to_path(self.ca_path)

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._cert.configure_cert(context)
        return context

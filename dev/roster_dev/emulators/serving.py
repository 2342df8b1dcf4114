"""The lifecycle every emulator shares: serve in a daemon thread, exempt from Roster's outbound check while up."""

from __future__ import annotations

import threading
from http.server import ThreadingHTTPServer
from types import TracebackType
from typing import ClassVar, Self

from roster_dev.emulators.https import Server
from roster_dev.local import outbound


class Served:
    """Start and stop an emulator's server; `_listen` makes it (port 0 picks a free one, a restart keeps the port)."""

    host: str
    port: int
    thread_name: ClassVar[str]
    _serving: tuple[ThreadingHTTPServer, threading.Thread] | None = None

    def _listen(self) -> ThreadingHTTPServer:
        raise NotImplementedError

    def start(self) -> Self:
        """Listen and serve in a background thread."""
        if self._serving is not None:
            return self
        server = self._listen()
        self.port = server.server_address[1]
        outbound.allow(self.host, self.port)  # the local stack calls this emulator, and no other local address
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), name=self.thread_name, daemon=True)
        thread.start()
        self._serving = (server, thread)
        return self

    def stop(self) -> None:
        """Stop serving and free the port."""
        if self._serving is None:
            return
        server, thread = self._serving
        server.shutdown()
        server.server_close()
        if isinstance(server, Server):
            server.drop_connections()
        thread.join(timeout=5)
        outbound.disallow(self.host, self.port)
        self._serving = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

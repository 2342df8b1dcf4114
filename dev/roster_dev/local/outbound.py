"""The local stack's exemptions from the outbound address check: its own emulators, by host and port.

Roster calls only public addresses (`roster.outbound`); an emulator listens on 127.0.0.1, so while one runs its
`host:port` is listed in `ROSTER_OUTBOUND_ALLOW`. Nothing else on the machine is: moto's AWS endpoints stay refused.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from roster.outbound import ALLOW_SETTING

_lock = threading.Lock()


def _entries() -> list[str]:
    return [entry for entry in os.environ.get(ALLOW_SETTING, "").split(",") if entry]


def allow(host: str, port: int) -> None:
    """Exempt `host:port` from the address check in this process (and the processes it starts)."""
    with _lock:
        entry = f"{host}:{port}"
        if entry not in _entries():
            os.environ[ALLOW_SETTING] = ",".join([*_entries(), entry])


def disallow(host: str, port: int) -> None:
    with _lock:
        os.environ[ALLOW_SETTING] = ",".join(entry for entry in _entries() if entry != f"{host}:{port}")


@contextmanager
def allowed(host: str, port: int) -> Iterator[None]:
    """`host:port` exempt while the block runs."""
    allow(host, port)
    try:
        yield
    finally:
        disallow(host, port)

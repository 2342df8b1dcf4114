"""Shared fixtures: one local stack (moto server + the template's resources) per test session."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from ulid import ULID

os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")

from roster_dev.local.runner import Runner
from roster_dev.local.stack import LocalStack


@pytest.fixture(scope="session")
def stack() -> Iterator[LocalStack]:
    local = LocalStack.from_project().start()
    yield local
    local.stop()


@pytest.fixture(scope="session")
def runner(stack: LocalStack) -> Runner:
    return Runner(stack)


@dataclass
class Api:
    """A workspace's view of the API, through API Gateway events into the real handler."""

    runner: Runner
    key: str
    workspace: str

    def call(self, method: str, path: str, body: Any = None, **query: str) -> tuple[int, Any]:
        response = self.runner.api(
            method,
            path,
            headers={"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"},
            query={name: [value] for name, value in query.items()} or None,
            body=json.dumps(body).encode() if body is not None else None,
        )
        return int(response["statusCode"]), json.loads(response["body"] or "null")


def new_workspace(runner: Runner, stack: LocalStack) -> Api:
    workspace = f"t-{str(ULID()).lower()}"
    response = runner.api(
        "POST",
        "/v1/admin/workspaces",
        headers={"Authorization": f"Bearer {stack.admin_key}"},
        body=json.dumps({"workspace_id": workspace, "name": "Test"}).encode(),
    )
    assert response["statusCode"] == 201, response
    return Api(runner, json.loads(response["body"])["api_key"], workspace)


@pytest.fixture
def api(runner: Runner, stack: LocalStack) -> Api:
    return new_workspace(runner, stack)


EVENTS = Path(__file__).resolve().parents[1] / "events"


def fill(template: str, **values: str) -> dict[str, Any]:
    """A sample event from `events/` with its `{{placeholders}}` filled in."""
    text = (EVENTS / template).read_text()
    for name, value in values.items():
        text = text.replace("{{" + name + "}}", value)
    return json.loads(text)  # type: ignore[no-any-return]


@dataclass
class Connections:
    """Every address this process tried to connect to during a test; none may leave the machine."""

    made: list[str]

    def to(self, address: str) -> bool:
        return address in self.made


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> Connections:
    """Records each socket connect; one to a non-loopback address fails the test before it is made."""
    import ipaddress
    import socket

    seen = Connections([])
    connect = socket.socket.connect

    def recording(sock: socket.socket, address: Any) -> None:
        host = str(address[0]) if isinstance(address, tuple) else str(address)
        seen.made.append(host)
        if isinstance(address, tuple) and not ipaddress.ip_address(host.split("%")[0]).is_loopback:
            raise AssertionError(f"a test tried to connect to {host}")
        connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", recording)
    return seen


@pytest.fixture
def names(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """A DNS of the test's own: names put in this dict resolve to the given addresses (in order), and every
    lookup is counted in `names["<lookups>"]`; other names resolve as usual (IP literals, localhost)."""
    import socket

    table: dict[str, list[str]] = {"<lookups>": []}
    lookup = socket.getaddrinfo

    def resolving(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        table["<lookups>"].append(name)
        if name in table:
            if not table[name]:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            return [info for address in table[name] for info in lookup(address, port, *args, **kwargs)]
        return lookup(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolving)
    return table

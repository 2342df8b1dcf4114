"""Working a connector's run to its end in the test (or bench) process, as the queue would: one piece of code for
every CRM's import and export tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from roster.connectors.core.runs import RunLoop, _Message
from roster.connectors.core.state import Run

R = TypeVar("R", bound=Run)
M = TypeVar("M", bound=_Message)

FOREVER: Callable[[], float] = lambda: 1e9  # noqa: E731 - a deadline that never comes


def drain(loop: RunLoop[Any, Any, M], message: M | None, remaining: Callable[[], float] = FOREVER) -> int:
    """Run a message and its continuations to the end; how many invocations it took."""
    invocations = 0
    while message is not None:
        message = loop.run(message, remaining)
        invocations += 1
    return invocations


def run_to_end(loop: RunLoop[R, Any, M], message: M | None, remaining: Callable[[], float] = FOREVER) -> R:
    """Work the run a start's message names until it ends, and read it back."""
    assert message is not None
    drain(loop, message, remaining)
    run = loop.store.run(message.workspace, message.object, message.run_id)
    assert run is not None
    return run

"""What every destination adapter implements.

The delivery core hands an adapter a batch of membership changes of one action (never more than
`max_batch`, in the order they happened, at most one change per record) and gets one outcome per
change back. The core owns ordering, idempotency, retries and the delivery log; an adapter only
speaks its platform's protocol (auth, request shape, hashing, batch limits) and says what the
platform answered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from roster.profiles.fields import Kind


class Transition(StrEnum):
    ENTERED = "entered"
    EXITED = "exited"


@dataclass(frozen=True)
class Delivery:
    """One membership change of one record, as an action sends it."""

    delivery_id: str  # stable per (action, record, transition); the platform's idempotency key where it takes one
    action_id: str
    segment_id: str
    kind: Kind
    profile_id: str
    transition: Transition
    occurred_at: str  # ISO 8601 time of the membership change
    fields: Mapping[str, Any]  # the profile's values the action sends (payload fields and identifiers)


class OutcomeStatus(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"  # transient (429, 5xx, timeout): send again later, after `retry_after` when given
    FAILED = "failed"  # permanent for this delivery (e.g. no usable identifier); logged, replayable
    DISABLED = "disabled"  # the destination refuses everything from now on (webhook 410, revoked token)


@dataclass(frozen=True)
class Outcome:
    delivery_id: str
    status: OutcomeStatus
    answer: str  # what the platform answered, short (status code and an excerpt), for the delivery log
    retry_after: float | None = None  # seconds, from the platform's Retry-After when it sent one


@dataclass(frozen=True)
class AudienceStatus:
    """An ad audience's size as the platform reports it, and the platform's minimum to serve ads."""

    size: int | None  # None while the platform has not computed it yet
    minimum: int


class KeptSecret(Protocol):
    """The destination's secret where Roster keeps it, for an adapter whose platform hands out new credentials as
    it goes (a new access token, a rotated refresh token): saved anew at once, for the next drain to start from,
    and read again when the platform refuses what the adapter holds (another run may have renewed it)."""

    def load(self) -> str | None: ...

    def save(self, secret: str) -> None: ...


class Adapter(Protocol):
    """Built per (destination, action): the destination gives credentials and account, the action
    its options (e.g. which audience or sequence)."""

    max_batch: int  # the platform's batch size (1 where it takes one record a request)

    @property
    def exits_undo_entries(self) -> bool:
        """An exit takes its entry back (an audience drops the person; a sequence removes them): an entry and its
        exit both still unsent may then be skipped together. False where the platform must hear both (a webhook)
        or ignores exits (a sequence that runs its course)."""
        ...

    def send(self, deliveries: Sequence[Delivery]) -> list[Outcome]: ...

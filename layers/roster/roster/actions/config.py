"""What users configure: destinations (where to send, with a secret kept in Secrets Manager) and actions (which
segment, on which transition, to which destination, sending which fields, for whom)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from roster.profiles.fields import FIELD_NAME, Kind
from roster.segments.filters import Group

MAX_FIELDS = 50


class DestinationStatus(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"  # the endpoint refused everything (webhook 410, revoked token): enable it again by hand


class Destination(BaseModel):
    """A configured destination. Its secret is not here: Secrets Manager holds it (`roster/<ws>/destination-<id>`)."""

    destination_id: str
    name: str
    kind: str
    settings: dict[str, Any]
    requests_per_second: float
    ca_bundle: str | None = None  # local stacks only: the emulator's CA
    status: DestinationStatus = DestinationStatus.ACTIVE
    disabled_reason: str | None = None
    paused_until: str | None = None  # the destination asked to slow down (Retry-After) until then
    created_at: str


class Trigger(StrEnum):
    ENTER = "enter"
    EXIT = "exit"
    BOTH = "both"


class Entry(StrEnum):
    """How often one record fires an action."""

    ONCE = "once"  # the first time it enters, never again
    COOLDOWN = "cooldown"  # again when it enters after `cooldown_hours` since it last fired
    EVERY = "every"  # on every entry (ad audiences: the audience follows the segment)


class ActionSpec(BaseModel):
    """An action as users write it."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    segment_id: str = Field(min_length=1, max_length=64)
    destination_id: str = Field(min_length=1, max_length=64)
    trigger: Trigger = Trigger.ENTER
    entry: Entry = Entry.ONCE
    cooldown_hours: float | None = Field(default=None, gt=0, le=24 * 365)
    fields: list[str] = Field(default_factory=list, max_length=MAX_FIELDS, description="payload fields to send")
    identifiers: list[str] = Field(
        default_factory=lambda: ["email"], max_length=10, description="identifier fields to send (email, phone, ...)"
    )
    quality_gate: Group | None = Field(
        default=None, description="a filter on the record's own fields it must match to be sent (e.g. has an email)"
    )
    options: dict[str, Any] = Field(default_factory=dict, description="the destination kind's action options")
    enabled: bool = Field(
        default=True, description="off: changes are still taken in, in order, but held until it is on again"
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.entry is Entry.COOLDOWN) != (self.cooldown_hours is not None):
            raise ValueError("cooldown_hours is set exactly when entry is cooldown")
        bad = [name for name in [*self.fields, *self.identifiers] if not FIELD_NAME.match(name)]
        if bad:
            raise ValueError(f"not field names: {', '.join(bad)}")
        return self

    def sent_fields(self) -> list[str]:
        """The profile fields a delivery carries: identifiers first, then payload fields, each once."""
        return list(dict.fromkeys([*self.identifiers, *self.fields]))


class ActionEdit(BaseModel):
    """What can change on an action (the rest, segment, destination, trigger, entry and options, makes a new one)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    enabled: bool | None = None
    cooldown_hours: float | None = Field(default=None, gt=0, le=24 * 365)
    fields: list[str] | None = Field(default=None, max_length=MAX_FIELDS)
    identifiers: list[str] | None = Field(default=None, max_length=10)
    quality_gate: Group | None = Field(default=None, description="a new gate (an action made with one only)")


class Action(ActionSpec):
    action_id: str
    kind: Kind  # the segment's kind
    created_at: str
    gate_segment_id: str | None = Field(
        default=None,
        description="With a quality gate: the kept segment of the segment's members that pass it, which the action "
        "follows (a member that stops passing the gate leaves it: an exit)",
    )
    gate_first_run: str | None = Field(
        default=None,
        description="That segment's first build: the members it found are the members at creation, sent only by a "
        "backfill",
    )

    @property
    def followed_segment_id(self) -> str:
        """The segment whose entries and exits the action sends."""
        return self.gate_segment_id or self.segment_id

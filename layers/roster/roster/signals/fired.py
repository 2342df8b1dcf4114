"""`signal.fired`: what subscribers on the event bus hear when a signal writes a new event to a record."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from roster.eventbus import Event
from roster.profiles.fields import Kind
from roster.signals.kinds import SignalType, date_field, details_field, value_field

SOURCE = "roster.signals"
DETAIL_TYPE = "signal.fired"


class SignalFired(BaseModel):
    workspace: str
    signal_id: str
    signal: SignalType
    kind: Kind
    profile_id: str
    value: str
    event_date: str
    details: list[str]
    run_id: str


def fired(
    workspace: str, signal_id: str, signal: SignalType, kind: Kind, profile_id: str, values: dict[str, Any], run_id: str
) -> Event:
    """The event for one record on which a signal wrote a new event (`values`: the signal's fields)."""
    detail = SignalFired(
        workspace=workspace,
        signal_id=signal_id,
        signal=signal,
        kind=kind,
        profile_id=profile_id,
        value=str(values[value_field(signal)]),
        event_date=str(values[date_field(signal)]),
        details=list(values.get(details_field(signal)) or []),
        run_id=run_id,
    )
    return Event(SOURCE, DETAIL_TYPE, detail.model_dump_json())

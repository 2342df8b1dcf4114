"""A signal as an enrichment provider specification: which type, since when, read from which data provider."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, model_validator

from roster.enrich.providers import HttpProviderConfig, http_provider
from roster.profiles.fields import FieldType
from roster.signals.kinds import SignalType, outputs
from roster.signals.provider import EVENTS_OUTPUT, HISTORY_FIELD, SignalProvider

LOOKBACK_MONTHS = (3, 6, 12)


class SignalSpec(BaseModel):
    """`source` is the data provider (an HTTP provider whose `events` output is a list of objects); without
    one, a job-change signal reads Roster's own history only. Events before `since` are never reported."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["signal"] = "signal"
    signal: SignalType
    since: date
    lookback_months: Literal[3, 6, 12]
    source: HttpProviderConfig | None = None
    use_history: bool = True  # job changes only: a changed employer domain in Roster's history counts

    @model_validator(mode="after")
    def _readable_source(self) -> Self:
        if self.source is None and not (self.signal is SignalType.JOB_CHANGE and self.use_history):
            raise ValueError(f"a {self.signal} signal needs a data provider (`provider`)")
        if self.source is not None:
            events = self.source.outputs.get(EVENTS_OUTPUT)
            if events is None or events.type is not FieldType.RECORDS:
                raise ValueError(f"the data provider needs an `{EVENTS_OUTPUT}` output of type records")
        return self

    @property
    def name(self) -> str:
        return f"signal_{self.signal}"

    def outputs(self) -> Mapping[str, FieldType]:
        return outputs(self.signal)

    @property
    def credits(self) -> float:
        return self.source.credits_per_record if self.source else 0.0

    @property
    def batch_size(self) -> int:
        return self.source.batch_size if self.source else 1000

    @property
    def history_fields(self) -> tuple[str, ...]:
        """Fields whose history on the profile the provider reads."""
        return (HISTORY_FIELD,) if self.signal is SignalType.JOB_CHANGE and self.use_history else ()

    def provider(self, secrets: Callable[[str], str]) -> SignalProvider:
        source = http_provider(self.source, secrets) if self.source else None
        return SignalProvider(self.signal, self.since, source, bool(self.history_fields))

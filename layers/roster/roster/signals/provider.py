"""The signal provider: an enrichment provider whose answer is the newest event not yet on the record.

It reads a data provider through the enrichment provider interface (an HTTP provider with an `events`
output of type records: employment history, hires, funding rounds or job postings) and, for job
changes, Roster's own history of the record's company domain. "Not found" means nothing new: the
event already on the record stays (`clears_when_not_found` is off), so it is kept for good.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from roster.enrich.providers.base import Provider, ProviderResult, ResultStatus
from roster.profiles.fields import FieldType
from roster.signals.detect import DETECTORS, Event, Observation, day, employer_changes, latest_new
from roster.signals.kinds import (
    LABEL,
    SUMMARY_FIELD,
    SignalType,
    date_field,
    details_field,
    outputs,
    value_field,
)

logger = logging.getLogger(__name__)

#: The data provider's output holding the raw events (a list of objects).
EVENTS_OUTPUT = "events"
#: Roster's own history of the employer domain, handed to job-change signals with the record's fields.
HISTORY_FIELD = "company_domain"


def history_input(name: str) -> str:
    """The key under which a record's history of field `name` is handed to a provider."""
    return f"history:{name}"


class SignalProvider(Provider):
    """Finds one type of signal for a batch of records."""

    clears_when_not_found = False

    def __init__(self, signal: SignalType, since: date, source: Provider | None, use_history: bool) -> None:
        self.signal = signal
        self.since = since
        self.source = source
        self.use_history = use_history
        self.name = f"signal_{signal}"
        self.inputs = source.inputs if source else (HISTORY_FIELD,)
        self.outputs: Mapping[str, FieldType] = outputs(signal)
        self.credits_per_record = source.credits_per_record if source else 0.0
        self.batch_size = source.batch_size if source else 1000

    def enrich(self, records: Sequence[Mapping[str, Any]]) -> list[ProviderResult]:
        answers = self.source.enrich(records) if self.source else [None] * len(records)
        return [self._judged(record, answer) for record, answer in zip(records, answers, strict=True)]

    def enrich_record(self, record: Mapping[str, Any]) -> ProviderResult:
        return self.enrich([record])[0]

    def _judged(self, record: Mapping[str, Any], answer: ProviderResult | None) -> ProviderResult:
        """The verdict for one record; a value that breaks a detector fails this record alone."""
        try:
            return self._judge(record, answer)
        except Exception as failure:
            logger.error("signal provider %s failed on a record: %s", self.name, type(failure).__name__)
            return ProviderResult.error(f"{self.name} failed on this record ({type(failure).__name__})")

    def _judge(self, record: Mapping[str, Any], answer: ProviderResult | None) -> ProviderResult:
        candidates: list[Event] = []
        reasons: list[str] = []
        if answer is not None:
            if answer.status is ResultStatus.ERROR:
                return answer  # not charged, retried by the next run
            if answer.reason:
                reasons.append(answer.reason)
            if answer.status is ResultStatus.FOUND:
                candidates += DETECTORS[self.signal](answer.values.get(EVENTS_OUTPUT), self.source_name, record)
        if self.use_history:
            history = record.get(history_input(HISTORY_FIELD)) or []
            observations = [Observation(str(value), key, seen) for value, key, seen in history]
            candidates += employer_changes(observations)
        event = latest_new(candidates, self.since, day(record.get(date_field(self.signal))))
        if event is None:
            return ProviderResult.not_found("; ".join([*reasons, "no new event"]))
        values = {
            value_field(self.signal): event.value,
            date_field(self.signal): event.on.isoformat(),
            details_field(self.signal): list(event.details),
        }
        return ProviderResult.found({**values, SUMMARY_FIELD: summary({**record, **values})})

    @property
    def source_name(self) -> str:
        return self.source.name if self.source else "roster"


def summary(fields: Mapping[str, Any]) -> list[str]:
    """The latest result of every signal on a record, oldest first (a list field is kept sorted, so each line
    starts with its date): `2026-03-02 Funding: Series B 20,000,000 USD`."""
    lines = []
    for signal in SignalType:
        on = day(fields.get(date_field(signal)))
        if on is not None:
            lines.append(f"{on.isoformat()} {LABEL[signal]}: {fields.get(value_field(signal)) or ''}".rstrip())
    return sorted(lines)


def still_newer(signal: SignalType, values: Mapping[str, Any], fields: Mapping[str, Any]) -> bool:
    """Whether the event in `values` is still newer than the one a profile holds now (another run may have
    written a newer one since this one read the profile)."""
    mine, theirs = day(values.get(date_field(signal))), day(fields.get(date_field(signal)))
    return mine is not None and (theirs is None or mine > theirs)

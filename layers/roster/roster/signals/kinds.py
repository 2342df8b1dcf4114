"""The signal types, the kind of record each watches, and the fields each writes on the record."""

from __future__ import annotations

from enum import StrEnum

from roster.profiles.fields import FieldType, Kind


class SignalType(StrEnum):
    JOB_CHANGE = "job_change"  # a person now works somewhere else than before
    NEW_HIRE = "new_hire"  # people joined a company
    FUNDING = "funding"  # a company raised a round
    HIRING_SPIKE = "hiring_spike"  # a company opened many more roles than usual in a department


KIND: dict[SignalType, Kind] = {
    SignalType.JOB_CHANGE: Kind.PEOPLE,
    SignalType.NEW_HIRE: Kind.COMPANIES,
    SignalType.FUNDING: Kind.COMPANIES,
    SignalType.HIRING_SPIKE: Kind.COMPANIES,
}

LABEL: dict[SignalType, str] = {
    SignalType.JOB_CHANGE: "Job Change",
    SignalType.NEW_HIRE: "New Hire",
    SignalType.FUNDING: "Funding",
    SignalType.HIRING_SPIKE: "Hiring Spike",
}

#: Aggregates the latest result of every signal on a record, newest first.
SUMMARY_FIELD = "signal_summary"


def value_field(signal: SignalType) -> str:
    """What the latest event was, e.g. the new employer or the round."""
    return f"signal_{signal}"


def date_field(signal: SignalType) -> str:
    """When the latest event happened (segments filter on it, e.g. `within_last_days`)."""
    return f"signal_{signal}_date"


def details_field(signal: SignalType) -> str:
    """The latest event's details and evidence, one `name: value` line each."""
    return f"signal_{signal}_details"


def outputs(signal: SignalType) -> dict[str, FieldType]:
    """The fields a signal of this type writes."""
    return {
        value_field(signal): FieldType.STRING,
        date_field(signal): FieldType.DATE,
        details_field(signal): FieldType.LIST,
        SUMMARY_FIELD: FieldType.LIST,
    }

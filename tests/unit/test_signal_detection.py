"""Finding signal events in a vendor's answer and in Roster's history (pure: no stack)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roster.enrich.providers.http import coerce
from roster.profiles.fields import FieldType
from roster.signals.detect import Event, Observation, employer_changes, hiring_spikes, job_changes, latest_new
from roster.signals.provider import summary

D = date(2026, 6, 1)


def postings(department: str, *days_ago: int) -> list[dict[str, str]]:
    return [{"department": department, "posted_date": (D - timedelta(days=n)).isoformat()} for n in days_ago]


def test_a_hiring_spike_needs_twice_the_baseline_and_three_roles() -> None:
    assert hiring_spikes(postings("Sales", 1, 2), "v") == []  # two roles over no baseline: too few
    (spike,) = hiring_spikes(postings("Sales", 1, 2, 3), "v")  # three over no baseline
    assert spike.on == D - timedelta(days=1) and spike.value == "Sales: 3 roles in 30 days"
    # baseline of 2 roles a window (6 over 90 days): 3 recent roles are not twice it, 4 are
    steady = (40, 50, 70, 80, 100, 110)
    assert [e for e in hiring_spikes(postings("Ops", *steady, 1, 2, 3), "v") if e.on >= D - timedelta(days=3)] == []
    spikes = hiring_spikes(postings("Ops", *steady, 1, 2, 3, 4), "v")
    assert max(e.on for e in spikes) == D - timedelta(days=1)


def test_a_job_change_needs_an_earlier_position_at_another_employer() -> None:
    first = {"company": "A", "domain": "a.com", "start_date": "2019-01-01"}
    promoted = {"company": "A", "domain": "a.com", "title": "VP", "start_date": "2024-01-01"}
    moved = {"company": "B", "domain": "b.com", "title": "CTO", "start_date": "2025-03-01"}
    assert job_changes([first, promoted], "v", {}) == []  # a promotion is no job change
    (change,) = job_changes([moved, first, promoted], "v", {"company_domain": "a.com"})
    assert change.on == date(2025, 3, 1) and change.value == "B (b.com)"
    assert "recorded company: a.com" in change.details and "previous employer: A (a.com)" in change.details
    assert job_changes([{"start_date": "not a date"}, "junk", None], "v", {}) == []


def test_roster_history_counts_a_changed_domain_once_per_change() -> None:
    seen = [
        Observation("a.com", "crm:contact:1", "2025-01-01T00:00:00Z"),
        Observation("A.com", "csv:row:1", "2025-02-01T00:00:00Z"),  # same employer, other case
        Observation("b.com", "csv:row:2", "2025-05-01T00:00:00Z"),
    ]
    (change,) = employer_changes(seen)
    assert (change.value, change.on) == ("b.com", date(2025, 5, 1))


def test_the_summary_lists_each_signal_once_in_date_order() -> None:
    fields = {
        "signal_funding": "Series A",
        "signal_funding_date": "2026-04-02",
        "signal_job_change": "ignored: people only",
        "signal_hiring_spike": "Sales: 4 roles in 30 days",
        "signal_hiring_spike_date": "2026-01-05",
    }
    assert summary(fields) == ["2026-01-05 Hiring Spike: Sales: 4 roles in 30 days", "2026-04-02 Funding: Series A"]


def test_records_outputs_keep_objects_and_refuse_anything_else() -> None:
    assert coerce([{"a": 1}], FieldType.RECORDS) == [{"a": 1}]
    assert coerce({"a": 1}, FieldType.RECORDS) == [{"a": 1}]
    with pytest.raises(ValueError, match="list of objects"):
        coerce([{"a": 1}, "text"], FieldType.RECORDS)


days = st.integers(min_value=0, max_value=800).map(lambda n: D - timedelta(days=n))


@given(st.lists(days), days, st.none() | days)
def test_only_an_event_inside_the_look_back_and_newer_than_the_recorded_one_is_reported(
    dates: list[date], since: date, recorded: date | None
) -> None:
    found = latest_new([Event(str(on), on, ()) for on in dates], since, recorded)
    fresh = [on for on in dates if on >= since and (recorded is None or on > recorded)]
    assert (found.on if found else None) == (max(fresh) if fresh else None)


def test_an_enrichment_cannot_write_a_records_output_to_profiles() -> None:
    from roster.enrich.definitions import DefinitionProblem, EnrichmentDefinition, check_definition

    vendor = {
        "name": "vendor",
        "url": "https://vendor.example/v1/employment?email={{email}}",
        "inputs": ["email"],
        "outputs": {"events": {"path": "events", "type": "records"}},
    }
    definition = EnrichmentDefinition.model_validate(
        {"name": "Raw events", "providers": [{"type": "http", "config": vendor}], "audiences": ["all-people"]}
    )
    with pytest.raises(DefinitionProblem, match="feeds a signal") as problem:
        check_definition(definition, {})
    assert problem.value.path == "mapping.fields.events"

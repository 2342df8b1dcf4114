"""A profile's history is bounded on its item and kept whole beside it (DESIGN.md, invariant 4).

`fit` is what `ProfileStore.commit` writes: the profile item, and the values moved off it into history items in
the same transaction. Here it runs without DynamoDB: the item is measured as DynamoDB counts it.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from roster.profiles.fields import Kind
from roster.profiles.limits import HISTORY_KEPT, MAX_PROFILE_BYTES, MAX_TEXT, stored_size
from roster.profiles.model import IncomingRecord, Profile, apply_record
from roster.profiles.values import ValueProblem, coerce_value
from roster.store.profiles import ProfileTooLarge, fit, item_size

DYNAMODB_ITEM_LIMIT = 400 * 1024
SOURCES = ("crm", "csv")
FIELDS = ("notes", "job_title", "bio")


def new_profile() -> Profile:
    return Profile("ws", Kind.PEOPLE, "01P", created_at="2024-01-01T00:00:00.000000Z")


def when(step: int) -> str:
    return f"2024-01-01T00:00:00.{step:06d}Z"


def stored_history(profile: Profile, chunks: list[list[dict[str, Any]]]) -> dict[tuple[str, str], list[Any]]:
    """Every value each source record's field ever held, oldest first: history items, the item's own, the value."""
    values: dict[tuple[str, str], list[Any]] = {}
    for entry in (entry for chunk in chunks for entry in chunk):
        values.setdefault((entry["record"], entry["field"]), []).append(entry["value"])
    for key, record in profile.records.items():
        for entry in record.previous:
            values.setdefault((key, entry["field"]), []).append(entry["value"])
        for name, value in record.values.items():
            values.setdefault((key, name), []).append(value)
    return values


updates = st.lists(
    st.tuples(
        st.sampled_from(SOURCES),
        st.sampled_from(FIELDS),
        st.sampled_from(["a", "é", "字", "😀"]),  # 1 to 12 bytes each as stored (JSON escapes non-ASCII)
        st.integers(min_value=1, max_value=200) | st.integers(min_value=MAX_TEXT - 200, max_value=MAX_TEXT),
    ),
    min_size=20,
    max_size=80,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(updates)
def test_a_profile_updated_any_number_of_times_fits_and_keeps_every_value(
    steps: list[tuple[str, str, str, int]],
) -> None:
    profile = new_profile()
    chunks: list[list[dict[str, Any]]] = []
    sent: dict[tuple[str, str], list[Any]] = {}
    for step, (source, name, character, length) in enumerate(steps):
        try:
            value = coerce_value(Kind.PEOPLE, name, f"{step}:" + character * length)
        except ValueProblem:
            continue  # over the field limit: refused before it reaches a profile
        before = copy.deepcopy(profile)
        apply_record(profile, IncomingRecord(source, "people", "r1", when(step), {name: value}))
        profile.refresh()
        try:
            item, moved = fit(profile)
        except ProfileTooLarge as refused:
            event("refused: the values alone do not fit")
            assert refused.size > MAX_PROFILE_BYTES
            assert not any(record.previous for record in profile.records.values())  # refused with no history left
            profile = before  # the write is refused whole: the stored profile is unchanged
            continue
        if moved:
            event("history moved off the profile")
        profile.history_chunks += len(moved)
        chunks.extend(moved)
        sent.setdefault((f"{source}:people:r1", name), []).append(value)
        assert item_size(item) <= MAX_PROFILE_BYTES < DYNAMODB_ITEM_LIMIT
        assert all(0 < stored_size(chunk) <= MAX_PROFILE_BYTES for chunk in moved)
    assert stored_history(profile, chunks) == sent
    for key, record in profile.records.items():
        for name in record.moved:
            assert record.moved[name] == sum(
                entry["record"] == key and entry["field"] == name for chunk in chunks for entry in chunk
            )


def test_at_most_the_latest_values_per_field_stay_on_the_profile() -> None:
    profile = new_profile()
    for step in range(HISTORY_KEPT + 5):
        apply_record(profile, IncomingRecord("crm", "people", "r1", when(step), {"job_title": f"t{step}", "city": "P"}))
    _, moved = fit(profile)
    record = profile.records["crm:people:r1"]
    assert [entry["value"] for entry in record.previous] == [f"t{step}" for step in range(4, HISTORY_KEPT + 4)]
    assert [entry["value"] for chunk in moved for entry in chunk] == ["t0", "t1", "t2", "t3"]
    assert record.moved == {"job_title": 4}


@pytest.mark.parametrize("updates", [1_000])
def test_a_thousand_large_updates_keep_the_item_under_the_limit(updates: int) -> None:
    profile = new_profile()
    moved_values = 0
    for step in range(updates):
        apply_record(profile, IncomingRecord("api", "people", "r1", when(step), {"notes": f"{step:04d}" + "x" * 9_996}))
        profile.refresh()
        item, moved = fit(profile)
        moved_values += sum(len(chunk) for chunk in moved)
        assert item_size(item) <= MAX_PROFILE_BYTES
    assert moved_values + len(profile.records["api:people:r1"].previous) == updates - 1

"""DESIGN.md invariants 1-4 as property tests against the moto server.

Each example uses a workspace of its own, so examples never see each other's data.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ulid import ULID

from roster.identity.aliases import AliasType, matching_aliases
from roster.identity.resolver import Resolver
from roster.profiles.fields import Kind
from roster.profiles.model import IncomingRecord, Outcome, Status
from roster.store.profiles import ProfileStore
from roster_dev.local.metering import count_aws_calls, dynamodb_writes
from roster_dev.local.stack import LocalStack

EMAILS = [f"person{i}@acme.com" for i in range(5)] + ["TEAM@acme.com"]
LINKEDINS = [f"https://www.linkedin.com/in/person{i}/" for i in range(5)]


@st.composite
def record_sets(draw: st.DrawFn) -> list[IncomingRecord]:
    count = draw(st.integers(min_value=1, max_value=10))
    records = []
    for index in range(count):
        fields: dict[str, object] = {"job_title": draw(st.sampled_from(["CEO", "CTO", "Engineer"]))}
        email = draw(st.none() | st.sampled_from(EMAILS))
        url = draw(st.none() | st.sampled_from(LINKEDINS))
        if email:
            fields["email"] = email.lower()
        if url:
            fields["linkedin_url"] = url
        source = draw(st.sampled_from(["crm", "csv"]))
        day = draw(st.integers(min_value=1, max_value=3))
        records.append(IncomingRecord(source, "people", f"r{index}", f"2024-01-0{day}T00:00:00.000000Z", fields))
    return records


def aliases(record: IncomingRecord) -> set[str]:
    return set(matching_aliases(Kind.PEOPLE, record.fields, frozenset(AliasType)))


def expected_groups(records: Sequence[IncomingRecord]) -> set[frozenset[str]]:
    """Records sharing an alias, directly or through others, are one person (union-find)."""
    parent = {record.key: record.key for record in records}

    def find(key: str) -> str:
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    owner: dict[str, str] = {}
    for record in records:
        for alias in aliases(record):
            if alias in owner:
                parent[find(record.key)] = find(owner[alias])
            else:
                owner[alias] = record.key
    groups: dict[str, set[str]] = {}
    for record in records:
        groups.setdefault(find(record.key), set()).add(record.key)
    return {frozenset(group) for group in groups.values()}


def import_in_batches(workspace: str, records: Sequence[IncomingRecord], cuts: Sequence[int]) -> list[Outcome]:
    outcomes: list[Outcome] = []
    bounds = sorted({0, len(records), *(cut % (len(records) + 1) for cut in cuts)})
    for start, end in itertools.pairwise(bounds):
        resolver = Resolver(ProfileStore(), workspace, Kind.PEOPLE)  # a fresh worker per batch
        outcomes += [resolution.outcome for resolution in resolver.upsert(records[start:end])]
    return outcomes


def groups_of(workspace: str) -> set[frozenset[str]]:
    active = [p for p in ProfileStore().scan(workspace, Kind.PEOPLE) if p.status is not Status.MERGED]
    return {frozenset(p.records) for p in active}


def check_one_profile_per_alias(workspace: str, records: Sequence[IncomingRecord]) -> None:
    store = ProfileStore()
    active = [p for p in store.scan(workspace, Kind.PEOPLE) if p.status is not Status.MERGED]
    holder: dict[str, str] = {}
    by_key = {record.key: record for record in records}
    for profile in active:
        for key in profile.records:
            for alias in aliases(by_key[key]):
                assert holder.setdefault(alias, profile.profile_id) == profile.profile_id, alias
    for alias, profile_id in holder.items():
        found = store.lookup(workspace, Kind.PEOPLE, alias)
        assert found is not None and found.profile_id == profile_id


SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(records=record_sets(), data=st.data())
def test_order_and_batching_never_change_the_grouping(
    stack: LocalStack, records: list[IncomingRecord], data: st.DataObject
) -> None:
    first, second = f"p-{ULID()}".lower(), f"p-{ULID()}".lower()
    cuts_a = data.draw(st.lists(st.integers(0, 10), max_size=3))
    shuffled = data.draw(st.permutations(records))
    cuts_b = data.draw(st.lists(st.integers(0, 10), max_size=3))
    import_in_batches(first, records, cuts_a)
    import_in_batches(second, shuffled, cuts_b)
    expected = expected_groups(records)
    assert groups_of(first) == expected  # invariant 2, and merges happen when records bridge
    assert groups_of(second) == expected
    check_one_profile_per_alias(first, records)  # invariant 1
    check_one_profile_per_alias(second, shuffled)


@SETTINGS
@given(records=record_sets(), data=st.data())
def test_redelivery_changes_nothing_and_nothing_is_lost(
    stack: LocalStack, records: list[IncomingRecord], data: st.DataObject
) -> None:
    workspace = f"p-{ULID()}".lower()
    import_in_batches(workspace, records, [])
    before = {p.profile_id: (p.status, p.version) for p in ProfileStore().scan(workspace, Kind.PEOPLE)}
    with count_aws_calls() as calls:
        again = import_in_batches(workspace, data.draw(st.permutations(records)), [])
    assert set(again) == {Outcome.UNCHANGED}  # invariant 3
    assert dynamodb_writes(calls) == 0
    after = {p.profile_id: (p.status, p.version) for p in ProfileStore().scan(workspace, Kind.PEOPLE)}
    assert after == before
    # invariant 4: every value of every record is in exactly one live profile, with its source
    live = [p for p in ProfileStore().scan(workspace, Kind.PEOPLE) if p.status is not Status.MERGED]
    for record in records:
        holders = [p for p in live if record.key in p.records]
        assert len(holders) == 1
        kept = holders[0].records[record.key]
        assert kept.values == record.fields
        assert kept.source == record.source
        assert all(kept.observed[name] == record.observed_at for name in record.fields)

"""The HubSpot emulator's search pages as "Search the CRM" documents: every match once, in order, whatever the
page size, and a keyset on `hs_object_id` reaches the same records as `after` paging even when many records
share one modified time (a bulk edit).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from roster_dev.emulators.hubspot import HubSpotPortal, ManualClock
from roster_dev.emulators.hubspot.schema import epoch_ms
from roster_dev.emulators.hubspot.search import search

START = datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC)


def portal_with(buckets: list[int]) -> HubSpotPortal:
    """One contact per bucket, modified at START + bucket minutes (few buckets: many ties)."""
    portal = HubSpotPortal(clock=ManualClock(START))
    for index, bucket in enumerate(buckets):
        moment = START + timedelta(minutes=bucket)
        portal.add("contacts", {"email": f"p{index}@example.com"}, at=moment)
    return portal


@settings(max_examples=60, deadline=None)
@given(
    buckets=st.lists(st.integers(0, 3), min_size=1, max_size=80),
    since=st.integers(0, 3),
    page=st.integers(1, 30),
)
def test_after_paging_and_keyset_paging_return_each_match_once(buckets: list[int], since: int, page: int) -> None:
    portal = portal_with(buckets)
    cutoff = {"propertyName": "lastmodifieddate", "operator": "GTE", "value": str(epoch_ms(START) + since * 60_000)}
    expected = [record.id for record in portal.live("contacts") if record.updated >= START + timedelta(minutes=since)]

    by_offset: list[int] = []
    request: dict[str, Any] = {"filterGroups": [{"filters": [cutoff]}], "sorts": ["hs_object_id"], "limit": page}
    while True:
        found = search(portal, "contacts", request)
        assert found.total == len(expected)
        by_offset.extend(record.id for record in found.records)
        if found.next_after is None:
            break
        request["after"] = str(found.next_after)

    by_keyset: list[int] = []
    last = 0
    while True:
        keyset = [cutoff, {"propertyName": "hs_object_id", "operator": "GT", "value": str(last)}]
        body = {"filterGroups": [{"filters": keyset}], "sorts": ["hs_object_id"], "limit": page}
        records = search(portal, "contacts", body).records
        if not records:
            break
        by_keyset.extend(record.id for record in records)
        last = records[-1].id

    assert by_offset == by_keyset == expected

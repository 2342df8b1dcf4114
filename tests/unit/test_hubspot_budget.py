"""The budget's pacing arithmetic: slices that can never put more than HubSpot's limit in any rolling span."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from roster.connectors.hubspot.budget import TIERS, Budget, Limits, Pace
from roster.connectors.hubspot.importer import api_math


@given(limit=st.integers(min_value=2, max_value=100_000), span=st.sampled_from([1.0, 10.0]))
def test_no_rolling_span_holds_more_than_the_limit(limit: int, span: float) -> None:
    pace = Pace.within(limit, span)
    slices = round(span / pace.width)
    # a rolling span of `span` seconds touches at most slices + 1 fixed slices, each holding at most `capacity`
    assert (math.ceil(span / pace.width) + 1) * pace.capacity <= limit
    assert pace.capacity >= 1 and slices * pace.capacity >= limit // 2  # and it uses at least half the limit


def test_the_tiers_pace_as_documented() -> None:
    assert Pace.within(TIERS["professional"].per_ten_seconds, 10.0) == Pace(1.0, 17)  # 170 a 10 s, never 191
    assert Pace.within(TIERS["starter"].per_ten_seconds, 10.0) == Pace(1.0, 9)
    assert Pace.within(TIERS["starter"].search_per_second, 1.0) == Pace(0.25, 1)  # 4 searches a second


def test_the_share_keeps_the_reserve_and_api_math_counts_pages() -> None:
    assert Budget("w", Limits(100, 250_000), reserve_percent=20).share == 200_000
    assert Budget("w", Limits(100, 250_000), reserve_percent=0).share == 250_000
    assert api_math(0).full_calls == 2  # an empty list page and an empty archived page
    assert api_math(0).incremental_calls == 1
    assert api_math(250).full_calls == 3 + 3 + 1
    assert api_math(250).incremental_calls == 2 + 2 * 3
    assert api_math(10_000).export_calls == 100
    assert api_math(100_000, "professional", 20).full_percent_of_share == round(100 * 2_001 / 520_000, 2)

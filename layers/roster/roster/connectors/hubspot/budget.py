"""One API budget per HubSpot portal, shared by every worker that calls it (import and export alike).

HubSpot limits a private app per portal: calls per rolling 10 seconds and per day by subscription tier, and CRM
search separately (5 a second). Each call spends from counters on DynamoDB (`roster.store.counters`) before it is
made: first the day's count, then the current pacing window's. Pacing windows are fixed slices whose capacity is
chosen so that no rolling span of HubSpot's can hold more than its limit: a 10-second limit of N is paced as
N // 11 calls per 1-second slice (any rolling 10 seconds touches at most 11 slices), search's 5 a second as one
call per quarter second. A worker finding its slice full sleeps to the next one. The day stops short of the
allowance by a reserve kept for the customer's other integrations; when Roster's share is spent, the call raises
`BudgetSpent` and the run parks at its checkpoint until the portal's day turns (HubSpot resets at midnight in the
portal's time zone). A daily 429 from HubSpot (other apps used the day) marks the day spent the same way.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from dateutil import tz

from roster.store import jobs
from roster.store.counters import Counters

Tier = Literal[
    "free",
    "starter",
    "professional",
    "enterprise",
    "professional_api_limit_increase",
    "enterprise_api_limit_increase",
]


@dataclass(frozen=True)
class Limits:
    """A portal's allowances for a private app ("API usage guidelines and limits"; "Increasing our API limits":
    Professional 650,000 a day and 190 per 10 s, Enterprise 1,000,000 and 190, the API Limit Increase pack
    1,000,000 more a day and 250 per 10 s); CRM search 5 a second, apart from the 10-second count."""

    per_ten_seconds: int
    daily: int
    search_per_second: int = 5


TIERS: dict[Tier, Limits] = {
    "free": Limits(100, 250_000),
    "starter": Limits(100, 250_000),
    "professional": Limits(190, 650_000),
    "enterprise": Limits(190, 1_000_000),
    "professional_api_limit_increase": Limits(250, 1_650_000),
    "enterprise_api_limit_increase": Limits(250, 2_000_000),
}

WINDOW_DAYS_KEPT = 2  # a day's counter outlives its day a little (the table's TTL removes it)
PACING_KEPT = 60  # seconds a pacing slice's counter is kept


def daily_share(limits: Limits, reserve_percent: int) -> int:
    """The calls a day Roster may make: the allowance less the reserve kept for the portal's other apps."""
    return limits.daily * (100 - reserve_percent) // 100


@dataclass(frozen=True)
class Pace:
    """Fixed slices of `width` seconds holding `capacity` calls each: at most `limit` in any rolling `span`."""

    width: float
    capacity: int

    @classmethod
    def within(cls, limit: int, span: float) -> Pace:
        slices = max(1, min(10, limit - 1))  # a rolling span touches at most slices + 1 of them
        return cls(span / slices, max(1, limit // (slices + 1)))


class BudgetSpent(Exception):
    """Roster's share of the portal's daily allowance is spent: the run parks until `resumes_at`."""

    def __init__(self, used: int, share: int, daily: int, reserve_percent: int, resumes_at: datetime) -> None:
        super().__init__(
            f"Roster has spent its share of HubSpot's daily API allowance ({used:,} of {share:,} calls; the "
            f"portal allows {daily:,} a day and {reserve_percent}% is kept for your other integrations): the sync "
            f"stopped at its checkpoint and resumes after {resumes_at.isoformat()}"
        )
        self.resumes_at = resumes_at


@dataclass
class Budget:
    """The portal's budget as one workspace's connection spends it."""

    workspace: str
    limits: Limits
    reserve_percent: int = 20
    time_zone: str = "UTC"
    counters: Counters = field(default_factory=Counters)
    now: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep

    @property
    def share(self) -> int:
        return daily_share(self.limits, self.reserve_percent)

    def _today(self) -> tuple[jobs.Key, datetime, int]:
        """Today's counter key, when the portal's day ends, and when the counter may expire."""
        zone = tz.gettz(self.time_zone)
        today = datetime.fromtimestamp(self.now(), zone).date()
        ends = datetime.combine(today + timedelta(days=1), datetime.min.time(), zone)
        expires = int(ends.timestamp()) + WINDOW_DAYS_KEPT * 86_400
        return jobs.hubspot_budget(self.workspace, f"day#{today.isoformat()}"), ends, expires

    def spend(self, *, search: bool = False) -> None:
        """Spend one call: BudgetSpent when the day's share is gone, else wait for room in the pacing window."""
        day, ends, expires = self._today()
        if not self.counters.spend(day, self.share, expires):
            raise BudgetSpent(self.counters.used(day), self.share, self.limits.daily, self.reserve_percent, ends)
        name, pace = (
            ("search", Pace.within(self.limits.search_per_second, 1.0))
            if search
            else ("ten", Pace.within(self.limits.per_ten_seconds, 10.0))
        )
        while True:
            moment = self.now()
            index = math.floor(moment / pace.width)
            key = jobs.hubspot_budget(self.workspace, f"{name}#{index}")
            if self.counters.spend(key, pace.capacity, int(moment) + PACING_KEPT):
                return
            self.sleep(max((index + 1) * pace.width - moment, 0.001))

    def spent_today(self) -> bool:
        """Whether today's share is gone (a parked run waits for the next day)."""
        day, _, _ = self._today()
        return self.counters.used(day) >= self.share

    def used_today(self) -> int:
        return self.counters.used(self._today()[0])

    def use_up(self) -> None:
        """HubSpot answered its daily limit: count today as spent, so no worker tries again before the day turns."""
        day, _, expires = self._today()
        self.counters.use_up(day, self.share, expires)

"""Finding a signal's events in a data provider's answer and in Roster's own history (pure functions).

Every detector returns the candidate events it sees; `latest_new` keeps the newest one that is inside
the look-back (on or after `since`) and newer than the event already on the record, so a run never
reports an event twice and an older event never replaces a newer one.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from roster.signals.kinds import SignalType

SPIKE_WINDOW_DAYS = 30  # open roles counted over the last 30 days...
BASELINE_WINDOWS = 3  # ...against the average of the three 30-day windows before
SPIKE_FACTOR = 2.0  # a spike: at least twice the baseline
SPIKE_MIN_ROLES = 3  # and at least this many roles (so 0 -> 2 is no spike)


@dataclass(frozen=True)
class Event:
    """One event a signal reports: what, when, and the details (evidence included)."""

    value: str
    on: date
    details: tuple[str, ...]


@dataclass(frozen=True)
class Observation:
    """A value a field had on a profile: from which source record, first seen when (Roster's own history)."""

    value: str
    record: str
    observed_at: str


def day(value: Any) -> date | None:
    """The date of an ISO 8601 date or datetime, or None when there is none."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def latest_new(candidates: Iterable[Event], since: date, recorded: date | None) -> Event | None:
    """The newest event on or after `since` and after the one already recorded, if any."""
    fresh = [event for event in candidates if event.on >= since and (recorded is None or event.on > recorded)]
    return max(fresh, key=lambda event: (event.on, event.value), default=None)


def _objects(items: Any) -> list[Mapping[str, Any]]:
    return [item for item in items if isinstance(item, Mapping)] if isinstance(items, list) else []


def _text(item: Mapping[str, Any], name: str) -> str:
    value = item.get(name)
    return str(value).strip() if value is not None and str(value).strip() else ""


def _employer(item: Mapping[str, Any]) -> str:
    company, domain = _text(item, "company"), _text(item, "domain").lower()
    return f"{company} ({domain})" if company and domain else company or domain


def job_changes(positions: Any, provider: str, fields: Mapping[str, Any]) -> list[Event]:
    """A position that started after one at another employer is a job change (new employer, title, start)."""
    dated = sorted(
        ((start, item) for item in _objects(positions) if (start := day(item.get("start_date")))),
        key=lambda pair: pair[0],
    )
    recorded = str(fields.get("company_domain") or "").lower()
    events = []
    for index, (start, item) in enumerate(dated):
        domain = _text(item, "domain").lower()
        before = [earlier for _, earlier in dated[:index] if _text(earlier, "domain").lower() != domain]
        if not domain or not before:
            continue
        details = [
            f"new employer: {_employer(item)}",
            f"new title: {_text(item, 'title') or 'unknown'}",
            f"start date: {start.isoformat()}",
            f"previous employer: {_employer(before[-1])}",
            f"evidence: {provider}",
        ]
        if recorded and recorded != domain:
            details.append(f"recorded company: {recorded}")
        events.append(Event(_employer(item), start, tuple(details)))
    return events


def employer_changes(observations: Sequence[Observation]) -> list[Event]:
    """Roster's own evidence: the company domain on the profile changed (across sources or enrichment runs)."""
    timeline = sorted(observations, key=lambda seen: (seen.observed_at, seen.record))
    events = []
    for previous, current in itertools.pairwise(timeline):
        when = day(current.observed_at)
        if when is None or previous.value.lower() == current.value.lower():
            continue
        details = (
            f"new employer: {current.value}",
            f"previous employer: {previous.value}",
            f"start date: {when.isoformat()}",
            f"evidence: roster history ({current.record}, was {previous.record})",
        )
        events.append(Event(current.value, when, details))
    return events


def new_hires(hires: Any, provider: str) -> list[Event]:
    """Each person who joined the company."""
    events = []
    for item in _objects(hires):
        start = day(item.get("start_date"))
        name = _text(item, "name")
        if start is None or not name:
            continue
        title = _text(item, "title")
        value = f"{name}, {title}" if title else name
        details = [f"name: {name}", f"title: {title or 'unknown'}", f"start date: {start.isoformat()}"]
        if _text(item, "linkedin_url"):
            details.append(f"linkedin: {_text(item, 'linkedin_url')}")
        events.append(Event(value, start, (*details, f"evidence: {provider}")))
    return events


def funding_rounds(rounds: Any, provider: str) -> list[Event]:
    """Each round the company raised: round, amount, date, investors."""
    events = []
    for item in _objects(rounds):
        on = day(item.get("date"))
        name = _text(item, "round")
        if on is None or not name:
            continue
        amount = item.get("amount")
        currency = _text(item, "currency") or "USD"
        money = f"{amount:,.0f} {currency}" if isinstance(amount, int | float) and not isinstance(amount, bool) else ""
        investors = [str(investor) for investor in item.get("investors") or [] if str(investor).strip()]
        details = [f"round: {name}", f"amount: {money or 'undisclosed'}", f"date: {on.isoformat()}"]
        details.append(f"investors: {', '.join(investors) if investors else 'undisclosed'}")
        events.append(Event(f"{name} {money}".strip(), on, (*details, f"evidence: {provider}")))
    return events


def hiring_spikes(postings: Any, provider: str) -> list[Event]:
    """Per department, each posting date on which the roles opened over the last 30 days are at least twice
    the average of the three 30-day windows before (and at least 3)."""
    by_department: dict[str, list[date]] = defaultdict(list)
    for item in _objects(postings):
        posted = day(item.get("posted_date"))
        if posted is not None:
            by_department[_text(item, "department") or "Other"].append(posted)
    window = timedelta(days=SPIKE_WINDOW_DAYS)
    events = []
    for department, dates in sorted(by_department.items()):
        for on in sorted(set(dates)):
            recent = sum(1 for posted in dates if on - window < posted <= on)
            older = sum(1 for posted in dates if on - window * (BASELINE_WINDOWS + 1) < posted <= on - window)
            baseline = older / BASELINE_WINDOWS
            if recent >= SPIKE_MIN_ROLES and recent >= SPIKE_FACTOR * max(baseline, 1.0):
                details = (
                    f"department: {department}",
                    f"open roles in {SPIKE_WINDOW_DAYS} days: {recent}",
                    f"baseline per {SPIKE_WINDOW_DAYS} days: {baseline:.1f}",
                    f"date: {on.isoformat()}",
                    f"evidence: {provider}",
                )
                events.append(Event(f"{department}: {recent} roles in {SPIKE_WINDOW_DAYS} days", on, details))
    return events


#: Each type's detector over the provider's events.
DETECTORS: dict[SignalType, Callable[[Any, str, Mapping[str, Any]], list[Event]]] = {
    SignalType.JOB_CHANGE: job_changes,
    SignalType.NEW_HIRE: lambda items, provider, _fields: new_hires(items, provider),
    SignalType.FUNDING: lambda items, provider, _fields: funding_rounds(items, provider),
    SignalType.HIRING_SPIKE: lambda items, provider, _fields: hiring_spikes(items, provider),
}

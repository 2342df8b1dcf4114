"""The data a signals vendor would hold about people and companies: employment histories, hires, funding
rounds and job postings, generated from a seed and the record's e-mail or domain (deterministic: the same
key always gets the same events), dated over the two years before `today`. Tests can pin a record's
events exactly with `put`.
"""

from __future__ import annotations

import hashlib
import random
import threading
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

Feed = Literal["employment", "hires", "funding", "jobs"]
FEEDS: tuple[Feed, ...] = ("employment", "hires", "funding", "jobs")
SPAN_DAYS = 730  # events fall within the two years before today

WORDS = "Acme Apex Blue Bright Cedar Cloud Core Delta Echo Ember Flux Granite Harbor Helix Iron Juno Kite".split()
SUFFIXES = ["Labs", "Systems", "Analytics", "Software", "Health", "Logistics", "Capital", "Robotics"]
TITLES = ["VP of Sales", "Head of Marketing", "CTO", "RevOps Manager", "Account Executive", "Product Manager"]
FIRST = "Ada Ben Carla Dana Elena Farid Grace Ivan Julia Kai Leo Mei Noah Priya Rosa Sam Uma Wei".split()
LAST = "Adams Baker Costa Evans Garcia Kim Lopez Novak Patel Rossi Silva Tanaka Weber Xu Zhang".split()
DEPARTMENTS = ["Engineering", "Sales", "Marketing", "Operations"]
ROUNDS = ["Seed", "Series A", "Series B", "Series C"]
INVESTORS = ["Northwind Ventures", "Blue Harbor Capital", "Summit Partners", "Granite Fund", "Kite Ventures"]


@dataclass
class SignalData:
    """Events per feed and key (an e-mail for employment, a domain for the rest)."""

    today: date
    seed: int = 2026
    pinned: dict[tuple[Feed, str], list[dict[str, Any]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def put(self, feed: Feed, key: str, events: list[dict[str, Any]]) -> None:
        """Serve exactly these events for this record from now on."""
        with self._lock:
            self.pinned[(feed, key.strip().lower())] = [dict(event) for event in events]

    def events(self, feed: Feed, key: str) -> list[dict[str, Any]]:
        """The record's events in the feed (pinned ones, else generated)."""
        key = key.strip().lower()
        with self._lock:
            pinned = self.pinned.get((feed, key))
        if pinned is not None:
            return [dict(event) for event in pinned]
        rng = random.Random(hashlib.sha256(f"{self.seed}:{feed}:{key}".encode()).digest())
        return {"employment": self._employment, "hires": self._hires, "funding": self._funding, "jobs": self._jobs}[
            feed
        ](rng, key)

    def _day(self, rng: random.Random, oldest: int = SPAN_DAYS, newest: int = 1) -> str:
        return (self.today - timedelta(days=rng.randint(newest, oldest))).isoformat()

    def _employment(self, rng: random.Random, email: str) -> list[dict[str, Any]]:
        """The current position at the e-mail's company; two people in five moved on since."""
        domain = email.rpartition("@")[2]
        started = (self.today - timedelta(days=SPAN_DAYS + rng.randint(30, 2000))).isoformat()
        positions = [
            {
                "company": _company_of(domain),
                "domain": domain,
                "title": rng.choice(TITLES),
                "start_date": started,
                "end_date": None,
            }
        ]
        if rng.random() < 0.4:
            moved = self._day(rng)
            name = f"{rng.choice(WORDS)} {rng.choice(SUFFIXES)}"
            new_domain = f"{name.replace(' ', '').lower()}.com"
            positions[0]["end_date"] = moved
            positions.append(
                {
                    "company": name,
                    "domain": new_domain,
                    "title": rng.choice(TITLES),
                    "start_date": moved,
                    "end_date": None,
                }
            )
        return positions

    def _hires(self, rng: random.Random, domain: str) -> list[dict[str, Any]]:
        hires = []
        for index in range(rng.randint(0, 5)):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            slug = f"{first}-{last}-{index}".lower()
            hires.append(
                {
                    "name": f"{first} {last}",
                    "title": rng.choice(TITLES),
                    "start_date": self._day(rng),
                    "linkedin_url": f"https://www.linkedin.com/in/{slug}-{domain.split('.')[0]}/",
                }
            )
        return sorted(hires, key=lambda hire: hire["start_date"])

    def _funding(self, rng: random.Random, domain: str) -> list[dict[str, Any]]:
        count = rng.choice([0, 0, 1, 1, 2, 3])
        dates = sorted(self._day(rng) for _ in range(count))
        return [
            {
                "round": ROUNDS[index],
                "amount": rng.randint(2, 80) * 1_000_000,
                "currency": "USD",
                "date": on,
                "investors": sorted(rng.sample(INVESTORS, 2)),
            }
            for index, on in enumerate(dates)
        ]

    def _jobs(self, rng: random.Random, domain: str) -> list[dict[str, Any]]:
        """About one opening a department every two months; one company in three had a burst of six in a month."""
        postings = []
        for department in DEPARTMENTS:
            for _ in range(rng.randint(4, 12)):
                postings.append(
                    {"title": f"{department} role", "department": department, "posted_date": self._day(rng)}
                )
        if rng.random() < 1 / 3:
            department = rng.choice(DEPARTMENTS)
            burst = self.today - timedelta(days=rng.randint(10, SPAN_DAYS - 150))
            for offset in range(6):
                posted = (burst - timedelta(days=offset * 4)).isoformat()
                postings.append({"title": f"{department} role", "department": department, "posted_date": posted})
        return sorted(postings, key=lambda posting: posting["posted_date"])


def _company_of(domain: str) -> str:
    return domain.split(".")[0].capitalize()

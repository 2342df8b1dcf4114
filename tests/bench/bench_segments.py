"""Benchmarks of segments; prints figures, asserts nothing about time.

    .venv/bin/python tests/bench/bench_segments.py [--profiles 1000000] [--segments 500]

1. µs per profile-segment evaluation of compiled filters (and of a recursive interpreter, the
   reference evaluation of the property tests, in the same run);
2. CPU of one stream batch of 100 changed profiles against 500 segments: finding the segments
   whose referenced fields changed, then evaluating them (target: under 50 ms);
3. evaluations per second of a rebuild over 1,000,000 in-memory profiles, with DuckDB evaluating
   the same filter over the same data in the same run as the reference ratio.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
from pydantic import TypeAdapter

from roster.profiles.fields import Kind
from roster.segments.compiler import CompiledFilter, compile_filter
from roster.segments.filters import Group, catalog_for, check_filter
from roster.segments.membership import LiveSegment, ProfileChange, candidates_for
from roster_dev.demo.run import DEMO_SEGMENTS

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script from the checkout
from tests.unit.segment_reference import evaluate

TODAY = date(2026, 11, 25)
PEOPLE = catalog_for(Kind.PEOPLE)
TITLES = ["CEO", "CTO", "VP of Sales", "Director of Operations", "Data Engineer", "Account Executive", "Intern"]
COUNTRIES = ["US", "CA", "DE", "FR", "GB", None]
SENIORITIES = ["c_suite", "vp", "director", "manager", "senior", "entry", None]
FIELDS = ["job_title", "country", "seniority", "city", "lead_source", "department", "tags", "created_date"]

EXECUTIVES = dict(DEMO_SEGMENTS)["Executives in North America"]  # the demo's segment
EXECUTIVES_SQL = (
    "SELECT count(*) FROM people WHERE country IN ('US', 'CA') AND (lower(job_title) IN ('ceo', 'cto') "
    "OR starts_with(lower(job_title), 'vp') OR starts_with(lower(job_title), 'director'))"
)


def profile(rng: random.Random, index: int) -> dict[str, Any]:
    fields: dict[str, Any] = {"email": f"p{index}@example.com", "job_title": rng.choice(TITLES)}
    for name, pool in (("country", COUNTRIES), ("seniority", SENIORITIES)):
        value = rng.choice(pool)
        if value is not None:
            fields[name] = value
    if rng.random() < 0.3:
        fields["tags"] = rng.sample(["vip", "partner", "churned", "trial"], 2)
    fields["created_date"] = f"2026-{rng.randint(1, 11):02d}-{rng.randint(1, 28):02d}"
    return fields


def random_filter(rng: random.Random) -> dict[str, Any]:
    """A realistic saved segment: two to four conditions on a few fields, sometimes a nested OR."""
    pool = [
        {"field": "country", "op": "in", "value": rng.sample(["US", "CA", "DE", "FR", "GB"], 2)},
        {"field": "job_title", "op": "contains", "value": rng.choice(["vp", "engineer", "director", "ceo"])},
        {"field": "seniority", "op": "eq", "value": rng.choice(["vp", "director", "manager"])},
        {"field": "tags", "op": "has_any", "value": ["vip"]},
        {"field": "created_date", "op": "within_last_days", "value": rng.choice([30, 90])},
        {"field": rng.choice(["city", "lead_source", "department"]), "op": "is_not_empty"},
    ]
    conditions = rng.sample(pool, rng.randint(2, 4))
    if rng.random() < 0.5:
        conditions = [conditions[0], {"match": "any", "conditions": conditions[1:]}]
    return {"match": "all", "conditions": conditions}


def compiled(tree: dict[str, Any]) -> tuple[Group, CompiledFilter]:
    checked = check_filter(TypeAdapter(Group).validate_python(tree), PEOPLE)
    return checked, compile_filter(checked, PEOPLE, TODAY)


def bench_evaluation(profiles: list[dict[str, Any]]) -> None:
    tree, fast = compiled(EXECUTIVES)
    sample = profiles[:200_000]
    started = time.perf_counter()
    matches = sum(1 for fields in sample if fast.matches(fields, {}))
    compiled_us = (time.perf_counter() - started) / len(sample) * 1e6
    slow_sample = sample[:50_000]
    started = time.perf_counter()
    slow = sum(1 for fields in slow_sample if evaluate(tree, PEOPLE, fields, {}, TODAY))
    interpreted_us = (time.perf_counter() - started) / len(slow_sample) * 1e6
    assert slow == sum(1 for fields in slow_sample if fast.matches(fields, {}))
    print(f"1. one profile-segment evaluation: {compiled_us:.3f} µs compiled ({matches:,} of {len(sample):,} match)")
    speedup = interpreted_us / compiled_us
    print(f"   recursive interpreter (reference): {interpreted_us:.3f} µs → compiled is {speedup:.1f}x faster")


def bench_stream_batch(profiles: list[dict[str, Any]], segments: int, rng: random.Random) -> None:
    live = [LiveSegment(f"s{n}", Kind.PEOPLE, compiled(random_filter(rng))[1]) for n in range(segments)]
    changes = []
    for index in range(100):
        old = profiles[index]
        new = {**old, rng.choice(FIELDS): rng.choice([*TITLES, "Berlin", "webinar"])}
        changes.append(ProfileChange("bench", Kind.PEOPLE, f"p{index}", old, new))
    runs = 50
    started = time.process_time()
    evaluated = 0
    for _ in range(runs):
        for change in changes:
            assert change.new is not None
            chosen = candidates_for(change, live)
            evaluated += len(chosen)
            {segment.segment_id for segment in chosen if segment.filter.matches(change.new, {})}
    indexed_ms = (time.process_time() - started) / runs * 1000
    started = time.process_time()
    for _ in range(runs):
        for change in changes:
            assert change.new is not None
            {segment.segment_id for segment in live if segment.filter.matches(change.new, {})}
    everything_ms = (time.process_time() - started) / runs * 1000
    print(
        f"2. stream batch of 100 changed profiles x {segments} segments: {indexed_ms:.2f} ms CPU "
        f"(target < 50 ms); {evaluated // runs:,} of {100 * segments:,} evaluations needed"
    )
    print(f"   re-checking every segment instead: {everything_ms:.2f} ms CPU")


def bench_rebuild(profiles: list[dict[str, Any]]) -> None:
    _, fast = compiled(EXECUTIVES)
    started = time.perf_counter()
    members = sum(1 for fields in profiles if fast.matches(fields, {}))
    seconds = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "profiles.csv"
        with path.open("w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(["email", "job_title", "country", "seniority"])
            for fields in profiles:
                writer.writerow([fields.get(name, "") for name in ("email", "job_title", "country", "seniority")])
        db = duckdb.connect()
        db.execute(
            "CREATE TABLE people AS SELECT * FROM read_csv(?, header=true, all_varchar=true, nullstr='')", [str(path)]
        )
        db.execute(EXECUTIVES_SQL).fetchone()  # warm up
        started = time.perf_counter()
        row = db.execute(EXECUTIVES_SQL).fetchone()
        duck_seconds = time.perf_counter() - started
    assert row is not None and row[0] == members, (row, members)
    rate, duck_rate = len(profiles) / seconds, len(profiles) / duck_seconds
    print(
        f"3. rebuild over {len(profiles):,} in-memory profiles: {rate:,.0f} evaluations/s "
        f"({members:,} members, {seconds:.2f} s)"
    )
    print(
        f"   DuckDB, same filter and data, same run: {duck_rate:,.0f} rows/s ({duck_seconds:.3f} s, columnar, "
        f"all cores) → compiled Python is {rate / duck_rate:.2f}x DuckDB"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--segments", type=int, default=500)
    options = parser.parse_args()
    rng = random.Random(7)
    profiles = [profile(rng, index) for index in range(options.profiles)]
    bench_evaluation(profiles)
    bench_stream_batch(profiles, options.segments, rng)
    bench_rebuild(profiles)


if __name__ == "__main__":
    main()

"""Benchmark of the ad-audience adapters against their emulators; prints figures, asserts nothing about time.

    .venv/bin/python tests/bench/bench_audiences.py [--changes 50000]

For Google Ads, Meta and LinkedIn: `--changes` membership changes (each person enters, and every third one
leaves again), each with an e-mail, a phone and names, sent through the adapter in its `max_batch` slices over
HTTPS to the platform's emulator. Prints requests per 10,000 changes (target: the platform's batch size, e.g. at
most 1 for Meta) and changes per second through the adapter (hashing, JSON, TLS and the emulator included),
and checks the audience ends in step (members = entered - left).
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import requests

from roster.actions.destinations import google_ads, linkedin, meta
from roster.actions.destinations.base import Delivery, Transition
from roster.outbound import guard
from roster.profiles.fields import Kind
from roster_dev.emulators.audiences import AudienceEmulator
from roster_dev.emulators.google_ads import GoogleAdsEmulator
from roster_dev.emulators.kept_secret import KeptInMemory
from roster_dev.emulators.linkedin import LinkedInEmulator
from roster_dev.emulators.meta import MetaEmulator

AREAS = [201, 202, 203, 205, 206, 207, 208, 209, 210, 212, 213, 214, 215, 216, 217, 218, 219, 224, 225, 228]


def changes(count: int) -> list[Delivery]:
    """Entries, then exits of every third person (an exit never shares a batch with its own entry)."""
    people = count * 3 // 4
    entries = [_change(index, Transition.ENTERED) for index in range(people)]
    exits = [_change(index, Transition.EXITED) for index in range(0, people, 3)][: count - people]
    return entries + exits


def _change(index: int, transition: Transition) -> Delivery:
    fields = {
        "email": f"Person.{index}@Example.com",
        "phone": f"+1{AREAS[index // 10_000 % len(AREAS)]}555{index % 10_000:04d}",  # one number a person
        "first_name": "Ada",
        "last_name": f"Lovelace{index}",
        "country": "US",
        "postal_code": f"{index % 100_000:05d}",
    }
    return Delivery(f"{index}-{transition}", "a1", "s1", Kind.PEOPLE, f"p{index}", transition, "2026-11-29", fields)


def run(name: str, platform: AudienceEmulator, adapter: Any, audience: str, deliveries: list[Delivery]) -> None:
    before = dict(platform.requests)
    started = time.perf_counter()
    for start in range(0, len(deliveries), adapter.max_batch):
        outcomes = adapter.send(deliveries[start : start + adapter.max_batch])
        failed = [outcome for outcome in outcomes if outcome.status != "delivered"]
        if failed:
            raise SystemExit(f"{name}: {len(failed)} not delivered, e.g. {failed[0]}")
    elapsed = time.perf_counter() - started
    by_kind = {
        name: count - before.get(name, 0) for name, count in platform.requests.items() if count > before.get(name, 0)
    }
    calls = sum(by_kind.values())
    entered = sum(1 for delivery in deliveries if delivery.transition is Transition.ENTERED)
    left = len(deliveries) - entered
    in_step = platform.size(audience) == entered - left
    print(
        f"{name:<10} {len(deliveries):>7} changes  {calls:>4} requests  "
        f"{calls * 10_000 / len(deliveries):6.2f} requests/10,000  {len(deliveries) / elapsed:8.0f} changes/s  "
        f"batch {adapter.max_batch}  in step: {in_step} ({platform.size(audience)} members)  {by_kind}"
    )


def session(platform: AudienceEmulator) -> requests.Session:
    made = guard(requests.Session())
    made.verify = platform.ca_path
    return made


def bench_meta(deliveries: list[Delivery]) -> None:
    with MetaEmulator() as platform:
        audience = platform.create_audience()
        settings = meta.MetaSettings(api_url=platform.url)
        adapter = meta.build(settings, meta.MetaOptions(audience_id=audience), platform.token, session(platform))
        run("meta", platform, adapter, audience, deliveries)


def bench_linkedin(deliveries: list[Delivery]) -> None:
    with LinkedInEmulator() as platform:
        segment = platform.create_segment()
        settings = linkedin.LinkedInSettings(api_url=platform.url)
        options = linkedin.LinkedInOptions(segment_id=segment)
        run(
            "linkedin",
            platform,
            linkedin.build(settings, options, platform.token, session(platform)),
            segment,
            deliveries,
        )


def bench_google(deliveries: list[Delivery]) -> None:
    with GoogleAdsEmulator() as platform:
        user_list = platform.create_user_list()
        settings = google_ads.GoogleAdsSettings(
            customer_id=platform.customer_id, api_url=platform.url, token_url=f"{platform.url}/token"
        )
        options = google_ads.GoogleAdsOptions(user_list_id=user_list)
        run(
            "google_ads",
            platform,
            google_ads.build(settings, options, platform.secret(), session(platform), KeptInMemory()),
            user_list,
            deliveries,
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--changes", type=int, default=50_000)
    args = parser.parse_args()
    os.environ["ROSTER_LOCAL_STACK"] = "1"  # settings may name an emulator's URL only on a local stack
    deliveries = changes(args.changes)
    bench_meta(deliveries)
    bench_linkedin(deliveries)
    bench_google(deliveries)


if __name__ == "__main__":
    main()

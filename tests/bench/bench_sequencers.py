"""Benchmark of the sequencer destinations against their emulators; prints figures, asserts nothing about time.

    .venv/bin/python tests/bench/bench_sequencers.py [--changes 1000]

Per platform (Outreach, Salesloft, Apollo), in batches of the adapter's `max_batch`: requests to the platform per
membership change, and changes per second over HTTPS on this machine, for new people entering, the same entries
delivered again (nothing enrolled twice), and exits with `on_exit: remove`. Requests per 10,000 changes is the
figure the actions issue asks for; an entry costs a look-up, a create when the person is new, and an enrolment
(Apollo enrols a whole batch in one request).
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import requests

from roster.actions.destinations.base import Adapter, Delivery, Transition
from roster.actions.destinations.registry import destination_kind
from roster.connectors.core.trust import LOCAL_STACK_FLAG
from roster.outbound import guard
from roster.profiles.fields import Kind
from roster_dev.emulators.apollo import ApolloEmulator
from roster_dev.emulators.kept_secret import KeptInMemory
from roster_dev.emulators.outreach import OutreachEmulator
from roster_dev.emulators.salesloft import SalesloftEmulator
from roster_dev.emulators.sequencing import SequencerEmulator


def adapter(emulator: SequencerEmulator) -> Adapter:
    destination = emulator.destination()
    entry = destination_kind(destination["kind"])
    settings = entry.settings.model_validate(destination["settings"])
    options = entry.options.model_validate({**destination["options"], "on_exit": "remove"})
    session = guard(requests.Session())
    session.verify = destination["ca_bundle"]
    return entry.build(settings, options, destination["secret"], session, KeptInMemory())


def change(number: int, transition: Transition) -> Delivery:
    return Delivery(
        f"bench:p{number}:{transition}",
        "bench",
        "s1",
        Kind.PEOPLE,
        f"p{number}",
        transition,
        "2026-11-29T12:00:00Z",
        {"email": f"person{number}@bench.example", "first_name": "Bench", "last_name": str(number)},
    )


def run(emulator: SequencerEmulator, deliveries: list[Delivery]) -> dict[str, Any]:
    sender = adapter(emulator)
    before = sum(emulator.calls.values())
    started = time.perf_counter()
    for start in range(0, len(deliveries), sender.max_batch):
        outcomes = sender.send(deliveries[start : start + sender.max_batch])
        assert all(outcome.status == "delivered" for outcome in outcomes), outcomes
    seconds = time.perf_counter() - started
    calls = sum(emulator.calls.values()) - before
    return {"per_change": calls / len(deliveries), "per_second": len(deliveries) / seconds}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--changes", type=int, default=1000)
    count = parser.parse_args().changes
    os.environ[LOCAL_STACK_FLAG] = "1"
    print(f"{'platform':<10} {'step':<12} {'requests/change':>16} {'per 10,000':>11} {'changes/s':>10}")
    for emulator_class in (OutreachEmulator, SalesloftEmulator, ApolloEmulator):
        with emulator_class() as emulator:
            entries = [change(number, Transition.ENTERED) for number in range(count)]
            exits = [change(number, Transition.EXITED) for number in range(count)]
            for step, deliveries in (("enter", entries), ("enter again", entries), ("exit", exits)):
                figures = run(emulator, deliveries)
                print(
                    f"{emulator.kind:<10} {step:<12} {figures['per_change']:>16.2f} "
                    f"{figures['per_change'] * 10_000:>11,.0f} {figures['per_second']:>10.0f}"
                )


if __name__ == "__main__":
    main()

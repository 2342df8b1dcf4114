"""Benchmark of actions through the local stack; prints figures, asserts nothing about time.

    .venv/bin/python tests/bench/bench_actions.py [--changes 2000] [--kinds webhook,meta,...] [--gate]

Per destination kind: one workspace, `--changes` people with an e-mail, one action (trigger both) on a segment;
`--changes` membership changes (every person enters; for ad audiences every fourth one leaves again later) are
taken in by the intake in batches of 100 (as the intake function receives them from SQS), then the destination
is drained. Both run against the local stack (DynamoDB in moto, in this process), with the rate budget lifted.
Prints deliveries written and sent per second, and the destination's requests per 10,000 changes (a webhook
takes one request a change; Meta, Google Ads and LinkedIn take their batch). With `--gate`, each kind runs again
with a quality gate that everyone passes: the changes go to the gate's kept segment the action follows, and every
entry into the action's own segment is also checked against the gate (the skip log), as the intake sees them.
"""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

from roster.profiles.fields import Kind
from roster.segments.events import Change, MembershipChange, MembershipEvent
from roster.services import services
from roster_dev.client import RosterClient
from roster_dev.emulators.ads import AdPlatforms
from roster_dev.emulators.apollo import ApolloEmulator
from roster_dev.emulators.outreach import OutreachEmulator
from roster_dev.emulators.salesloft import SalesloftEmulator
from roster_dev.emulators.webhooks import WebhookReceiver
from roster_dev.local.runner import Runner
from roster_dev.local.stack import LocalStack

INTAKE_BATCH = 100
ADS = ("google_ads", "meta", "linkedin")
SEQUENCERS = ("outreach", "salesloft", "apollo")


def membership_changes(workspace: str, segment: str, people: list[str], exits: bool) -> list[MembershipChange]:
    """Each person enters; with `exits`, every fourth one leaves again (after all entries)."""
    changes = []
    for index, profile_id in enumerate(people):
        at = f"2026-11-29T10:{index // 60 % 60:02d}:{index % 60:02d}.{index:06d}Z"
        event = MembershipEvent(
            workspace=workspace, segment_id=segment, kind=Kind.PEOPLE, profile_id=profile_id, time=at
        )
        changes.append(MembershipChange(Change.ENTERED, event))
    if exits:
        for entry in changes[::4]:
            gone = entry.event.model_copy(
                update={"time": "2026-11-29T12:00:00.000000Z", "entered_at": entry.event.time}
            )
            changes.append(MembershipChange(Change.EXITED, gone))
    return changes


def bench(
    runner: Runner,
    stack: LocalStack,
    kind: str,
    count: int,
    destination: dict[str, Any],
    requests: Callable[[], int],
    gated: bool = False,
) -> None:
    admin = RosterClient(runner.serve(), stack.admin_key)
    workspace = f"bench-{kind.replace('_', '-')}" + ("-gated" if gated else "")
    client = RosterClient(runner.serve(), admin.create_workspace(workspace, kind)["api_key"])
    people: list[str] = []
    for start in range(0, count, 500):
        records = [
            {
                "source": "bench",
                "fields": {"email": f"person{n}@example.com", "first_name": "Ada", "last_name": f"L{n}"},
            }
            for n in range(start, min(count, start + 500))
        ]
        people += [
            each["profile_id"] for each in client.call("POST", "/v1/people/upsert", {"records": records})["results"]
        ]
    tree = {"conditions": [{"field": "email", "op": "eq", "value": "nobody@nowhere.invalid"}]}
    segment = client.call("POST", "/v1/segments", {"name": "bench", "kind": "people", "filter": tree})["segment_id"]
    options = destination.pop("options", {})
    made = client.call(
        "POST", "/v1/destinations", {"name": kind, "kind": kind, "requests_per_second": 1000} | destination
    )["destination"]["destination_id"]
    action = {"name": kind, "segment_id": segment, "destination_id": made, "trigger": "both", "options": options}
    action |= {"entry": "every", "fields": ["first_name", "last_name"]}
    if gated:
        action["quality_gate"] = {"conditions": [{"field": "email", "op": "is_not_empty"}]}
    followed = client.call("POST", "/v1/actions", action)["action"].get("gate_segment_id") or segment
    runner.drain()  # the segments' (empty) rebuilds, before the clock starts

    changes = membership_changes(workspace, followed, people, exits=kind in ADS)
    checked = membership_changes(workspace, segment, people, False) if gated else []  # each checked against the gate
    before = requests()
    started = time.perf_counter()
    written = 0
    taken_in = changes + checked
    for start in range(0, len(taken_in), INTAKE_BATCH):
        written += services.actions.intake(taken_in[start : start + INTAKE_BATCH])
    taken = time.perf_counter() - started
    sent = 0
    while True:
        report = services.actions.drain(workspace, made)
        sent += report.sent + report.collapsed
        if not report.more:
            break
    elapsed = time.perf_counter() - started
    calls = requests() - before
    label = kind + ("+gate" if gated else "")
    print(
        f"{label:<15} {len(changes):>6} changes  intake {written / taken:6.0f} deliveries/s  "
        f"end to end {len(changes) / elapsed:6.0f} changes/s  {calls:>6} requests  "
        f"{calls * 10_000 / len(changes):8.1f} requests/10,000  ({sent} sent or collapsed"
        + (f"; and {len(checked)} entries into the segment checked against the gate)" if gated else ")")
    )


def total(counter: Counter[Any]) -> Callable[[], int]:
    """Requests an emulator counted so far, read when called."""
    return lambda: sum(counter.values())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--changes", type=int, default=2000)
    parser.add_argument("--kinds", default=",".join(("webhook", *ADS, *SEQUENCERS)))
    parser.add_argument("--gate", action="store_true", help="each kind again with a quality gate")
    args = parser.parse_args()
    kinds = args.kinds.split(",")
    stack = LocalStack.from_project().start()
    runner = Runner(stack)
    services.actions.sleep = lambda seconds: None  # the rate budget's pacing: measure Roster, not the budget

    def each(kind: str, destination: dict[str, Any], requests: Callable[[], int]) -> None:
        for gated in (False, True) if args.gate else (False,):
            bench(runner, stack, kind, args.changes, dict(destination), requests, gated)

    try:
        if "webhook" in kinds:
            with WebhookReceiver() as receiver:
                destination = {"settings": {"url": receiver.url}, "ca_bundle": receiver.ca_path, "secret": None}
                secret = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY="
                receiver.secrets.append(secret)
                destination["secret"] = secret
                each("webhook", destination, total(receiver.answers))
        platforms = AdPlatforms().start()
        try:
            emulators = {"google_ads": platforms.google, "meta": platforms.meta, "linkedin": platforms.linkedin}
            for kind in ADS:
                if kind in kinds:
                    platform = emulators[kind]
                    destination = dict(platforms.destinations()[kind])
                    each(kind, destination, total(platform.requests))
        finally:
            platforms.stop()
        for emulator_type in (OutreachEmulator, SalesloftEmulator, ApolloEmulator):
            with emulator_type() as sequencer:
                if sequencer.kind in kinds:
                    destination = sequencer.destination()
                    destination.pop("kind")
                    each(sequencer.kind, destination, total(sequencer.calls))
    finally:
        runner.stop()
        stack.stop()


if __name__ == "__main__":
    main()

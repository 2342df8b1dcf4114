"""Benchmark of the HubSpot import sync; prints figures, asserts nothing.

    .venv/bin/python tests/bench/bench_hubspot.py [--sizes 20000,100000] [--changed 1000] [--tier professional]

For each portal size (contacts, a company per 50): a full sync of contacts, then 1,000 contacts changed (one bulk
edit) and an incremental sync. By default identity resolution runs against a store that keeps nothing, so the
figures are the connector's own (`--store` resolves into the local stack's DynamoDB instead). It prints the HubSpot
API calls each sync used by endpoint (counted by the emulator), records/s, and the worker's peak memory, next to
`api_math`'s estimate. The local stack (moto) and the emulator run here, each sync in a worker child whose peak RSS
is what a Lambda would need. Every call spends from the portal's budget on DynamoDB and is paced under the tier's
limits, as in production, so records/s is what the tier allows, not what the machine could do. Targets: full about
N/100 list calls plus the contacts' company reads; incremental independent of portal size; memory flat < 256 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any

os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

from roster import aws
from roster.connectors.core.state import Mode
from roster.connectors.hubspot.connection import Connection, PrivateAppCredentials
from roster.connectors.hubspot.importer import HubSpotSync, SyncMessage, api_math
from roster.connectors.hubspot.store import HubSpotConfig, HubSpotStore
from roster.identity.resolver import resolver_for
from roster.store.profiles import ProfileStore
from roster.store.workspaces import WorkspaceStore
from roster_dev.emulators.hubspot import HubSpotEmulator, generate_portal
from roster_dev.local.stack import LocalStack
from tests.bench.bench_salesforce import NullProfiles, peak_rss_mb


def worker(args: argparse.Namespace) -> None:
    """One sync in this process; prints its figures as JSON."""
    aws.clients()
    baseline = peak_rss_mb()
    profiles = ProfileStore() if args.store else NullProfiles()
    workspaces = WorkspaceStore()
    credentials = PrivateAppCredentials.model_validate({"token": args.token, "host": args.host})

    def connect(workspace: str) -> Connection:
        return Connection(credentials, args.ca, sync.budget(workspace))

    sync = HubSpotSync(
        HubSpotStore(), lambda workspace, kind: resolver_for(profiles, workspaces, workspace, kind), connect
    )
    if args.mode == Mode.FULL:
        sync.enable(args.workspace, "contacts")
        sync.store.put_config(args.workspace, HubSpotConfig(tier=args.tier))
    started = time.perf_counter()
    message: SyncMessage | None = sync.start(args.workspace, "contacts", Mode(args.mode))
    assert message is not None
    run_id = message.run_id
    while message is not None:
        message = sync.run(message, lambda: 900.0)
    seconds = time.perf_counter() - started
    run = sync.store.run(args.workspace, "contacts", run_id)
    assert run is not None
    figures = {
        "run": run.model_dump(mode="json"),
        "seconds": seconds,
        "baseline_mb": baseline,
        "peak_mb": peak_rss_mb(),
    }
    print(json.dumps(figures))


def run_worker(
    workspace: str, mode: Mode, hs: HubSpotEmulator, args: argparse.Namespace, endpoint: str
) -> dict[str, Any]:
    """One sync in a child process; it reaches the local stack through its moto server (`endpoint`)."""
    command = [
        sys.executable,
        __file__,
        "--worker",
        *("--workspace", workspace, "--mode", mode.value, "--tier", args.tier),
        *("--host", hs.url, "--ca", hs.ca_path, "--token", hs.token),
        *(["--store"] if args.store else []),
    ]
    environment = {**os.environ, "AWS_ENDPOINT_URL": endpoint}
    output = subprocess.run(command, check=True, capture_output=True, text=True, env=environment).stdout
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return result


def report(label: str, size: int, figures: dict[str, Any], calls: dict[str, int], estimate: int) -> None:
    run = figures["run"]
    counts = run["counts"]
    rate = counts["read"] / figures["seconds"] if figures["seconds"] else 0.0
    by_endpoint = ", ".join(f"{kind} {count:,}" for kind, count in sorted(calls.items()))
    print(
        f"{label:<12} portal={size:>7,}  read={counts['read']:>7,}  api_calls={run['api_calls']:>5,} "
        f"(estimate {estimate:,}; {by_endpoint})  {rate:>6,.0f} records/s in {figures['seconds']:,.0f} s  "
        f"worker peak RSS {figures['peak_mb']:.0f} MB (after imports {figures['baseline_mb']:.0f} MB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="20000,100000")
    parser.add_argument("--changed", type=int, default=1000)
    parser.add_argument("--tier", default="professional")
    parser.add_argument("--store", action="store_true", help="resolve into DynamoDB (moto) instead of a null store")
    parser.add_argument("--worker", action="store_true")
    parser.add_argument("--workspace")
    parser.add_argument("--mode", default="full")
    parser.add_argument("--host")
    parser.add_argument("--ca")
    parser.add_argument("--token")
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    stack = LocalStack.from_project().start()
    try:
        for size in (int(value) for value in args.sizes.split(",")):
            portal = generate_portal(2026, contacts=size, companies=max(1, size // 50), deals=0)
            with HubSpotEmulator(portal, tier=args.tier) as hs:
                workspace = f"bench-{size}-{int(time.time())}"
                full = run_worker(workspace, Mode.FULL, hs, args, stack.endpoint)
                report("full", size, full, dict(hs.calls_by_kind), api_math(size).full_calls)
                changed = [record.id for record in portal.live("contacts")[: args.changed]]
                portal.bulk_edit("contacts", changed, {"jobtitle": "Changed for the benchmark"})
                hs.calls_by_kind.clear()
                incremental = run_worker(workspace, Mode.INCREMENTAL, hs, args, stack.endpoint)
                estimate = api_math(args.changed).incremental_calls
                report("incremental", size, incremental, dict(hs.calls_by_kind), estimate)
    finally:
        stack.stop()


if __name__ == "__main__":
    main()

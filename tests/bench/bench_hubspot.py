"""Benchmark of the HubSpot import and export syncs; prints figures, asserts nothing.

    .venv/bin/python tests/bench/bench_hubspot.py [--sizes 20000,100000] [--changed 1000] [--tier professional]
        [--export 10000]

For each portal size (contacts, a company per 50): a full sync of contacts, then 1,000 contacts changed (one bulk
edit) and an incremental sync. By default identity resolution runs against a store that keeps nothing, so the
figures are the connector's own (`--store` resolves into the local stack's DynamoDB instead). It prints the HubSpot
API calls each sync used by endpoint (counted by the emulator), records/s, and the worker's peak memory, next to
`api_math`'s estimate. The local stack (moto) and the emulator run here, each sync in a worker child whose peak RSS
is what a Lambda would need. Every call spends from the portal's budget on DynamoDB and is paced under the tier's
limits, as in production, so records/s is what the tier allows, not what the machine could do. Targets: full about
N/100 list calls plus the contacts' company reads; incremental independent of portal size; memory flat < 256 MB.

Export (`--export N`, 0 to skip): a portal of N contacts imported into the local stack's DynamoDB, a newer job title
for every one of them from another source, and an export of contacts under an `always` rule: the HubSpot API calls
it used (its refresh import apart), its batch writes, records/s and the worker's peak memory. Target: about N/100
calls (10,000 changed records: about 100).
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

from roster import aws
from roster.connectors.core.mapping import ExportRule, FieldMapping
from roster.connectors.core.state import Mode
from roster.connectors.hubspot.connection import Connection, PrivateAppCredentials
from roster.connectors.hubspot.export_store import ExportSettings, ExportStore
from roster.connectors.hubspot.exporter import HubSpotExport
from roster.connectors.hubspot.importer import HubSpotSync, SyncMessage, api_math
from roster.connectors.hubspot.store import HubSpotConfig, HubSpotStore
from roster.identity.resolver import resolver_for
from roster.profiles.fields import Kind
from roster.profiles.model import IncomingRecord
from roster.profiles.values import utc_now
from roster.store.profiles import ProfileStore
from roster.store.segments import SegmentStore
from roster.store.workspaces import WorkspaceStore
from roster_dev.emulators.hubspot import HubSpotEmulator, generate_portal
from roster_dev.local.stack import LocalStack
from tests.bench.common import NullProfiles, memory, peak_rss_mb, print_figures, run_bench, spawn_worker, timed_run


def worker(args: argparse.Namespace) -> None:
    """One sync in this process; prints its figures as JSON."""
    aws.clients()
    baseline = peak_rss_mb()
    profiles = ProfileStore() if args.store or args.mode == "export" else NullProfiles()
    workspaces = WorkspaceStore()
    credentials = PrivateAppCredentials.model_validate({"token": args.token, "host": args.host})

    def connect(workspace: str) -> Connection:
        return Connection(credentials, args.ca, sync.budget(workspace))

    sync = HubSpotSync(
        HubSpotStore(), lambda workspace, kind: resolver_for(profiles, workspaces, workspace, kind), connect
    )
    if args.mode == "export":
        export_worker(args, sync, baseline)
        return
    if args.mode == Mode.FULL:
        sync.enable(args.workspace, "contacts")
        sync.store.put_config(args.workspace, HubSpotConfig(tier=args.tier))
    run, seconds = timed_run(sync, lambda: sync.start(args.workspace, "contacts", Mode(args.mode)))
    print_figures(run, seconds, baseline)


WRITES = ("batch_update", "batch_upsert")  # the emulator's names of the export's write calls


def export_worker(args: argparse.Namespace, sync: HubSpotSync, baseline: float) -> None:
    """Import the portal's contacts, give every one a newer job title from another source, export; prints the
    export's figures as JSON."""
    workspace = args.workspace
    sync.enable(workspace, "contacts")
    sync.store.put_config(workspace, HubSpotConfig(tier=args.tier))
    sync.set_mapping(
        workspace, "contacts", {"email": "email", "jobtitle": FieldMapping(field="job_title", export=ExportRule.ALWAYS)}
    )
    message: SyncMessage | None = sync.start(workspace, "contacts", Mode.FULL)
    while message is not None:
        message = sync.run(message, lambda: 900.0)
    profiles = ProfileStore()
    resolver = resolver_for(profiles, WorkspaceStore(), workspace, Kind.PEOPLE)
    emails = [str(p.fields["email"]) for p in profiles.scan(workspace, Kind.PEOPLE) if p.fields.get("email")]
    for start in range(0, len(emails), 500):
        resolver.upsert(
            [
                IncomingRecord("enrichment", "people", email, utc_now(), {"email": email, "job_title": f"Bench {n}"})
                for n, email in enumerate(emails[start : start + 500], start)
            ]
        )
    export = HubSpotExport(ExportStore(), sync, profiles, SegmentStore())
    export.configure(workspace, "contacts", ExportSettings(enabled=True))
    run, seconds = timed_run(export, lambda: export.start(workspace, "contacts"))
    assert run.refresh_run is not None
    refresh = sync.store.run(workspace, "contacts", run.refresh_run)
    print_figures(run, seconds, baseline, refresh_calls=refresh.api_calls if refresh else 0)


def report_export(size: int, figures: dict[str, Any], calls: dict[str, int]) -> None:
    run, counts = figures["run"], figures["run"]["counts"]
    rate = counts["updated"] / figures["seconds"] if figures["seconds"] else 0.0
    per_10k = run["api_calls"] * 10_000 / counts["updated"] if counts["updated"] else 0.0
    writes = ", ".join(f"{kind} {count:,}" for kind, count in sorted(calls.items()) if kind in WRITES)
    print(
        f"{'export':<12} portal={size:>7,}  changed={counts['updated']:>7,}  api_calls={run['api_calls']:>5,} "
        f"({run['batches']:,} batch writes; {per_10k:,.0f} per 10,000 changed; refresh import "
        f"{figures['refresh_calls']:,}; emulator: {writes})  {rate:>6,.0f} records/s in {figures['seconds']:,.0f} s  "
        f"rejected={counts['rejected']}  worker {memory(figures)}"
    )


def run_worker(
    workspace: str, mode: Mode | str, hs: HubSpotEmulator, args: argparse.Namespace, endpoint: str
) -> dict[str, Any]:
    """One sync in a child process; it reaches the local stack through its moto server (`endpoint`)."""
    return spawn_worker(
        __file__,
        *("--workspace", workspace, "--mode", str(mode), "--tier", args.tier),
        *("--host", hs.url, "--ca", hs.ca_path, "--token", hs.token),
        *(["--store"] if args.store else []),
        endpoint=endpoint,
    )


def report(label: str, size: int, figures: dict[str, Any], calls: dict[str, int], estimate: int) -> None:
    run = figures["run"]
    counts = run["counts"]
    rate = counts["read"] / figures["seconds"] if figures["seconds"] else 0.0
    by_endpoint = ", ".join(f"{kind} {count:,}" for kind, count in sorted(calls.items()))
    print(
        f"{label:<12} portal={size:>7,}  read={counts['read']:>7,}  api_calls={run['api_calls']:>5,} "
        f"(estimate {estimate:,}; {by_endpoint})  {rate:>6,.0f} records/s in {figures['seconds']:,.0f} s  "
        f"worker {memory(figures)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="20000,100000", help='portal sizes for the import ("": none)')
    parser.add_argument("--changed", type=int, default=1000)
    parser.add_argument("--tier", default="professional")
    parser.add_argument("--export", type=int, default=10_000, help="contacts changed for the export (0: skip)")
    parser.add_argument("--store", action="store_true", help="resolve into DynamoDB (moto) instead of a null store")
    parser.add_argument("--worker", action="store_true")
    parser.add_argument("--workspace")
    parser.add_argument("--mode", default="full")
    parser.add_argument("--host")
    parser.add_argument("--ca")
    parser.add_argument("--token")
    run_bench(parser, worker, bench)


def bench(args: argparse.Namespace, stack: LocalStack) -> None:
    for size in (int(value) for value in args.sizes.split(",") if value):
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
    if args.export:
        portal = generate_portal(2026, contacts=args.export, companies=max(1, args.export // 50), deals=0)
        with HubSpotEmulator(portal, tier=args.tier) as hs:
            figures = run_worker(f"bench-export-{int(time.time())}", "export", hs, args, stack.endpoint)
            report_export(args.export, figures, dict(hs.calls_by_kind))


if __name__ == "__main__":
    main()

"""Benchmark of the Salesforce import sync; prints figures, asserts nothing.

    .venv/bin/python tests/bench/bench_salesforce.py [--sizes 20000,100000] [--changed 1000] [--window-records N]

For each org size (contacts): a full sync of Contacts, then 1,000 contacts changed through the Bulk API and an
incremental sync. By default identity resolution runs against a store that keeps nothing, so the figures are the
connector's own (storage throughput on moto is bench_core's subject); `--store` resolves into the local stack's
DynamoDB instead (about 100 records/s there). It prints the Salesforce API calls each sync used (counted by the
connector's own session), records/s, and the worker's peak memory. Three processes, so each figure is one process's
own: the local stack (moto) runs here, the emulator in a child (`python -m roster_dev.emulators.salesforce`), and
each sync in a worker child whose peak RSS is what a Lambda would need. Targets: full ≤ 5 calls per 100k records
beyond a fixed overhead; incremental independent of org size; worker memory flat and under 256 MB.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast
from urllib.parse import urlsplit

os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

from simple_salesforce.bulk2 import SFBulk2Handler

from roster import aws
from roster.connectors.salesforce.connection import Connection, PasswordCredentials
from roster.connectors.salesforce.importer import SalesforceSync
from roster.connectors.salesforce.store import Mode, SyncConfig, SyncStore
from roster.identity.resolver import resolver_for
from roster.store.profiles import ProfileStore
from roster.store.workspaces import WorkspaceStore
from roster_dev.emulators.salesforce import Credentials
from roster_dev.local.outbound import allowed
from roster_dev.local.stack import LocalStack
from tests.bench.common import NullProfiles, memory, peak_rss_mb, print_figures, run_bench, spawn_worker, timed_run


def credentials(instance_url: str) -> PasswordCredentials:
    known = Credentials()
    return PasswordCredentials(
        login_url=instance_url,
        username=known.username,
        password=known.password,
        security_token=known.security_token,
        client_id=known.client_id,
        client_secret=known.client_secret,
    )


def worker(args: argparse.Namespace) -> None:
    """One sync in this process; prints its figures as JSON."""
    aws.clients()
    baseline = peak_rss_mb()
    profiles = ProfileStore() if args.store else NullProfiles()
    workspaces = WorkspaceStore()
    creds = credentials(args.instance_url)
    sync = SalesforceSync(
        SyncStore(),
        lambda workspace, kind: resolver_for(profiles, workspaces, workspace, kind),
        lambda workspace: Connection(creds, verify=args.ca),
        poll_seconds=0.2,
    )
    if args.mode == Mode.FULL:
        sync.enable(args.workspace, "Contact")
        if args.window_records:
            sync.store.put_config(args.workspace, SyncConfig(window_records=args.window_records))
    run, seconds = timed_run(sync, lambda: sync.start(args.workspace, "Contact", Mode(args.mode)))
    print_figures(run, seconds, baseline)


@contextmanager
def emulated_org(contacts: int) -> Iterator[dict[str, str]]:
    """An org of `contacts` in an emulator child, for as long as the block runs: its instance_url, session_id and
    ca_path."""
    command = [
        sys.executable,
        "-m",
        "roster_dev.emulators.salesforce",
        "--contacts",
        str(contacts),
        "--accounts",
        str(max(1, contacts // 50)),
        "--leads",
        "0",
    ]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    info: dict[str, str] = {}
    assert child.stdout is not None
    while len(info) < 3:
        name, _, value = child.stdout.readline().strip().partition(" ")
        if name in ("instance_url", "session_id", "ca_path"):
            info[name] = value.strip()
    address = urlsplit(info["instance_url"])
    try:
        with allowed(str(address.hostname), int(address.port or 443)):  # the workers call it on 127.0.0.1
            yield info
    finally:
        child.terminate()
        child.wait()


def run_worker(
    workspace: str, mode: Mode, info: dict[str, str], store: bool, endpoint: str, window_records: int = 0
) -> dict[str, Any]:
    """One sync in a child process; it reaches the local stack through its moto server (`endpoint`)."""
    return spawn_worker(
        __file__,
        *("--workspace", workspace, "--mode", mode.value),
        *("--instance-url", info["instance_url"], "--ca", info["ca_path"]),
        *(["--store"] if store else []),
        *(["--window-records", str(window_records)] if window_records else []),
        endpoint=endpoint,
    )


def change_contacts(info: dict[str, str], count: int) -> None:
    """Edit `count` contacts through the Bulk API, as users and integrations do."""
    connection = Connection(credentials(info["instance_url"]), verify=info["ca_path"])
    rows = connection.sf.query(f"SELECT Id FROM Contact ORDER BY Id LIMIT {int(count)}")["records"]  # noqa: S608
    updates = [{"Id": row["Id"], "Title": "Changed for the benchmark"} for row in rows]
    cast(SFBulk2Handler, connection.sf.bulk2).Contact.update(records=updates, wait=0)


def report(label: str, size: int, figures: dict[str, Any]) -> None:
    run = figures["run"]
    counts = run["counts"]
    rate = counts["read"] / figures["seconds"] if figures["seconds"] else 0.0
    print(
        f"{label:<12} org={size:>7,}  read={counts['read']:>7,}  created={counts['created']:>7,}  "
        f"updated={counts['updated']:>6,}  skipped={counts['skipped']:>6,}  api_calls={run['api_calls']:>3}  "
        f"{rate:>8,.0f} records/s  worker {memory(figures)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="20000,100000")
    parser.add_argument("--changed", type=int, default=1000)
    parser.add_argument("--store", action="store_true", help="resolve into DynamoDB (moto) instead of a null store")
    parser.add_argument("--window-records", type=int, default=0, help="records per Bulk query window (0: default)")
    parser.add_argument("--worker", action="store_true")
    parser.add_argument("--workspace")
    parser.add_argument("--mode", default="full")
    parser.add_argument("--instance-url")
    parser.add_argument("--ca")
    run_bench(parser, worker, bench)


def bench(args: argparse.Namespace, stack: LocalStack) -> None:
    for size in (int(value) for value in args.sizes.split(",")):
        with emulated_org(size) as info:
            workspace = f"bench-{size}-{int(time.time())}"
            report(
                "full",
                size,
                run_worker(workspace, Mode.FULL, info, args.store, stack.endpoint, args.window_records),
            )
            time.sleep(1.1)  # the edits get a later SystemModstamp second than the full sync's mark
            change_contacts(info, args.changed)
            report(
                "incremental",
                size,
                run_worker(workspace, Mode.INCREMENTAL, info, args.store, stack.endpoint, args.window_records),
            )


if __name__ == "__main__":
    main()

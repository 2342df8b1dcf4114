"""Benchmark of the Salesforce export; prints figures, asserts nothing.

    .venv/bin/python tests/bench/bench_export.py [--sizes 20000,100000]

For each size N: an org of N Contacts (the emulator, in a child process) and N changed profiles, each linked to one
Contact and holding a newer Title under an *always write* rule, exported by the real export worker (planning, the
streamed CSV, Bulk API 2.0 ingest jobs, results read back, checkpoints in the local stack's DynamoDB). The profiles
are generated a page at a time by a stand-in profile store and what export writes back into them is dropped, so
the figures are the export's own (storage throughput on moto is bench_core's subject). It prints ingest jobs, API
calls (counted by the worker's own session), CSV bytes, records/s and the worker's peak memory, in a child process
per size so each peak is one run's. Targets: about one ingest job (one Salesforce batch) per 10,000 records, and
memory flat in N.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script: `tests.bench` is importable

from roster import aws
from roster.connectors.core.mapping import ExportRule, FieldMapping
from roster.connectors.salesforce.connection import Connection
from roster.connectors.salesforce.describe import ObjectMapping
from roster.connectors.salesforce.export_store import ExportSettings, ExportStore
from roster.connectors.salesforce.exporter import SalesforceExport
from roster.connectors.salesforce.importer import SalesforceSync
from roster.connectors.salesforce.store import SyncStore
from roster.identity.resolver import resolver_for
from roster.profiles.fields import Kind
from roster.profiles.model import Profile, SourceRecord, Status
from roster.store.profiles import Page
from roster.store.segments import SegmentStore
from roster.store.workspaces import WorkspaceStore
from roster_dev.local.stack import LocalStack
from tests.bench.bench_salesforce import credentials, emulated_org
from tests.bench.common import NullProfiles, memory, peak_rss_mb, print_figures, run_bench, spawn_worker, timed_run

NOW = "2026-11-25T12:00:00.000000Z"


class ChangedPeople(NullProfiles):
    """N changed people, each linked to one Contact, read from a file of Contact ids a page at a time."""

    def __init__(self, ids: Path) -> None:
        super().__init__()
        self.ids = ids

    def page(
        self,
        workspace: str,
        kind: Kind,
        *,
        status: Status | None = None,
        changed_since: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> Page:
        profiles: list[Profile] = []
        with self.ids.open("rb") as lines:
            lines.seek(int(cursor or 0))
            for _ in range(limit):
                contact = lines.readline().decode().strip()
                if not contact:
                    return Page(profiles, None)
                profiles.append(self._person(workspace, contact))
            return Page(profiles, str(lines.tell()))

    @staticmethod
    def _person(workspace: str, contact: str) -> Profile:
        record = SourceRecord("salesforce", "Contact", contact, NOW, {"job_title": "Analyst"}, {"job_title": NOW})
        return Profile(
            workspace,
            Kind.PEOPLE,
            f"p{contact}",
            NOW,
            records={record.key: record},
            fields={"job_title": f"Head of Data {contact[-4:]}", "email": f"{contact.lower()}@bench.test"},
        )


class NoSegments(SegmentStore):
    def members_among(self, workspace: str, segment_id: str, profile_ids: Iterable[str]) -> set[str]:
        return set()


def worker(args: argparse.Namespace) -> None:
    """One export in this process; prints its figures as JSON."""
    aws.clients()
    baseline = peak_rss_mb()
    profiles, workspaces = ChangedPeople(Path(args.ids)), WorkspaceStore()
    creds = credentials(args.instance_url)
    sync = SalesforceSync(
        SyncStore(),
        lambda workspace, kind: resolver_for(profiles, workspaces, workspace, kind),
        lambda workspace: Connection(creds, verify=args.ca),
    )
    mapping = ObjectMapping(
        object="Contact", fields={"Title": FieldMapping(field="job_title", export=ExportRule.ALWAYS)}
    )
    sync.store.put_mapping(args.workspace, mapping)
    export = SalesforceExport(ExportStore(), sync, profiles, NoSegments(), poll_seconds=0.2)
    export.configure(args.workspace, "Contact", ExportSettings(enabled=True))
    run, seconds = timed_run(export, lambda: export.start(args.workspace, "Contact"))
    print_figures(run, seconds, baseline)


def contact_ids(info: dict[str, str], path: Path) -> int:
    """Every Contact id of the org, one per line."""
    connection = Connection(credentials(info["instance_url"]), verify=info["ca_path"])
    count = 0
    with path.open("w") as out:
        for row in connection.sf.query_all_iter("SELECT Id FROM Contact ORDER BY Id"):
            out.write(f"{row['Id']}\n")
            count += 1
    return count


def run_worker(workspace: str, info: dict[str, str], ids: Path, endpoint: str) -> dict[str, Any]:
    """One export in a child process; it reaches the local stack through its moto server (`endpoint`)."""
    return spawn_worker(
        __file__,
        *("--workspace", workspace, "--instance-url", info["instance_url"], "--ca", info["ca_path"]),
        *("--ids", str(ids)),
        endpoint=endpoint,
    )


def report(size: int, figures: dict[str, Any]) -> None:
    run = figures["run"]
    updated = run["counts"]["updated"]
    per_10k = run["api_calls"] / max(1, updated) * 10_000
    print(
        f"profiles={size:>7,}  updated={updated:>7,}  rejected={run['counts']['rejected']}  "
        f"ingest jobs={run['jobs']:>3} "
        f"(records/job {updated / max(1, run['jobs']):,.0f})  API calls={run['api_calls']:>4} "
        f"({per_10k:.1f} per 10,000 records)  CSV {run['csv_bytes'] / 1e6:.1f} MB "
        f"({run['csv_bytes'] / max(1, updated):.0f} B/record)  {updated / figures['seconds']:,.0f} records/s  "
        f"worker {memory(figures)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="20000,100000")
    parser.add_argument("--worker", action="store_true")
    parser.add_argument("--workspace")
    parser.add_argument("--instance-url")
    parser.add_argument("--ca")
    parser.add_argument("--ids")
    run_bench(parser, worker, bench)


def bench(args: argparse.Namespace, stack: LocalStack) -> None:
    for size in (int(value) for value in args.sizes.split(",")):
        with emulated_org(size) as info, tempfile.TemporaryDirectory() as folder:
            ids = Path(folder) / "contacts.txt"
            contact_ids(info, ids)
            report(size, run_worker(f"bench-export-{size}-{int(time.time())}", info, ids, stack.endpoint))


if __name__ == "__main__":
    main()

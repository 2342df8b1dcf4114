"""Benchmark of a signal run; prints figures, asserts nothing about time.

    .venv/bin/python tests/bench/bench_signals.py [--records 5000]

A job-change signal over All People of a workspace with `--records` people, read from the signals vendor
emulator over HTTP through the generic HTTP provider, on the local stack; the worker handles the queued
batches in this process. Prints records checked per second and vendor calls per record for the first run,
then runs the signal again with nothing changed at the vendor and counts profile writes (target: none).
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import UTC, datetime

os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

from pydantic import BaseModel

from roster.profiles.fields import Kind
from roster.profiles.model import IncomingRecord, Status


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=5_000)
    args = parser.parse_args()

    from roster.aws import clients
    from roster.enrich.runs import WORK, RecordOutcome
    from roster.enrich.service import Enrichments
    from roster.identity.resolver import Resolver
    from roster.segments.manager import SegmentManager
    from roster.signals.service import Signals, SignalSettings
    from roster.store.enrichments import EnrichmentStore
    from roster.store.profiles import ProfileStore
    from roster.store.segments import SegmentStore
    from roster.store.workspaces import WorkspaceStore
    from roster_dev.emulators.signals import SignalsEmulator
    from roster_dev.local.metering import count_aws_calls
    from roster_dev.local.stack import LocalStack

    stack = LocalStack.from_project().start()
    vendor = SignalsEmulator().start()
    try:
        aws = clients()
        queue: list[BaseModel] = []
        fired: list[object] = []
        enrichments = Enrichments.wire(
            EnrichmentStore(),
            ProfileStore(),
            SegmentStore(),
            WorkspaceStore(),
            aws.s3,
            aws.settings.uploads_bucket,
            queue.append,
            secrets=lambda name: "",
            publish=fired.extend,
        )
        segments = SegmentManager(SegmentStore(), ProfileStore(), WorkspaceStore(), lambda message: None)
        signals = Signals(enrichments, segments, WorkspaceStore(), ProfileStore(), lambda: datetime.now(UTC))
        records = [
            IncomingRecord(
                "bench", "people", f"r{i}", "2026-01-01T00:00:00.000000Z", {"email": f"p{i}@co{i % 500}.com"}
            )
            for i in range(args.records)
        ]
        for start in range(0, len(records), 1000):
            Resolver(ProfileStore(), "bench", Kind.PEOPLE).upsert(records[start : start + 1000])
        settings = {"signal": "job_change", "audiences": ["all-people"], "lookback_months": 12, "recurrence": None}
        settings |= {"provider": vendor.provider("job_change"), "budget_credits": 10 * args.records}
        signal = signals.create("bench", SignalSettings.model_validate(settings), created_by="bench")

        def versions_now() -> dict[str, int | None]:
            found: dict[str, int | None] = {}
            cursor = None
            while True:
                page = ProfileStore().page("bench", Kind.PEOPLE, status=Status.ACTIVE, cursor=cursor, limit=1000)
                found.update({profile.profile_id: profile.version for profile in page.profiles})
                if (cursor := page.cursor) is None:
                    return found

        def run_once() -> tuple[float, dict[RecordOutcome, int], int]:
            before = vendor.requests["employment"]
            with count_aws_calls() as calls:
                started = time.perf_counter()
                run = signals.start("bench", signal.signal_id)
                while queue:
                    enrichments.worker.handle(WORK.validate_json(queue.pop(0).model_dump_json()))
                elapsed = time.perf_counter() - started
            writes = calls["dynamodb.TransactWriteItems"] + calls["dynamodb.PutItem"] + calls["dynamodb.UpdateItem"]
            report = enrichments.runs.get("bench", run.run_id)
            print(f"  vendor calls per record: {(vendor.requests['employment'] - before) / args.records:.3f}")
            print(f"  DynamoDB writes (all tables, run bookkeeping included): {writes}")
            return elapsed, report.outcomes, writes

        versions = versions_now()
        print(f"first run over {args.records:,} people:")
        elapsed, outcomes, _ = run_once()
        print(f"  records checked: {args.records / elapsed:,.0f} records/s ({elapsed:.1f} s)")
        print(f"  fired: {outcomes[RecordOutcome.ENRICHED]:,}, nothing new: {outcomes[RecordOutcome.NOT_FOUND]:,}")
        after_first = versions_now()
        changed = sum(1 for pid, version in after_first.items() if version != versions.get(pid))
        print(f"  profiles written: {changed:,}; signal.fired events: {len(fired):,}")
        print("second run, nothing changed at the vendor:")
        elapsed, outcomes, _ = run_once()
        print(f"  records checked: {args.records / elapsed:,.0f} records/s ({elapsed:.1f} s)")
        after_second = versions_now()
        changed = sum(1 for pid, version in after_second.items() if version != after_first.get(pid))
        print(f"  fired: {outcomes[RecordOutcome.ENRICHED]:,}; profiles written: {changed:,}")
    finally:
        vendor.stop()
        stack.stop()


if __name__ == "__main__":
    main()

"""Benchmark of bulk enrichment; prints figures, asserts nothing about time.

    .venv/bin/python tests/bench/bench_enrichment.py [--records 20000] [--workers 8]

A run over All People of a workspace with `--records` people, end to end on the local stack (moto
over HTTP): the dispatcher reads the audience and queues batches on a real SQS queue, `--workers`
threads receive them as concurrent worker functions would and enrich with three built-in providers
(e-mail validation, company domain, job title), metered at one credit per record. Prints records/s
and, per enriched record, SQS messages sent and DynamoDB write requests.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

from pydantic import BaseModel

from roster.profiles.fields import Kind
from roster.profiles.model import IncomingRecord

TITLES = ("VP of Sales", "Software Engineer", "Head of Marketing", "CFO", "Account Executive")


def people(count: int) -> list[IncomingRecord]:
    return [
        IncomingRecord(
            "bench",
            "people",
            f"r{index}",
            "2026-01-01T00:00:00.000000Z",
            {"email": f"person{index}@company{index % 500}.com", "job_title": TITLES[index % len(TITLES)]},
        )
        for index in range(count)
    ]


def load(workspace: str, count: int) -> float:
    from roster.identity.resolver import Resolver
    from roster.store.profiles import ProfileStore

    started = time.perf_counter()
    records = people(count)
    for start in range(0, count, 1000):
        Resolver(ProfileStore(), workspace, Kind.PEOPLE).upsert(records[start : start + 1000])
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()

    from roster.aws import clients
    from roster.enrich.definitions import EnrichmentDefinition
    from roster.enrich.runs import WORK, RecordOutcome
    from roster.enrich.service import Enrichments
    from roster.store.enrichments import EnrichmentStore
    from roster.store.profiles import ProfileStore
    from roster.store.segments import SegmentStore
    from roster.store.workspaces import WorkspaceStore
    from roster_dev.local.metering import count_aws_calls, dynamodb_requests, dynamodb_writes
    from roster_dev.local.stack import LocalStack

    stack = LocalStack.from_project().start()
    try:
        aws = clients()
        sqs = stack.client("sqs")
        queue_url = sqs.create_queue(QueueName="enrichment-bench", Attributes={"VisibilityTimeout": "900"})["QueueUrl"]

        def send(message: BaseModel) -> None:
            sqs.send_message(QueueUrl=queue_url, MessageBody=message.model_dump_json())

        enrichments = Enrichments.wire(
            EnrichmentStore(),
            ProfileStore(),
            SegmentStore(),
            WorkspaceStore(),
            aws.s3,
            aws.settings.uploads_bucket,
            send,
            secrets=lambda name: "",
        )
        loaded = load("bench", args.records)
        print(f"profiles loaded: {args.records:,} in {loaded:.1f} s (setup, not measured below)")
        definition = enrichments.definitions.save(
            "bench",
            EnrichmentDefinition.model_validate(
                {
                    "name": "Bench",
                    "providers": [
                        {"type": "built_in", "name": "email_validation", "credits_per_record": 1},
                        {"type": "built_in", "name": "company_domain"},
                        {"type": "built_in", "name": "job_title_classification"},
                    ],
                    "audiences": ["all-people"],
                    "budget_credits": args.records,
                }
            ),
            create=True,
        )
        idle = threading.Event()

        def worker() -> int:
            handled = 0
            while not idle.is_set():
                received = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=1, WaitTimeSeconds=1)
                for message in received.get("Messages", []):
                    enrichments.worker.handle(WORK.validate_json(message["Body"]))
                    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                    handled += 1
            return handled

        with count_aws_calls() as calls:
            started = time.perf_counter()
            run = enrichments.runs.start("bench", definition.enrichment_id)
            with ThreadPoolExecutor(max_workers=args.workers) as pool:
                futures = [pool.submit(worker) for _ in range(args.workers)]
                while True:
                    report = enrichments.runs.get("bench", run.run_id)
                    if report.batches_total is not None and report.batches_done >= report.batches_total:
                        break
                    time.sleep(0.2)
                idle.set()
                messages = sum(future.result() for future in futures)
            elapsed = time.perf_counter() - started
        enriched = report.outcomes[RecordOutcome.ENRICHED]
        sent = calls["sqs.SendMessage"]
        print(
            f"run {report.status}: {report.batches_total} batches, {messages} messages handled, {args.workers} workers"
        )
        print(f"outcomes: { {str(name): count for name, count in report.outcomes.items() if count} }")
        print(f"credits spent: {report.credits_spent:,.0f}")
        print(
            f"records enriched end to end: {enriched / elapsed:,.0f} records/s ({enriched:,} records, {elapsed:.1f} s)"
        )
        print(f"SQS messages sent per enriched record: {sent / enriched:.4f} ({sent} messages)")
        print(f"DynamoDB write requests per enriched record: {dynamodb_writes(calls) / enriched:.3f}")
        print(f"DynamoDB requests per enriched record: {dynamodb_requests(calls) / enriched:.3f}")
        print(f"S3 requests per enriched record: {_s3(calls) / enriched:.4f}")
    finally:
        stack.stop()


def _s3(calls: Any) -> int:
    return sum(count for name, count in calls.items() if name.startswith("s3."))


if __name__ == "__main__":
    main()

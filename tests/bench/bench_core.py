"""Benchmarks of the core issue; prints figures, asserts nothing about time.

    .venv/bin/python tests/bench/bench_core.py [--records 2000] [--csv-rows 1000000]

1. records/s through identity resolution and storage on the local stack (moto in-process, as the
   handlers reach it), with the same number of plain DynamoDB batch writes in the same run as the
   reference ratio (target: new records at >= 0.4x the plain writes' rate), and the CPU per record;
2. DynamoDB requests per new record and per unchanged record (target: no writes when unchanged);
3. peak memory of the CSV splitter streaming a 1M-row file (target: under 200 MB), measured in a
   child process, against the same process's memory before streaming.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel

os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

from roster.profiles.fields import Kind
from roster.profiles.model import IncomingRecord

BATCH = 1000


def people(count: int) -> list[IncomingRecord]:
    return [
        IncomingRecord(
            "bench",
            "people",
            f"r{index}",
            "2026-01-01T00:00:00.000000Z",
            {
                "email": f"person{index}@company{index % 500}.com",
                "linkedin_url": f"https://www.linkedin.com/in/person-{index}",
                "first_name": "Ada",
                "job_title": "Engineer",
            },
        )
        for index in range(count)
    ]


def resolve_all(workspace: str, records: list[IncomingRecord]) -> float:
    from roster.identity.resolver import Resolver
    from roster.store.profiles import ProfileStore

    started = time.perf_counter()
    for start in range(0, len(records), BATCH):
        Resolver(ProfileStore(), workspace, Kind.PEOPLE).upsert(records[start : start + BATCH])
    return time.perf_counter() - started


def plain_writes(count: int) -> float:
    """The floor: the same number of items written with batch writes, nothing read or checked."""
    from roster.store.jobs import JobItem

    started = time.perf_counter()
    with JobItem.batch_write() as batch:
        for index in range(count):
            batch.save(JobItem("bench-ref", f"item#{index:07d}", data={"n": index}, created_at="x"))
    return time.perf_counter() - started


def bench_resolution(count: int) -> None:
    from roster_dev.local.metering import count_aws_calls, dynamodb_requests, dynamodb_writes
    from roster_dev.local.stack import LocalStack

    stack = LocalStack.from_project().start()
    try:
        records = people(count)
        reference = plain_writes(count)
        with count_aws_calls() as new_calls:
            cpu = time.process_time()
            elapsed = resolve_all("bench", records)
            cpu = time.process_time() - cpu
        with count_aws_calls() as unchanged_calls:
            unchanged_elapsed = resolve_all("bench", records)
        print(f"records resolved and stored (new): {count / elapsed:,.0f} records/s ({count} records, {elapsed:.1f} s)")
        print(f"plain batch writes of as many items (reference): {count / reference:,.0f} items/s")
        print(f"resolution cost vs plain writes: {elapsed / reference:.1f}x")
        print(f"new-record throughput vs plain writes: {reference / elapsed:.2f}x (target >= 0.4x)")
        print(f"CPU per new record: {cpu / count * 1000:.1f} ms (resolver, store, botocore and moto together)")
        print(f"records re-imported unchanged: {count / unchanged_elapsed:,.0f} records/s")
        print(f"DynamoDB requests per new record: {dynamodb_requests(new_calls) / count:.2f}")
        print(f"DynamoDB writes per new record: {dynamodb_writes(new_calls) / count:.2f}")
        print(f"DynamoDB requests per unchanged record: {dynamodb_requests(unchanged_calls) / count:.3f}")
        print(f"DynamoDB writes per unchanged record: {dynamodb_writes(unchanged_calls) / count:.3f} (target 0)")
    finally:
        stack.stop()


def write_csv(path: Path, rows: int) -> None:
    with path.open("w") as out:
        out.write("Email,First Name,Last Name,Title,Company,LinkedIn,Notes\n")
        for index in range(rows):
            out.write(
                f"p{index}@acme{index % 997}.com,Ada,Lovelace,Engineer,Acme {index % 997},"
                f'https://linkedin.com/in/p{index},"a note, with a comma\nand a newline"\n'
            )


class _Discard:
    """S3 and SQS stand-ins for the memory benchmark: the file streams from disk, batches vanish."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sent = 0

    def get_object(self, **_: Any) -> dict[str, Any]:
        return {"Body": self.path.open("rb")}

    def put_object(self, **_: Any) -> None:
        return None

    def send(self, message: BaseModel) -> None:
        self.sent += 1


class _Jobs:
    def __init__(self, job: dict[str, Any]) -> None:
        self.job = job

    def get(self, workspace: str, import_id: str) -> dict[str, Any]:
        return self.job

    def update(self, workspace: str, import_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        self.job.update(changes)
        return self.job


def split_child(path: str) -> None:
    """Run in a child process: stream the file through the splitter, print memory figures."""
    from roster.sources.csv_file import auto_mapping, detect_dialect
    from roster.sources.csv_import import CsvImports, ImportMessage

    file = Path(path)
    with file.open("rb") as head:
        dialect = detect_dialect(head.read(65536))
    columns = ["Email", "First Name", "Last Name", "Title", "Company", "LinkedIn", "Notes"]
    job = {"status": "queued", "key": "k", "dialect": dialect.__dict__, "mapping": auto_mapping(Kind.PEOPLE, columns)}
    sink = _Discard(file)
    imports = CsvImports(_Jobs(job), sink, "bucket", sink.send, sink.send)  # type: ignore[arg-type]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    batches = imports.split(ImportMessage(workspace="bench", import_id="i"))
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps({"before_mb": before, "peak_mb": peak, "rows": job["rows_read"], "batches": batches, "s": elapsed})
    )


def bench_csv_memory(rows: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "big.csv"
        write_csv(path, rows)
        size = path.stat().st_size / 1e6
        child = subprocess.run(
            [sys.executable, __file__, "--split-child", str(path)], capture_output=True, text=True, check=True
        )
        figures = json.loads(child.stdout.strip().splitlines()[-1])
    print(f"CSV streamed by the splitter: {figures['rows']:,} rows, {size:.0f} MB, {figures['batches']} batches")
    print(f"splitter throughput: {figures['rows'] / figures['s']:,.0f} rows/s")
    print(f"peak memory while streaming: {figures['peak_mb']:.0f} MB (target < 200 MB)")
    print(f"memory before streaming (same process): {figures['before_mb']:.0f} MB")
    print(f"growth while streaming {size:.0f} MB of CSV: {figures['peak_mb'] - figures['before_mb']:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--csv-rows", type=int, default=1_000_000)
    parser.add_argument("--split-child")
    args = parser.parse_args()
    if args.split_child:
        split_child(args.split_child)
        return
    bench_resolution(args.records)
    bench_csv_memory(args.csv_rows)


if __name__ == "__main__":
    main()

"""Benchmark of warehouse imports from DuckDB; prints figures, asserts nothing.

    .venv/bin/python tests/bench/bench_warehouse.py [--sizes 100000,1000000] [--changed 1000] [--store-rows 10000]

1. Through resolution into storage: a full import of `--store-rows` rows resolved into the local stack's DynamoDB
   (moto), and plain batch writes of as many items in the same run, as the reference ratio.
2. For each table size (`--sizes`, rows with an `updated_at` one second apart): a full import (the first run of a
   timestamp source), then `--changed` rows updated and as many deleted, an incremental run (rows read should be
   the changed ones plus the lookback's 10 minutes, 600 rows, whatever the table's size), and a full run diffed
   against the first one's snapshot (the deleted rows lose their links). These resolve against a store that keeps
   nothing, so the figures are the connector's own (reading, hashing, the snapshot diff on S3, checkpoints on the
   jobs table); storage throughput is part 1's subject and bench_core's.

Each run is a child process reaching the local stack through its moto server, so its peak RSS is what a Lambda
would need. DuckDB is embedded: its own sort of the result (ORDER BY the identifier, the duplicate count) takes
memory in the worker that grows with the table (a server-side warehouse sorts on its own machine), so the diff run
also reports its Python heap's peak (tracemalloc: Roster's own memory, flat means the same at every size), and a
child that only streams the same query shows DuckDB's share.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

import duckdb

from roster import aws
from roster.connectors.core.state import Mode
from roster.connectors.warehouse.connection import DuckDbCredentials, engine_for, read_only, run_query
from roster.connectors.warehouse.importer import Snapshots, WarehouseImport, WarehouseMessage
from roster.connectors.warehouse.sql import Dialect, ImportQuery
from roster.connectors.warehouse.store import WarehouseSource, WarehouseStore
from roster.identity.resolver import resolver_for
from roster.profiles.fields import Kind
from roster.store.profiles import ProfileStore
from roster.store.workspaces import WorkspaceStore
from roster_dev.local.stack import LocalStack
from tests.bench.common import NullProfiles, peak_rss_mb, run_bench

SOURCE = "bench"
QUERY = "SELECT email, first_name, plan, updated_at FROM people"
LOOKBACK_MINUTES = 10


def make_table(path: Path, rows: int) -> None:
    with duckdb.connect(str(path)) as connection:
        connection.execute(
            "CREATE TABLE people (email VARCHAR, first_name VARCHAR, plan VARCHAR, updated_at TIMESTAMP)"
        )
        connection.execute(
            "INSERT INTO people SELECT 'p' || i || '@example.com', 'P' || i, 'free', "
            "TIMESTAMP '2026-01-01' + INTERVAL (i) SECOND FROM range(?) t(i)",
            [rows],
        )


def change(path: Path, count: int) -> None:
    """`count` rows get a new plan and a timestamp past the mark; `count` other rows are deleted."""
    with duckdb.connect(str(path)) as connection:
        connection.execute(
            "UPDATE people SET plan = 'pro', updated_at = updated_at + INTERVAL 100 DAY "
            "WHERE email IN (SELECT email FROM people ORDER BY updated_at LIMIT ?)",
            [count],
        )
        connection.execute(
            "DELETE FROM people WHERE email IN (SELECT email FROM people WHERE plan = 'free' "
            "ORDER BY updated_at LIMIT ?)",
            [count],
        )


def add_source(workspace: str, path: Path) -> None:
    credentials = DuckDbCredentials(path=str(path))
    preview = run_query(credentials, QUERY)
    source = WarehouseSource(
        source=SOURCE,
        kind=Kind.PEOPLE,
        dialect=credentials.dialect,
        query=QUERY,
        columns=[column.name for column in preview.columns],
        identifier="email",
        identifier_field="email",
        cursor="updated_at",
        cursor_type="TIMESTAMP",
        mapping={"first_name": "first_name", "plan": "plan"},
        lookback_minutes=LOOKBACK_MINUTES,
    )
    WarehouseStore().put_source(workspace, source)


def worker(args: argparse.Namespace) -> None:
    """One run (or the plain writes) in this process; prints its figures as JSON."""
    clients = aws.clients()
    baseline = peak_rss_mb()
    if args.query_only:
        print(json.dumps({"rows": query_only(args.db), "baseline_mb": baseline, "peak_mb": peak_rss_mb()}))
        return
    if args.plain:
        print(json.dumps({"seconds": plain_writes(args.plain), "baseline_mb": baseline, "peak_mb": peak_rss_mb()}))
        return
    profiles = ProfileStore() if args.store else NullProfiles()
    workspaces = WorkspaceStore()
    credentials = DuckDbCredentials(path=args.db)
    loop = WarehouseImport(
        store=WarehouseStore(),
        resolver=lambda workspace, kind: resolver_for(profiles, workspaces, workspace, kind),
        credentials=lambda workspace, source: credentials,
        snapshots=Snapshots(clients.s3, clients.settings.uploads_bucket),
    )
    if args.heap:
        tracemalloc.start()
    started = time.perf_counter()
    message: WarehouseMessage | None = loop.start(args.workspace, SOURCE, Mode(args.mode))
    assert message is not None
    run_id = message.run_id
    while message is not None:
        message = loop.run(message, lambda: 900.0)
    seconds = time.perf_counter() - started
    run = loop.store.run(args.workspace, SOURCE, run_id)
    assert run is not None
    figures = {
        "run": run.model_dump(mode="json"),
        "seconds": seconds,
        "baseline_mb": baseline,
        "peak_mb": peak_rss_mb(),
    }
    if args.heap:
        figures["heap_mb"] = tracemalloc.get_traced_memory()[1] / 1e6
    print(json.dumps(figures))


def query_only(path: str) -> int:
    """Stream the full run's query and drop the rows: the memory DuckDB itself takes for it."""
    query = ImportQuery(QUERY, ("email", "first_name", "plan", "updated_at"), "email", Dialect.DUCKDB)
    rows = 0
    with read_only(engine_for(DuckDbCredentials(path=path))) as connection:
        result = connection.execution_options(stream_results=True, yield_per=1000).execute(query.full(None))
        for page in result.partitions(1000):
            rows += len(page)
    return rows


def plain_writes(count: int) -> float:
    """The floor: as many profile-sized items written with batch writes, nothing read or checked."""
    from roster.store.jobs import JobItem

    started = time.perf_counter()
    with JobItem.batch_write() as batch:
        for index in range(count):
            data = {"email": f"p{index}@example.com", "first_name": f"P{index}", "plan": "free"}
            batch.save(JobItem("bench-plain", f"item#{index:08d}", data=data, created_at="x"))
    return time.perf_counter() - started


def run_worker(endpoint: str, *options: str) -> dict[str, Any]:
    command = [sys.executable, __file__, "--worker", *options]
    environment = {**os.environ, "AWS_ENDPOINT_URL": endpoint}
    output = subprocess.run(command, check=True, capture_output=True, text=True, env=environment).stdout
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return result


def report(label: str, size: int, figures: dict[str, Any]) -> None:
    run, seconds = figures["run"], figures["seconds"]
    counts = run["counts"]
    shown = ", ".join(f"{name}={counts[name]:,}" for name in ("read", "created", "skipped") if counts[name])
    shown += f", gone={run['gone']:,}" if run["gone"] else ""  # left the result (no links to drop: null store)
    print(
        f"{label:<12} table={size:>9,}  {shown:<58} {counts['read'] / seconds:>8,.0f} rows/s  "
        f"({seconds:,.0f} s)  peak RSS {figures['peak_mb']:.0f} MB (after imports {figures['baseline_mb']:.0f} MB)"
    )


def bench_storage(stack: LocalStack, folder: Path, rows: int) -> None:
    path = folder / "store.duckdb"
    make_table(path, rows)
    workspace = f"bench-store-{int(time.time())}"
    add_source(workspace, path)
    imported = run_worker(stack.endpoint, "--db", str(path), "--workspace", workspace, "--mode", "full", "--store")
    plain = run_worker(stack.endpoint, "--plain", str(rows))
    rate, reference = rows / imported["seconds"], rows / plain["seconds"]
    print(f"full import resolved into DynamoDB (moto): {rate:,.0f} rows/s ({rows:,} rows, {imported['seconds']:.0f} s)")
    print(f"plain batch writes of as many items, same run: {reference:,.0f} items/s")
    print(f"import vs plain writes: {rate / reference:.2f}x")


def bench_size(stack: LocalStack, folder: Path, size: int, changed: int) -> None:
    path = folder / f"people-{size}.duckdb"
    make_table(path, size)
    workspace = f"bench-{size}-{int(time.time())}"
    add_source(workspace, path)
    common = ("--db", str(path), "--workspace", workspace)
    report("full", size, run_worker(stack.endpoint, *common, "--mode", "full"))
    change(path, changed)
    incremental = run_worker(stack.endpoint, *common, "--mode", "incremental")
    report("incremental", size, incremental)
    lookback = LOOKBACK_MINUTES * 60  # one row a second
    print(
        f"{'':<12} rows read by the incremental: {incremental['run']['counts']['read']:,} "
        f"(changed {changed:,} + lookback {lookback:,} = {changed + lookback:,})"
    )
    diff = run_worker(stack.endpoint, *common, "--mode", "full", "--heap")
    report("full (diff)", size, diff)
    alone = run_worker(stack.endpoint, "--db", str(path), "--query-only")
    print(
        f"{'':<12} Python heap peak of the diff run (tracemalloc): {diff['heap_mb']:.0f} MB; the query alone in "
        f"DuckDB: peak RSS {alone['peak_mb']:.0f} MB (after imports {alone['baseline_mb']:.0f} MB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--changed", type=int, default=1000)
    parser.add_argument("--store-rows", type=int, default=10_000, help="rows resolved into DynamoDB (0: skip)")
    parser.add_argument("--worker", action="store_true")
    parser.add_argument("--db")
    parser.add_argument("--workspace")
    parser.add_argument("--mode", default="full")
    parser.add_argument("--store", action="store_true")
    parser.add_argument("--plain", type=int, default=0)
    parser.add_argument("--heap", action="store_true", help="trace the Python heap's peak (slower)")
    parser.add_argument("--query-only", action="store_true")
    run_bench(parser, worker, bench)


def bench(args: argparse.Namespace, stack: LocalStack) -> None:
    with tempfile.TemporaryDirectory() as folder:
        if args.store_rows:
            bench_storage(stack, Path(folder), args.store_rows)
        for size in (int(value) for value in args.sizes.split(",") if value):
            bench_size(stack, Path(folder), size, args.changed)


if __name__ == "__main__":
    main()

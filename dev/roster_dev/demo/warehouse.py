"""The warehouse part of `make demo`: a DuckDB file the demo writes, imported through the API and the real handlers.

A source with a timestamp field (`product-users`) imports fully, then incrementally after a few updates and a row
committed late (its timestamp older than the mark, inside the lookback); a source without one (`newsletter`)
imports fully twice, and the row deleted in between loses its source link.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb
from rich.console import Console

from roster_dev.client import RosterClient
from roster_dev.local.runner import Runner

USERS, SUBSCRIBERS = 120, 30  # subscribers are the first users too: one profile each, two sources
DOMAIN = "warehouse-demo.example"  # no other part of the demo uses it
UPDATED = (7, 42, 77)  # users whose plan changes before the incremental run
LATE = f"late@{DOMAIN}"  # committed late: its timestamp is 4 minutes older than the mark
REMOVED = f"user5@{DOMAIN}"  # leaves the newsletter between its two runs


def run_warehouse_demo(client: RosterClient, runner: Runner, console: Console) -> dict[str, Any]:
    """Write a DuckDB file, import it through both kinds of source, and show what each run did."""
    console.print("\n[bold]Warehouse[/]")
    with tempfile.TemporaryDirectory(prefix="roster-demo-") as folder:
        path = Path(folder) / "product.duckdb"
        _write(path, _CREATE)
        credentials = {"dialect": "duckdb", "path": str(path)}
        console.print(f"DuckDB file {path.name}: {USERS} product users (updated_at), {SUBSCRIBERS} newsletter rows")
        users = {
            "credentials": credentials,
            "kind": "people",
            "query": "SELECT email, first_name, plan, updated_at FROM users",
            "identifier": "email",
            "timestamp_field": "updated_at",
        }
        client.call("PUT", "/v1/warehouse/sources/product-users", users)
        full = _import(client, runner, "product-users")
        mark = client.call("GET", "/v1/warehouse/sources/product-users")["mark"]
        _show(console, "product-users, first run", full, f"mark {mark}")
        _write(path, _CHANGES)
        incremental = _import(client, runner, "product-users")
        mark = client.call("GET", "/v1/warehouse/sources/product-users")["mark"]
        _show(console, "product-users, after 3 updates and a late row", incremental, f"mark {mark}")

        newsletter = {
            "credentials": credentials,
            "kind": "people",
            "query": "SELECT email, first_name, topic FROM newsletter",
            "identifier": "email",
        }
        client.call("PUT", "/v1/warehouse/sources/newsletter", newsletter)
        first = _import(client, runner, "newsletter")
        _show(console, "newsletter (no timestamp field), first run", first, "")
        _write(path, [("DELETE FROM newsletter WHERE email = ?", [REMOVED])])
        second = _import(client, runner, "newsletter")
        _show(console, f"newsletter, after {REMOVED} unsubscribed", second, "")
    profile = client.call("GET", "/v1/people/lookup", id=f"product-users:people:{REMOVED}")
    kept = sorted({source["source"] for source in profile["sources"]})
    console.print(f"{REMOVED}'s profile keeps its other source; its sources now: {', '.join(kept)}")
    return {"full": full, "incremental": incremental, "newsletter": [first, second], "sources": kept}


Statement = tuple[str, list[Any]]  # SQL and its parameters
_CREATE: list[Statement] = [
    ("CREATE TABLE users (email VARCHAR, first_name VARCHAR, plan VARCHAR, updated_at TIMESTAMP)", []),
    (
        "INSERT INTO users SELECT 'user' || i || '@' || ?, 'User' || i, 'free', "
        "TIMESTAMP '2026-03-01 09:00:00' + INTERVAL (i) MINUTE FROM range(?) t(i)",
        [DOMAIN, USERS],
    ),
    ("CREATE TABLE newsletter (email VARCHAR, first_name VARCHAR, topic VARCHAR)", []),
    ("INSERT INTO newsletter SELECT email, first_name, 'news' FROM users ORDER BY updated_at LIMIT ?", [SUBSCRIBERS]),
]
_CHANGES: list[Statement] = [
    *(
        ("UPDATE users SET plan = 'pro', updated_at = TIMESTAMP '2026-03-01 12:00:00' WHERE email = ?", [email])
        for email in (f"user{i}@{DOMAIN}" for i in UPDATED)
    ),
    ("INSERT INTO users VALUES (?, 'Late', 'free', TIMESTAMP '2026-03-01 10:55:00')", [LATE]),
]


def _write(path: Path, statements: list[Statement]) -> None:
    """Change the warehouse between runs (no import reads it meanwhile: DuckDB has one writer)."""
    with duckdb.connect(str(path)) as connection:
        for statement, parameters in statements:
            connection.execute(statement, parameters)


def _import(client: RosterClient, runner: Runner, source: str) -> dict[str, Any]:
    """Start a run and wait for the local stack to finish it; its record."""
    started = time.monotonic()
    run_id = client.call("POST", f"/v1/warehouse/sources/{source}/runs", {})["run_id"]
    runs: list[dict[str, Any]] = []

    def done() -> bool:
        runs[:] = client.call("GET", f"/v1/warehouse/sources/{source}/runs")
        return any(run["run_id"] == run_id and run["status"] != "running" for run in runs)

    runner.wait_for(done, f"the import of {source}")
    run = next(run for run in runs if run["run_id"] == run_id)
    if run["status"] != "succeeded":
        raise RuntimeError(f"the import of {source} stopped: {run['error']}")
    return {**run, "seconds": time.monotonic() - started}


def _show(console: Console, title: str, run: dict[str, Any], extra: str) -> None:
    counts = run["counts"]
    figures = ", ".join(
        f"{counts[name]} {name}" for name in ("read", "created", "updated", "unchanged", "skipped", "removed")
    )
    console.print(f"  {title} ({run['mode']}): {figures} ({run['seconds']:.1f} s{'; ' + extra if extra else ''})")

"""`make demo`: the main job on the local stack — a messy CSV of people becomes clean profiles."""

from __future__ import annotations

import os
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from roster_dev.client import RosterClient
from roster_dev.demo.actions import run_actions_demo
from roster_dev.demo.enrichment import run_enrichment_demo
from roster_dev.demo.hubspot import run_hubspot_demo
from roster_dev.demo.salesforce import run_salesforce_demo
from roster_dev.demo.signals import run_signals_demo
from roster_dev.demo.warehouse import run_warehouse_demo
from roster_dev.local.runner import Runner
from roster_dev.local.stack import LocalStack

SAMPLE = Path(__file__).with_name("data") / "sample_people.csv"


def run_demo(console: Console | None = None) -> dict[str, Any]:
    console = console or Console()
    stack = LocalStack.from_project().start()
    os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"  # the demo prints its own story
    runner = Runner(stack)
    runner.start()
    base_url = runner.serve()
    try:
        console.print(f"[bold]Roster local stack[/] API {base_url} · AWS (moto) {stack.endpoint}")
        admin = RosterClient(base_url, stack.admin_key)
        api_key = admin.create_workspace("demo", "Demo workspace")["api_key"]
        client = RosterClient(base_url, api_key)
        report = import_with_progress(client, SAMPLE, "people", "trade-show-2026", console)
        show_report(report, console)
        show_profiles(client, console)
        show_lookups(client, console)
        show_segments(client, runner, console)
        started = time.monotonic()
        again = client.import_csv(SAMPLE, "people", "trade-show-2026")
        console.print(
            f"\nRe-importing the same file: {again['outcomes']['unchanged']} rows unchanged, "
            f"{again['outcomes']['created']} created, {again['outcomes']['updated']} updated "
            f"({time.monotonic() - started:.1f} s, no profile written)."
        )
        run_enrichment_demo(client, runner, console)
        run_signals_demo(client, runner, console)
        run_actions_demo(client, runner, console)
        run_salesforce_demo(client, runner, console)
        run_hubspot_demo(client, runner, console)
        run_warehouse_demo(client, runner, console)
        return report
    finally:
        runner.stop()
        stack.stop()


def import_with_progress(client: RosterClient, path: Path, kind: str, source: str, console: Console) -> dict[str, Any]:
    with Progress(
        TextColumn("[bold]Importing {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("batches"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task(path.name, total=None)

        def preview(found: dict[str, Any]) -> None:
            mapped = ", ".join(f"{column} → {field}" for column, field in found["mapping"].items() if field)
            progress.console.print(f"Detected {found['delimiter']!r}-separated {found['encoding']}; mapping: {mapped}")

        def update(report: dict[str, Any]) -> None:
            progress.update(task, total=report["batches_total"], completed=report["batches_done"])

        return client.import_csv(path, kind, source, on_preview=preview, on_progress=update)


def show_report(report: dict[str, Any], console: Console) -> None:
    outcomes = report["outcomes"]
    table = Table(title="Import", show_header=False)
    table.add_row("rows read", str(report["rows_read"]))
    table.add_row("rows rejected", str(report["rows_rejected"]))
    table.add_row("profiles created", str(outcomes["created"]))
    table.add_row("rows added to an existing profile", str(outcomes["updated"]))
    table.add_row("merges (a row bridged two profiles)", str(outcomes["merged"]))
    table.add_row("rows unchanged", str(outcomes["unchanged"]))
    console.print(table)
    reasons = Counter(
        (f"{error['field']}: " if error.get("field") else "") + re.sub(r"'[^']*'", "…", error["reason"]).split(" (")[0]
        for error in report["errors"]
    )
    console.print("[bold]Rejected rows, by reason[/]")
    for reason, count in reasons.most_common():
        console.print(f"  {count:>3}  {reason}")
    for error in report["errors"][:3]:
        where = f"line {error['line']}" + (f", field {error['field']}" if error.get("field") else "")
        console.print(f"      e.g. {where}: {error['reason']}")


def show_profiles(client: RosterClient, console: Console) -> None:
    total, cursor = 0, None
    while True:
        page = client.call("GET", "/v1/people", status="active", limit="200", **({"cursor": cursor} if cursor else {}))
        total += len(page["profiles"])
        cursor = page["cursor"]
        if not cursor:
            break
    console.print(f"\n[bold]{total}[/] active people profiles now stand for the file's rows.")


def show_lookups(client: RosterClient, console: Console) -> None:
    console.print("\n[bold]Lookups[/]")
    first = client.call("GET", "/v1/people", limit="1")["profiles"][0]
    email = first["fields"]["email"]
    for label, query in (
        ("e-mail, shouted with spaces", {"email": f"  {email.upper()} "}),
        ("LinkedIn URL, written differently", {"linkedin_url": first["fields"].get("linkedin_url", "").upper()}),
    ):
        if not next(iter(query.values())).strip():
            continue
        found = client.call("GET", "/v1/people/lookup", **query)
        console.print(
            f"  {label}: {next(iter(query.values()))!r} → {found['profile_id']} ({len(found['sources'])} rows)"
        )
    merged_away = client.call("GET", "/v1/people", status="merged", limit="1")["profiles"]
    if merged_away:
        old_id = merged_away[0]["profile_id"]
        detail = client.call("GET", f"/v1/people/{old_id}")
        console.print(
            f"  merged-away id {old_id} → {detail['profile_id']} ({detail['fields']['email']['value']}): "
            f"{len(detail['sources'])} rows, filled: {', '.join(detail['filled'])}"
        )


DEMO_SEGMENTS: list[tuple[str, dict[str, Any]]] = [
    (
        "Executives in North America",
        {
            "match": "all",
            "conditions": [
                {"field": "country", "op": "in", "value": ["US", "CA"]},
                {
                    "match": "any",
                    "conditions": [
                        {"field": "job_title", "op": "in", "value": ["CEO", "CTO"]},
                        {"field": "job_title", "op": "starts_with", "value": "VP"},
                        {"field": "job_title", "op": "starts_with", "value": "Director"},
                    ],
                },
            ],
        },
    ),
    (
        "Engineers in Europe",
        {
            "conditions": [
                {"field": "job_title", "op": "contains", "value": "engineer"},
                {"field": "country", "op": "in", "value": ["DE", "FR", "GB"]},
            ]
        },
    ),
    ("No LinkedIn profile yet", {"conditions": [{"field": "linkedin_url", "op": "is_empty"}]}),
]


def show_segments(client: RosterClient, runner: Runner, console: Console) -> dict[str, int]:
    """Build a few audiences on the imported people, then move one person into one in real time."""
    console.print("\n[bold]Segments[/]")
    ids = {
        name: client.call("POST", "/v1/segments", {"name": name, "kind": "people", "filter": tree})["segment_id"]
        for name, tree in DEMO_SEGMENTS
    }
    with console.status("computing members (each shard of the profiles read in parallel over SQS)…"):
        waiting = set(ids.values())

        def built() -> bool:
            waiting.intersection_update(
                {sid for sid in waiting if client.call("GET", f"/v1/segments/{sid}")["rebuilding"]}
            )
            return not waiting

        runner.wait_for(built, "building the demo segments")
    counts = {name: client.call("GET", f"/v1/segments/{sid}/count")["count"] for name, sid in ids.items()}
    table = Table("segment", "records")
    table.add_row("All People (built in)", str(client.call("GET", "/v1/segments/all-people/count")["count"]))
    for name, count in counts.items():
        table.add_row(name, str(count))
    console.print(table)

    executives = ids["Executives in North America"]
    outsider = client.call(
        "POST",
        "/v1/segments/preview",
        {
            "kind": "people",
            "sample_size": 1,
            "filter": {
                "conditions": [
                    {"field": "country", "op": "eq", "value": "US"},
                    {"field": "job_title", "op": "eq", "value": "Data Engineer"},
                ]
            },
        },
    )["sample"][0]
    email = outsider["fields"]["email"]
    client.call(
        "POST",
        "/v1/people/upsert",
        {"records": [{"source": "crm", "fields": {"email": email, "job_title": "VP of Data"}}]},
    )
    before = counts["Executives in North America"]

    def moved() -> bool:
        return bool(client.call("GET", f"/v1/segments/{executives}/count")["count"] != before)

    runner.wait_for(moved, "the promoted person entering the segment")
    now = client.call("GET", f"/v1/segments/{executives}/count")["count"]
    console.print(
        f"{email} is promoted to VP of Data: 'Executives in North America' goes {before} → {now} "
        "(one segment.entered event on the bus)."
    )
    return counts

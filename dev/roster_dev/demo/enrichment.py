"""The enrichment part of `make demo`: one bulk run on an audience, stopped by its credit budget,
then the budget raised and the run resumed; and `follow_run`, which the CLI's `--wait` uses too."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from roster_dev.client import RosterClient
from roster_dev.local.runner import STALL_SECONDS, Stalled

if TYPE_CHECKING:
    from roster_dev.local.runner import Runner

AUDIENCE = "Executives in North America"
PROVIDERS: list[dict[str, Any]] = [
    {"type": "built_in", "name": "email_validation", "credits_per_record": 1},
    {"type": "built_in", "name": "job_title_classification", "credits_per_record": 0.5},
    {"type": "built_in", "name": "name_parsing"},
    {"type": "built_in", "name": "company_domain", "credits_per_record": 0.5},
]
WORK_EMAIL_FOUND = {"conditions": [{"field": "work_email", "op": "is_not_empty"}]}
FINISHED = {"completed", "stopped_by_budget", "failed"}


def follow_run(
    client: RosterClient,
    run_id: str,
    console: Console,
    *,
    stall: float = STALL_SECONDS,
    poll: float = 0.3,
    moving: Callable[[], object] = lambda: None,
) -> dict[str, Any]:
    """Show a run's progress (batches done, records enriched, credits) until it stops; its last figures.

    Fails only when neither the run's figures nor `moving()` (e.g. the local stack's deliveries)
    changed for `stall` seconds: a slow run is followed to its end."""
    last: object = None
    moved = time.monotonic()
    with Progress(
        TextColumn("[bold]Enriching"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("batches · {task.fields[records]} records · {task.fields[credits]} credits · {task.fields[status]}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task(run_id, total=None, records=0, credits=0.0, status="queued")
        while True:
            run: dict[str, Any] = client.call("GET", f"/v1/enrichments/runs/{run_id}")
            progress.update(
                task,
                total=run["batches_total"],
                completed=run["batches_done"],
                records=sum(run["outcomes"].values()),
                credits=run["credits_spent"],
                status=run["status"],
            )
            if run["status"] in FINISHED:
                return run
            now = (run["status"], run["batches_done"], run["outcomes"], run["credits_spent"], moving())
            if now != last:
                last, moved = now, time.monotonic()
            elif time.monotonic() - moved > stall:
                raise Stalled(f"run {run_id} is still {run['status']}: nothing moved for {stall:.0f} s")
            time.sleep(poll)


def show_run(run: dict[str, Any], console: Console, title: str) -> None:
    """A run's figures: status, records per outcome and credits spent."""
    table = Table(title=title, show_header=False)
    table.add_row("run", run["run_id"])
    table.add_row("status", f"[bold]{run['status']}[/]")
    for outcome, count in run["outcomes"].items():
        if count:
            table.add_row(f"  {outcome.replace('_', ' ')}", str(count))
    table.add_row("credits spent", f"{run['credits_spent']:g}")
    console.print(table)


def _segment_id(client: RosterClient, name: str) -> str:
    for segment in client.call("GET", "/v1/segments", kind="people")["segments"]:
        if segment["name"] == name:
            return str(segment["segment_id"])
    raise LookupError(f"no segment named {name!r}: the demo creates it before enriching")


def _show_test(test: dict[str, Any], console: Console) -> None:
    table = Table("profile", "status", "seniority", "department", "e-mail", "field writes", title="Test on 10 rows")
    for row in test["rows"]:
        outputs = row["outputs"]
        table.add_row(
            row["profile_id"],
            row["status"],
            str(outputs.get("seniority", "")),
            str(outputs.get("department", "")),
            str(outputs.get("email_status", "")),
            str(len(row["writes"])),
        )
    console.print(table)
    if test["rows"] and test["rows"][0]["writes"]:
        writes = ", ".join(f"{w['field']}: {w['old']!r} → {w['new']!r}" for w in test["rows"][0]["writes"][:4])
        console.print(f"  e.g. {test['rows'][0]['profile_id']} would get {writes}")


def run_enrichment_demo(client: RosterClient, runner: Runner, console: Console) -> dict[str, Any]:
    """Enrich an audience under a budget that covers half of it, raise the budget, resume; the figures."""
    console.print("\n[bold]Enrichment[/]")
    audience = _segment_id(client, AUDIENCE)
    members = client.call("GET", f"/v1/segments/{audience}/count")["count"]
    credits_per_record = sum(float(provider.get("credits_per_record", 0)) for provider in PROVIDERS)
    budget = credits_per_record * max(1, members // 2)
    definition = {
        "name": "Executive contact data",
        "providers": PROVIDERS,
        "audiences": [audience],
        "budget_credits": budget,
        "quality_gates": {audience: WORK_EMAIL_FOUND},
    }
    enrichment = client.call("POST", "/v1/enrichments", definition)
    eid = enrichment["enrichment_id"]
    cost = client.call("GET", f"/v1/enrichments/{eid}/cost")
    console.print(
        f"'{enrichment['name']}' on '{AUDIENCE}': {cost['records']} records x {cost['credits_per_record']:g} "
        f"credits = {cost['credits']:g} credits; the budget of {cost['budget_credits']:g} credits covers "
        f"{cost['records_within_budget']} of them."
    )
    test = client.call("POST", f"/v1/enrichments/{eid}/test")
    _show_test(test, console)
    spent = client.call("GET", f"/v1/enrichments/{eid}")["spent_credits"]
    console.print(f"  (the test wrote nothing and spent {spent:g} credits)")

    run_id = client.call("POST", f"/v1/enrichments/{eid}/runs")["run_id"]
    first = follow_run(client, run_id, console, moving=lambda: runner.deliveries)
    show_run(first, console, "Run, stopped by its budget")
    raised = client.call("PUT", f"/v1/enrichments/{eid}/budget", {"credits": cost["credits"]})
    console.print(f"Budget raised to {raised['budget_credits']:g} credits ({raised['remaining_credits']:g} left).")
    client.call("POST", f"/v1/enrichments/runs/{run_id}/resume")
    final = follow_run(client, run_id, console, moving=lambda: runner.deliveries)
    show_run(final, console, "Run, resumed to the end")

    seniors = {"conditions": [{"field": "seniority", "op": "in", "value": ["c_suite", "vp"]}]}
    preview = client.call("POST", "/v1/segments/preview", {"kind": "people", "filter": seniors, "sample_size": 1})
    console.print(
        f"Enriched fields are filterable in every segment: seniority in (c_suite, vp) → {preview['count']} "
        f"people; {final['outcomes']['quality_failed']} records are marked as failing the work e-mail gate."
    )
    return {
        "enrichment_id": eid,
        "run_id": run_id,
        "cost": cost,
        "stopped": first,
        "final": final,
        "seniority_vp_or_c_suite": preview["count"],
    }

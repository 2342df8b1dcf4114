"""`roster enrich`: enrichment definitions, cost previews, tests on 10 rows, runs, budgets and CSV exports."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from roster_dev.cli.common import DEFAULT_URL, ApiKey, Url, call, client, console

enrich = typer.Typer(help="Enrichment: providers on audiences, under a credit budget.", no_args_is_help=True)

Wait = Annotated[bool, typer.Option(help="Follow the run until it completes or stops")]


def _follow(url: str, api_key: str, run_id: str) -> None:
    from roster_dev.demo.enrichment import follow_run, show_run

    run = follow_run(client(url, api_key), run_id, console, poll=1.0, stall=3600)
    show_run(run, console, f"Run {run_id}")
    if run["status"] == "failed":
        raise typer.Exit(1)


def _runs_table(runs: list[dict[str, Any]]) -> Table:
    table = Table("run", "enrichment", "trigger", "status", "enriched", "not found", "skipped", "credits", "created")
    for run in runs:
        outcomes = run["outcomes"]
        skipped = sum(count for outcome, count in outcomes.items() if outcome.startswith("skipped"))
        table.add_row(
            run["run_id"],
            run["enrichment_id"],
            run["trigger"],
            run["status"],
            str(outcomes["enriched"] + outcomes["quality_failed"]),
            str(outcomes["not_found"]),
            str(skipped),
            f"{run['credits_spent']:g}",
            run["created_at"],
        )
    return table


@enrich.command("create")
def create(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="Definition JSON")],
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
) -> None:
    """Create an enrichment from a JSON file (name, providers, audiences, mapping, budget_credits...)."""
    try:
        definition = json.loads(file.read_text())
    except json.JSONDecodeError as problem:
        raise typer.BadParameter(f"not JSON: {problem}", param_hint="FILE") from None
    console.print_json(data=call(url, api_key, "POST", "/v1/enrichments", definition))


@enrich.command("list")
def list_(url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Enrichments with their audiences and budgets."""
    table = Table("id", "name", "providers", "audiences", "budget", "spent", "continuous", "schedule")
    for row in call(url, api_key, "GET", "/v1/enrichments")["enrichments"]:
        schedule = row["schedule"]
        table.add_row(
            row["enrichment_id"],
            row["name"],
            ", ".join(provider.get("name") or provider["config"]["name"] for provider in row["providers"]),
            ", ".join(row["audiences"]),
            f"{row['budget_credits']:g}",
            f"{row['spent_credits']:g}",
            "yes" if row["continuous"] else "",
            (schedule.get("cron") or schedule["every"]) if schedule else "",
        )
    console.print(table)


@enrich.command("cost")
def cost(enrichment_id: str, url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Cost preview: records in the audiences x credits per record, against the budget left."""
    found = call(url, api_key, "GET", f"/v1/enrichments/{enrichment_id}/cost")
    console.print(
        f"{found['records']} records x {found['credits_per_record']:g} credits = {found['credits']:g} credits; "
        f"{found['remaining_credits']:g} of {found['budget_credits']:g} budget credits left "
        f"cover {found['records_within_budget']} records"
    )


@enrich.command("test")
def test_rows(enrichment_id: str, url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Run the providers on 10 records and show exactly what would be written (nothing is)."""
    found = call(url, api_key, "POST", f"/v1/enrichments/{enrichment_id}/test")
    for row in found["rows"]:
        console.print(
            f"[bold]{row['profile_id']}[/] {row['status']}" + (f" ({row['reason']})" if row["reason"] else "")
        )
        for write in row["writes"]:
            console.print(f"  {write['field']}: {write['old']!r} → {write['new']!r}")
        if row["quality_failed"]:
            console.print(f"  fails the quality gate of {', '.join(row['quality_failed'])}")
    if found["new_fields"]:
        console.print("new fields: " + ", ".join(f"{name} ({kind})" for name, kind in found["new_fields"].items()))


@enrich.command("run")
def run(
    enrichment_id: str,
    force: Annotated[bool, typer.Option(help="Enrich recently enriched records again (charged again)")] = False,
    wait: Wait = False,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
) -> None:
    """Start a run over the enrichment's audiences."""
    started = call(url, api_key, "POST", f"/v1/enrichments/{enrichment_id}/runs", {"force": force})
    console.print(f"run {started['run_id']} {started['status']}")
    if wait:
        _follow(url, api_key, started["run_id"])


@enrich.command("runs")
def runs(
    enrichment_id: Annotated[str | None, typer.Argument(help="One enrichment's runs; all when left out")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 20,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
) -> None:
    """Runs, newest first, with their status, counts and credits."""
    path = f"/v1/enrichments/{enrichment_id}/runs" if enrichment_id else "/v1/enrichments/runs"
    console.print(_runs_table(call(url, api_key, "GET", path, limit=str(limit))["runs"]))


@enrich.command("status")
def status(run_id: str, url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """One run's status, counts per outcome and credits spent."""
    from roster_dev.demo.enrichment import show_run

    show_run(call(url, api_key, "GET", f"/v1/enrichments/runs/{run_id}"), console, f"Run {run_id}")


@enrich.command("export")
def export(run_id: str, url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Write a run's records, outcomes and answers to stdout as CSV (`... export RUN_ID > run.csv`)."""

    api = client(url, api_key)
    response = api.session.get(
        f"{api.base_url.rstrip('/')}/v1/enrichments/runs/{run_id}/export",
        headers={"Authorization": f"Bearer {api.api_key}"},
        timeout=600,
    )
    if response.status_code >= 400:
        body = response.json() if response.content else {}
        Console(stderr=True).print(f"[red]HTTP {response.status_code}: {body.get('message', '')}[/]")
        raise typer.Exit(1)
    response.encoding = "utf-8"
    sys.stdout.write(response.text)


@enrich.command("budget")
def budget(enrichment_id: str, credits: float, url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Set an enrichment's credit cap (raise it, then resume a run it stopped)."""
    found = call(url, api_key, "PUT", f"/v1/enrichments/{enrichment_id}/budget", {"credits": credits})
    console.print(
        f"budget {found['budget_credits']:g} credits: {found['spent_credits']:g} spent, "
        f"{found['remaining_credits']:g} left"
    )


@enrich.command("resume")
def resume(run_id: str, wait: Wait = False, url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Resume a run stopped by its budget: only the records it skipped are enriched."""
    found = call(url, api_key, "POST", f"/v1/enrichments/runs/{run_id}/resume")
    console.print(f"run {run_id} {found['status']} (round {found['round']})")
    if wait:
        _follow(url, api_key, run_id)


@enrich.command("delete")
def delete(enrichment_id: str, url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Delete an enrichment (values it wrote stay on the profiles; its runs stay readable)."""
    call(url, api_key, "DELETE", f"/v1/enrichments/{enrichment_id}")
    console.print(f"deleted {enrichment_id}")

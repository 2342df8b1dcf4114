"""`roster signals`: add a signal to audiences, preview its cost, test it, list signals, run one, read a record's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from roster_dev.cli.common import DEFAULT_URL, ApiKey, Url, call, console

signals = typer.Typer(help="Signals: job changes, new hires, funding and hiring spikes.", no_args_is_help=True)

SignalType = Annotated[str, typer.Argument(help="job_change, new_hire, funding or hiring_spike")]
Audiences = Annotated[list[str], typer.Option("--audience", "-a", help="Segment id or all-people/all-companies")]
Provider = Annotated[
    Path | None,
    typer.Option(exists=True, dir_okay=False, help="HTTP provider JSON with an `events` output of type records"),
]


def _settings(
    signal: str,
    audiences: list[str],
    lookback: int,
    recurrence: str,
    provider: Path | None,
    budget: float,
    companion_days: int,
) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "signal": signal,
        "audiences": audiences,
        "lookback_months": lookback,
        "recurrence": None if recurrence == "none" else recurrence,
        "budget_credits": budget,
        "companion_days": companion_days,
    }
    if provider is not None:
        try:
            settings["provider"] = json.loads(provider.read_text())
        except json.JSONDecodeError as problem:
            raise typer.BadParameter(f"not JSON: {problem}", param_hint="--provider") from None
    return settings


Lookback = Annotated[int, typer.Option(help="Months the first run looks back: 3, 6 or 12")]
Recurrence = Annotated[str, typer.Option(help="daily, weekly, monthly or none")]
Budget = Annotated[float, typer.Option(help="Credit cap")]
CompanionDays = Annotated[int, typer.Option(help="Companion segments: fired within this many days")]


@signals.command("preview")
def preview(
    signal: SignalType,
    audiences: Audiences,
    provider: Provider = None,
    lookback: Lookback = 3,
    budget: Budget = 0.0,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
) -> None:
    """Cost per record and in all, before saving."""
    body = _settings(signal, audiences, lookback, "none", provider, budget, 30)
    console.print_json(data=call(url, api_key, "POST", "/v1/signals/preview", body))


@signals.command("add")
def add(
    signal: SignalType,
    audiences: Audiences,
    provider: Provider = None,
    lookback: Lookback = 3,
    recurrence: Recurrence = "weekly",
    budget: Budget = 0.0,
    companion_days: CompanionDays = 30,
    run: Annotated[bool, typer.Option(help="Start the first run at once (Save and Run)")] = False,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
) -> None:
    """Add a signal to audiences; each gets a companion segment (its filters + this signal fired lately)."""
    body = _settings(signal, audiences, lookback, recurrence, provider, budget, companion_days)
    created = call(url, api_key, "POST", "/v1/signals", body)
    console.print_json(data=created)
    if run:
        console.print_json(data=call(url, api_key, "POST", f"/v1/signals/{created['signal_id']}/runs"))


@signals.command("list")
def list_(url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Signals with their audiences, last run, hits and credits (the Data Hub's Signals tab)."""
    table = Table("id", "name", "audiences", "look-back", "recurrence", "last run", "hits", "credits", "budget")
    for row in call(url, api_key, "GET", "/v1/signals")["signals"]:
        last = row["last_run"]
        table.add_row(
            row["signal_id"],
            row["name"],
            ", ".join(row["audiences"]),
            f"{row['lookback_months']} months",
            row["recurrence"] or "",
            f"{last['status']} {last['created_at']}" if last else "",
            str(row["hits"]),
            f"{row['spent_credits']:g}",
            f"{row['budget_credits']:g}",
        )
    console.print(table)


@signals.command("show")
def show(signal_id: str, url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """One signal with its companion segments."""
    console.print_json(data=call(url, api_key, "GET", f"/v1/signals/{signal_id}"))


@signals.command("run")
def run(signal_id: str, url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Run a signal now (`roster enrich status RUN_ID` follows it; budget and resume: `roster enrich`)."""
    console.print_json(data=call(url, api_key, "POST", f"/v1/signals/{signal_id}/runs"))


@signals.command("record")
def record(
    kind: Annotated[str, typer.Argument(help="people or companies")],
    profile_id: str,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
) -> None:
    """A record's signals: each one's latest event and the earlier ones."""
    console.print_json(data=call(url, api_key, "GET", f"/v1/signals/records/{kind}/{profile_id}"))


@signals.command("delete")
def delete(signal_id: str, url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Delete a signal; the events it wrote and its companion segments stay."""
    call(url, api_key, "DELETE", f"/v1/signals/{signal_id}")
    console.print(f"deleted {signal_id}")

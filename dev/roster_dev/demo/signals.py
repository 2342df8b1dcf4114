"""The signals part of `make demo`: a job-change signal on an audience, read from the signals vendor
emulator, its first run over a 6-month look-back, and its companion segment."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Console

from roster_dev.client import RosterClient
from roster_dev.demo.enrichment import AUDIENCE, _segment_id, follow_run, show_run
from roster_dev.emulators.signals import SignalsEmulator

if TYPE_CHECKING:
    from roster_dev.local.runner import Runner

LOOKBACK_MONTHS = 6
COMPANION_DAYS = 30


def run_signals_demo(client: RosterClient, runner: Runner, console: Console) -> dict[str, Any]:
    """Add a job-change signal to the audience, run it, and count its hits and its companion segment."""
    console.print("\n[bold]Signals[/]")
    audience = _segment_id(client, AUDIENCE)
    with SignalsEmulator() as vendor:
        settings = {
            "signal": "job_change",
            "audiences": [audience],
            "lookback_months": LOOKBACK_MONTHS,
            "recurrence": "weekly",
            "provider": vendor.provider("job_change", credits_per_record=1),
            "companion_days": COMPANION_DAYS,
        }
        preview = client.call("POST", "/v1/signals/preview", settings)
        console.print(
            f"Job Change on '{AUDIENCE}': {preview['records']} records x {preview['credits_per_record']:g} credit "
            f"= {preview['credits']:g} credits (cost preview, before saving)."
        )
        signal = client.call("POST", "/v1/signals", settings | {"budget_credits": preview["credits"]})
        run_id = client.call("POST", f"/v1/signals/{signal['signal_id']}/runs")["run_id"]
        run = follow_run(client, run_id, console, moving=lambda: runner.deliveries)
        show_run(run, console, "Signal run")
    runner.drain()  # the companion segment follows the profiles the run wrote
    detail = client.call("GET", f"/v1/signals/{signal['signal_id']}")
    companion_id = detail["companions"][audience]
    companion = client.call("GET", f"/v1/segments/{companion_id}")
    count = client.call("GET", f"/v1/segments/{companion_id}/count")["count"]
    console.print(
        f"Job changes found in the last {LOOKBACK_MONTHS} months: {detail['hits']} "
        f"(signal_job_change on each record, {detail['spent_credits']:g} credits)."
    )
    console.print(f"Companion segment '{companion['name']}': {count} people")
    return {"signal": detail, "run": run, "companion_count": count}

"""The `roster` command: run the local stack, import CSV files, run the demo."""

from __future__ import annotations

import json
import tempfile
import threading
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from roster_dev.cli.actions import actions, destinations
from roster_dev.cli.common import DEFAULT_URL, ApiKey, Url, call, client, console, fit_console
from roster_dev.cli.enrich import enrich
from roster_dev.cli.hubspot import hubspot
from roster_dev.cli.salesforce import salesforce
from roster_dev.cli.signals import signals
from roster_dev.cli.warehouse import warehouse

app = typer.Typer(
    help="Roster: one persistent profile per person and company.", no_args_is_help=True, callback=fit_console
)
local = typer.Typer(help="The local stack (moto server + the real handlers).", no_args_is_help=True)
app.add_typer(local, name="local")
segments = typer.Typer(help="Segments: live audiences with nested AND/OR filters.", no_args_is_help=True)
app.add_typer(segments, name="segments")
app.add_typer(enrich, name="enrich")
app.add_typer(salesforce, name="salesforce")
app.add_typer(hubspot, name="hubspot")
app.add_typer(signals, name="signals")
app.add_typer(warehouse, name="warehouse")
app.add_typer(destinations, name="destinations")
app.add_typer(actions, name="actions")
FilterOption = Annotated[
    str | None, typer.Option("--filter", help='Filter JSON, or @file.json: {"match": "all", "conditions": [...]}')
]


@local.command("up")
def local_up(
    port: Annotated[int, typer.Option(help="Port of the local API")] = 8000,
    allow: Annotated[
        list[str] | None,
        typer.Option(help="HOST:PORT of a local service Roster may call, e.g. an emulator started on its own"),
    ] = None,
) -> None:
    """Start the local stack and serve the API until Ctrl-C."""
    from roster_dev.client import RosterClient
    from roster_dev.local import outbound
    from roster_dev.local.runner import Runner
    from roster_dev.local.stack import LocalStack

    for target in allow or []:
        host, _, number = target.rpartition(":")
        if not host or not number.isdigit():
            raise typer.BadParameter(f"{target!r} is not HOST:PORT", param_hint="--allow")
        outbound.allow(host, int(number))
    from roster_dev.emulators.ads import AdPlatforms
    from roster_dev.emulators.apollo import ApolloEmulator
    from roster_dev.emulators.outreach import OutreachEmulator
    from roster_dev.emulators.salesloft import SalesloftEmulator
    from roster_dev.emulators.signals import SignalsEmulator
    from roster_dev.emulators.signals.server import FEED_OF_SIGNAL

    stack = LocalStack.from_project().start()
    runner = Runner(stack)
    runner.start()
    base_url = runner.serve(port)
    api_key = RosterClient(base_url, stack.admin_key).create_workspace("demo", "Demo workspace")["api_key"]
    vendor = SignalsEmulator().start()  # serves every e-mail and domain: `roster signals add ... --provider FILE`
    provider_files = Path(tempfile.mkdtemp(prefix="roster-signals-"))
    for signal in FEED_OF_SIGNAL:
        (provider_files / f"{signal}.json").write_text(json.dumps(vendor.provider(signal), indent=2))
    console.print(f"Roster API:     {base_url}")
    console.print(f"Signals vendor: {vendor.url} (providers: {provider_files}/<signal type>.json)")
    sequencers = [OutreachEmulator().start(), SalesloftEmulator().start(), ApolloEmulator().start()]
    destination_files = Path(tempfile.mkdtemp(prefix="roster-sequencers-"))
    for sequencer in sequencers:
        (destination_files / f"{sequencer.kind}.json").write_text(json.dumps(sequencer.destination(), indent=2))
        label = f"{sequencer.kind.capitalize()}:"
        console.print(f"{label:<15} {sequencer.url} (destination: {destination_files}/{sequencer.kind}.json)")
    ads = AdPlatforms().start()  # Google Ads, Meta, LinkedIn: one audience each
    for kind, destination in ads.destinations().items():
        (destination_files / f"{kind}.json").write_text(json.dumps(destination, indent=2))
        label = {"google_ads": "Google Ads:", "meta": "Meta:", "linkedin": "LinkedIn:"}[kind]
        console.print(f"{label:<15} {ads.urls()[kind]} (destination: {destination_files}/{kind}.json)")
    console.print(f"AWS endpoint:   {stack.endpoint}")
    console.print(f"Admin key:      {stack.admin_key}")
    console.print(f"API key (demo): {api_key}")
    console.print(f"\nexport ROSTER_URL={base_url} ROSTER_API_KEY={api_key}")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        ads.stop()
        for sequencer in sequencers:
            sequencer.stop()
        vendor.stop()
        runner.stop()
        stack.stop()


@app.command("import-csv")
def import_csv(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    kind: Annotated[str, typer.Option(help="people or companies")] = "people",
    source_name: Annotated[str, typer.Option(help="Name of this source, e.g. trade-show-2026")] = "csv",
    url: Annotated[str, typer.Option(envvar="ROSTER_URL", help="API base URL")] = "http://127.0.0.1:8000",
    api_key: Annotated[str, typer.Option(envvar="ROSTER_API_KEY", help="Workspace API key")] = "",
) -> None:
    """Import a CSV file: upload, preview the mapping, confirm, and follow its progress."""
    from roster_dev.client import ApiError
    from roster_dev.demo.run import import_with_progress, show_report

    try:
        report = import_with_progress(client(url, api_key), file, kind, source_name, console)
    except ApiError as failure:
        console.print(f"[red]{failure}[/]")
        raise typer.Exit(1) from failure
    show_report(report, console)
    for row in report["errors"]:
        where = f"line {row['line']}" + (f", field {row['field']}" if row.get("field") else "")
        console.print(f"  {where}: {row['reason']}")


def _filter(text: str | None) -> Any:
    if text is None:
        return None
    raw = Path(text[1:]).read_text() if text.startswith("@") else text
    try:
        return json.loads(raw)
    except json.JSONDecodeError as problem:
        raise typer.BadParameter(f"not JSON: {problem}", param_hint="--filter") from None


@segments.command("list")
def segments_list(
    tab: Annotated[str, typer.Option(help="all, mine, others or drafts")] = "all",
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
) -> None:
    """Segments with their record counts."""
    table = Table("id", "name", "kind", "records", "created by", "state")
    for row in call(url, api_key, "GET", "/v1/segments", tab=tab)["segments"]:
        state = "draft" if row["draft"] else "rebuilding" if row["rebuilding"] else "live"
        if row.get("kept_by"):
            state += f", kept by {row['kept_by']}"
        table.add_row(row["segment_id"], row["name"], row["kind"], str(row["count"]), row["created_by"], state)
    console.print(table)


@segments.command("create")
def segments_create(
    name: Annotated[str, typer.Argument()],
    kind: Annotated[str, typer.Option(help="people or companies")] = "people",
    filter_json: FilterOption = None,
    draft: Annotated[bool, typer.Option(help="Save without computing members")] = False,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
) -> None:
    """Create a segment; its members are computed in the background."""
    body = {"name": name, "kind": kind, "filter": _filter(filter_json) or {}, "draft": draft}
    console.print_json(data=call(url, api_key, "POST", "/v1/segments", body))


@segments.command("edit")
def segments_edit(
    segment_id: Annotated[str, typer.Argument()],
    name: Annotated[str | None, typer.Option()] = None,
    filter_json: FilterOption = None,
    draft: Annotated[bool | None, typer.Option("--draft/--publish")] = None,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
) -> None:
    """Rename a segment, change its filter (members are recomputed) or publish a draft."""
    body = {
        key: value
        for key, value in (("name", name), ("filter", _filter(filter_json)), ("draft", draft))
        if value is not None
    }
    console.print_json(data=call(url, api_key, "PATCH", f"/v1/segments/{segment_id}", body))


@segments.command("get")
def segments_get(segment_id: Annotated[str, typer.Argument()], url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """A segment with its filter and rebuild progress."""
    console.print_json(data=call(url, api_key, "GET", f"/v1/segments/{segment_id}"))


@segments.command("delete")
def segments_delete(segment_id: Annotated[str, typer.Argument()], url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Delete a segment."""
    call(url, api_key, "DELETE", f"/v1/segments/{segment_id}")
    console.print(f"deleted {segment_id}")


@segments.command("count")
def segments_count(segment_id: Annotated[str, typer.Argument()], url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """How many records a segment holds now."""
    found = call(url, api_key, "GET", f"/v1/segments/{segment_id}/count")
    console.print(f"{found['count']} records" + (" (rebuilding)" if found["rebuilding"] else ""))


@segments.command("members")
def segments_members(
    segment_id: Annotated[str, typer.Argument()],
    limit: Annotated[int, typer.Option(min=1, max=200)] = 50,
    cursor: Annotated[str | None, typer.Option()] = None,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
) -> None:
    """A page of a segment's members (pass --cursor to read the next page)."""
    page = call(
        url,
        api_key,
        "GET",
        f"/v1/segments/{segment_id}/members",
        limit=str(limit),
        **({"cursor": cursor} if cursor else {}),
    )
    for profile in page["profiles"]:
        console.print(profile["profile_id"], json.dumps(profile["fields"], ensure_ascii=False)[:150])
    if page["cursor"]:
        console.print(f"next page: --cursor {page['cursor']}")


@segments.command("preview")
def segments_preview(
    kind: Annotated[str, typer.Option(help="people or companies")] = "people",
    filter_json: FilterOption = None,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
) -> None:
    """Count and first records of a filter, without saving it."""
    found = call(url, api_key, "POST", "/v1/segments/preview", {"kind": kind, "filter": _filter(filter_json) or {}})
    console.print(f"{found['count']} of {found['scanned']} records match" + ("" if found["complete"] else " (so far)"))
    for profile in found["sample"]:
        console.print(profile["profile_id"], json.dumps(profile["fields"], ensure_ascii=False)[:150])


@app.command()
def demo() -> None:
    """Run the main job on a fresh local stack and show what it did."""
    from roster_dev.demo.run import run_demo

    run_demo(console)


def main() -> None:
    app()

"""The `roster` command: run the local stack, import CSV files, run the demo."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(help="Roster: one persistent profile per person and company.", no_args_is_help=True)
local = typer.Typer(help="The local stack (moto server + the real handlers).", no_args_is_help=True)
app.add_typer(local, name="local")
console = Console()


@local.command("up")
def local_up(port: Annotated[int, typer.Option(help="Port of the local API")] = 8000) -> None:
    """Start the local stack and serve the API until Ctrl-C."""
    from roster.client import RosterClient
    from roster.local.runner import Runner
    from roster.local.stack import LocalStack

    stack = LocalStack.from_project().start()
    runner = Runner(stack)
    runner.start()
    base_url = runner.serve(port)
    api_key = RosterClient(base_url, stack.admin_key).create_workspace("demo", "Demo workspace")["api_key"]
    console.print(f"Roster API:     {base_url}")
    console.print(f"AWS endpoint:   {stack.endpoint}")
    console.print(f"Admin key:      {stack.admin_key}")
    console.print(f"API key (demo): {api_key}")
    console.print(f"\nexport ROSTER_URL={base_url} ROSTER_API_KEY={api_key}")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
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
    from roster.client import ApiError, RosterClient
    from roster.local.demo import import_with_progress, show_report

    if not api_key:
        raise typer.BadParameter("give --api-key or set ROSTER_API_KEY", param_hint="--api-key")
    try:
        report = import_with_progress(RosterClient(url, api_key), file, kind, source_name, console)
    except ApiError as failure:
        console.print(f"[red]{failure}[/]")
        raise typer.Exit(1) from failure
    show_report(report, console)
    for row in report["errors"]:
        where = f"line {row['line']}" + (f", field {row['field']}" if row.get("field") else "")
        console.print(f"  {where}: {row['reason']}")


@app.command()
def demo() -> None:
    """Run the main job on a fresh local stack and show what it did."""
    from roster.local.demo import run_demo

    run_demo(console)


def main() -> None:
    app()

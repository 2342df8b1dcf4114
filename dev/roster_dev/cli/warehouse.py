"""`roster warehouse ...`: test credentials, browse, test a query, save a source, import now, status and history.

Credentials come from a JSON file (`--credentials creds.json`: `{"dialect": "duckdb", "path": "..."}`, or Postgres,
Snowflake or BigQuery fields, see the README); every command talks to the Roster API.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from roster_dev.cli.common import DEFAULT_URL, ApiKey, Url, call, console

warehouse = typer.Typer(help="Warehouse imports: DuckDB, Postgres, Snowflake, BigQuery.", no_args_is_help=True)

Credentials = Annotated[
    Path | None, typer.Option(help="JSON file of credentials (else --source's saved ones)", exists=True)
]
Source = Annotated[str | None, typer.Option(help="A saved source whose credentials to use")]
COUNTS = ("read", "created", "updated", "merged", "unchanged", "skipped", "removed", "rejected")


def _connect(credentials: Path | None, source: str | None) -> dict[str, Any]:
    if credentials is not None:
        return {"credentials": json.loads(credentials.read_text())}
    if source is None:
        raise typer.BadParameter("give --credentials FILE or --source NAME")
    return {"source": source}


@warehouse.command("test")
def test(credentials: Credentials = None, source: Source = None, url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Connect and run SELECT 1."""
    result = call(url, api_key, "POST", "/v1/warehouse/test", _connect(credentials, source))
    if not result["ok"]:
        console.print(f"[red]connection failed[/]: {result['reason']}")
        raise typer.Exit(1)
    console.print(f"[green]connected[/] ({result['dialect']})")


@warehouse.command("browse")
def browse(
    credentials: Credentials = None,
    source: Source = None,
    schema: Annotated[str | None, typer.Option(help="Only this schema")] = None,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
) -> None:
    """Schemas and their tables."""
    body = {**_connect(credentials, source), **({"schema": schema} if schema else {})}
    for name, tables in call(url, api_key, "POST", "/v1/warehouse/browse", body)["schemas"].items():
        console.print(f"[bold]{name}[/]: {', '.join(tables) or '(none)'}")


@warehouse.command("query")
def query(
    sql: Annotated[str, typer.Argument(help="One SELECT statement")],
    credentials: Credentials = None,
    source: Source = None,
    limit: Annotated[int, typer.Option(min=1, max=100)] = 20,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
) -> None:
    """Test a query: its columns, their types and the first rows."""
    found = call(
        url, api_key, "POST", "/v1/warehouse/query", {**_connect(credentials, source), "query": sql, "limit": limit}
    )
    table = Table(*(f"{column['name']}\n[dim]{column['type']}[/]" for column in found["columns"]))
    for row in found["rows"]:
        table.add_row(*(str(row[column["name"]]) for column in found["columns"]))
    console.print(table)


@warehouse.command("save")
def save(
    name: Annotated[str, typer.Argument(help="The source's name (lower-case letters, digits, - and _)")],
    sql: Annotated[str, typer.Option("--query", help="One SELECT statement")],
    identifier: Annotated[str, typer.Option(help="The column holding the unique identifier")],
    kind: Annotated[str, typer.Option(help="people or companies")] = "people",
    identifier_field: Annotated[str | None, typer.Option(help="email, user_id, company_id or domain")] = None,
    timestamp_field: Annotated[str | None, typer.Option(help="A column that moves on change (incremental)")] = None,
    credentials: Credentials = None,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
) -> None:
    """Save a source (mapping automatic); it imports on its schedule, or now with `roster warehouse import`."""
    body: dict[str, Any] = {"kind": kind, "query": sql, "identifier": identifier}
    if credentials is not None:
        body["credentials"] = json.loads(credentials.read_text())
    if identifier_field:
        body["identifier_field"] = identifier_field
    if timestamp_field:
        body["timestamp_field"] = timestamp_field
    view = call(url, api_key, "PUT", f"/v1/warehouse/sources/{name}", body)
    console.print_json(data={"source": view["source"], "credentials": view["credentials"]})


@warehouse.command("import")
def start(
    name: str,
    full: Annotated[bool, typer.Option(help="Read the whole query, not only changes")] = False,
    confirm_removals: Annotated[bool, typer.Option(help="Remove rows although the result shrank")] = False,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
) -> None:
    """Import now."""
    body = {"mode": "full" if full or confirm_removals else None, "confirm_removals": confirm_removals}
    started = call(url, api_key, "POST", f"/v1/warehouse/sources/{name}/runs", body)
    console.print(f"started run {started['run_id']}")


@warehouse.command("status")
def status(url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Each source: its schedule, state, mark and latest run."""
    table = Table("source", "dialect", "state", "mark", "last run", "read", "error")
    for view in call(url, api_key, "GET", "/v1/warehouse/sources"):
        run = view.get("last_run") or {}
        table.add_row(
            view["source"]["source"],
            view["source"]["dialect"],
            view["status"],
            view.get("mark") or "",
            f"{run.get('mode', '')} {run.get('status', '')}".strip(),
            str((run.get("counts") or {}).get("read", "")),
            view.get("awaiting_confirmation") or view.get("error") or run.get("error") or "",
        )
    console.print(table)


@warehouse.command("history")
def history(name: str, url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """A source's runs, newest first, with rows read, created, updated, removed and rejected."""
    table = Table("run", "mode", "status", "started", *COUNTS)
    for run in call(url, api_key, "GET", f"/v1/warehouse/sources/{name}/runs"):
        table.add_row(
            run["run_id"], run["mode"], run["status"], run["started_at"], *(str(run["counts"][name]) for name in COUNTS)
        )
    console.print(table)


@warehouse.command("delete")
def delete(name: str, url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Delete a source: its schedule, credentials, state and history (profiles keep what it imported)."""
    call(url, api_key, "DELETE", f"/v1/warehouse/sources/{name}")
    console.print(f"deleted {name}")

"""What `roster salesforce` and `roster hubspot` share: the import commands every CRM has (history, enable, sync)
and the status and mapping output, one piece of code for both systems."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.table import Table

from roster_dev.cli.common import DEFAULT_URL, ApiKey, Url, call, console


def import_commands(app: typer.Typer, system: str, object_help: str, toggle: str) -> None:
    """Add a CRM's `history`, `enable` and `sync` commands; `toggle` is what the system calls its import switch."""
    prefix = f"/v1/{system}/objects"
    obj_type = Annotated[str, typer.Argument(help=object_help)]

    def history(
        obj: str,
        limit: Annotated[int, typer.Option(min=1, max=100)] = 20,
        url: Url = DEFAULT_URL,
        api_key: ApiKey = "",
    ) -> None:
        """An object's sync runs, newest first, with their counts and API calls."""
        found = call(url, api_key, "GET", f"{prefix}/{obj}/history", limit=str(limit))
        table = Table(
            "run", "mode", "status", "started", "read", "created", "updated", "merged", "deleted", "API calls"
        )
        for run in found["runs"]:
            counts = run["counts"]
            table.add_row(
                run["run_id"],
                run["mode"],
                run["status"],
                run["started_at"],
                *(str(counts[name]) for name in ("read", "created", "updated", "merged", "deleted")),
                str(run["api_calls"]),
            )
        console.print(table)

    def enable(obj: str, off: bool = False, url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
        found = call(url, api_key, "PUT", f"{prefix}/{obj}", {"enabled": not off})
        console.print(f"{found['object']}: {toggle} {'on' if found['enabled'] else 'off'}")

    enable.__doc__ = f"Turn {toggle} on (or --off) for an object; the scheduler starts with a full sync."
    off_type = Annotated[bool, typer.Option("--off", help=f"Turn {toggle} off instead")]

    def sync(
        obj: str,
        full: Annotated[bool, typer.Option("--full", help="Read every record, not only what changed")] = False,
        url: Url = DEFAULT_URL,
        api_key: ApiKey = "",
    ) -> None:
        """Sync an object now (incremental after the first full sync, or --full)."""
        started = call(url, api_key, "POST", f"{prefix}/{obj}/sync", {"mode": "full" if full else None})
        console.print(f"{started['object']} {started['mode']} sync {started['run_id']} {started['status']}")

    for command, types in ((history, {}), (enable, {"off": off_type}), (sync, {})):
        # Typer reads options from annotations: each command takes this system's object argument
        command.__annotations__.update(obj=obj_type, **types)
        app.command(command.__name__)(command)


def show_status(found: dict[str, Any], toggle: str, mark: str, mark_of: Callable[[Any], str]) -> None:
    """`status`: the connection, then each object's toggle, sync state, mark and latest run."""
    console.print("connected" if found["connected"] else "[yellow]not connected[/]")
    table = Table("object", toggle, "state", mark, "last run", "read", "API calls", "error")
    for row in found["objects"]:
        run = row.get("last_run") or {}
        table.add_row(
            row["object"],
            "on" if row["enabled"] else "off",
            row["status"],
            mark_of(row.get("watermark")),
            f"{run.get('mode', '')} {run.get('status', '')}".strip(),
            str((run.get("counts") or {}).get("read", "")),
            str(run.get("api_calls", "")),
            row.get("error") or "",
        )
    console.print(table)


def show_mapping(table: Table, current: dict[str, Any], preview: Callable[[], Any] | None) -> None:
    """`mapping`: the fields table, whether it is saved, and ten records as it stores them when asked."""
    console.print(table)
    console.print("saved" if current["saved"] else "automatic (not saved yet; the first sync saves it)")
    if preview is not None:
        for record in preview()["records"]:
            console.print(record["id"], json.dumps(record["fields"], ensure_ascii=False, default=str)[:150])

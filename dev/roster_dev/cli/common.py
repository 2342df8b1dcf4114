"""What every `roster` command shares: the console, the API options and the one way to call the API."""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer
from rich.console import Console

console = Console()
PIPED_WIDTH = 250


def fit_console() -> None:
    """Tables fit the terminal; piped into a file or a program they are not cut, so ids stay whole.
    `COLUMNS`, when set, wins. Read at each command, not once at import."""
    columns = os.environ.get("COLUMNS", "")
    console.width = int(columns) if columns.isdigit() else (None if console.is_terminal else PIPED_WIDTH)  # type: ignore[assignment]


DEFAULT_URL = "http://127.0.0.1:8000"
Url = Annotated[str, typer.Option(envvar="ROSTER_URL", help="API base URL")]
ApiKey = Annotated[str, typer.Option(envvar="ROSTER_API_KEY", help="Workspace API key")]


def client(url: str, api_key: str) -> Any:
    from roster_dev.client import RosterClient

    if not api_key:
        raise typer.BadParameter("give --api-key or set ROSTER_API_KEY", param_hint="--api-key")
    return RosterClient(url, api_key)


def call(url: str, api_key: str, method: str, path: str, body: Any = None, **query: str) -> Any:
    from roster_dev.client import ApiError

    try:
        return client(url, api_key).call(method, path, body, **query)
    except ApiError as failure:
        console.print(f"[red]{failure}[/]")
        for error in (failure.body or {}).get("errors", []) if isinstance(failure.body, dict) else []:
            console.print(f"  {error['path']}: {error['message']}")
        raise typer.Exit(1) from failure


def split_pair(text: str, option: str, shape: str) -> tuple[str, str]:
    """`name=value` of a repeatable option, or a clear error naming the option and the shape it wants."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise typer.BadParameter(f"{text!r} is not {shape}", param_hint=option)
    return name.strip(), value.strip()

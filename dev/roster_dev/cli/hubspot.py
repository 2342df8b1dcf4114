"""`roster hubspot ...`: connect a portal, turn imports on, map properties (and their export rules), sync now,
read status and history, and export (`roster hubspot export ...`).

Every command talks to the Roster API (`ROSTER_URL`, `ROSTER_API_KEY`); `api-math` also works offline.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from roster_dev.cli.common import DEFAULT_URL, ApiKey, Url, call, console
from roster_dev.cli.crm import (
    ExportWords,
    MappingWords,
    env_option,
    export_commands,
    import_commands,
    mapping_command,
    show_status,
)

hubspot = typer.Typer(
    help="HubSpot: connection, import toggles, field mapping, status, and export.", no_args_is_help=True
)

OBJECTS = "contacts (People), companies or deals"


@hubspot.command("connect")
def connect(
    token: Annotated[str | None, env_option("HUBSPOT_TOKEN", "A private app's access token", secret=True)] = None,
    client_id: Annotated[str | None, env_option("HUBSPOT_CLIENT_ID", "OAuth: the app's client id")] = None,
    client_secret: Annotated[
        str | None, env_option("HUBSPOT_CLIENT_SECRET", "OAuth: the app's client secret", secret=True)
    ] = None,
    refresh_token: Annotated[
        str | None, env_option("HUBSPOT_REFRESH_TOKEN", "OAuth: the install's refresh token", secret=True)
    ] = None,
    host: Annotated[str | None, env_option("HUBSPOT_HOST", "API base URL (default https://api.hubapi.com)")] = None,
    ca_bundle: Annotated[str | None, env_option("HUBSPOT_CA_BUNDLE", "Local stacks only: the emulator's CA")] = None,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
) -> None:
    """Save the workspace's HubSpot credentials (in Secrets Manager) and test them: a private-app --token, or
    OAuth with --client-id, --client-secret and --refresh-token."""
    if token:
        body: dict[str, Any] = {"method": "private_app", "token": token}
    elif client_id and client_secret and refresh_token:
        body = {
            "method": "oauth",
            "client_id": client_id,
            "client_secret": client_secret,
            "refresh_token": refresh_token,
        }
    else:
        raise typer.BadParameter("give --token, or --client-id, --client-secret and --refresh-token")
    body |= {key: value for key, value in (("host", host), ("ca_bundle", ca_bundle)) if value}
    view = call(url, api_key, "PUT", "/v1/hubspot/connection", body)
    console.print_json(data=view["credentials"])
    _show_check(view["test"])


@hubspot.command("test")
def test(url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Read one record of each object with the saved credentials; says why if it fails."""
    _show_check(call(url, api_key, "POST", "/v1/hubspot/connection/test"))


def _show_check(check: dict[str, Any] | None) -> None:
    if check is None:
        return
    for each in check["objects"]:
        console.print(f"{each['object']}: " + ("[green]ok[/]" if each["ok"] else f"[red]{each['code']}[/]"))
    if not check["ok"]:
        console.print(f"[red]connection failed[/] ({check['code']}): {check['reason']}")
        raise typer.Exit(1)
    console.print("[green]connected[/]")


@hubspot.command("status")
def status(url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Each object's toggle, sync state, mark and latest run."""
    found = call(url, api_key, "GET", "/v1/hubspot/status")
    show_status(found, "import", "mark (epoch ms)", lambda mark: str(mark or ""))


import_commands(hubspot, "hubspot", OBJECTS, toggle="import")


mapping_command(
    hubspot,
    OBJECTS,
    MappingWords(
        system="hubspot",
        column="HubSpot property",
        field="property",
        placeholder="property",
        rule_of="its",
        member_fields="dropdown/text property",
        checked="properties: calculated and read-only ones cannot be written back",
        roster_name=lambda name: name,
    ),
)


@hubspot.command("schedule")
def schedule(
    incremental_minutes: Annotated[int | None, typer.Option(help="Minutes between incremental syncs")] = None,
    full_days: Annotated[int | None, typer.Option(help="Days between full syncs")] = None,
    overlap_minutes: Annotated[int | None, typer.Option(help="Minutes each incremental reads again")] = None,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
) -> None:
    """Show the sync schedule; the options change it."""
    current = call(url, api_key, "GET", "/v1/hubspot/schedule")
    changes = {
        key: value
        for key, value in (
            ("incremental_minutes", incremental_minutes),
            ("full_days", full_days),
            ("overlap_minutes", overlap_minutes),
        )
        if value is not None
    }
    if changes:
        current = call(url, api_key, "PUT", "/v1/hubspot/schedule", {**current, **changes})
    console.print_json(data=current)


@hubspot.command("api-math")
def api_math(
    records: Annotated[int, typer.Argument(min=0, help="Contacts in the portal")],
    tier: Annotated[str, typer.Option(help="Offline: the portal's subscription (online: the workspace's)")] = "starter",
    reserve: Annotated[int, typer.Option(min=0, max=90, help="Offline: % of the day kept for other apps")] = 20,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
) -> None:
    """Estimate the HubSpot API calls a full sync, an incremental sync of N changed and an export of N contacts
    take, against the day's allowance (offline without an API key, for --tier and --reserve)."""
    if api_key:
        found = call(url, api_key, "GET", "/v1/hubspot/api-math", records=str(records))
    else:
        from roster.connectors.hubspot.budget import TIERS
        from roster.connectors.hubspot.importer import api_math as estimate

        if tier not in TIERS:
            raise typer.BadParameter(f"one of {', '.join(TIERS)}", param_hint="--tier")
        found = estimate(records, tier, reserve).model_dump()
    share = found["daily_share"]

    def line(what: str, calls: int) -> str:
        return f"  {what}: about {calls:,} API calls ({100 * calls / share:.1f}% of Roster's daily share)"

    console.print(
        f"{found['records']:,} contacts, tier {found['tier']}: HubSpot allows {found['daily_allowance']:,} calls a "
        f"day, Roster uses at most {share:,}"
        + (f" ({found['used_today']:,} spent today)" if found.get("used_today") is not None else "")
    )
    console.print(line("full sync (list API, 100 a page, and their companies)", found["full_calls"]))
    console.print(
        line(f"incremental sync with {found['records']:,} changed (search, 200 a page)", found["incremental_calls"])
    )
    console.print(line("export (batch writes of 100)", found["export_calls"]))


export_commands(
    hubspot,
    ExportWords(
        system="hubspot",
        label="HubSpot",
        objects_help="contacts or companies",
        record_key="hubspot_id",
        field_key="property",
        batches_key="batches",
        batches_word="batch calls",
        key_option="id_property",
        key_help="The unique property new records are upserted on (contacts: email; companies: roster_id)",
        key_default=None,
    ),
)

"""`roster destinations` and `roster actions`: where records go, and which segment changes send them."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from roster_dev.cli.common import DEFAULT_URL, ApiKey, Url, call, console, split_pair

destinations = typer.Typer(help="Destinations: webhooks, ad audiences, sequencers.", no_args_is_help=True)
actions = typer.Typer(help="Actions: send records entering or leaving a segment.", no_args_is_help=True)

DestinationId = Annotated[str, typer.Argument(help="dst_...")]
ActionId = Annotated[str, typer.Argument(help="act_...")]


def _json(text: str | None, option: str) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as problem:
        raise typer.BadParameter(f"not JSON: {problem}", param_hint=option) from None
    if not isinstance(value, dict):
        raise typer.BadParameter("a JSON object", param_hint=option)
    return value


@destinations.command("add")
def add_destination(
    name: str,
    kind: Annotated[str, typer.Option(help="webhook, google_ads, meta, linkedin, outreach, salesloft, apollo")],
    setting: Annotated[
        list[str] | None, typer.Option("--setting", "-s", help="name=value, e.g. url=https://...")
    ] = None,
    settings_json: Annotated[str | None, typer.Option("--settings", help="settings as a JSON object")] = None,
    secret: Annotated[str | None, typer.Option(envvar="ROSTER_DESTINATION_SECRET", help="made for webhooks")] = None,
    rate: Annotated[float | None, typer.Option(help="requests per second at most")] = None,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
) -> None:
    """Add a destination; a webhook's signing secret is made and shown once when you give none."""
    settings = _json(settings_json, "--settings") | dict(
        split_pair(each, "--setting", "name=value") for each in setting or []
    )
    body = {"name": name, "kind": kind, "settings": settings, "secret": secret, "requests_per_second": rate}
    console.print_json(data=call(url, api_key, "POST", "/v1/destinations", body))


@destinations.command("list")
def list_destinations(url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    table = Table("id", "name", "kind", "status", "pending", "secret")
    for each in call(url, api_key, "GET", "/v1/destinations"):
        destination = each["destination"]
        status = destination["status"] + (
            f" ({destination['disabled_reason']})" if destination["disabled_reason"] else ""
        )
        table.add_row(
            destination["destination_id"],
            destination["name"],
            destination["kind"],
            status,
            str(each["pending"]),
            each["secret"],
        )
    console.print(table)


@destinations.command("test")
def test_destination(destination_id: DestinationId, url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Call it without sending a record (a webhook gets a signed roster.test event)."""
    console.print_json(data=call(url, api_key, "POST", f"/v1/destinations/{destination_id}/test"))


@destinations.command("enable")
def enable(destination_id: DestinationId, url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    """Send again to a disabled destination (e.g. a webhook that answered 410)."""
    console.print_json(data=call(url, api_key, "POST", f"/v1/destinations/{destination_id}/enable"))


@destinations.command("rotate-secret")
def rotate(
    destination_id: DestinationId,
    secret: Annotated[str | None, typer.Option(envvar="ROSTER_DESTINATION_SECRET", help="made when left out")] = None,
    keep_previous: Annotated[bool, typer.Option(help="sign with the old secret too meanwhile")] = True,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
) -> None:
    body = {"secret": secret, "keep_previous": keep_previous}
    console.print_json(data=call(url, api_key, "POST", f"/v1/destinations/{destination_id}/secret", body))


@destinations.command("delete")
def delete_destination(destination_id: DestinationId, url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    call(url, api_key, "DELETE", f"/v1/destinations/{destination_id}")
    console.print(f"deleted {destination_id}")


@actions.command("add")
def add_action(
    name: str,
    segment: Annotated[str, typer.Option(help="segment id")],
    destination: Annotated[str, typer.Option(help="destination id")],
    trigger: Annotated[str, typer.Option(help="enter, exit or both")] = "enter",
    entry: Annotated[str, typer.Option(help="once, cooldown or every")] = "once",
    cooldown_hours: Annotated[float | None, typer.Option(help="with --entry cooldown")] = None,
    field: Annotated[list[str] | None, typer.Option("--field", "-f", help="a payload field to send")] = None,
    identifier: Annotated[list[str] | None, typer.Option("--identifier", "-i", help="default: email")] = None,
    options: Annotated[str | None, typer.Option(help="the kind's action options as JSON")] = None,
    gate: Annotated[str | None, typer.Option(help="quality gate: a filter as JSON the record must match")] = None,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
) -> None:
    """Add an action; members already in the segment are sent only by `roster actions backfill`."""
    body: dict[str, Any] = {
        "name": name,
        "segment_id": segment,
        "destination_id": destination,
        "trigger": trigger,
        "entry": entry,
        "cooldown_hours": cooldown_hours,
        "fields": field or [],
        "options": _json(options, "--options"),
    }
    if identifier:
        body["identifiers"] = identifier
    if gate:
        body["quality_gate"] = _json(gate, "--gate")
    console.print_json(data=call(url, api_key, "POST", "/v1/actions", body))


@actions.command("list")
def list_actions(url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    table = Table("id", "name", "segment", "trigger", "entry", "destination")
    for each in call(url, api_key, "GET", "/v1/actions"):
        action = each["action"]
        table.add_row(
            action["action_id"],
            action["name"],
            action["segment_id"],
            action["trigger"],
            action["entry"],
            action["destination_id"],
        )
    console.print(table)


@actions.command("backfill")
def backfill(
    action_id: ActionId,
    start: Annotated[bool, typer.Option("--start", help="send them; without it, only count")] = False,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
) -> None:
    """Count the segment's current members; with --start, send them."""
    answer = call(url, api_key, "POST", f"/v1/actions/{action_id}/backfill", {"dry_run": not start})
    verb = "sending" if answer["started"] else "would send (add --start)"
    console.print(f"{verb} {answer['members']} record(s)")


@actions.command("deliveries")
def list_deliveries(
    action_id: ActionId,
    status: Annotated[str | None, typer.Option(help="pending, delivered, failed, dead, skipped, ...")] = None,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
) -> None:
    query = {"status": status} if status else {}
    table = Table("delivery", "record", "transition", "status", "attempts", "last answer")
    for each in call(url, api_key, "GET", f"/v1/actions/{action_id}/deliveries", **query)["deliveries"]:
        last = each["log"][-1]["answer"] if each["log"] else ""
        table.add_row(
            each["delivery_id"], each["profile_id"], each["transition"], each["status"], str(each["attempts"]), last
        )
    console.print(table)


@actions.command("replay")
def replay(
    action_id: ActionId,
    delivery: Annotated[str | None, typer.Option(help="one delivery; without it, every dead one")] = None,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
) -> None:
    """Send a delivery again, or every dead one (retries ran out)."""
    if delivery:
        console.print_json(data=call(url, api_key, "POST", f"/v1/actions/{action_id}/deliveries/{delivery}/replay"))
    else:
        answer = call(url, api_key, "POST", f"/v1/actions/{action_id}/deliveries/replay", {"status": "dead"})
        console.print(f"replaying {answer['replayed']} delivery(ies)")


@actions.command("edit")
def edit_action(
    action_id: ActionId,
    name: Annotated[str | None, typer.Option(help="a new name")] = None,
    off: Annotated[bool, typer.Option("--off", help="turn it off: deliveries are held")] = False,
    on: Annotated[bool, typer.Option("--on", help="turn it on: held deliveries are sent")] = False,
    cooldown_hours: Annotated[float | None, typer.Option(help="with entry cooldown")] = None,
    field: Annotated[list[str] | None, typer.Option("--field", "-f", help="the payload fields (all of them)")] = None,
    gate: Annotated[str | None, typer.Option(help="a new quality gate (filter JSON)")] = None,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = "",
) -> None:
    """Change an action; segment, destination, trigger and options make a new one."""
    if on and off:
        raise typer.BadParameter("either --on or --off", param_hint="--on/--off")
    body: dict[str, Any] = {"name": name, "cooldown_hours": cooldown_hours, "fields": field}
    body = {key: value for key, value in body.items() if value is not None}
    if on or off:
        body["enabled"] = on
    if gate:
        body["quality_gate"] = _json(gate, "--gate")
    action = call(url, api_key, "PATCH", f"/v1/actions/{action_id}", body)["action"]
    console.print(f"{action['action_id']} {action['name']}: {'on' if action['enabled'] else 'off (deliveries held)'}")


@actions.command("delete")
def delete_action(action_id: ActionId, url: Url = DEFAULT_URL, api_key: ApiKey = "") -> None:
    call(url, api_key, "DELETE", f"/v1/actions/{action_id}")
    console.print(f"deleted {action_id}")

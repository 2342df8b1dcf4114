"""The actions part of `make demo`: a person entering and leaving a segment reaches a webhook receiver that verifies
every signature, and a Meta Custom Audience that gains and then loses them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Console

from roster.actions.destinations.audiences import sha256_hex
from roster_dev.client import RosterClient
from roster_dev.emulators.meta import MetaEmulator
from roster_dev.emulators.webhooks import WebhookReceiver

if TYPE_CHECKING:
    from roster_dev.local.runner import Runner

TITLE = "Chief Revenue Officer"


def retitle(client: RosterClient, email: str, title: str) -> None:
    record = {"source": "crm", "fields": {"email": email, "job_title": title}}
    client.call("POST", "/v1/people/upsert", {"records": [record]})


def run_actions_demo(client: RosterClient, runner: Runner, console: Console) -> dict[str, Any]:
    console.print("\n[bold]Actions[/]")
    tree = {"conditions": [{"field": "job_title", "op": "eq", "value": TITLE}]}
    segment = client.call("POST", "/v1/segments", {"name": "New CROs", "kind": "people", "filter": tree})["segment_id"]
    runner.wait_for(lambda: not client.call("GET", f"/v1/segments/{segment}")["rebuilding"], "the CRO segment")
    sample = {"kind": "people", "sample_size": 1, "filter": {"conditions": [{"field": "email", "op": "is_not_empty"}]}}
    email = client.call("POST", "/v1/segments/preview", sample)["sample"][0]["fields"]["email"]
    with WebhookReceiver() as receiver, MetaEmulator() as meta:
        hook = {"name": "RevOps webhook", "kind": "webhook", "settings": {"url": receiver.url}}
        made = client.call("POST", "/v1/destinations", hook | {"ca_bundle": receiver.ca_path})
        receiver.secrets.append(made["secret"])  # shown once: the receiver verifies with it
        ads = {"name": "Meta audience", "kind": "meta", "settings": {"api_url": meta.url}, "secret": meta.token}
        ad = client.call("POST", "/v1/destinations", ads | {"ca_bundle": meta.ca_path})
        audience = meta.create_audience()
        common = {"segment_id": segment, "trigger": "both", "fields": ["job_title"]}
        webhook_id = made["destination"]["destination_id"]
        client.call("POST", "/v1/actions", common | {"name": "Tell RevOps", "destination_id": webhook_id})
        client.call(
            "POST",
            "/v1/actions",
            common
            | {
                "name": "Advertise to CROs",
                "destination_id": ad["destination"]["destination_id"],
                "entry": "every",
                "options": {"audience_id": audience},
            },
        )
        hashed = sha256_hex(email.strip().lower())
        retitle(client, email, TITLE)
        runner.wait_for(lambda: len(receiver.received) == 1 and meta.has(audience, hashed), "the CRO's entry sent")
        gained = meta.size(audience)
        retitle(client, email, "Advisor")
        runner.wait_for(lambda: len(receiver.received) == 2 and not meta.has(audience, hashed), "the exit sent")
        lost = meta.size(audience)
        kinds = [each.body["type"] for each in receiver.received]
    console.print(f"{email} becomes {TITLE}, then Advisor.")
    refused = len(receiver.refused)
    console.print(f"Webhook receiver: {len(kinds)} signed deliveries verified ({', '.join(kinds)}), {refused} refused")
    console.print(f"Meta audience: 0 → {gained} → {lost} members")
    return {"webhook": kinds, "audience": [0, gained, lost]}

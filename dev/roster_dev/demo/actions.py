"""The actions part of `make demo`: a person entering and leaving a segment reaches a webhook receiver that verifies
every signature, and a Meta Custom Audience that gains them, then loses them when they opt out of ads (the
action's quality gate) while they stay in the segment."""

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
NO_ADS = "no-ads"
ADS_ALLOWED = {"conditions": [{"field": "tags", "op": "has_none", "value": [NO_ADS]}]}


def change(client: RosterClient, email: str, **fields: Any) -> None:
    record = {"source": "crm", "fields": {"email": email, **fields}}
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
                "quality_gate": ADS_ALLOWED,
            },
        )
        hashed = sha256_hex(email.strip().lower())
        change(client, email, job_title=TITLE)
        runner.wait_for(lambda: len(receiver.received) == 1 and meta.has(audience, hashed), "the CRO's entry sent")
        gained = meta.size(audience)
        change(client, email, tags=[NO_ADS])
        runner.wait_for(lambda: not meta.has(audience, hashed), "the opt-out sent")
        opted_out = meta.size(audience)
        change(client, email, job_title="Advisor")
        runner.wait_for(lambda: len(receiver.received) == 2, "the exit sent")
        kinds = [each.body["type"] for each in receiver.received]
    console.print(f"{email} becomes {TITLE}, opts out of ads (the ad action's quality gate), then becomes Advisor.")
    refused = len(receiver.refused)
    console.print(f"Webhook receiver: {len(kinds)} signed deliveries verified ({', '.join(kinds)}), {refused} refused")
    console.print(f"Meta audience: 0 → {gained} → {opted_out} members (opted out, still a {TITLE})")
    return {"webhook": kinds, "audience": [0, gained, opted_out]}

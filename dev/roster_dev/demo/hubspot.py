"""The HubSpot part of `make demo`: a seeded emulated portal, imported and written back through the API and the
real handlers.

Connect with a private-app token, a full sync of contacts, companies and deals, a few edits and a merge in
HubSpot, an incremental sync that picks up exactly those (the merge folds two profiles into one), then an export:
newer job titles Roster learned are previewed (old → new) and written back with batch updates; a second export
right after sends nothing.
"""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.table import Table

from roster_dev.client import RosterClient
from roster_dev.demo.salesforce import _plural, _show, _sync
from roster_dev.emulators.hubspot import HubSpotEmulator, generate_portal
from roster_dev.local.runner import Runner

OBJECTS = ("contacts", "companies", "deals")
CONTACTS, COMPANIES = 100, 20  # and 1.5 deals a company: a full sync of a few seconds locally
SEED = 2026
EDITED = 3
NEW_TITLES = ("Chief Data Officer", "VP Lifecycle Marketing", "Head of RevOps")


def run_hubspot_demo(client: RosterClient, runner: Runner, console: Console) -> dict[str, Any]:
    """Connect to a seeded emulated portal, sync it fully, edit and merge there, sync incrementally, export."""
    console.print("\n[bold]HubSpot[/]")
    portal = generate_portal(SEED, contacts=CONTACTS, companies=COMPANIES)
    with HubSpotEmulator(portal) as hs:
        sizes = ", ".join(f"{len(portal.live(obj)):,} {obj}" for obj in OBJECTS)
        console.print(f"Emulated portal at {hs.url}: {sizes}")
        body = {"method": "private_app", "token": hs.token, "host": hs.url, "ca_bundle": hs.ca_path}
        connected = client.call("PUT", "/v1/hubspot/connection", body)
        if not connected["test"]["ok"]:
            raise RuntimeError(f"cannot connect to the emulator: {connected['test']['reason']}")
        masked = connected["credentials"]["token"]
        console.print(f"Connected with a private-app token (kept in Secrets Manager; the API shows it as {masked})")
        for obj in OBJECTS:
            client.call("PUT", f"/v1/hubspot/objects/{obj}", {"enabled": True})

        hs.reset_calls()
        started = time.monotonic()
        full = _sync(client, runner, console, "full", "hubspot", OBJECTS)
        _show(console, "HubSpot full sync", full, time.monotonic() - started, hs.calls, "HubSpot")

        people = [record for record in portal.live("contacts") if record.properties.get("email")]
        edited = [record.id for record in people[:EDITED]]
        for record_id in edited:
            portal.update("contacts", record_id, {"jobtitle": "Director of Partnerships"})
        first, second = people[EDITED], people[EDITED + 1]
        survivor = portal.merge("contacts", first.id, second.id)
        console.print(
            f"Edited in HubSpot: {_plural(len(edited), 'contact')}; merged contacts {first.id} and {second.id} "
            f"into {survivor.id}."
        )
        hs.reset_calls()
        started = time.monotonic()
        incremental = _sync(client, runner, console, "incremental", "hubspot", OBJECTS)
        _show(console, "HubSpot incremental sync", incremental, time.monotonic() - started, hs.calls, "HubSpot")
        counts = incremental["contacts"]["counts"]
        picked = counts["read"] - counts["skipped"]
        console.print(
            f"The incremental sync read {_plural(picked, 'contact')} (the {len(edited)} edited and the merge's "
            f"survivor) and {incremental['companies']['counts']['read']} companies."
        )
        owners = {
            client.call("GET", "/v1/people/lookup", id=f"hubspot:contacts:{record_id}")["profile_id"]
            for record_id in (first.id, second.id, survivor.id)
        }
        console.print(
            f"Merge followed: contacts {first.id}, {second.id} and {survivor.id} now lead to {len(owners)} "
            f"Roster profile{'s' if len(owners) != 1 else ''}."
        )
        exported = _export_demo(client, runner, console, hs, [record.id for record in people[EDITED + 2 :]])
    return {
        "full": full,
        "incremental": incremental,
        "picked_up": picked,
        "merged_profiles": len(owners),
        "export": exported,
    }


def _export_demo(
    client: RosterClient, runner: Runner, console: Console, hs: HubSpotEmulator, candidates: list[int]
) -> dict[str, Any]:
    """Newer job titles (from the API, as an enrichment would give them) written back under an *always* rule."""
    mapping = client.call("GET", "/v1/hubspot/objects/contacts/mapping")["fields"]
    fields = {name: {"field": each["field"], "export": each["export"]} for name, each in mapping.items()}
    fields["jobtitle"]["export"] = "always"
    fields["phone"]["export"] = "fill_blank"
    client.call("PUT", "/v1/hubspot/objects/contacts/mapping", {"fields": fields})
    client.call("PUT", "/v1/hubspot/export/contacts", {"enabled": True})
    console.print("Contact export rules: jobtitle always, phone fill blanks only, every other property never.")
    targets = candidates[: len(NEW_TITLES)]
    records = [
        {
            "source": "api",
            "fields": {"email": hs.portal.get("contacts", record_id).properties["email"], "job_title": title},
        }
        for record_id, title in zip(targets, NEW_TITLES, strict=True)
    ]
    client.call("POST", "/v1/people/upsert", {"records": records})

    hs.reset_calls()
    preview = client.call("POST", "/v1/hubspot/export/contacts/preview", limit="5")
    table = Table("record", "property", "old", "new", "rule", title="HubSpot export preview (dry run)")
    for write in preview["writes"]:
        record = write["hubspot_id"] or "new contact"
        for change in write["changes"]:
            table.add_row(
                record, change["property"], str(change["old"] or ""), str(change["new"] or ""), change["rule"]
            )
            record = ""
    console.print(table)
    console.print(f"The preview made {hs.calls} HubSpot calls and wrote nothing.")

    first = _export(client, runner)
    counts = first["counts"]
    written = sum(
        1
        for record_id, title in zip(targets, NEW_TITLES, strict=True)
        if hs.portal.get("contacts", record_id).properties.get("jobtitle") == title
    )
    console.print(
        f"HubSpot export: {counts['updated']} updated, {counts['unchanged']} unchanged, {counts['rejected']} refused "
        f"in {first['batches']} batch call(s), {first['api_calls']} HubSpot API calls in all. "
        f"In HubSpot now: {written} contacts carry their new job title."
    )
    second = _export(client, runner)
    counts = second["counts"]
    console.print(
        f"A second HubSpot export right after: {counts['updated']} updated, {counts['created']} created, "
        f"{second['batches']} batch calls."
    )
    return {"first": first, "second": second, "written": written, "previewed": len(preview["writes"])}


def _export(client: RosterClient, runner: Runner) -> dict[str, Any]:
    run_id = client.call("POST", "/v1/hubspot/export/contacts/run", {})["run_id"]
    found: dict[str, Any] = {}

    def done() -> bool:
        runs = client.call("GET", "/v1/hubspot/export/contacts/history", limit="5")["runs"]
        found.update(next(run for run in runs if run["run_id"] == run_id))
        return bool(found["status"] != "running")

    runner.wait_for(done, "the HubSpot export")
    if found["status"] != "succeeded":
        raise RuntimeError(f"the HubSpot export ended {found['status']}: {found.get('error')}")
    return found

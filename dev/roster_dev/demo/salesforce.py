"""The Salesforce part of `make demo`: the emulator's seeded org, imported through the API and the real handlers.

A full sync of Accounts, Contacts, Leads and Opportunities (converted Leads merge into their Contacts), then a few
edits in the emulator and an incremental sync that picks up exactly those records, with the API calls each used;
then the export back to the org (`demo_export`).
"""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.table import Table

from roster_dev.client import RosterClient
from roster_dev.demo.export import add_export_fields, run_export_demo
from roster_dev.emulators.salesforce import SalesforceEmulator, generate_org, self_signed_certificate
from roster_dev.local.runner import Runner

OBJECTS = ("Account", "Contact", "Lead", "Opportunity")
ACCOUNTS, CONTACTS, LEADS = 300, 1_500, 500  # about 3,000 records: a full sync well under a minute locally
SEED = 2026


def run_salesforce_demo(client: RosterClient, runner: Runner, console: Console) -> dict[str, Any]:
    """Connect the client's workspace to a seeded emulator org, sync it fully, edit, sync incrementally, export."""
    console.print("\n[bold]Salesforce[/]")
    org = generate_org(SEED, accounts=ACCOUNTS, contacts=CONTACTS, leads=LEADS, roster_fields=True)
    with SalesforceEmulator(org) as emulator:
        add_export_fields(emulator)
        sizes = ", ".join(_plural(org.count(obj), obj) for obj in OBJECTS)
        console.print(f"Emulated org at {emulator.instance_url}: {sizes}")
        # The recommended flow: a connected app with a certificate (JWT bearer); its admin pre-authorizes the user.
        private_key, certificate = self_signed_certificate()
        emulator.oauth.upload_certificate(certificate)
        emulator.oauth.pre_authorize(emulator.credentials.username)
        connected = client.call(
            "PUT",
            "/v1/salesforce/connection",
            {
                "method": "jwt",
                "login_url": emulator.instance_url,
                "client_id": emulator.credentials.client_id,
                "username": emulator.credentials.username,
                "private_key": private_key.decode(),
                "ca_bundle": emulator.ca_path,  # the emulator's own CA; accepted by local stacks only
            },
        )
        check = connected["test"]
        if not check["ok"]:
            raise RuntimeError(f"cannot connect to the emulator: {check['reason']}")
        masked = connected["credentials"]["private_key"]
        console.print(
            "Connected with the JWT bearer flow (the certificate's private key is kept in Secrets Manager; "
            f"the API shows it as {masked})"
        )
        for obj in OBJECTS:
            client.call("PUT", f"/v1/salesforce/objects/{obj}", {"enabled": True})

        emulator.reset_calls()
        started = time.monotonic()
        full = _sync(client, runner, console, "full")
        elapsed = time.monotonic() - started
        _show(console, "Full sync", full, elapsed, emulator.calls)
        converted = [lead for lead in org.records("Lead") if lead["IsConverted"]]
        joined = sum(1 for lead in converted if _shares_profile(client, lead["Id"], lead["ConvertedContactId"]))
        console.print(
            f"{joined} of {len(converted)} converted Leads share one person profile with their Contact "
            "(lead → contact merge, both records kept)."
        )

        edited = _edit(emulator)
        console.print("Edited in Salesforce: " + ", ".join(_plural(len(ids), obj) for obj, ids in edited.items()))
        emulator.reset_calls()
        started = time.monotonic()
        incremental = _sync(client, runner, console, "incremental")
        _show(console, "Incremental sync", incremental, time.monotonic() - started, emulator.calls)
        picked = {obj: run["counts"]["read"] - run["counts"]["skipped"] for obj, run in incremental.items()}
        exact = all(picked[obj] == len(edited[obj]) for obj in OBJECTS)
        console.print(
            "The incremental sync picked up "
            + ", ".join(_plural(picked[obj], obj) for obj in OBJECTS)
            + (": exactly the edited records." if exact else f" (edited: {edited}).")
        )
        exported = run_export_demo(client, runner, console, emulator)
    return {
        "export": exported,
        "full": full,
        "incremental": incremental,
        "edited": {obj: len(ids) for obj, ids in edited.items()},
        "picked_up": picked,
        "exact": exact,
        "converted_leads": len(converted),
        "converted_leads_merged": joined,
    }


def _plural(count: int, obj: str) -> str:
    return f"{count:,} {obj[:-1] + 'ies' if obj.endswith('y') else obj + 's'}"


def _shares_profile(client: RosterClient, lead_id: str, contact_id: str) -> bool:
    profile = client.call("GET", "/v1/people/lookup", id=f"salesforce:Lead:{lead_id}")
    return any(source["object"] == "Contact" and source["id"] == contact_id for source in profile["sources"])


def _sync(
    client: RosterClient,
    runner: Runner,
    console: Console,
    mode: str,
    system: str = "salesforce",
    objects: tuple[str, ...] = OBJECTS,
) -> dict[str, Any]:
    """Start a sync of every object through the API, let the worker run them, return each object's run."""
    run_ids = {
        obj: client.call("POST", f"/v1/{system}/objects/{obj}/sync", {"mode": mode})["run_id"] for obj in objects
    }
    runs: dict[str, Any] = {}

    def done() -> bool:
        runs.update({obj: _run(client, obj, run_id, system) for obj, run_id in run_ids.items()})
        return all(run["status"] != "running" for run in runs.values())

    with console.status(f"{mode} sync: the worker reads pages and resolves them into profiles…"):
        runner.wait_for(done, f"the {mode} sync")
    for obj, run in runs.items():
        if run["status"] != "succeeded":
            raise RuntimeError(f"the {obj} sync ended {run['status']}: {run.get('error')}")
    return runs


def _run(client: RosterClient, obj: str, run_id: str, system: str = "salesforce") -> dict[str, Any]:
    history = client.call("GET", f"/v1/{system}/objects/{obj}/history", limit="5")["runs"]
    run: dict[str, Any] = next(run for run in history if run["run_id"] == run_id)
    return run


def _show(
    console: Console, title: str, runs: dict[str, Any], seconds: float, served: int, label: str = "Salesforce"
) -> None:
    table = Table("object", "read", "created", "updated", "merged", "skipped", "API calls", title=title)
    for obj, run in runs.items():
        counts = run["counts"]
        table.add_row(
            obj,
            *(str(counts[name]) for name in ("read", "created", "updated", "merged", "skipped")),
            str(run["api_calls"]),
        )
    console.print(table)
    used = sum(run["api_calls"] for run in runs.values())
    console.print(f"{used} {label} API calls in {seconds:.1f} s (the emulator served {served}).")


def _edit(emulator: SalesforceEmulator) -> dict[str, list[str]]:
    """Change a few records the way users do; returns the ids edited per object."""
    org = emulator.org

    def first(obj: str, count: int, keep: Any = None) -> list[str]:
        ids = sorted(record["Id"] for record in org.records(obj) if keep is None or keep(record))
        return ids[:count]

    edited = {
        "Account": first("Account", 2),
        "Contact": first("Contact", 5),
        "Lead": first("Lead", 2, lambda lead: not lead["IsConverted"]),
        "Opportunity": first("Opportunity", 1),
    }
    for number, record_id in enumerate(edited["Account"]):
        org.update("Account", record_id, {"NumberOfEmployees": 4_200 + number})
    for record_id in edited["Contact"]:
        org.update("Contact", record_id, {"Title": "Chief Revenue Officer"})
    for record_id in edited["Lead"]:
        org.update("Lead", record_id, {"Title": "Head of Growth"})
    for record_id in edited["Opportunity"]:
        org.update("Opportunity", record_id, {"Amount": 123_456})
    return edited

"""The export part of `make demo`: enriched fields and segment membership written back to the emulated org.

The Salesforce contacts from trade shows form a segment and are enriched (seniority and department from their
titles); export fills Seniority__c and blank Departments, checks a box on the segment's members, and creates the
'Executives in North America' Salesforce does not know yet as Contacts keyed by their Roster id. A preview shows
the plan first; a second export right after sends nothing.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from roster_dev.client import RosterClient
from roster_dev.demo.enrichment import AUDIENCE, _segment_id, follow_run
from roster_dev.emulators.salesforce import SalesforceEmulator
from roster_dev.local.runner import Runner

CHECKBOX = "Roster_Trade_Show__c"
SENIORITY = "Seniority__c"
TRADE_SHOW = "Trade-show contacts in Salesforce"


def add_export_fields(emulator: SalesforceEmulator) -> None:
    """The custom fields a Salesforce admin adds for Roster to write (Roster_Id__c comes with the generated org)."""
    emulator.org.add_custom_field("Contact", SENIORITY, "string", label="Seniority")
    emulator.org.add_custom_field("Contact", CHECKBOX, "boolean", label="Roster: trade-show contact")


def run_export_demo(
    client: RosterClient, runner: Runner, console: Console, emulator: SalesforceEmulator
) -> dict[str, Any]:
    console.print("\n[bold]Export to Salesforce[/]")
    executives = _segment_id(client, AUDIENCE)
    trade_show = _trade_show_contacts(client, runner, console)
    mapping = client.call("GET", "/v1/salesforce/objects/Contact/mapping")["fields"]
    fields = {name: {"field": each["field"], "export": each["export"]} for name, each in mapping.items()}
    for name in ("LastName", "FirstName", "Email", "Department"):
        fields[name]["export"] = "fill_blank"
    fields[SENIORITY] = {"field": "seniority", "export": "fill_blank"}
    fields[CHECKBOX] = {"field": "roster_trade_show", "segment": trade_show}
    client.call("PUT", "/v1/salesforce/objects/Contact/mapping", {"fields": fields})
    client.call(
        "PUT", "/v1/salesforce/export/Contact", {"enabled": True, "create_new": True, "create_segment": executives}
    )
    console.print(
        f"Contact export rules: Seniority__c, Department, names and e-mail fill blanks only, Title never; "
        f"'{TRADE_SHOW}' sets {CHECKBOX}; '{AUDIENCE}' Salesforce lacks are created (upsert on Roster_Id__c)."
    )

    runner.wait_for(runner.idle, "the live segments catching up")  # with the imports and the enrichment
    preview = client.call("POST", "/v1/salesforce/export/Contact/preview", limit="6")
    table = Table("record", "field", "old", "new", "rule", title="Preview (dry run)")
    for write in preview["writes"]:
        record = write["salesforce_id"] or "new Contact"
        for change in write["changes"][:3]:
            rule = change["rule"] if not change.get("segment") else "segment"
            table.add_row(record, change["salesforce_field"], _shown(change["old"]), _shown(change["new"]), rule)
            record = ""
    console.print(table)

    before = {row["Id"]: dict(row) for row in emulator.org.records("Contact")}
    emulator.reset_calls()
    first = _export(client, runner)
    _show(console, "Export", first)
    after = {row["Id"]: row for row in emulator.org.records("Contact")}
    changed = [row_id for row_id in before if _differs(before[row_id], after[row_id])]
    created = [row for row_id, row in after.items() if row_id not in before]
    console.print(
        f"In Salesforce now: {len(changed)} Contacts changed, {len(created)} created with their Roster id; "
        f"{sum(1 for row in after.values() if row[CHECKBOX])} have {CHECKBOX} checked."
    )
    for row_id in changed[:3]:
        diff = {name: (before[row_id][name], after[row_id][name]) for name in (SENIORITY, "Department", CHECKBOX)}
        shown = ", ".join(f"{name} {old!r} → {new!r}" for name, (old, new) in diff.items() if old != new)
        console.print(f"  {row_id}: {shown}")

    runner.wait_for(runner.idle, "the live segments catching up")  # with what the export linked back
    second = _export(client, runner)
    counts = second["counts"]
    verdict = "nothing changed, so nothing was sent" if not second["jobs"] else "what changed meanwhile was sent"
    console.print(
        f"A second export right after: {counts['updated']} updated, {counts['created']} created, "
        f"{second['jobs']} ingest jobs ({verdict})."
    )
    return {"first": first, "second": second, "changed": len(changed), "created": len(created)}


def _trade_show_contacts(client: RosterClient, runner: Runner, console: Console) -> str:
    """A segment of the Salesforce contacts from trade shows, enriched with seniority and department."""
    tree = {"conditions": [{"field": "lead_source", "op": "eq", "value": "Trade Show"}]}
    segment = client.call("POST", "/v1/segments", {"name": TRADE_SHOW, "kind": "people", "filter": tree})["segment_id"]
    runner.wait_for(lambda: not client.call("GET", f"/v1/segments/{segment}")["rebuilding"], f"building '{TRADE_SHOW}'")
    providers = [{"type": "built_in", "name": "job_title_classification", "credits_per_record": 0.5}]
    definition = {
        "name": "Seniority from titles",
        "providers": providers,
        "audiences": [segment],
        "budget_credits": 5000,
    }
    enrichment = client.call("POST", "/v1/enrichments", definition)["enrichment_id"]
    count = client.call("GET", f"/v1/segments/{segment}/count")["count"]
    console.print(f"'{TRADE_SHOW}': {count} people; enriching their seniority and department from their titles.")
    run_id = client.call("POST", f"/v1/enrichments/{enrichment}/runs")["run_id"]
    follow_run(client, run_id, console, moving=lambda: runner.deliveries)
    return str(segment)


def _export(client: RosterClient, runner: Runner) -> dict[str, Any]:
    run_id = client.call("POST", "/v1/salesforce/export/Contact/run", {})["run_id"]
    found: dict[str, Any] = {}

    def done() -> bool:
        runs = client.call("GET", "/v1/salesforce/export/Contact/history", limit="5")["runs"]
        found.update(next(run for run in runs if run["run_id"] == run_id))
        return bool(found["status"] != "running")

    runner.wait_for(done, "the export")
    if found["status"] != "succeeded":
        raise RuntimeError(f"the export ended {found['status']}: {found.get('error')}")
    return found


def _show(console: Console, title: str, run: dict[str, Any]) -> None:
    counts = run["counts"]
    table = Table("considered", "updated", "created", "unchanged", "rejected", "ingest jobs", "API calls", title=title)
    table.add_row(
        *(str(counts[name]) for name in ("considered", "updated", "created", "unchanged", "rejected")),
        str(run["jobs"]),
        str(run["api_calls"]),
    )
    console.print(table)
    for rejection in run["rejections"][:3]:
        console.print(f"  refused {rejection['fields']}: {rejection['code']}: {rejection['message']}")


def _shown(value: Any) -> str:
    return "" if value is None else str(value)


def _differs(before: dict[str, Any], after: dict[str, Any]) -> bool:
    return any(before.get(name) != after.get(name) for name in (SENIORITY, "Department", CHECKBOX))

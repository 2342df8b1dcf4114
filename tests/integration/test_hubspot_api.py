"""The HubSpot import through the API and the real handlers on the local stack, against the emulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

from roster.connectors.hubspot.connection import secret_name
from roster.services import services
from roster_dev.cli import app as cli
from roster_dev.emulators.hubspot import HubSpotEmulator, generate_portal
from roster_dev.local.runner import Runner
from roster_dev.local.stack import LocalStack
from tests.conftest import Api, fill

CONTACTS, COMPANIES = 90, 15


@pytest.fixture(scope="module")
def hs() -> Iterator[HubSpotEmulator]:
    with HubSpotEmulator(generate_portal(5, contacts=CONTACTS, companies=COMPANIES)) as running:
        yield running


def token_body(hs: HubSpotEmulator, token: str | None = None) -> dict[str, Any]:
    return {"method": "private_app", "token": token or hs.token, "host": hs.url, "ca_bundle": hs.ca_path}


@pytest.fixture
def connected(api: Api, hs: HubSpotEmulator) -> Iterator[Api]:
    """A workspace connected to the emulator; afterwards its syncs are off and its credentials gone."""
    status, view = api.call("PUT", "/v1/hubspot/connection", token_body(hs))
    assert status == 200 and view["test"]["ok"], view
    yield api
    for obj in ("contacts", "companies", "deals"):
        api.call("PUT", f"/v1/hubspot/objects/{obj}", {"enabled": False})
    assert api.call("DELETE", "/v1/hubspot/connection")[0] == 204


def last_run(api: Api, obj: str) -> dict[str, Any]:
    status, found = api.call("GET", f"/v1/hubspot/objects/{obj}")
    assert status == 200, found
    run: dict[str, Any] = found["last_run"]
    return run


def test_connect_masks_the_token_and_the_test_says_why(api: Api, hs: HubSpotEmulator, stack: LocalStack) -> None:
    status, view = api.call("GET", "/v1/hubspot/connection")
    assert status == 200 and view == {"connected": False, "credentials": None, "ca_bundle": None, "test": None}
    assert api.call("POST", "/v1/hubspot/connection/test")[0] == 404
    status, view = api.call("PUT", "/v1/hubspot/connection", token_body(hs))
    assert status == 200, view
    assert view["credentials"]["token"] == "**********" and view["test"]["ok"]
    assert hs.token not in json.dumps(view)
    stored = stack.client("secretsmanager").get_secret_value(SecretId=secret_name(api.workspace))["SecretString"]
    assert json.loads(stored)["token"] == hs.token
    status, view = api.call("PUT", "/v1/hubspot/connection", token_body(hs, "pat-na1-revoked"))
    assert status == 200 and not view["test"]["ok"] and view["test"]["code"] == "bad_token"
    assert "pat-na1-revoked" not in json.dumps(view)
    status, body = api.call("PUT", "/v1/hubspot/connection", {**token_body(hs), "host": "https://169.254.169.254"})
    assert status == 422 and "host" in json.dumps(body)
    assert api.call("DELETE", "/v1/hubspot/connection")[0] == 204
    assert api.call("GET", "/v1/hubspot/connection")[1]["connected"] is False


def test_toggle_map_preview_sync_and_history(connected: Api, runner: Runner) -> None:
    api = connected
    status, body = api.call("POST", "/v1/hubspot/objects/contacts/sync", {})
    assert status == 409 and body["error"] == "sync_off"
    assert api.call("GET", "/v1/hubspot/objects/tickets")[0] == 404
    status, mapping = api.call("GET", "/v1/hubspot/objects/contacts/mapping")
    assert status == 200 and not mapping["saved"] and mapping["fields"]["email"]["field"] == "email"
    status, body = api.call("PUT", "/v1/hubspot/objects/contacts/mapping", {"fields": {"emial": "email"}})
    assert status == 422 and "emial" in body["message"]
    status, preview = api.call("POST", "/v1/hubspot/objects/contacts/mapping/preview", {"fields": {"email": "email"}})
    assert status == 200 and len(preview["records"]) == 10
    fields = {"email": "email", "firstname": "first_name", "customer_tier": "tier"}
    status, saved = api.call("PUT", "/v1/hubspot/objects/contacts/mapping", {"fields": fields})
    assert status == 200 and saved["saved"] and saved["fields"]["customer_tier"]["field"] == "tier"
    for obj in ("contacts", "companies"):
        assert api.call("PUT", f"/v1/hubspot/objects/{obj}", {"enabled": True})[1]["enabled"]
        status, started = api.call("POST", f"/v1/hubspot/objects/{obj}/sync", {})
        assert status == 202 and started["mode"] == "full"
    runner.drain()
    assert last_run(api, "contacts")["counts"]["read"] == CONTACTS
    assert last_run(api, "companies")["status"] == "succeeded"
    status, found = api.call("GET", "/v1/hubspot/status")
    assert status == 200 and found["connected"]
    assert {row["object"]: row["enabled"] for row in found["objects"]} == {
        "contacts": True,
        "companies": True,
        "deals": False,
    }
    status, history = api.call("GET", "/v1/hubspot/objects/contacts/history")
    assert status == 200 and history["runs"][0]["status"] == "succeeded"
    status, schedule = api.call("PUT", "/v1/hubspot/schedule", {"incremental_minutes": 30, "full_days": 7})
    assert status == 200 and schedule["overlap_minutes"] == 10
    assert api.call("GET", "/v1/hubspot/schedule")[1]["incremental_minutes"] == 30
    assert api.call("PUT", "/v1/hubspot/schedule", {"incremental_minutes": 1})[0] == 422


def test_sync_now_on_a_sync_parked_on_the_days_budget_says_it_resumes_by_itself(connected: Api, runner: Runner) -> None:
    api = connected
    assert api.call("PUT", "/v1/hubspot/objects/contacts", {"enabled": True})[0] == 200
    services.hubspot.budget(api.workspace).use_up()  # other apps used the portal's day
    assert api.call("POST", "/v1/hubspot/objects/contacts/sync", {})[0] == 202
    runner.drain()
    assert last_run(api, "contacts")["status"] == "parked"
    status, body = api.call("POST", "/v1/hubspot/objects/contacts/sync", {})
    assert status == 409 and body["error"] == "parked", body
    assert "resumes" in body["message"]


def test_scheduler_and_worker_handlers_run_the_sample_events(connected: Api, runner: Runner) -> None:
    api = connected
    api.call("PUT", "/v1/hubspot/objects/companies", {"enabled": True})
    started = runner.invoke("HubSpotScheduleFunction", fill("hubspot_schedule.json"))["started"]
    assert [(row["object"], row["mode"]) for row in started if row["workspace"] == api.workspace] == [
        ("companies", "full")
    ]
    runner.drain()
    assert last_run(api, "companies")["counts"]["read"] == COMPANIES
    api.call("PUT", "/v1/hubspot/objects/contacts", {"enabled": True})
    message = services.hubspot.start(api.workspace, "contacts")
    assert message is not None
    event = fill("hubspot_sync.json", workspace=api.workspace, object="contacts", mode="full", run_id=message.run_id)
    assert runner.invoke("HubSpotSyncFunction", event) == {"batchItemFailures": []}
    run = last_run(api, "contacts")
    assert run["run_id"] == message.run_id and run["status"] == "succeeded" and run["counts"]["read"] == CONTACTS
    assert runner.invoke("HubSpotSyncFunction", event) == {"batchItemFailures": []}  # redelivered: a no-op
    assert last_run(api, "contacts")["counts"] == run["counts"]


def test_the_cli_connects_maps_syncs_and_shows_status(api: Api, hs: HubSpotEmulator, runner: Runner) -> None:
    options = ["--url", runner.serve(), "--api-key", api.key]
    wide = {"COLUMNS": "200"}

    def roster(*args: str) -> str:
        result = CliRunner().invoke(cli, ["hubspot", *args, *options], env=wide)
        assert result.exit_code == 0, result.output
        return result.output

    local = ["--host", hs.url, "--ca-bundle", hs.ca_path]
    bad = CliRunner().invoke(cli, ["hubspot", "connect", "--token", "pat-nope", *local, *options], env=wide)
    assert bad.exit_code == 1 and "bad_token" in bad.output and "pat-nope" not in bad.output
    shown = roster("connect", "--token", hs.token, *local)
    assert "connected" in shown and hs.token not in shown
    assert "ok" in roster("test")
    assert "tier" in roster("mapping", "contacts", "--set", "email=email", "--set", "customer_tier=tier")
    assert "companies: import on" in roster("enable", "companies")
    assert "companies full sync" in roster("sync", "companies")
    runner.drain()
    assert "succeeded" in roster("status")
    assert "succeeded" in roster("history", "companies")
    assert '"incremental_minutes": 20' in roster("schedule", "--incremental-minutes", "20")
    roster("enable", "companies", "--off")
    assert api.call("DELETE", "/v1/hubspot/connection")[0] == 204


def test_export_routes_handlers_and_cli_write_back_with_a_preview_first(
    connected: Api, hs: HubSpotEmulator, runner: Runner
) -> None:
    api = connected
    options = ["--url", runner.serve(), "--api-key", api.key]
    assert api.call("GET", "/v1/hubspot/export/deals")[0] == 422  # import-only
    assert api.call("GET", "/v1/hubspot/export/tickets")[0] == 404
    status, found = api.call("PUT", "/v1/hubspot/export/contacts", {"enabled": True, "every_hours": 24})
    assert status == 200 and found["settings"]["enabled"], found
    status, body = api.call("POST", "/v1/hubspot/export/contacts/run", {})
    assert status == 409 and body["error"] == "export_refused" and "mapping" in body["message"]
    fields = {"email": {"field": "email"}, "jobtitle": {"field": "job_title", "export": "always"}}
    status, body = api.call(
        "PUT",
        "/v1/hubspot/objects/contacts/mapping",
        {"fields": {**fields, "hs_email_domain": {"field": "d", "export": "always"}}},
    )
    assert status == 422 and "calculated" in body["message"]
    assert api.call("PUT", "/v1/hubspot/objects/contacts/mapping", {"fields": fields})[0] == 200
    api.call("PUT", "/v1/hubspot/objects/contacts", {"enabled": True})

    target = next(record for record in hs.portal.live("contacts") if record.properties.get("email"))
    email = target.properties["email"]
    record: dict[str, Any] = {"source": "api", "fields": {"email": email, "job_title": "Head of Cartography"}}
    assert api.call("POST", "/v1/people/upsert", {"records": [record]})[0] == 200
    sync_started = services.hubspot.start(api.workspace, "contacts")  # the import has read the portal once
    assert sync_started is not None
    runner.drain()
    # never exported: the scheduler (every 24 hours per object) starts it
    exports = runner.invoke("HubSpotScheduleFunction", fill("hubspot_schedule.json"))["exports"]
    [started] = [row for row in exports if row["workspace"] == api.workspace]
    assert started["object"] == "contacts"
    runner.drain()  # the HubSpotExportFunction runs it: the refresh import first, then the writes
    status, history = api.call("GET", "/v1/hubspot/export/contacts/history")
    run = history["runs"][0]
    assert status == 200 and run["run_id"] == started["run_id"] and run["status"] == "succeeded", run
    assert run["counts"]["updated"] == 1 and run["batches"] == 1
    assert hs.portal.get("contacts", target.id).properties["jobtitle"] == "Head of Cartography"

    record["fields"]["job_title"] = "Chief Cartographer"
    api.call("POST", "/v1/people/upsert", {"records": [record]})
    status, preview = api.call("POST", "/v1/hubspot/export/contacts/preview")
    assert status == 200 and [write["hubspot_id"] for write in preview["writes"]] == [str(target.id)]
    [change] = preview["writes"][0]["changes"]
    assert (change["property"], change["old"], change["new"]) == (
        "jobtitle",
        "Head of Cartography",
        "Chief Cartographer",
    )
    shown = CliRunner().invoke(cli, ["hubspot", "export", "preview", "contacts", *options], env={"COLUMNS": "200"})
    assert shown.exit_code == 0 and "Chief Cartographer" in shown.output and "always" in shown.output
    assert hs.portal.get("contacts", target.id).properties["jobtitle"] == "Head of Cartography"  # a dry run
    ran = CliRunner().invoke(cli, ["hubspot", "export", "run", "contacts", *options], env={"COLUMNS": "200"})
    assert ran.exit_code == 0 and "queued" in ran.output
    runner.drain()
    assert hs.portal.get("contacts", target.id).properties["jobtitle"] == "Chief Cartographer"
    listed = CliRunner().invoke(cli, ["hubspot", "export", "history", "contacts", *options], env={"COLUMNS": "200"})
    assert listed.exit_code == 0 and "succeeded" in listed.output
    status, rows = api.call("GET", "/v1/hubspot/export")
    assert status == 200 and {row["object"] for row in rows} == {"contacts", "companies"}
    api.call("PUT", "/v1/hubspot/export/contacts", {"enabled": False})


def test_api_math_follows_the_workspace_tier_and_reserve_through_the_api_and_the_cli(api: Api, runner: Runner) -> None:
    status, schedule = api.call("GET", "/v1/hubspot/schedule")
    assert status == 200 and schedule["tier"] == "starter" and schedule["reserve_percent"] == 20
    status, found = api.call("GET", "/v1/hubspot/api-math", records="100000")
    assert status == 200, found
    assert (found["daily_allowance"], found["daily_share"], found["used_today"]) == (250_000, 200_000, 0)
    assert (found["full_calls"], found["incremental_calls"], found["export_calls"]) == (2_001, 2_501, 1_000)
    changed = {**schedule, "tier": "enterprise", "reserve_percent": 50, "time_zone": "America/New_York"}
    assert api.call("PUT", "/v1/hubspot/schedule", changed)[0] == 200
    status, found = api.call("GET", "/v1/hubspot/api-math", records="100000")
    assert (found["tier"], found["daily_share"]) == ("enterprise", 500_000)
    for bad in ({"time_zone": "Mars/Olympus"}, {"time_zone": "/etc/passwd"}, {"reserve_percent": 95}, {"tier": "x"}):
        status, problem = api.call("PUT", "/v1/hubspot/schedule", {**schedule, **bad})
        assert status == 422, problem
        assert next(iter(bad)) in json.dumps(problem)
    assert api.call("GET", "/v1/hubspot/api-math", records="-1")[0] == 422

    offline = CliRunner().invoke(cli, ["hubspot", "api-math", "100000"], env={"ROSTER_API_KEY": ""})
    assert offline.exit_code == 0, offline.output
    said = " ".join(offline.output.split())  # as printed, without the terminal's line breaks
    assert "HubSpot allows 250,000 calls" in said and "about 2,001 API calls" in said
    online = CliRunner().invoke(cli, ["hubspot", "api-math", "100000", "--url", runner.serve(), "--api-key", api.key])
    assert online.exit_code == 0, online.output
    said = " ".join(online.output.split())
    assert "tier enterprise" in said and "Roster uses at most 500,000 (0 spent today)" in said

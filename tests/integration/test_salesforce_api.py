"""The Salesforce import through the API, the CLI and the real handlers on the local stack, against the emulator."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from roster.connectors.core.trust import LOCAL_STACK_FLAG
from roster.connectors.salesforce import connection
from roster.connectors.salesforce.connection import PasswordCredentials, SessionCredentials, secret_name
from roster.services import services
from roster_dev.cli import app as cli
from roster_dev.emulators.salesforce import SalesforceEmulator, generate_org
from roster_dev.local.outbound import allowed
from roster_dev.local.runner import Runner
from roster_dev.local.stack import LocalStack
from tests.conftest import Api, Connections

EVENTS = Path(__file__).resolve().parents[2] / "events"
ACCOUNTS, CONTACTS, LEADS = 20, 120, 40


@pytest.fixture(scope="module")
def emulator() -> Iterator[SalesforceEmulator]:
    with SalesforceEmulator(generate_org(11, accounts=ACCOUNTS, contacts=CONTACTS, leads=LEADS)) as running:
        yield running


def password_body(emulator: SalesforceEmulator, **changes: str) -> dict[str, Any]:
    creds = emulator.credentials
    return {
        "method": "password",
        "login_url": emulator.instance_url,
        "username": creds.username,
        "password": creds.password,
        "security_token": creds.security_token,
        "client_id": creds.client_id,
        "client_secret": creds.client_secret,
        "ca_bundle": emulator.ca_path,
        **changes,
    }


def secrets_of(emulator: SalesforceEmulator) -> list[str]:
    creds = emulator.credentials
    return [creds.password, creds.security_token, creds.client_secret, emulator.session_id]


@pytest.fixture
def connected(api: Api, emulator: SalesforceEmulator) -> Iterator[Api]:
    """A workspace connected to the emulator; afterwards its syncs are off and its credentials gone, so the
    scheduler of later tests never starts syncs against a stopped emulator."""
    status, view = api.call("PUT", "/v1/salesforce/connection", password_body(emulator))
    assert status == 200 and view["test"]["ok"], view
    yield api
    for obj in ("Account", "Contact", "Lead", "Opportunity"):
        api.call("PUT", f"/v1/salesforce/objects/{obj}", {"enabled": False})
    assert api.call("DELETE", "/v1/salesforce/connection")[0] == 204


def fill(name: str, **values: str) -> dict[str, Any]:
    text = (EVENTS / name).read_text()
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    event: dict[str, Any] = json.loads(text)
    return event


def last_run(api: Api, obj: str) -> dict[str, Any]:
    status, found = api.call("GET", f"/v1/salesforce/objects/{obj}")
    assert status == 200, found
    run: dict[str, Any] = found["last_run"]
    return run


# --- connection -------------------------------------------------------------------------------------------


def test_connect_test_and_bad_credentials_never_show_a_secret(
    api: Api, emulator: SalesforceEmulator, stack: LocalStack, capfd: pytest.CaptureFixture[str]
) -> None:
    responses = []
    status, view = api.call("GET", "/v1/salesforce/connection")
    assert status == 200 and view == {"connected": False, "credentials": None, "ca_bundle": None, "test": None}
    status, body = api.call("POST", "/v1/salesforce/connection/test")
    assert status == 404 and body["error"] == "not_connected"

    status, view = api.call("PUT", "/v1/salesforce/connection", password_body(emulator))
    responses.append(view)
    assert status == 200, view
    assert view["connected"] and view["ca_bundle"] == emulator.ca_path
    assert view["credentials"]["username"] == emulator.credentials.username
    assert view["credentials"]["password"] == "**********"
    assert view["test"]["ok"] and view["test"]["instance_url"] == emulator.instance_url
    assert view["test"]["api_requests_remaining"] > 0
    for call in (("GET", "/v1/salesforce/connection"), ("POST", "/v1/salesforce/connection/test")):
        status, body = api.call(*call)
        responses.append(body)
        assert status == 200 and (body.get("test") or body)["ok"], body

    stored = json.loads(
        stack.client("secretsmanager").get_secret_value(SecretId=secret_name(api.workspace))["SecretString"]
    )
    assert stored["password"] == emulator.credentials.password  # kept in Secrets Manager, and only there
    dynamodb = stack.client("dynamodb")
    items = [
        *dynamodb.query(
            TableName="WorkspacesTable",
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"ws#{api.workspace}"}},
        )["Items"],
        *dynamodb.query(
            TableName="JobsTable",
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": api.workspace}},
        )["Items"],
    ]
    assert items and not any(secret in json.dumps(items) for secret in secrets_of(emulator))

    status, view = api.call("PUT", "/v1/salesforce/connection", password_body(emulator, password="wrong"))
    responses.append(view)
    assert status == 200 and not view["test"]["ok"]
    assert view["test"]["code"] == "bad_credentials"
    assert "Salesforce refused the credentials" in view["test"]["reason"]
    status, check = api.call("POST", "/v1/salesforce/connection/test")
    responses.append(check)
    assert status == 200 and check["code"] == "bad_credentials"

    session = {"method": "session", "instance_url": emulator.instance_url, "session_id": emulator.session_id}
    status, view = api.call("PUT", "/v1/salesforce/connection", {**session, "ca_bundle": emulator.ca_path})
    responses.append(view)
    assert status == 200 and view["test"]["ok"] and view["credentials"]["session_id"] == "**********"
    status, view = api.call("PUT", "/v1/salesforce/connection", session)  # the system CAs do not know the emulator
    responses.append(view)
    assert status == 200 and view["test"]["code"] == "unreachable", view

    printed = capfd.readouterr()
    for secret in secrets_of(emulator):
        assert secret not in json.dumps(responses)
        assert secret not in printed.out + printed.err
    assert api.call("DELETE", "/v1/salesforce/connection")[0] == 204
    assert api.call("GET", "/v1/salesforce/connection")[1]["connected"] is False


def test_connection_bodies_are_checked(api: Api, emulator: SalesforceEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    status, body = api.call("PUT", "/v1/salesforce/connection", password_body(emulator, login_url="http://evil.test"))
    assert status == 422 and body["errors"][0]["message"].endswith(
        "must be an https:// URL, e.g. https://login.salesforce.com or your My Domain"
    )
    status, body = api.call("PUT", "/v1/salesforce/connection", {**password_body(emulator), "token": "x"})
    assert status == 422 and "token" in body["errors"][0]["path"]
    status, body = api.call("PUT", "/v1/salesforce/connection", password_body(emulator, ca_bundle="/etc/passwd"))
    assert status == 422 and "existing .pem file" in body["message"]
    monkeypatch.delenv(LOCAL_STACK_FLAG)  # a deployment: no CA bundle is ever accepted
    status, body = api.call("PUT", "/v1/salesforce/connection", password_body(emulator))
    assert status == 422 and "only by a local stack" in body["message"]
    assert api.call("GET", "/v1/salesforce/connection")[1]["connected"] is False


def test_the_connection_test_is_no_port_scanner(
    api: Api, emulator: SalesforceEmulator, stack: LocalStack, connections: Connections
) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        closed = unused.getsockname()[1]
    moto = int(stack.endpoint.rsplit(":", 1)[1])  # open, and holds the admin key in Secrets Manager
    answers = []
    for login_url in (f"https://127.0.0.1:{closed}", f"https://127.0.0.1:{moto}", "https://10.0.0.1", "https://[::1]"):
        for field in ("login_url", "instance_url"):
            body = password_body(emulator, login_url=login_url)
            if field == "instance_url":
                body = {"method": "session", "instance_url": login_url, "session_id": emulator.session_id}
            status, answer = api.call("PUT", "/v1/salesforce/connection", body)
            assert status == 422, answer
            answers.append(answer["errors"][0]["message"].replace(str(closed), "PORT").replace(str(moto), "PORT"))
    assert connections.made == []
    assert len(set(answers[:4])) == 1 and answers[0].endswith("a loopback address; Roster only calls public addresses")
    assert answers[4].endswith("10.0.0.1 is a private address; Roster only calls public addresses")

    # credentials saved before (or an instance URL a login answered with) are refused before connecting too
    refused = [
        connection.test_connection(SessionCredentials(instance_url=url, session_id=SecretStr("x")))
        for url in (f"https://127.0.0.1:{closed}", f"https://127.0.0.1:{moto}", "https://169.254.169.254")
    ]
    assert connections.made == []
    assert [check.code for check in refused] == ["refused_address"] * 3
    loopback = "127.0.0.1 is a loopback address; Roster only calls public addresses"
    assert refused[0].reason == refused[1].reason == loopback

    # where connecting is allowed, a closed port and a server that is not Salesforce read the same
    with allowed("127.0.0.1", closed):
        closed_port = connection.test_connection(password_credentials(emulator, f"https://127.0.0.1:{closed}"))
    wrong_server = connection.test_connection(password_credentials(emulator, emulator.instance_url))  # CA unknown
    assert closed_port.code == wrong_server.code == "unreachable"
    assert closed_port.reason == wrong_server.reason == "could not reach the Salesforce host over HTTPS"


def password_credentials(emulator: SalesforceEmulator, login_url: str) -> PasswordCredentials:
    body = password_body(emulator, login_url=login_url)
    body.pop("ca_bundle")
    return PasswordCredentials.model_validate(body)


# --- objects, mapping, sync now, status and history --------------------------------------------------------


def test_enable_sync_now_and_see_status_and_history(connected: Api, runner: Runner) -> None:
    api = connected
    status, body = api.call("POST", "/v1/salesforce/objects/Contact/sync", {})
    assert status == 409 and body["error"] == "sync_off"
    assert api.call("GET", "/v1/salesforce/objects/Widget")[0] == 404
    for obj in ("Account", "contact", "Lead"):
        status, found = api.call("PUT", f"/v1/salesforce/objects/{obj}", {"enabled": True})
        assert status == 200 and found["enabled"] and found["status"] == "idle", found

    started = {}
    for obj in ("Account", "Contact", "Lead"):
        status, body = api.call("POST", f"/v1/salesforce/objects/{obj}/sync", {})
        assert status == 202 and body["mode"] == "full" and body["status"] == "queued", body
        started[obj] = body["run_id"]
    status, body = api.call("POST", "/v1/salesforce/objects/Account/sync", {"mode": "full"})
    assert status == 409 and body["error"] == "already_running"
    runner.drain()

    status, found = api.call("GET", "/v1/salesforce/status")
    assert status == 200 and found["connected"]
    by_object = {row["object"]: row for row in found["objects"]}
    assert set(by_object) == {"Account", "Contact", "Lead", "Opportunity", "Task", "Event"}
    for obj, count in (("Account", ACCOUNTS), ("Contact", CONTACTS), ("Lead", LEADS)):
        row = by_object[obj]
        assert row["status"] == "idle" and row["watermark"] and row["last_full_sync"], row
        run = row["last_run"]
        assert run["run_id"] == started[obj] and run["status"] == "succeeded"
        # login, describe (the first sync maps automatically), the count, create the job, two polls, one page
        assert run["counts"]["read"] == count and run["api_calls"] == 7, run
    assert not by_object["Opportunity"]["enabled"] and by_object["Opportunity"]["last_run"] is None

    status, history = api.call("GET", "/v1/salesforce/objects/Contact/history", limit="5")
    assert status == 200 and [run["run_id"] for run in history["runs"]] == [started["Contact"]]
    status, mapping = api.call("GET", "/v1/salesforce/objects/Contact/mapping")
    assert status == 200 and mapping["saved"] and mapping["fields"]["Email"]["field"] == "email"

    contact = services.salesforce_connection(api.workspace).sf.query("SELECT Id, Email FROM Contact LIMIT 1")
    record = contact["records"][0]
    status, person = api.call("GET", "/v1/people/lookup", id=f"salesforce:Contact:{record['Id']}")
    assert status == 200 and any(s["object"] == "Contact" and s["id"] == record["Id"] for s in person["sources"])

    status, body = api.call("POST", "/v1/salesforce/objects/Contact/sync", {"mode": "incremental"})
    assert status == 202 and body["mode"] == "incremental"
    runner.drain()
    run = last_run(api, "Contact")
    assert run["mode"] == "incremental" and run["status"] == "succeeded"
    assert run["counts"]["read"] == run["counts"]["skipped"]  # nothing changed: overlap re-reads only


def test_field_mapping_with_preview_and_specific_errors(connected: Api) -> None:
    api = connected
    status, mapping = api.call("GET", "/v1/salesforce/objects/Lead/mapping")
    assert status == 200 and not mapping["saved"]
    assert mapping["fields"]["Company"] == {
        "field": "company_name",
        "export": "never",
        "sf_type": "string",
        "segment": None,
        "member_value": None,
    }

    status, body = api.call("PUT", "/v1/salesforce/objects/Lead/mapping", {"fields": {"Emial": "email"}})
    assert status == 422 and body["error"] == "invalid_mapping" and "did you mean 'Email'" in body["message"]
    status, body = api.call("PUT", "/v1/salesforce/objects/Opportunity/mapping", {"fields": {"Name": "email"}})
    assert status == 422 and "not one of the Opportunity fields" in body["message"]

    fields = {"Email": "email", "LastName": "last_name", "Title": {"field": "job_title", "export": "fill_blank"}}
    status, body = api.call("PUT", "/v1/salesforce/objects/Lead/mapping", {"fields": fields})
    assert status == 422 and "Lead is import-only" in body["message"]  # Leads are written by bulk enrichment
    status, preview = api.call("POST", "/v1/salesforce/objects/Contact/mapping/preview", {"fields": fields})
    assert status == 200 and len(preview["records"]) == 10
    assert all(set(record["fields"]) <= {"email", "last_name", "job_title"} for record in preview["records"])
    status, saved = api.call("PUT", "/v1/salesforce/objects/Contact/mapping", {"fields": fields})
    assert status == 200 and saved["saved"] and saved["fields"]["Title"]["export"] == "fill_blank"
    assert api.call("GET", "/v1/salesforce/objects/Contact/mapping")[1] == saved

    refused = {
        "MailingAddress": {"field": "city"},
        "Email_Domain__c": {"field": "email_domain", "export": "always"},
        "CreatedDate": {"field": "created_date", "export": "fill_blank"},
        "Product_Interest__c": {"field": "job_title"},
    }
    for name, field in refused.items():
        status, body = api.call("PUT", "/v1/salesforce/objects/Contact/mapping", {"fields": {**fields, name: field}})
        assert status == 422 and body["error"] == "invalid_mapping" and f"Contact.{name}" in body["message"], name
    assert (
        "map its components instead (MailingStreet, MailingCity"
        in api.call("PUT", "/v1/salesforce/objects/Contact/mapping", {"fields": {"MailingAddress": "city"}})[1][
            "message"
        ]
    )
    assert api.call("GET", "/v1/salesforce/objects/Contact/mapping")[1] == saved  # a refused mapping changes nothing


def test_not_connected_and_schedule_settings(api: Api) -> None:
    status, body = api.call("GET", "/v1/salesforce/objects/Account/mapping")
    assert status == 409 and body["error"] == "not_connected"
    assert api.call("PUT", "/v1/salesforce/objects/Account", {"enabled": True})[0] == 200
    status, body = api.call("POST", "/v1/salesforce/objects/Account/sync", {})
    assert status == 409 and body["error"] == "not_connected"
    assert api.call("PUT", "/v1/salesforce/objects/Account", {"enabled": False})[0] == 200

    assert api.call("GET", "/v1/salesforce/schedule") == (
        200,
        {"incremental_minutes": 15, "full_days": 7, "overlap_minutes": 10, "window_records": 500_000},
    )
    changed = {"incremental_minutes": 30, "full_days": 3, "overlap_minutes": 5, "window_records": 100_000}
    assert api.call("PUT", "/v1/salesforce/schedule", changed) == (200, changed)
    assert api.call("GET", "/v1/salesforce/schedule") == (200, changed)
    status, body = api.call("PUT", "/v1/salesforce/schedule", {**changed, "incremental_minutes": 1})
    assert status == 422 and body["errors"][0]["path"].endswith("incremental_minutes")


# --- the scheduler and worker handlers ---------------------------------------------------------------------


def test_scheduler_enqueues_due_syncs_and_the_worker_runs_them(connected: Api, runner: Runner) -> None:
    api = connected
    for obj in ("Account", "Opportunity"):
        api.call("PUT", f"/v1/salesforce/objects/{obj}", {"enabled": True})
    started = runner.invoke("SalesforceScheduleFunction", fill("salesforce_schedule.json"))["started"]
    mine = sorted((row["object"], row["mode"]) for row in started if row["workspace"] == api.workspace)
    assert mine == [("Account", "full"), ("Opportunity", "full")]
    again = runner.invoke("SalesforceScheduleFunction", fill("salesforce_schedule.json"))["started"]
    assert not [row for row in again if row["workspace"] == api.workspace]  # running, or started moments ago
    runner.drain()
    assert last_run(api, "Account")["status"] == "succeeded"
    opportunities = last_run(api, "Opportunity")
    assert opportunities["status"] == "succeeded" and opportunities["counts"]["read"] > ACCOUNTS


def test_worker_handler_runs_the_sample_event(connected: Api, runner: Runner) -> None:
    api = connected
    api.call("PUT", "/v1/salesforce/objects/Account", {"enabled": True})
    message = services.salesforce.start(api.workspace, "Account")
    assert message is not None
    event = fill("salesforce_sync.json", workspace=api.workspace, object="Account", mode="full", run_id=message.run_id)
    assert runner.invoke("SalesforceSyncFunction", event) == {"batchItemFailures": []}
    run = last_run(api, "Account")
    assert run["run_id"] == message.run_id and run["status"] == "succeeded"
    assert run["counts"]["created"] == ACCOUNTS
    assert runner.invoke("SalesforceSyncFunction", event) == {"batchItemFailures": []}  # redelivered: a no-op
    assert last_run(api, "Account")["counts"] == run["counts"]


def test_a_page_that_keeps_failing_fails_its_record_and_parks_in_the_dlq(
    connected: Api, runner: Runner, emulator: SalesforceEmulator, stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = connected
    slept: list[float] = []  # the handler's polls and backoffs, recorded instead of slept (minutes of them)
    monkeypatch.setattr(services.salesforce, "sleep", slept.append)
    api.call("PUT", "/v1/salesforce/objects/Contact", {"enabled": True})
    message = services.salesforce.start(api.workspace, "Contact")
    assert message is not None
    event = fill("salesforce_sync.json", workspace=api.workspace, object="Contact", mode="full", run_id=message.run_id)
    emulator.fail_next("bulk_job_failed", count=4)
    result = runner.invoke("SalesforceSyncFunction", event)
    assert result == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    found = api.call("GET", "/v1/salesforce/objects/Contact")[1]
    assert found["status"] == "parked" and "Failed" in found["error"]
    assert found["last_run"]["error_code"] == "bulk_job_failed"
    assert sum(slept) > 0  # it polled and backed off between attempts

    try:  # through the queue: retried by each delivery, then moved to the dead-letter queue
        emulator.fail_next("bulk_job_failed", count=100)
        services.salesforce_queue.send(message)
        runner.drain()
    finally:
        emulator.clear_failures()
    sqs = stack.client("sqs")
    parked: list[dict[str, Any]] = []  # the DLQ is shared with other tests: read it all
    while batch := sqs.receive_message(QueueUrl=stack.refs["SalesforceSyncDLQ"], MaxNumberOfMessages=10).get(
        "Messages", []
    ):
        parked.extend(batch)
    assert any(json.loads(m["Body"])["run_id"] == message.run_id for m in parked)

    assert runner.invoke("SalesforceSyncFunction", event) == {"batchItemFailures": []}  # a redrive resumes it
    run = last_run(api, "Contact")
    assert run["status"] == "succeeded" and run["counts"]["read"] == CONTACTS


# --- API usage ---------------------------------------------------------------------------------------------


def test_api_math_through_the_api_and_the_cli(api: Api, runner: Runner) -> None:
    assert api.call("GET", "/v1/salesforce/api-math", records="100000") == (
        200,
        {"records": 100_000, "import_calls": 8, "export_batches": 10, "export_calls": 61},
    )
    assert api.call("GET", "/v1/salesforce/api-math", records="-1")[0] == 422

    offline = CliRunner().invoke(cli, ["salesforce", "api-math", "100000"], env={"ROSTER_API_KEY": ""})
    assert offline.exit_code == 0, offline.output
    assert "100,000 records" in offline.output and "about 8 API calls" in offline.output
    url = runner.serve()
    online = CliRunner().invoke(cli, ["salesforce", "api-math", "100000", "--url", url, "--api-key", api.key])
    assert online.exit_code == 0, online.output
    assert "about 8 API calls per sync" in online.output and "10 batches, about 61 API calls" in online.output


# --- export -----------------------------------------------------------------------------------------------


def export_to_end(api: Api, runner: Runner) -> dict[str, Any]:
    status, started = api.call("POST", "/v1/salesforce/export/Contact/run", {})
    assert status == 202, started
    worker = next(trigger for trigger in runner.queues if trigger.function == "SalesforceExportFunction")
    for _ in range(200):
        runner.pump(worker)
        status, history = api.call("GET", "/v1/salesforce/export/Contact/history")
        run: dict[str, Any] = next(run for run in history["runs"] if run["run_id"] == started["run_id"])
        if run["status"] != "running":
            return run
    raise AssertionError("the export did not finish")


def test_export_through_the_api_previews_then_writes_what_changed(
    connected: Api, runner: Runner, emulator: SalesforceEmulator
) -> None:
    api = connected
    status, body = api.call("PUT", "/v1/salesforce/export/Lead", {"enabled": True})
    assert status == 422 and body["error"] == "import_only"
    status, body = api.call("POST", "/v1/salesforce/export/Contact/run", {})
    assert status == 409 and "export sync is off for Contact" in body["message"]
    status, listed = api.call("GET", "/v1/salesforce/export")
    assert status == 200 and [row["object"] for row in listed] == ["Account", "Contact"]
    assert not listed[1]["settings"]["enabled"] and not listed[1]["settings"]["create_new"]  # off by default
    assert listed[1]["settings"]["every_hours"] == 24

    assert api.call("PUT", "/v1/salesforce/objects/Contact", {"enabled": True})[0] == 200
    fields = {"Email": "email", "LastName": "last_name", "Title": {"field": "job_title", "export": "always"}}
    assert api.call("PUT", "/v1/salesforce/objects/Contact/mapping", {"fields": fields})[0] == 200
    status, body = api.call("PUT", "/v1/salesforce/export/Contact", {"enabled": True})
    assert status == 200 and body["settings"]["enabled"]
    first = export_to_end(api, runner)  # the import before it brings the Contacts in
    assert first["status"] == "succeeded" and first["counts"]["updated"] == 0 and first["jobs"] == 0

    contact = next(row for row in emulator.org.records("Contact") if row["Email"])
    upsert = {
        "records": [{"source": "enrichment", "fields": {"email": contact["Email"], "job_title": "Head of RevOps"}}]
    }
    assert api.call("POST", "/v1/people/upsert", upsert)[0] == 200
    status, preview = api.call("POST", "/v1/salesforce/export/Contact/preview")
    assert status == 200 and not preview["full"] and not preview["more"]
    (write,) = preview["writes"]
    assert write["salesforce_id"] == contact["Id"] and write["action"] == "update"
    assert write["changes"] == [
        {
            "salesforce_field": "Title",
            "field": "job_title",
            "old": contact["Title"],
            "new": "Head of RevOps",
            "rule": "always",
            "segment": None,
        }
    ]
    second = export_to_end(api, runner)
    assert second["counts"]["updated"] == 1 and second["jobs"] == 1 and second["api_calls"] > 0
    written = emulator.org.get("Contact", contact["Id"])
    assert written is not None and written["Title"] == "Head of RevOps"

    url = runner.serve()  # the same through the CLI
    options = ["--url", url, "--api-key", api.key]
    wide = {"COLUMNS": "200"}  # tables are not cut to a terminal's width
    history = CliRunner().invoke(cli, ["salesforce", "export", "history", "Contact", *options], env=wide)
    assert history.exit_code == 0 and second["run_id"] in history.output, history.output
    summary = CliRunner().invoke(cli, ["salesforce", "export", "status", *options], env=wide)
    assert summary.exit_code == 0 and "on, every 24 h" in summary.output, summary.output
    ruled = CliRunner().invoke(
        cli, ["salesforce", "mapping", "Contact", "--rule", "Title=fill_blank", *options], env=wide
    )
    assert ruled.exit_code == 0 and "fill_blank" in ruled.output, ruled.output
    for command, expected in (  # the import commands Salesforce shares with HubSpot
        (["status"], "high-water mark"),
        (["history", "Contact"], "succeeded"),
        (["mapping", "Contact", "--preview"], contact["Id"]),
        (["enable", "Contact"], "Contact: import sync on"),
    ):
        shown = CliRunner().invoke(cli, ["salesforce", *command, *options], env=wide)
        assert shown.exit_code == 0 and expected in shown.output, shown.output
    promoted = {"source": "enrichment", "fields": {"email": contact["Email"], "job_title": "Chief Data Officer"}}
    assert api.call("POST", "/v1/people/upsert", {"records": [promoted]})[0] == 200
    shown = CliRunner().invoke(cli, ["salesforce", "export", "preview", "Contact", *options], env=wide)
    assert shown.exit_code == 0 and "0 records would be written" in shown.output, shown.output  # Title not blank
    waited: list[Any] = []
    follow = threading.Thread(
        target=lambda: waited.append(
            CliRunner().invoke(cli, ["salesforce", "export", "run", "Contact", "--wait", *options], env=wide)
        )
    )
    follow.start()
    worker = next(trigger for trigger in runner.queues if trigger.function == "SalesforceExportFunction")
    while follow.is_alive():  # the worker runs here while the CLI follows the run
        runner.pump(worker)
        follow.join(timeout=0.2)
    assert waited[0].exit_code == 0 and "succeeded: 0 updated, 0 created" in waited[0].output, waited[0].output
    off = CliRunner().invoke(cli, ["salesforce", "export", "enable", "Contact", "--off", *options], env=wide)
    assert off.exit_code == 0 and "export sync off" in off.output, off.output

"""Enrichment end to end on the local stack: the API, the worker, intake and schedule functions on
their queues and events, the `segment.entered` rule, and the `roster enrich` CLI."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from typer.testing import CliRunner

from roster_dev.cli import app as cli
from roster_dev.local.runner import Runner
from roster_dev.local.stack import LocalStack
from tests.conftest import Api, Connections

EVENTS = Path(__file__).resolve().parents[2] / "events"
EMAILS = {"type": "built_in", "name": "email_validation", "credits_per_record": 1}
TITLES = {"type": "built_in", "name": "job_title_classification"}
NAMES = {"type": "built_in", "name": "name_parsing"}
PEOPLE = [
    ("ada@acme.com", "VP of Engineering", "Ada Lovelace"),
    ("bob@acme.com", "Chief Executive Officer", "Dr. Bob Smith Jr."),
    ("cy@gmail.com", "Software Engineer", "Cy Young"),
    ("info@acme.com", "Head of Marketing", "Dee Dee"),
    ("eve@acme.com", "Director, Sales", "Eve Adams"),
    ("fay@acme.com", "Intern", "Fay Wray"),
    ("gus@acme.com", "Account Manager", "Gus Grissom"),
    ("hal@acme.com", "CTO", "Hal Jordan"),
    ("ivy@acme.com", "Senior Data Scientist", "Ivy Chen"),
    ("jo@acme.com", "Founder", "Jo March"),
    ("kai@acme.com", "VP Sales", "Kai Lee"),
    ("lu@acme.com", "Engineer", "Lu Xun"),
]


def fill(template: str, **values: str) -> dict[str, Any]:
    text = (EVENTS / template).read_text()
    for name, value in values.items():
        text = text.replace("{{" + name + "}}", value)
    return json.loads(text)  # type: ignore[no-any-return]


def ok(api: Api, method: str, path: str, body: Any = None, status: int = 200, **query: str) -> Any:
    code, answer = api.call(method, path, body, **query)
    assert code == status, answer
    return answer


def upsert_people(api: Api, people: list[tuple[str, str, str]]) -> list[str]:
    records = [
        {"source": "crm", "fields": {"email": email, "job_title": title, "full_name": name}}
        for email, title, name in people
    ]
    return [result["profile_id"] for result in ok(api, "POST", "/v1/people/upsert", {"records": records})["results"]]


def define(api: Api, **settings: Any) -> dict[str, Any]:
    body = {"name": "Contact data", "providers": [EMAILS, TITLES, NAMES], "audiences": ["all-people"]} | settings
    return ok(api, "POST", "/v1/enrichments", body, status=201)  # type: ignore[no-any-return]


def fields(api: Api, profile_id: str) -> dict[str, Any]:
    return {name: field["value"] for name, field in ok(api, "GET", f"/v1/people/{profile_id}")["fields"].items()}


def export(api: Api, run_id: str) -> tuple[dict[str, Any], list[dict[str, str]]]:
    response = api.runner.api(
        "GET", f"/v1/enrichments/runs/{run_id}/export", headers={"Authorization": f"Bearer {api.key}"}
    )
    return response, list(csv.DictReader(io.StringIO(response["body"])))


def test_create_cost_test_run_and_export(api: Api, runner: Runner) -> None:
    ids = upsert_people(api, PEOPLE)
    draft = {"name": "Draft", "providers": [EMAILS, TITLES], "audiences": ["all-people"]}
    unsaved = ok(api, "POST", "/v1/enrichments/test", draft)  # a definition can be tried before it is saved
    assert len(unsaved["rows"]) == 10
    assert {"email_status", "work_email", "email_is_free"} <= set(unsaved["new_fields"])
    assert ok(api, "GET", "/v1/people/fields")["custom"] == {}  # not even its fields were created
    created = define(api, budget_credits=100)
    eid = created["enrichment_id"]
    assert created["spent_credits"] == 0 and created["remaining_credits"] == 100
    assert ok(api, "GET", f"/v1/enrichments/{eid}")["name"] == "Contact data"
    assert [row["enrichment_id"] for row in ok(api, "GET", "/v1/enrichments")["enrichments"]] == [eid]
    cost = ok(api, "GET", f"/v1/enrichments/{eid}/cost")
    assert cost["records"] == 12 and cost["credits_per_record"] == 1 and cost["credits"] == 12
    assert cost["records_within_budget"] == 12

    test = ok(api, "POST", f"/v1/enrichments/{eid}/test")
    assert len(test["rows"]) == 10 and test["credits_per_record"] == 1 and test["new_fields"] == {}
    assert "work_email" in ok(api, "GET", "/v1/people/fields")["custom"]  # saving created the mapped fields
    shown = {row["profile_id"]: row for row in test["rows"]}
    ada = shown.get(ids[0]) or next(iter(shown.values()))
    assert any(write["field"] == "seniority" for write in ada["writes"])
    picked = ok(api, "POST", f"/v1/enrichments/{eid}/test", {"profile_ids": [ids[1]]})["rows"]
    assert [row["profile_id"] for row in picked] == [ids[1]] and picked[0]["outputs"]["seniority"] == "c_suite"
    runner.drain()
    assert "seniority" not in fields(api, ids[0])  # the test wrote nothing...
    assert ok(api, "GET", f"/v1/enrichments/{eid}")["spent_credits"] == 0  # ...and charged nothing
    assert ok(api, "GET", f"/v1/enrichments/{eid}/runs")["runs"] == []

    run = ok(api, "POST", f"/v1/enrichments/{eid}/runs", status=202)
    assert run["status"] == "queued" and run["trigger"] == "manual"
    runner.drain()
    done = ok(api, "GET", f"/v1/enrichments/runs/{run['run_id']}")
    assert done["status"] == "completed" and done["credits_spent"] == 12
    assert done["outcomes"]["enriched"] == 12 and sum(done["outcomes"].values()) == 12
    assert [r["run_id"] for r in ok(api, "GET", f"/v1/enrichments/{eid}/runs")["runs"]] == [run["run_id"]]
    assert [r["run_id"] for r in ok(api, "GET", "/v1/enrichments/runs")["runs"]] == [run["run_id"]]
    assert fields(api, ids[0])["seniority"] == "vp" and fields(api, ids[2])["email_is_free"] is True
    assert ok(api, "GET", f"/v1/people/{ids[0]}")["fields"]["seniority"]["source"] == "enrichment"

    seniors = {"kind": "people", "filter": {"conditions": [{"field": "seniority", "op": "in", "value": ["vp"]}]}}
    assert ok(api, "POST", "/v1/segments/preview", seniors)["count"] == 2  # filterable at once

    response, rows = export(api, run["run_id"])
    assert response["statusCode"] == 200 and response["multiValueHeaders"]["Content-Type"][0].startswith("text/csv")
    assert len(rows) == 12 and {row["profile_id"] for row in rows} == set(ids)
    assert {row["outcome"] for row in rows} == {"enriched"}
    assert next(row for row in rows if row["profile_id"] == ids[1])["seniority"] == "c_suite"

    again = ok(api, "POST", f"/v1/enrichments/{eid}/runs", status=202)  # answered recently: skipped, free
    runner.drain()
    skipped = ok(api, "GET", f"/v1/enrichments/runs/{again['run_id']}")
    assert skipped["outcomes"]["skipped_recent"] == 12 and skipped["credits_spent"] == 0
    forced = ok(api, "POST", f"/v1/enrichments/{eid}/runs", {"force": True}, status=202)
    runner.drain()
    assert ok(api, "GET", f"/v1/enrichments/runs/{forced['run_id']}")["outcomes"]["enriched"] == 12


def test_budget_stops_the_run_then_raise_and_resume(api: Api, runner: Runner) -> None:
    upsert_people(api, PEOPLE)
    eid = define(api, budget_credits=5)["enrichment_id"]
    assert ok(api, "GET", f"/v1/enrichments/{eid}/cost")["records_within_budget"] == 5
    run_id = ok(api, "POST", f"/v1/enrichments/{eid}/runs", status=202)["run_id"]
    runner.drain()
    stopped = ok(api, "GET", f"/v1/enrichments/runs/{run_id}")
    assert stopped["status"] == "stopped_by_budget" and stopped["credits_spent"] == 5
    assert stopped["outcomes"]["enriched"] == 5 and stopped["outcomes"]["skipped_budget"] == 7
    assert ok(api, "GET", f"/v1/enrichments/{eid}")["remaining_credits"] == 0

    budget = ok(api, "PUT", f"/v1/enrichments/{eid}/budget", {"credits": 20})
    assert budget == {"budget_credits": 20, "spent_credits": 5, "remaining_credits": 15}
    assert ok(api, "POST", f"/v1/enrichments/runs/{run_id}/resume", status=202)["round"] == 1
    runner.drain()
    final = ok(api, "GET", f"/v1/enrichments/runs/{run_id}")
    assert final["status"] == "completed" and final["credits_spent"] == 12
    assert final["outcomes"]["enriched"] == 12 and final["outcomes"]["skipped_budget"] == 0
    assert ok(api, "GET", f"/v1/enrichments/{eid}")["spent_credits"] == 12
    _, rows = export(api, run_id)
    assert len(rows) == 12 and {row["outcome"] for row in rows} == {"enriched"}  # each record once, last outcome
    code, error = api.call("POST", f"/v1/enrichments/runs/{run_id}/resume")
    assert code == 409 and error["error"] == "conflict"


def test_definitions_are_checked_and_kept_per_workspace(api: Api, runner: Runner, stack: LocalStack) -> None:
    code, error = api.call("POST", "/v1/enrichments", {"name": "x", "providers": [], "audiences": ["all-people"]})
    assert code == 422 and error["error"] == "invalid_request"
    bad = {"name": "x", "providers": [EMAILS], "audiences": ["seg-missing"]}
    code, error = api.call("POST", "/v1/enrichments", bad)
    assert code == 422 and "no segment" in error["message"]
    code, error = api.call("POST", "/v1/enrichments", {**bad, "audiences": ["all-people"], "enrichment_id": "runs"})
    assert code == 422 and "reserved" in error["message"]
    created = define(api, enrichment_id="contact-data", budget_credits=50)
    again = {**bad, "audiences": ["all-people"], "enrichment_id": "contact-data"}
    assert api.call("POST", "/v1/enrichments", again)[0] == 409
    updated = ok(api, "PUT", "/v1/enrichments/contact-data", {**bad, "name": "Renamed", "audiences": ["all-people"]})
    assert updated["name"] == "Renamed" and updated["budget_credits"] == 50  # the budget stays when left out
    assert api.call("GET", "/v1/enrichments/missing")[0] == 404
    assert api.call("GET", "/v1/enrichments/missing/cost")[0] == 404
    assert api.call("POST", "/v1/enrichments/missing/runs")[0] == 404
    assert api.call("GET", "/v1/enrichments/runs/01JZZZZZZZZZZZZZZZZZZZZZZZ")[0] == 404
    assert api.call("PUT", "/v1/enrichments/contact-data/budget", {"credits": -1})[0] == 422

    from tests.conftest import new_workspace

    other = new_workspace(runner, stack)  # isolation: another workspace sees none of it
    assert other.call("GET", "/v1/enrichments/contact-data")[0] == 404
    assert other.call("GET", "/v1/enrichments")[1] == {"enrichments": []}
    assert api.call("DELETE", f"/v1/enrichments/{created['enrichment_id']}")[0] == 204
    assert api.call("GET", "/v1/enrichments")[1] == {"enrichments": []}


def test_handlers_run_with_the_sample_events(api: Api, runner: Runner) -> None:
    ids = upsert_people(api, PEOPLE[:3])
    eid = define(api, budget_credits=10)["enrichment_id"]
    run_id = ok(api, "POST", f"/v1/enrichments/{eid}/runs", status=202)["run_id"]
    dispatch = fill("enrich_worker.json", workspace=api.workspace, run_id=run_id)
    assert runner.invoke("EnrichWorkerFunction", dispatch) == {"batchItemFailures": []}
    assert runner.invoke("EnrichWorkerFunction", dispatch) == {"batchItemFailures": []}  # redelivered: no-op
    runner.drain()  # the queued dispatch (a redelivery too) and the batch
    done = ok(api, "GET", f"/v1/enrichments/runs/{run_id}")
    assert done["status"] == "completed" and done["outcomes"]["enriched"] == 3 and done["credits_spent"] == 3

    lost = fill("enrich_worker.json")  # a batch whose ids are gone fails; at its last delivery the run fails
    batch = {"type": "batch", "workspace": api.workspace, "run_id": run_id, "batch": 9, "round": 0, "key": "gone"}
    lost["Records"][0]["body"] = json.dumps(batch)
    with pytest.raises(BatchProcessingError):
        runner.invoke("EnrichWorkerFunction", lost)
    assert ok(api, "GET", f"/v1/enrichments/runs/{run_id}")["status"] == "completed"
    lost["Records"][0]["attributes"]["ApproximateReceiveCount"] = "5"
    with pytest.raises(BatchProcessingError):
        runner.invoke("EnrichWorkerFunction", lost)
    failed = ok(api, "GET", f"/v1/enrichments/runs/{run_id}")
    assert failed["status"] == "failed" and "batch failed" in failed["failure"]

    entered = fill("enrich_intake.json", workspace=api.workspace, segment_id="seg-x", profile_id=ids[0], event_id="e1")
    assert runner.invoke("EnrichIntakeFunction", entered) == {"batchItemFailures": []}
    broken = fill("enrich_intake.json", workspace=api.workspace, segment_id="seg-x", profile_id=ids[0], event_id="e2")
    broken["Records"][0]["body"] = json.dumps({"detail": {"workspace": api.workspace}})
    assert runner.invoke("EnrichIntakeFunction", broken) == {
        "batchItemFailures": [{"itemIdentifier": broken["Records"][0]["messageId"]}]
    }
    schedule = runner.invoke("EnrichScheduleFunction", fill("enrich_schedule.json"))
    assert set(schedule) == {"continuous_runs", "scheduled_runs"}


def test_records_entering_a_continuous_audience_are_enriched_at_the_next_flush(api: Api, runner: Runner) -> None:
    upsert_people(api, PEOPLE[:2])
    vps = {"conditions": [{"field": "job_title", "op": "starts_with", "value": "VP"}]}
    sid = ok(api, "POST", "/v1/segments", {"name": "VPs", "kind": "people", "filter": vps}, status=201)["segment_id"]
    runner.drain()
    eid = define(api, audiences=[sid], continuous=True, budget_credits=10)["enrichment_id"]
    (newcomer,) = upsert_people(api, [("max@acme.com", "VP Marketing", "Max Power")])
    upsert_people(api, [("nia@acme.com", "Engineer", "Nia Long")])  # not in the audience
    runner.drain()  # stream → membership → segment.entered on the bus → the rule → intake queue → intake
    assert "seniority" not in fields(api, newcomer)

    schedule = runner.invoke("EnrichScheduleFunction", fill("enrich_schedule.json"))
    ours = ok(api, "GET", f"/v1/enrichments/{eid}/runs")["runs"]
    assert len(ours) == 1 and ours[0]["trigger"] == "continuous" and ours[0]["run_id"] in schedule["continuous_runs"]
    runner.drain()
    run = ok(api, "GET", f"/v1/enrichments/runs/{ours[0]['run_id']}")
    assert run["status"] == "completed" and run["outcomes"]["enriched"] == 1 and run["credits_spent"] == 1
    assert fields(api, newcomer)["seniority"] == "vp"
    runner.invoke("EnrichScheduleFunction", fill("enrich_schedule.json"))  # nothing pending: no new run
    assert len(ok(api, "GET", f"/v1/enrichments/{eid}/runs")["runs"]) == 1
    ok(api, "DELETE", f"/v1/enrichments/{eid}", status=204)  # leaves nothing pending for other tests


def test_scheduled_enrichment_runs_once_per_firing(api: Api, runner: Runner) -> None:
    upsert_people(api, PEOPLE[:2])
    eid = define(api, schedule={"every": "daily"}, budget_credits=10)["enrichment_id"]
    event = fill("enrich_schedule.json")
    event["time"] = (datetime.now(UTC) + timedelta(days=1)).replace(hour=0, minute=5).strftime("%Y-%m-%dT%H:%M:%SZ")
    first = runner.invoke("EnrichScheduleFunction", event)["scheduled_runs"]
    second = runner.invoke("EnrichScheduleFunction", event)["scheduled_runs"]  # a retried invocation
    runs = ok(api, "GET", f"/v1/enrichments/{eid}/runs")["runs"]
    assert len(runs) == 1 and runs[0]["run_id"] in first and runs[0]["run_id"] not in second
    assert runs[0]["trigger"] == "scheduled"
    runner.drain()
    assert ok(api, "GET", f"/v1/enrichments/runs/{runs[0]['run_id']}")["outcomes"]["enriched"] == 2
    ok(api, "DELETE", f"/v1/enrichments/{eid}", status=204)


@pytest.fixture
def served(runner: Runner) -> str:
    return runner.serve()


def test_cli_creates_runs_and_exports(api: Api, runner: Runner, served: str, tmp_path: Path) -> None:
    upsert_people(api, PEOPLE[:4])
    definition = tmp_path / "enrichment.json"
    body = {"enrichment_id": "cli-enrich", "name": "From the CLI", "providers": [EMAILS, TITLES]}
    definition.write_text(json.dumps(body | {"audiences": ["all-people"], "budget_credits": 2}))
    env = {"ROSTER_URL": served, "ROSTER_API_KEY": api.key, "COLUMNS": "200"}
    cli_runner = CliRunner()
    created = cli_runner.invoke(cli, ["enrich", "create", str(definition)], env=env)
    assert created.exit_code == 0, created.output
    cost = cli_runner.invoke(cli, ["enrich", "cost", "cli-enrich"], env=env)
    assert cost.exit_code == 0 and "4 records x 1 credits = 4 credits" in cost.output, cost.output
    started = cli_runner.invoke(cli, ["enrich", "run", "cli-enrich"], env=env)
    assert started.exit_code == 0, started.output
    runner.drain()
    (run,) = ok(api, "GET", "/v1/enrichments/cli-enrich/runs")["runs"]
    assert run["status"] == "stopped_by_budget"
    assert cli_runner.invoke(cli, ["enrich", "budget", "cli-enrich", "10"], env=env).exit_code == 0
    assert cli_runner.invoke(cli, ["enrich", "resume", run["run_id"]], env=env).exit_code == 0
    runner.drain()
    listed = cli_runner.invoke(cli, ["enrich", "runs", "cli-enrich"], env=env)
    assert listed.exit_code == 0 and "completed" in listed.output, listed.output
    exported = cli_runner.invoke(cli, ["enrich", "export", run["run_id"]], env=env)
    assert exported.exit_code == 0, exported.output
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert len(rows) == 4 and {row["outcome"] for row in rows} == {"enriched"}
    missing = cli_runner.invoke(cli, ["enrich", "cost", "nope"], env=env)
    assert missing.exit_code == 1 and "HTTP 404" in missing.output


def test_http_providers_may_not_target_internal_addresses(
    api: Api, stack: LocalStack, connections: Connections
) -> None:
    upsert_people(api, PEOPLE[:2])
    targets = {
        "http://127.0.0.1/": "127.0.0.1 is a loopback address",
        "http://localhost:4566/": "localhost resolves to 127.0.0.1, a loopback address",
        "http://[::1]/": "::1 is a loopback address",
        "http://0.0.0.0/": "0.0.0.0 is an unspecified address",
        "http://2130706433/": "2130706433 resolves to 127.0.0.1, a loopback address",
        "http://10.0.0.1/": "10.0.0.1 is a private address",
        "http://169.254.169.254/latest/meta-data/": "169.254.169.254 is a link-local address",
        f"{stack.endpoint}/": "127.0.0.1 is a loopback address",  # moto: Secrets Manager holds the admin key
    }
    for url, reason in targets.items():
        config = {"name": "internal", "url": url + "{{email}}", "inputs": ["email"], "outputs": {"x": {"path": "a"}}}
        body = {"name": "Probe", "providers": [{"type": "http", "config": config}], "audiences": ["all-people"]}
        for path in ("/v1/enrichments/test", "/v1/enrichments"):
            status, answer = api.call("POST", path, body)
            assert status == 422, answer
            assert answer["message"] == f"providers: internal: {reason}; Roster only calls public addresses"
    assert connections.made == []
    assert api.call("GET", "/v1/enrichments")[1] == {"enrichments": []}

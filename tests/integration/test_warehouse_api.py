"""The warehouse routes through API Gateway events into the real handlers, a DuckDB file as the warehouse."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from roster_dev.local.runner import Runner
from tests.conftest import Api


@pytest.fixture
def warehouse(tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "crm.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.execute("CREATE SCHEMA sales")
        connection.execute("CREATE TABLE sales.users (email VARCHAR, name VARCHAR, plan VARCHAR, updated_at TIMESTAMP)")
        connection.execute(
            "INSERT INTO sales.users SELECT 'u' || i || '@example.com', 'User ' || i, 'free', "
            "TIMESTAMP '2026-01-01' + INTERVAL (i) MINUTE FROM range(5) t(i)"
        )
    return {"dialect": "duckdb", "path": str(path)}


def test_browse_test_a_query_and_refuse_writes(api: Api, warehouse: dict[str, Any]) -> None:
    status, result = api.call("POST", "/v1/warehouse/test", {"credentials": warehouse})
    assert status == 200 and result == {"ok": True, "dialect": "duckdb", "reason": None}
    status, missing = api.call("POST", "/v1/warehouse/test", {"credentials": {"dialect": "duckdb", "path": "/nope/x"}})
    assert status == 200 and missing["reason"] == "no DuckDB file at /nope/x"
    gone = {"credentials": {"dialect": "duckdb", "path": "/nope/x"}, "query": "SELECT 1"}
    status, failed = api.call("POST", "/v1/warehouse/query", gone)
    assert status == 422 and failed["error"] == "connect_failed"
    # a DuckDB query reads the database only: no files of the server, no URLs
    status, blocked = api.call(
        "POST",
        "/v1/warehouse/query",
        {**gone, "credentials": warehouse, "query": "SELECT * FROM read_text('/etc/hostname')"},
    )
    assert status == 422 and "disabled by configuration" in blocked["message"]
    status, tables = api.call("POST", "/v1/warehouse/browse", {"credentials": warehouse})
    assert status == 200 and tables["schemas"]["crm.sales"] == ["users"]
    query = {"credentials": warehouse, "query": "SELECT * FROM sales.users ORDER BY email", "limit": 2}
    status, preview = api.call("POST", "/v1/warehouse/query", query)
    assert status == 200
    assert [column["name"] for column in preview["columns"]] == ["email", "name", "plan", "updated_at"]
    assert preview["columns"][3]["type"] == "TIMESTAMP"
    assert preview["rows"][0] == {
        "email": "u0@example.com",
        "name": "User 0",
        "plan": "free",
        "updated_at": "2026-01-01T00:00:00",
    }
    assert len(preview["rows"]) == 2
    status, refused = api.call("POST", "/v1/warehouse/query", {**query, "query": "DELETE FROM sales.users"})
    assert status == 422 and refused["error"] == "query_refused" and "DELETE" in refused["message"]


def test_save_a_source_import_it_and_read_history(api: Api, runner: Runner, warehouse: dict[str, Any]) -> None:
    body = {
        "credentials": warehouse,
        "kind": "people",
        "query": "SELECT email, name, plan, updated_at FROM sales.users",
        "identifier": "email",
        "timestamp_field": "updated_at",
    }
    status, view = api.call("PUT", "/v1/warehouse/sources/crm-users", body)
    assert status == 200, view
    assert view["source"]["cursor_type"] == "TIMESTAMP" and view["source"]["identifier_field"] == "email"
    assert view["source"]["mapping"]["plan"] == "plan"  # automatic mapping
    status, bad = api.call("PUT", "/v1/warehouse/sources/crm-users", {**body, "identifier": "nope"})
    assert status == 422 and "'nope' is not a column" in bad["message"]
    status, started = api.call("POST", "/v1/warehouse/sources/crm-users/runs", {})
    assert status == 202
    runner.drain()
    status, runs = api.call("GET", "/v1/warehouse/sources/crm-users/runs")
    assert status == 200 and runs[0]["run_id"] == started["run_id"]
    assert runs[0]["status"] == "succeeded" and runs[0]["mode"] == "full"
    assert runs[0]["counts"]["read"] == runs[0]["counts"]["created"] == 5
    status, source = api.call("GET", "/v1/warehouse/sources/crm-users")
    assert source["mark"] == "2026-01-01 00:04:00" and source["status"] == "idle"
    status, found = api.call("GET", "/v1/people/lookup", id="crm-users:people:u3@example.com")
    assert status == 200, found


def test_sources_are_workspace_scoped(api: Api, runner: Runner, warehouse: dict[str, Any]) -> None:
    from tests.conftest import new_workspace

    body = {"credentials": warehouse, "kind": "people", "query": "SELECT email FROM sales.users", "identifier": "email"}
    assert api.call("PUT", "/v1/warehouse/sources/mine", body)[0] == 200
    other = new_workspace(runner, runner.stack)
    assert other.call("GET", "/v1/warehouse/sources/mine")[0] == 404
    assert other.call("POST", "/v1/warehouse/query", {"source": "mine", "query": "SELECT 1"})[0] == 404
    assert other.call("GET", "/v1/warehouse/sources")[1] == []


def test_delete_a_source_stops_it_and_forgets_its_credentials_and_state(
    api: Api, runner: Runner, warehouse: dict[str, Any]
) -> None:
    from datetime import UTC, datetime, timedelta

    from roster.aws import clients
    from roster.connectors.warehouse.importer import due_imports
    from roster.services import services

    body = {"credentials": warehouse, "kind": "people", "query": "SELECT email, name FROM sales.users"}
    assert api.call("PUT", "/v1/warehouse/sources/old-crm", {**body, "identifier": "email"})[0] == 200
    assert api.call("POST", "/v1/warehouse/sources/old-crm/runs", {})[0] == 202
    runner.drain()
    s3, bucket = clients().s3, clients().settings.uploads_bucket
    status, view = api.call("GET", "/v1/warehouse/sources/old-crm")
    assert status == 200 and view["snapshot_rows"] == 5

    def stored() -> list[str]:
        listed = s3.list_objects_v2(Bucket=bucket, Prefix="warehouse/")
        return [entry["Key"] for entry in listed.get("Contents", []) if "/old-crm/" in entry["Key"]]

    assert stored()  # the snapshot the next full run would diff against
    status, _ = api.call("DELETE", "/v1/warehouse/sources/old-crm")
    assert status == 204
    assert api.call("GET", "/v1/warehouse/sources/old-crm")[0] == 404
    assert api.call("GET", "/v1/warehouse/sources/old-crm/runs")[0] == 404
    assert api.call("POST", "/v1/warehouse/test", {"source": "old-crm"})[0] == 404  # the secret is gone
    assert stored() == []
    later = datetime.now(UTC) + timedelta(days=1)
    assert all(due.source != "old-crm" for due in due_imports(services.warehouse.store, later))
    # the profiles keep what the source imported (its record and values), as they keep every source's
    status, found = api.call("GET", "/v1/people/lookup", id="old-crm:people:u3@example.com")
    assert status == 200 and any(source["source"] == "old-crm" for source in found["sources"])
    assert api.call("DELETE", "/v1/warehouse/sources/old-crm")[0] == 404


PROBE = "WarehouseCloudProbeFunction"
SECRET = "s3cret-Pa55word"
# A BigQuery key google-auth cannot load: the dialect's own error, without reaching Google
BAD_KEY = {
    "type": "service_account",
    "project_id": "acme",
    "private_key_id": "1",
    "private_key": f"-----BEGIN PRIVATE KEY-----\n{SECRET}\n-----END PRIVATE KEY-----\n",
    "client_email": "roster@acme.iam.gserviceaccount.com",
    "token_uri": "https://oauth2.googleapis.com/token",
}


def test_snowflake_and_bigquery_run_in_the_function_that_holds_their_dialects(
    api: Api, runner: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    bigquery = {"dialect": "bigquery", "project": "acme", "service_account": json.dumps(BAD_KEY)}
    snowflake = {
        "dialect": "snowflake",
        "account": "roster-nonexistent-account",
        "user": "roster",
        "password": SECRET,
        "database": "crm",
        "warehouse": "compute_wh",
    }
    before = runner.invoked[PROBE]
    answers = []
    status, tested = api.call("POST", "/v1/warehouse/test", {"credentials": bigquery})
    answers.append(tested)
    assert status == 200 and tested["ok"] is False and "Unable to load PEM file" in tested["reason"]
    for route, extra in (("/v1/warehouse/query", {"query": "SELECT 1"}), ("/v1/warehouse/browse", {})):
        status, failed = api.call("POST", route, {"credentials": bigquery, **extra})
        answers.append(failed)
        assert status == 422 and failed["error"] == "connect_failed" and "Unable to load PEM file" in failed["message"]
    status, tested = api.call("POST", "/v1/warehouse/test", {"credentials": snowflake})
    answers.append(tested)
    assert status == 200 and tested["ok"] is False and tested["dialect"] == "snowflake"
    assert tested["reason"] and "not installed" not in tested["reason"]  # Snowflake's connector's own words
    source = {"credentials": snowflake, "kind": "people", "query": "SELECT email FROM users", "identifier": "email"}
    status, refused = api.call("PUT", "/v1/warehouse/sources/sf-users", source)
    answers.append(refused)
    assert status == 422 and refused["error"] == "connect_failed" and refused["message"] == tested["reason"]
    status, refused = api.call("PUT", "/v1/warehouse/sources/sf-users", {**source, "query": "DELETE FROM users"})
    assert status == 422 and refused["error"] == "query_refused"  # checked read-only in the function too
    assert runner.invoked[PROBE] == before + 6
    assert api.call("GET", "/v1/warehouse/sources/sf-users")[0] == 404  # nothing saved

    def broken(event: dict[str, Any], context: Any) -> Any:
        raise RuntimeError(f"crashed on {event}")

    monkeypatch.setitem(runner.handlers, PROBE, broken)
    status, failed = api.call("POST", "/v1/warehouse/test", {"credentials": snowflake})
    answers.append(failed)
    assert status == 502 and failed["error"] == "warehouse_function_failed" and "RuntimeError" in failed["message"]
    assert SECRET not in json.dumps(answers)  # the credentials travel in the invoke, never into an answer

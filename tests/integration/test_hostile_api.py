"""Hostile and careless requests: each gets a clear 4xx naming what to fix, and none learns anything
without a key (issue 18, items 6, 7, 8, 11, 12)."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from roster.api.app import MAX_JSON_DEPTH
from roster.profiles.limits import MAX_REQUEST_BYTES
from roster.segments.filters import MAX_FILTER_BYTES, MAX_TEXT_VALUE
from roster_dev.local.runner import Runner
from roster_dev.local.stack import LocalStack
from tests.conftest import Api, fill
from tests.integration.test_csv_imports import run_import


def raw(api: Api, method: str, path: str, body: bytes | None, **headers: str) -> tuple[int, Any]:
    response = api.runner.api(method, path, headers={"Authorization": f"Bearer {api.key}", **headers}, body=body)
    return int(response["statusCode"]), json.loads(response["body"] or "null")


def nested(levels: int) -> bytes:
    return ('{"records": ' + "[" * levels + "]" * levels + "}").encode()


def test_unauthenticated_requests_learn_nothing(runner: Runner) -> None:
    for body in (b'{"records": "not a list"}', nested(5000), b"{not json", b"x" * (MAX_REQUEST_BYTES + 1)):
        for headers in ({}, {"Authorization": "Bearer rst_0000000000000000.wrong"}):
            response = runner.api("POST", "/v1/people/upsert", headers=headers, body=body)
            assert response["statusCode"] == 401, response
            assert json.loads(response["body"])["error"] == "unauthorized"
    assert runner.api("GET", "/v1/no/such/route/at/all")["statusCode"] == 401


def test_deep_json_is_422_naming_the_limit(api: Api) -> None:
    for levels in (MAX_JSON_DEPTH, 600, 100_000):
        status, body = raw(api, "POST", "/v1/people/upsert", nested(levels))
        assert status == 422, body
        assert body["error"] == "too_deep" and str(MAX_JSON_DEPTH) in body["message"]


def test_invalid_json_says_where(api: Api) -> None:
    status, body = raw(api, "POST", "/v1/people/upsert", b'{"records": [}')
    assert status == 422 and body["error"] == "invalid_json", body
    assert "column 14" in body["message"]


@pytest.mark.parametrize("content_type", [None, "application/json", "text/plain", "text/plain; charset=utf-8"])
def test_a_json_body_is_read_whatever_text_type_it_declares(api: Api, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    record = {"source": "api", "fields": {"email": "ada@example.com"}}
    status, body = raw(api, "POST", "/v1/people/upsert", json.dumps({"records": [record]}).encode(), **headers)
    assert status == 200, body
    assert body["results"][0]["outcome"] in ("created", "unchanged")


def test_a_form_body_is_415_saying_what_to_send(api: Api) -> None:
    """What curl sends with `-d` and no content type."""
    body_text = json.dumps({"records": [{"source": "api", "fields": {"email": "ada@example.com"}}]}).encode()
    status, body = raw(
        api, "POST", "/v1/people/upsert", body_text, **{"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert status == 415 and body["error"] == "unsupported_media_type", body
    assert "Content-Type: application/json" in body["message"]


def test_huge_filter_values_are_refused_by_name(api: Api) -> None:
    huge = {"field": "job_title", "op": "eq", "value": "x" * 1_000_000}
    segment = {"name": "huge", "kind": "people", "filter": {"conditions": [huge]}}
    status, body = api.call("POST", "/v1/segments", segment)
    assert status == 422, body
    assert body["errors"][0]["path"] == "filter.conditions[0].value"
    assert str(MAX_TEXT_VALUE) in body["message"]
    many = {"field": "job_title", "op": "in", "value": [f"{n:04d}" + "y" * (MAX_TEXT_VALUE - 4) for n in range(999)]}
    segment = {"name": "many", "kind": "people", "filter": {"conditions": [many]}}
    status, body = api.call("POST", "/v1/segments", segment)
    assert status == 413 and body["error"] == "too_large", body
    assert f"{MAX_FILTER_BYTES // 1024} KB" in body["message"]


@pytest.mark.parametrize(
    "body",
    [
        {"name": "", "kind": "people"},
        {"name": "n" * 201, "kind": "people"},
    ],
)
def test_segment_names_are_bounded(api: Api, body: dict[str, Any]) -> None:
    status, answer = api.call("POST", "/v1/segments", body)
    assert status == 422 and answer["errors"][0]["path"] == "body.name", answer


@pytest.mark.parametrize("audience", ["", " ", "x" * 200, "seg/../../x"])
def test_bad_audience_ids_are_422(api: Api, audience: str) -> None:
    definition = {"name": "e", "providers": [{"type": "built_in", "name": "email_validation"}], "audiences": [audience]}
    for path in ("/v1/enrichments", "/v1/enrichments/test"):
        status, body = api.call("POST", path, definition)
        assert status == 422, (path, body)
        assert body["errors"][0]["path"].startswith("body.audiences"), body


def test_preview_does_not_change_a_finished_import(api: Api) -> None:
    report = run_import(api, "email\nann@acme.com\n")
    assert report["status"] == "completed", report
    status, preview = api.call("GET", f"/v1/people/imports/{report['import_id']}/preview")
    assert status == 200 and preview["columns"] == ["email"], preview
    assert api.call("GET", f"/v1/people/imports/{report['import_id']}")[1]["status"] == "completed"
    assert api.call("POST", f"/v1/people/imports/{report['import_id']}/confirm", {})[0] == 409


# --- item 12: keys --------------------------------------------------------------------------------------------


@pytest.fixture
def key_log() -> Iterator[list[logging.LogRecord]]:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger("roster-api")
    handler, level = Keep(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield records
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_a_workspace_lists_and_revokes_its_keys(
    runner: Runner, stack: LocalStack, api: Api, key_log: list[logging.LogRecord]
) -> None:
    admin = {"Authorization": f"Bearer {stack.admin_key}"}
    minted = runner.api("POST", f"/v1/admin/workspaces/{api.workspace}/keys", headers=admin)
    assert minted["statusCode"] == 201
    second = json.loads(minted["body"])["api_key"]
    second_id = second.removeprefix("rst_").partition(".")[0]
    created = [record for record in key_log if record.getMessage() == "api key created"]
    assert [(r.__dict__["workspace"], r.__dict__["key_id"]) for r in created] == [(api.workspace, second_id)]
    assert all(second.partition(".")[2] not in json.dumps(r.__dict__, default=str) for r in key_log)

    status, listed = api.call("GET", "/v1/keys")
    assert status == 200, listed
    first_id = api.key.removeprefix("rst_").partition(".")[0]
    assert {key["key_id"] for key in listed["keys"]} == {first_id, second_id}
    assert "secret" not in json.dumps(listed) and second.partition(".")[2] not in json.dumps(listed)
    assert next(key for key in listed["keys"] if key["key_id"] == first_id)["last_used_at"] is not None

    other = Api(runner, second, api.workspace)
    assert other.call("GET", "/v1/people")[0] == 200
    assert api.call("DELETE", f"/v1/keys/{second_id}")[0] == 204
    assert other.call("GET", "/v1/people")[0] == 401
    assert [key["key_id"] for key in api.call("GET", "/v1/keys")[1]["keys"]] == [first_id]
    assert api.call("DELETE", f"/v1/keys/{second_id}")[0] == 404


def test_a_workspace_cannot_see_or_revoke_another_workspaces_keys(runner: Runner, stack: LocalStack, api: Api) -> None:
    from tests.conftest import new_workspace

    other = new_workspace(runner, stack)
    other_id = other.key.removeprefix("rst_").partition(".")[0]
    assert other_id not in json.dumps(api.call("GET", "/v1/keys")[1])
    assert api.call("DELETE", f"/v1/keys/{other_id}")[0] == 404
    assert other.call("GET", "/v1/people")[0] == 200


def test_a_known_path_asked_with_another_method_is_405_with_allow(api: Api) -> None:
    response = api.runner.api("TRACE", "/v1/keys", headers={"Authorization": f"Bearer {api.key}"})
    assert response["statusCode"] == 405
    assert response["multiValueHeaders"]["Allow"] == ["GET"]
    assert api.call("DELETE", "/v1/people")[0] == 405
    assert api.call("GET", "/v1/no-such-thing/at/all")[0] == 404


def test_settings_too_large_to_store_are_refused_by_name(api: Api) -> None:
    status, body = api.call("PUT", f"/v1/people/sources/{'s' * 3000}/matching", {"match_on": []})
    assert status == 422 and body["errors"][0]["path"] == "path.source", body
    status, body = api.call("PUT", "/v1/people/sources/crm/matching", {"match_on": ["email"] * 100_000})
    assert status == 422 and body["errors"][0]["path"] == "body.match_on", body
    huge = {"source_priority": {"f" * 5000: ["a" * 100_000] * 40}}
    status, body = api.call("PUT", "/v1/people/survivorship", huge)
    assert status == 422 and body["errors"][0]["path"].startswith("body.source_priority"), body
    status, body = api.call("PUT", "/v1/people/sources/crm/matching", {"match_on": ["email", "email"]})
    assert status == 200 and body["match_on"] == ["email"], body


def test_a_body_that_is_not_utf8_is_422(api: Api) -> None:
    event = fill("api_upsert.json", api_key=api.key)
    event.update(body=base64.b64encode(b"\xff\xfe\xfd").decode(), isBase64Encoded=True)
    response = api.runner.invoke("ApiFunction", event)
    assert response["statusCode"] == 422
    assert json.loads(response["body"])["error"] == "invalid_json"


def test_an_enrichment_definition_too_large_to_store_is_413(api: Api) -> None:
    from roster.enrich.definitions import MAX_DEFINITION_BYTES

    provider = {
        "type": "http",
        "config": {
            "name": "big",
            "method": "POST",
            "url": "https://enrich.example.com/v1",
            "body": {"email": "{{email}}", "padding": "p" * MAX_DEFINITION_BYTES},
            "inputs": ["email"],
            "outputs": {"seniority": {"path": "seniority"}},
        },
    }
    definition = {"name": "big", "providers": [provider], "audiences": ["all-people"]}
    status, body = api.call("POST", "/v1/enrichments", definition)
    assert status == 413 and body["error"] == "too_large", body
    assert f"{MAX_DEFINITION_BYTES // 1024} KB" in body["message"]


def test_a_cursor_no_page_gave_is_400(api: Api) -> None:
    status, body = api.call("GET", "/v1/segments/all-people/members", cursor="7\x05[")
    assert status == 400 and body["error"] == "bad_request", body


def test_salesforce_export_settings_are_bounded(api: Api) -> None:
    """A 500 KB external-id field name once answered 500 (the settings item grew past DynamoDB's limit)."""
    for settings, path in (
        ({"external_id_field": "X" * 500_000}, "body.external_id_field"),
        ({"create_segment": "seg-" + "s" * 100}, "body.create_segment"),
    ):
        status, body = api.call("PUT", "/v1/salesforce/export/Contact", settings)
        assert status == 422 and body["errors"][0]["path"] == path, body


def test_lone_surrogates_in_upserted_values_are_kept_as_replacement_characters(api: Api) -> None:
    """JSON may escape half a surrogate pair (`\\ud800`); no UTF encoding can store it, so it becomes U+FFFD
    rather than failing the record (or the whole request) when it is written."""
    body = b'{"records": [{"source": "crm", "id": "sur-1", "fields": {"email": "sur@x.com", "job_title": "CTO \\ud800",'
    body += b' "tags": ["a\\udfff", "b"]}}]}'
    status, answer = raw(api, "POST", "/v1/people/upsert", body, **{"Content-Type": "application/json"})
    assert status == 200 and answer["results"][0]["outcome"] == "created", answer
    status, detail = api.call("GET", f"/v1/people/{answer['results'][0]['profile_id']}")
    assert detail["fields"]["job_title"]["value"] == "CTO \ufffd"
    assert detail["fields"]["tags"]["value"] == ["a\ufffd", "b"]


def test_declared_custom_fields_are_bounded(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """All custom fields live in one settings item: past the limit one more is refused by name, none lost."""
    monkeypatch.setattr("roster.store.workspaces.MAX_CUSTOM_FIELDS", 3)
    for name in ("bound_a", "bound_b", "bound_c"):
        assert api.call("PUT", f"/v1/people/fields/{name}", {"type": "string"})[0] == 200
    status, body = api.call("PUT", "/v1/people/fields/bound_d", {"type": "string"})
    assert status == 422 and "at most 3 custom people fields" in body["message"], body
    assert api.call("PUT", "/v1/people/fields/bound_a", {"type": "number"})[0] == 200  # retyping adds nothing
    status, catalog = api.call("GET", "/v1/people/fields")
    names = set(catalog["fields"])
    assert {"bound_a", "bound_b", "bound_c"} <= names and "bound_d" not in names

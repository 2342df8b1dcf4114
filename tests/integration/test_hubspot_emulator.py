"""The HubSpot emulator answers as a real portal does, driven by the unmodified `hubspot-api-client`.

Each test follows one page of HubSpot's developer documentation, named in its docstring, over HTTPS through
the client's `host=` setting with the emulator's CA as `ssl_ca_cert`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import urllib3
from hubspot.crm.associations.v4 import BatchInputPublicFetchAssociationsBatchRequest
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchInputSimplePublicObjectBatchInputUpsert,
    BatchReadInputSimplePublicObjectId,
    PublicMergeInput,
    PublicObjectSearchRequest,
)
from urllib3.util.retry import Retry

from roster_dev.emulators.hubspot import (
    ACCESS_TOKEN_LIFETIME,
    NO_LIMITS,
    RESULT_CAP,
    FailureKind,
    HubSpotEmulator,
    ManualClock,
    RateLimits,
    generate_portal,
)
from roster_dev.emulators.salesforce.generate import generate_org

START = datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def emulator(clock: ManualClock) -> Iterator[HubSpotEmulator]:
    portal = generate_portal(11, contacts=40, companies=8, deals=12, clock=clock)
    with HubSpotEmulator(portal, rate_limits=NO_LIMITS) as fresh:  # the rate-limit test sets its own
        yield fresh


def test_contacts_list_pages_with_the_properties_asked_for(emulator: HubSpotEmulator) -> None:
    """CRM API | Contacts, "Retrieve contacts": `limit`, `after` paging, `properties` (null when empty)."""
    client = emulator.client()
    seen: list[str] = []
    after = None
    while True:
        page = client.crm.contacts.basic_api.get_page(limit=15, after=after, properties=["email", "jobtitle"])
        for contact in page.results:
            assert set(contact.properties) == {"email", "jobtitle"}
            assert contact.properties["email"]
        seen.extend(contact.id for contact in page.results)
        if page.paging is None:
            break
        after = page.paging.next.after
    assert len(seen) == len(set(seen)) == 40


def test_search_filters_on_epoch_milliseconds_and_counts_total(emulator: HubSpotEmulator) -> None:
    """CRM API | Search, "Filter search results": datetime values as epoch-ms strings; `total` counts all."""
    client = emulator.client()
    cutoff = emulator.portal.live("contacts")[10].updated
    expected = sum(1 for record in emulator.portal.live("contacts") if record.updated >= cutoff)
    request = PublicObjectSearchRequest(
        filter_groups=[
            {
                "filters": [
                    {
                        "propertyName": "lastmodifieddate",
                        "operator": "GTE",
                        "value": str(int(cutoff.timestamp() * 1000)),
                    }
                ]
            }
        ],
        sorts=["hs_object_id"],
        limit=5,
    )
    answer = client.crm.contacts.search_api.do_search(request)
    assert answer.total == expected
    assert len(answer.results) == min(5, expected)


def test_modified_dates_by_object_type_filter_in_epoch_ms_and_answer_in_iso(
    emulator: HubSpotEmulator, clock: ManualClock
) -> None:
    """CRM API | Search, "Filter search results" (dates as Unix milliseconds) and CRM objects (ISO 8601 in
    responses): contacts keep `lastmodifieddate`, companies and deals `hs_lastmodifieddate`; an update moves it."""
    client = emulator.client()
    clock.advance(3600)
    company = emulator.portal.live("companies")[2]
    client.crm.companies.basic_api.update(str(company.id), {"properties": {"city": "Lisbon"}})
    deal = emulator.portal.live("deals")[4]
    client.crm.deals.basic_api.update(str(deal.id), {"properties": {"amount": "1234.5"}})
    contact = emulator.portal.live("contacts")[6]
    client.crm.contacts.basic_api.update(str(contact.id), {"properties": {"jobtitle": "CMO"}})
    since = epoch_ms(clock() - timedelta(seconds=1))
    for object_type, modified, changed in (
        ("companies", "hs_lastmodifieddate", company.id),
        ("deals", "hs_lastmodifieddate", deal.id),
        ("contacts", "lastmodifieddate", contact.id),
    ):
        found = search(
            emulator,
            object_type,
            {"filterGroups": [{"filters": [{"propertyName": modified, "operator": "GT", "value": since}]}]},
        )
        assert [record.id for record in found.results] == [str(changed)]
        assert found.results[0].properties[modified] == "2026-11-25T11:00:00.000Z"
        assert found.results[0].updated_at == clock()
    assert "hs_lastmodifieddate" not in emulator.portal.properties["contacts"]
    by_email = client.crm.contacts.basic_api.get_by_id(contact.properties["email"].upper(), id_property="email")
    assert by_email.id == str(contact.id)


def test_batch_read_reports_missing_ids_with_207(emulator: HubSpotEmulator) -> None:
    """CRM API | Contacts, "Retrieve a batch of contacts": unknown ids come back in `errors` with 207."""
    client = emulator.client()
    known = emulator.portal.live("contacts")[0]
    answer = client.crm.contacts.batch_api.read(
        BatchReadInputSimplePublicObjectId(inputs=[{"id": str(known.id)}, {"id": "424242"}], properties=["email"])
    )
    assert [result.id for result in answer.results] == [str(known.id)]
    assert answer.num_errors == 1
    assert answer.errors[0].category == "OBJECT_NOT_FOUND"
    assert answer.errors[0].context == {"ids": ["424242"]}


def test_unknown_token_is_refused_with_401(emulator: HubSpotEmulator) -> None:
    """Authentication overview: a bad Bearer token gets 401 INVALID_AUTHENTICATION."""
    status, body = refusal(emulator.client("pat-na1-not-a-token").crm.contacts.basic_api.get_page, limit=1)
    assert (status, body["category"]) == (401, "INVALID_AUTHENTICATION")


def test_archived_listing_shows_archived_at(emulator: HubSpotEmulator, clock: ManualClock) -> None:
    """CRM API | Contacts, "Delete contacts": archived records leave the list and show with `archived=true`."""
    client = emulator.client()
    gone = emulator.portal.live("contacts")[3]
    clock.advance(60)
    client.crm.contacts.basic_api.archive(str(gone.id))
    live = client.crm.contacts.basic_api.get_page(limit=100).results
    assert str(gone.id) not in {contact.id for contact in live}
    archived = client.crm.contacts.basic_api.get_page(limit=100, archived=True).results
    assert [contact.id for contact in archived] == [str(gone.id)]
    assert archived[0].archived is True
    assert archived[0].archived_at == clock()
    assert refusal(client.crm.contacts.basic_api.get_by_id, str(gone.id))[0] == 404


def search(emulator: HubSpotEmulator, object_type: str, body: dict[str, Any]) -> Any:
    """One search through the client's generic objects API (any object type)."""
    client = emulator.client()
    return client.crm.objects.search_api.do_search(object_type, body)


def refusal(call: Any, *args: Any, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    """The status and JSON body of the error a client call raises (each client package has its own
    ApiException class, so match on the attributes they share)."""
    with pytest.raises(Exception) as raised:
        call(*args, **kwargs)
    status, body = getattr(raised.value, "status", None), getattr(raised.value, "body", None)
    assert isinstance(status, int), raised.value
    try:
        return status, json.loads(body or "{}")
    except ValueError:  # the HTML pages of 502/504
        return status, {"html": body}


def epoch_ms(moment: datetime) -> str:
    return str(int(moment.timestamp() * 1000))


def test_search_operators_match_as_documented(emulator: HubSpotEmulator) -> None:
    """CRM API | Search, "Filter search results": EQ (case-insensitive), NEQ, IN, BETWEEN, HAS_PROPERTY,
    NOT_HAS_PROPERTY; filters in a group are ANDed, groups ORed."""
    deals = emulator.portal.live("deals")
    amounts = sorted(float(deal.properties["amount"]) for deal in deals)
    low, high = amounts[2], amounts[8]

    def ids(*groups: list[dict[str, Any]]) -> set[str]:
        body = {"filterGroups": [{"filters": filters} for filters in groups], "limit": 200}
        return {deal.id for deal in search(emulator, "deals", body).results}

    def where(test: Any) -> set[str]:
        return {str(deal.id) for deal in deals if test(deal.properties)}

    between = [{"propertyName": "amount", "operator": "BETWEEN", "value": str(low), "highValue": str(high)}]
    assert ids(between) == where(lambda p: low <= float(p["amount"]) <= high)
    won = [{"propertyName": "dealstage", "operator": "EQ", "value": "CLOSEDWON"}]
    assert ids(won) == where(lambda p: p["dealstage"] == "closedwon")
    not_won = [{"propertyName": "dealstage", "operator": "NEQ", "value": "closedwon"}]
    assert ids(not_won) == where(lambda p: p["dealstage"] != "closedwon")
    stages = [{"propertyName": "dealstage", "operator": "IN", "values": ["closedwon", "closedlost"]}]
    assert ids(stages) == where(lambda p: p["dealstage"] in {"closedwon", "closedlost"})
    renewal = [{"propertyName": "renewal_date", "operator": "HAS_PROPERTY"}]
    assert ids(renewal) == where(lambda p: "renewal_date" in p)
    assert ids([{"propertyName": "renewal_date", "operator": "NOT_HAS_PROPERTY"}]) == where(
        lambda p: "renewal_date" not in p
    )
    assert ids(won + between) == ids(won) & ids(between)
    assert ids(won, between) == ids(won) | ids(between)


def test_search_sorts_pages_by_after_and_counts_total(emulator: HubSpotEmulator) -> None:
    """CRM API | Search, "Sorting" and "Paging through results": one sort, `after` to the next page."""
    body: dict[str, Any] = {"sorts": [{"propertyName": "amount", "direction": "DESCENDING"}], "limit": 5}
    amounts: list[float] = []
    while True:
        page = search(emulator, "deals", body)
        assert page.total == 12
        amounts.extend(float(deal.properties["amount"]) for deal in page.results)
        if page.paging is None:
            break
        body["after"] = page.paging.next.after
    assert amounts == sorted(amounts, reverse=True)
    assert len(amounts) == 12


def test_search_refuses_too_many_groups_filters_or_a_page_over_200(emulator: HubSpotEmulator) -> None:
    """CRM API | Search, "Limitations": 5 filter groups, 25 filters in all, 200 results a page; else a 400."""
    one = {"propertyName": "email", "operator": "HAS_PROPERTY"}
    too_many_groups = {"filterGroups": [{"filters": [one]}] * 6}
    too_many_filters = {"filterGroups": [{"filters": [one] * 9}] * 3}
    for body in (too_many_groups, too_many_filters, {"limit": 201}):
        status, answer = refusal(search, emulator, "contacts", body)
        assert (status, answer["category"]) == (400, "VALIDATION_ERROR")
    allowed = {"filterGroups": [{"filters": [one] * 5}] * 5, "limit": 200}
    assert search(emulator, "contacts", allowed).total == 40


def test_search_stops_at_10000_results_and_a_keyset_goes_past(emulator: HubSpotEmulator, clock: ManualClock) -> None:
    """CRM API | Search, "Limitations": paging stops at 10,000 results with a 400 while `total` counts all;
    a bulk edit gives every record one `lastmodifieddate`, so only a keyset on `hs_object_id` gets past."""
    portal = emulator.portal
    extra = portal.add_many("contacts", RESULT_CAP + 160, lambda i: {"email": f"bulk{i}@example.org"})
    clock.advance(3600)
    edited_at = portal.bulk_edit("contacts", [record.id for record in extra], {"lifecyclestage": "lead"})
    modified = {"propertyName": "lastmodifieddate", "operator": "EQ", "value": epoch_ms(edited_at)}
    last = search(emulator, "contacts", {"filterGroups": [{"filters": [modified]}], "after": "9800", "limit": 200})
    assert last.total == RESULT_CAP + 160
    assert last.paging.next.after == str(RESULT_CAP)
    beyond = {"filterGroups": [{"filters": [modified]}], "after": str(RESULT_CAP)}
    status, answer = refusal(search, emulator, "contacts", beyond)
    assert (status, answer["category"]) == (400, "VALIDATION_ERROR")
    after_id = last.results[-1].id
    keyset = [modified, {"propertyName": "hs_object_id", "operator": "GT", "value": after_id}]
    body = {"filterGroups": [{"filters": keyset}], "sorts": ["hs_object_id"], "limit": 200}
    rest = search(emulator, "contacts", body)
    assert rest.total == 160
    assert [int(record.id) for record in rest.results] == [record.id for record in extra[-160:]]
    assert {record.properties["lastmodifieddate"] for record in rest.results} == {
        edited_at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    }


def test_batch_create_update_upsert_answer_201_200_207(emulator: HubSpotEmulator) -> None:
    """CRM API | Contacts, batch endpoints: create answers 201, update 200 (207 with `errors`/`numErrors` for
    the inputs it refused, applying the rest), upsert by a unique `idProperty` flags `new` results; 100 a batch."""
    batch = emulator.client().crm.contacts.batch_api
    created = batch.create(
        BatchInputSimplePublicObjectBatchInputForCreate(
            inputs=[{"properties": {"email": f"new{i}@example.net", "firstname": f"N{i}"}} for i in range(3)]
        )
    )
    assert created.status == "COMPLETE"
    assert len(created.results) == 3
    ids = sorted(result.id for result in created.results)
    updated = batch.update(
        BatchInputSimplePublicObjectBatchInput(
            inputs=[
                {"id": ids[0], "properties": {"jobtitle": "CTO"}},
                {"id": ids[1], "properties": {"createdate": "2020-01-01"}},
                {"id": "999999999", "properties": {"jobtitle": "CTO"}},
                {"id": ids[2], "properties": {"lifecyclestage": "not-a-stage"}},
            ]
        )
    )
    assert [result.id for result in updated.results] == [ids[0]]
    assert updated.num_errors == 3
    categories = sorted((error.category, error.context["ids"][0]) for error in updated.errors)
    assert categories == sorted(
        [("VALIDATION_ERROR", ids[1]), ("OBJECT_NOT_FOUND", "999999999"), ("VALIDATION_ERROR", ids[2])]
    )
    assert "READ_ONLY_VALUE" in json.dumps([error.to_dict() for error in updated.errors])
    assert emulator.portal.get("contacts", ids[0]).properties["jobtitle"] == "CTO"
    upserted = batch.upsert(
        BatchInputSimplePublicObjectBatchInputUpsert(
            inputs=[
                {"id": "NEW0@example.net", "idProperty": "email", "properties": {"lastname": "Again"}},
                {"id": "fresh@example.net", "idProperty": "email", "properties": {"lastname": "Fresh"}},
            ]
        )
    )
    flags = {result.properties["email"]: result.new for result in upserted.results}
    assert flags == {"new0@example.net": False, "fresh@example.net": True}
    wrong_key = [{"id": "x", "idProperty": "firstname", "properties": {"lastname": "No"}}]
    assert refusal(batch.upsert, BatchInputSimplePublicObjectBatchInputUpsert(inputs=wrong_key))[0] == 400
    too_many = [{"properties": {"firstname": str(i)}} for i in range(101)]
    assert refusal(batch.create, BatchInputSimplePublicObjectBatchInputForCreate(inputs=too_many))[0] == 400
    taken = [{"properties": {"email": "NEW1@example.net"}}]
    status, body = refusal(batch.create, BatchInputSimplePublicObjectBatchInputForCreate(inputs=taken))
    assert (status, body["message"]) == (409, f"Contact already exists. Existing ID: {ids[1]}")


def test_associations_v4_batch_read(emulator: HubSpotEmulator) -> None:
    """CRM API | Associations v4, "Retrieve associations": contact→company with the Primary label (type 1) and
    the unlabelled type (279); deal→company (5, 341); records without any in `errors` (207)."""
    portal = emulator.portal
    api = emulator.client().crm.associations.v4.batch_api
    contacts = portal.live("contacts")
    linked = [c for c in contacts if portal.associations("contacts", c.id, "companies")]
    lonely = [c for c in contacts if not portal.associations("contacts", c.id, "companies")]
    assert linked and lonely
    inputs = [{"id": str(linked[0].id)}, {"id": str(lonely[0].id)}]
    answer = api.get_page("contacts", "companies", BatchInputPublicFetchAssociationsBatchRequest(inputs=inputs))
    assert [result._from.id for result in answer.results] == [str(linked[0].id)]
    target = answer.results[0].to[0]
    assert str(target.to_object_id) == linked[0].properties["associatedcompanyid"]
    assert {(t.type_id, t.label) for t in target.association_types} == {(1, "Primary"), (279, None)}
    assert answer.num_errors == 1
    deal = portal.live("deals")[0]
    deal_answer = api.get_page(
        "deals", "companies", BatchInputPublicFetchAssociationsBatchRequest(inputs=[{"id": str(deal.id)}])
    )
    assert {t.type_id for t in deal_answer.results[0].to[0].association_types} == {5, 341}


def test_properties_describe_types_uniqueness_read_only_and_calculated(emulator: HubSpotEmulator) -> None:
    """CRM API | Properties: `type`, `fieldType`, `hasUniqueValue`, `modificationMetadata.readOnlyValue`,
    `calculated`; creating a custom property answers 201, a name in use 409."""
    api = emulator.client().crm.properties.core_api
    assert refusal(api.get_by_name, "contacts", "no_such_property")[0] == 404
    described = {prop.name: prop for prop in api.get_all("contacts").results}
    assert described["email"].has_unique_value is True
    assert described["createdate"].type == "datetime"
    assert described["createdate"].modification_metadata.read_only_value is True
    assert described["hs_email_domain"].calculated is True
    assert described["lifecyclestage"].type == "enumeration"
    assert "lead" in {option.value for option in described["lifecyclestage"].options}
    assert described["customer_tier"].hubspot_defined is None
    assert described["firstname"].modification_metadata.read_only_value is False
    body: dict[str, Any] = {"name": "roster_id", "label": "Roster ID", "type": "string", "fieldType": "text"}
    body |= {"groupName": "companyinformation", "hasUniqueValue": True}
    created = api.create("companies", body)
    assert created.has_unique_value is True
    assert refusal(api.create, "companies", body)[0] == 409


def test_owners_pipelines_and_token_scopes_name_what_records_refer_to(emulator: HubSpotEmulator) -> None:
    """CRM API | Owners, CRM API | Pipelines and "Private apps" (access-token-info): every `hubspot_owner_id`
    and `dealstage` in the portal is listed, closed stages flagged; a token's scopes can be read back."""
    client = emulator.client()
    owners = {owner.id: owner for owner in client.crm.owners.owners_api.get_page().results}
    assert {deal.properties["hubspot_owner_id"] for deal in emulator.portal.live("deals")} <= set(owners)
    assert all(owner.email and owner.type == "PERSON" for owner in owners.values())
    pipeline = client.crm.pipelines.pipelines_api.get_all("deals").results[0]
    stages = {stage.id: stage for stage in pipeline.stages}
    assert {deal.properties["dealstage"] for deal in emulator.portal.live("deals")} <= set(stages)
    assert stages["closedwon"].metadata["isClosed"] == "true"
    assert stages["qualifiedtobuy"].metadata["isClosed"] == "false"
    narrow = emulator.auth.private_app_token(frozenset({"crm.objects.contacts.read"}))
    session = requests.Session()
    session.verify = emulator.ca_path
    session.trust_env = False
    info = session.post(
        f"{emulator.url}/oauth/v2/private-apps/get/access-token-info", json={"tokenKey": narrow}, timeout=30
    )
    assert info.json()["scopes"] == ["crm.objects.contacts.read"]
    assert info.json()["hubId"] == emulator.portal.portal_id
    status, body = refusal(emulator.client(narrow).crm.deals.basic_api.get_page, limit=1)
    assert (status, body["category"]) == (403, "MISSING_SCOPES")
    assert body["errors"][0]["context"]["requiredGranularScopes"] == ["crm.objects.deals.read"]


def test_merge_makes_a_new_record_and_old_ids_answer_with_it(emulator: HubSpotEmulator) -> None:
    """CRM API | Contacts, "Merge two contacts", and the changelog "Updated merge functionality for contacts and
    companies": the merge creates a record with a new id, `hs_merged_object_ids` lists both old ids, fetching an
    old id returns the merged record, the old ids leave lists and search, associations move over."""
    portal = emulator.portal
    client = emulator.client()
    linked = [c for c in portal.live("contacts") if portal.associations("contacts", c.id, "companies")]
    primary, other = portal.live("contacts")[0], linked[-1]
    primary_email = primary.properties["email"]
    company = next(iter(portal.associations("contacts", other.id, "companies")))
    merged = client.crm.contacts.basic_api.merge(
        PublicMergeInput(primary_object_id=str(primary.id), object_id_to_merge=str(other.id))
    )
    assert merged.id not in {str(primary.id), str(other.id)}
    survivor = client.crm.contacts.basic_api.get_by_id(
        merged.id, properties=["email", "hs_merged_object_ids", "hs_additional_emails"]
    )
    assert survivor.properties["email"] == primary_email
    assert survivor.properties["hs_additional_emails"] == other.properties["email"]
    assert set(survivor.properties["hs_merged_object_ids"].split(";")) == {str(primary.id), str(other.id)}
    for old in (primary.id, other.id):
        assert client.crm.contacts.basic_api.get_by_id(str(old)).id == merged.id
    listed = {c.id for c in client.crm.contacts.basic_api.get_page(limit=100).results}
    assert merged.id in listed
    assert not listed & {str(primary.id), str(other.id)}
    assert company in portal.associations("contacts", int(merged.id), "companies")


def test_rate_limits_answer_429_with_retry_after_and_headers(emulator: HubSpotEmulator) -> None:
    """API usage guidelines and limits: a rolling 10-second allowance by tier, a daily one, 5 searches a second
    a token; 429 with `policyName` and `Retry-After`; `X-HubSpot-RateLimit-*` headers on other responses."""
    rate_clock = ManualClock(START)
    with HubSpotEmulator(
        emulator.portal, rate_limits=RateLimits(per_ten_seconds=3, daily=6, search_per_second=1), rate_clock=rate_clock
    ) as limited:
        session = requests.Session()
        session.verify = limited.ca_path
        session.trust_env = False
        headers = {"Authorization": f"Bearer {limited.token}"}

        def get() -> requests.Response:
            return session.get(f"{limited.url}/crm/v3/objects/contacts?limit=1", headers=headers, timeout=30)

        first = get()
        assert first.headers["X-HubSpot-RateLimit-Max"] == "3"
        assert first.headers["X-HubSpot-RateLimit-Remaining"] == "2"
        assert first.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
        assert first.headers["X-HubSpot-RateLimit-Daily-Remaining"] == "5"
        rate_clock.advance(4)
        get(), get()
        throttled = get()
        assert throttled.status_code == 429
        assert throttled.json()["policyName"] == "TEN_SECONDLY_ROLLING"
        assert throttled.json()["errorType"] == "RATE_LIMIT"
        assert throttled.headers["Retry-After"] == "6"
        rate_clock.advance(6)
        assert get().status_code == 200
        searched = [
            session.post(f"{limited.url}/crm/v3/objects/contacts/search", json={}, headers=headers, timeout=30)
            for _ in range(2)
        ]
        assert [r.status_code for r in searched] == [200, 429]
        assert "X-HubSpot-RateLimit-Max" not in searched[0].headers
        assert searched[1].json()["policyName"] == "SECONDLY"
        rate_clock.advance(4)  # the search window has passed, and the 10-second one has room again
        assert get().status_code == 200
        daily = get()
        assert daily.status_code == 429
        assert daily.json()["policyName"] == "DAILY"
        rate_clock.advance(86_400)
        assert get().status_code == 200


def test_oauth_code_token_expiry_and_refresh(emulator: HubSpotEmulator, clock: ManualClock) -> None:
    """Working with OAuth: the authorize redirect carries a code; `POST /oauth/v1/token` swaps it (and later the
    refresh token) for a 30-minute access token; an expired one gets 401 EXPIRED_AUTHENTICATION."""
    app = emulator.auth.app
    session = requests.Session()
    session.verify = emulator.ca_path
    session.trust_env = False
    consent = session.get(
        f"{emulator.url}/oauth/authorize",
        params={"client_id": app.client_id, "redirect_uri": app.redirect_uri, "scope": "crm.objects.contacts.read"},
        allow_redirects=False,
        timeout=30,
    )
    assert consent.status_code == 302
    code = parse_qs(urlsplit(consent.headers["Location"]).query)["code"][0]
    tokens = emulator.client().oauth.tokens_api
    granted = tokens.create(
        grant_type="authorization_code",
        code=code,
        redirect_uri=app.redirect_uri,
        client_id=app.client_id,
        client_secret=app.client_secret,
    )
    assert granted.expires_in == ACCESS_TOKEN_LIFETIME.total_seconds() == 1800
    assert emulator.client(granted.access_token).crm.contacts.basic_api.get_page(limit=1).results
    status, body = refusal(emulator.client(granted.access_token).crm.companies.basic_api.get_page, limit=1)
    assert (status, body["category"]) == (403, "MISSING_SCOPES")
    clock.advance(ACCESS_TOKEN_LIFETIME.total_seconds() + 1)
    status, body = refusal(emulator.client(granted.access_token).crm.contacts.basic_api.get_page, limit=1)
    assert (status, body["category"]) == (401, "EXPIRED_AUTHENTICATION")
    refreshed = tokens.create(
        grant_type="refresh_token",
        refresh_token=granted.refresh_token,
        client_id=app.client_id,
        client_secret=app.client_secret,
    )
    assert emulator.client(refreshed.access_token).crm.contacts.basic_api.get_page(limit=1).results
    with pytest.raises(Exception) as refused:
        tokens.create(
            grant_type="refresh_token", refresh_token="nope", client_id=app.client_id, client_secret=app.client_secret
        )
    assert "BAD_REFRESH_TOKEN" in str(getattr(refused.value, "body", ""))


def test_injected_failures_look_like_a_bad_day(emulator: HubSpotEmulator) -> None:
    """Error handling: 429, 500, 502 and 504 with HubSpot's bodies, requests that never answer and connections
    dropped mid-request, each for the next N matching calls only."""
    client = emulator.client(retry=Retry(0))
    api = client.crm.contacts.basic_api
    answers: list[tuple[FailureKind, int]] = [
        ("rate_limit", 429),
        ("server_error", 500),
        ("bad_gateway", 502),
        ("gateway_timeout", 504),
        ("daily_limit", 429),
        ("expired_token", 401),
    ]
    for kind, status in answers:
        emulator.fail_next(kind, on="list")
        assert refusal(api.get_page, limit=1)[0] == status
    emulator.fail_next("dropped", on="list")
    with pytest.raises(urllib3.exceptions.HTTPError):
        api.get_page(limit=1)
    emulator.fail_next("timeout", on="list")
    with pytest.raises(urllib3.exceptions.HTTPError):
        api.get_page(limit=1, _request_timeout=0.5)
    emulator.fail_next("server_error", 2, on="search")
    assert api.get_page(limit=1).results  # other calls are untouched
    assert emulator.calls_by_kind["list"] == 9


def test_generated_portal_is_seeded_and_shares_people_with_salesforce() -> None:
    """A generated portal: same seed same data; deals on companies with stage, amount, close date, owner, type,
    pipeline; contacts linked to companies; custom properties; people also in a Salesforce emulator org."""
    org = generate_org(5, accounts=10, contacts=60, leads=5)
    first = generate_portal(5, contacts=50, companies=10, deals=20, salesforce=org, clock=ManualClock(START))
    again = generate_portal(5, contacts=50, companies=10, deals=20, salesforce=org, clock=ManualClock(START))
    assert [r.properties for r in first.live("contacts")] == [r.properties for r in again.live("contacts")]
    in_salesforce = {str(row["Email"]).lower(): row for row in org.records("Contact") if row.get("Email")}
    shared = [r for r in first.live("contacts") if r.properties["email"] in in_salesforce]
    assert len(shared) >= 5
    for record in shared:
        row = in_salesforce[record.properties["email"]]
        assert record.properties["lastname"] == row["LastName"]
        assert record.properties["firstname"].lower() == str(row["FirstName"]).lower()
    emails = [r.properties["email"] for r in first.live("contacts")]
    assert len(emails) == len(set(emails))
    people = [(r.properties["firstname"], r.properties["lastname"]) for r in first.live("contacts")]
    assert len(set(people)) < len(people)  # duplicates: one person under two addresses
    for deal in first.live("deals"):
        assert {"dealstage", "amount", "closedate", "hubspot_owner_id", "dealtype", "pipeline"} <= set(deal.properties)
        assert first.associations("deals", deal.id, "companies")
    assert any(first.associations("contacts", r.id, "companies") for r in first.live("contacts"))
    assert "customer_tier" in first.live("contacts")[0].properties
    assert all(r.updated <= START for r in first.live("contacts"))

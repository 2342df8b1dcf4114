"""The HubSpot emulator answers as a real portal does, driven by the unmodified `hubspot-api-client`.

Each test follows one page of HubSpot's developer documentation, named in its docstring, over HTTPS through
the client's `host=` setting with the emulator's CA as `ssl_ca_cert`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from hubspot.crm.contacts import BatchReadInputSimplePublicObjectId, PublicObjectSearchRequest
from hubspot.crm.contacts.exceptions import ApiException

from roster_dev.emulators.hubspot import HubSpotEmulator, ManualClock, generate_portal

START = datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def emulator(clock: ManualClock) -> Iterator[HubSpotEmulator]:
    portal = generate_portal(11, contacts=40, companies=8, deals=12, clock=clock)
    with HubSpotEmulator(portal) as fresh:
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
    with pytest.raises(ApiException) as raised:
        emulator.client("pat-na1-not-a-token").crm.contacts.basic_api.get_page(limit=1)
    assert raised.value.status == 401
    assert "INVALID_AUTHENTICATION" in str(raised.value.body)

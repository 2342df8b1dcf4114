"""Ad-audience destinations against their emulators: audiences kept in step, batch limits, failures."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roster.actions.destinations import google_ads, linkedin, meta
from roster.actions.destinations.audiences import AudienceUnreadable, sha256_hex
from roster.actions.destinations.base import AudienceStatus, Delivery, OutcomeStatus, Transition
from roster.actions.destinations.registry import destination_kind
from roster.outbound import OutboundRefused, guard
from roster.profiles.fields import Kind
from roster_dev.emulators.ads import AdPlatforms
from roster_dev.emulators.google_ads import GoogleAdsEmulator
from roster_dev.emulators.kept_secret import KeptInMemory
from roster_dev.emulators.linkedin import LinkedInEmulator
from roster_dev.emulators.meta import MetaEmulator

_serial = iter(range(10**9))


@pytest.fixture(autouse=True)
def local_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings may point at an emulator only on a local stack."""
    monkeypatch.setenv("ROSTER_LOCAL_STACK", "1")


def change(transition: Transition, email: str | None = None, **fields: Any) -> Delivery:
    number = next(_serial)
    values = {"email": email, **fields} if email is not None else fields
    return Delivery(
        delivery_id=f"d{number}",
        action_id="a1",
        segment_id="s1",
        kind=Kind.PEOPLE,
        profile_id=f"p-{email or number}",
        transition=transition,
        occurred_at="2026-11-29T22:00:00Z",
        fields=values,
    )


def enter(email: str | None = None, **fields: Any) -> Delivery:
    return change(Transition.ENTERED, email, **fields)


def leave(email: str | None = None, **fields: Any) -> Delivery:
    return change(Transition.EXITED, email, **fields)


def session_for(ca_path: str) -> requests.Session:
    session = guard(requests.Session())
    session.verify = ca_path
    return session


# -- Meta ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def meta_platform() -> Iterator[MetaEmulator]:
    with MetaEmulator() as running:
        yield running


@pytest.fixture
def meta_adapter(meta_platform: MetaEmulator) -> meta.MetaAdapter:
    settings = meta.MetaSettings(api_url=meta_platform.url)
    options = meta.MetaOptions(audience_id=meta_platform.create_audience())
    return meta.build(settings, options, meta_platform.token, session_for(meta_platform.ca_path))


def meta_audience(adapter: meta.MetaAdapter) -> str:
    return adapter.edge.rsplit("/", 1)[1]


def test_meta_audience_follows_enter_exit_enter(meta_platform: MetaEmulator, meta_adapter: meta.MetaAdapter) -> None:
    audience = meta_audience(meta_adapter)
    ada, ben = "Ada@Example.com ", "ben@example.com"
    outcomes = meta_adapter.send([enter(ada, first_name="Ada"), enter(ben)])
    assert [outcome.status for outcome in outcomes] == [OutcomeStatus.DELIVERED] * 2
    assert meta_platform.has(audience, sha256_hex("ada@example.com"))
    assert meta_platform.size(audience) == 2
    meta_adapter.send([leave(ada)])
    assert not meta_platform.has(audience, sha256_hex("ada@example.com"))
    assert meta_platform.has(audience, sha256_hex(ben))
    meta_adapter.send([enter(ada), leave(ben)])
    assert meta_platform.has(audience, sha256_hex("ada@example.com"))
    assert meta_platform.size(audience) == 1
    assert meta_adapter.audience_status() == AudienceStatus(size=1, minimum=meta.MINIMUM)


def test_meta_sends_25000_changes_in_3_requests_of_one_session(
    meta_platform: MetaEmulator, meta_adapter: meta.MetaAdapter
) -> None:
    before = meta_platform.requests["add_users"]
    sessions = len(meta_platform.sessions)
    deliveries = [enter(f"person{index}@example.com") for index in range(25_000)]
    outcomes = meta_adapter.send(deliveries)
    assert all(outcome.status is OutcomeStatus.DELIVERED for outcome in outcomes)
    assert meta_platform.requests["add_users"] - before == 3
    assert meta_platform.size(meta_audience(meta_adapter)) == 25_000
    uploads = meta_platform.sessions[sessions:]
    assert [upload["batch_seq"] for upload in uploads] == [1, 2, 3]
    assert [upload["last_batch_flag"] for upload in uploads] == [False, False, True]
    assert len({upload["session_id"] for upload in uploads}) == 1


def test_meta_refuses_an_oversize_or_unhashed_request(meta_platform: MetaEmulator) -> None:
    audience = meta_platform.create_audience()
    url = f"{meta_platform.url}/v25.0/{audience}/users"
    session = session_for(meta_platform.ca_path)
    rows = [[sha256_hex(f"p{index}@example.com")] for index in range(meta.MAX_ROWS + 1)]
    too_many = session.post(url, data={"access_token": meta_platform.token, "payload": _payload(["EMAIL"], rows)})
    assert too_many.status_code == 400 and "at most 10000" in too_many.json()["error"]["message"]
    plain = session.post(
        url, data={"access_token": meta_platform.token, "payload": _payload(["EMAIL"], [["ada@example.com"]])}
    )
    assert plain.status_code == 400 and "SHA-256" in plain.json()["error"]["message"]
    assert meta_platform.size(audience) == 0


def _payload(schema: list[str], rows: list[list[str]]) -> str:
    return json.dumps({"schema": schema, "data": rows})


def test_meta_a_record_without_email_or_phone_fails_alone(
    meta_platform: MetaEmulator, meta_adapter: meta.MetaAdapter
) -> None:
    outcomes = meta_adapter.send([enter("ada@example.com"), enter(first_name="Nobody"), enter("not an address")])
    assert [outcome.status for outcome in outcomes] == [
        OutcomeStatus.DELIVERED,
        OutcomeStatus.FAILED,
        OutcomeStatus.FAILED,
    ]
    assert "no e-mail or phone" in outcomes[1].answer
    assert "'not an address' is not an e-mail address" in outcomes[2].answer
    assert meta_platform.size(meta_audience(meta_adapter)) == 1
    [partly] = meta_adapter.send([enter("ben@example.com", phone="555")])
    assert partly.status is OutcomeStatus.DELIVERED
    assert partly.answer.endswith("left out: phone '555' is not a valid number (give +country code, or a country)")


def test_meta_throttling_and_outages_retry_and_an_expired_token_disables(
    meta_platform: MetaEmulator, meta_adapter: meta.MetaAdapter
) -> None:
    meta_platform.fail_next("throttled")
    [throttled] = meta_adapter.send([enter("ada@example.com")])
    assert throttled.status is OutcomeStatus.RETRY and throttled.retry_after == 120
    meta_platform.fail_next("server_error")
    [down] = meta_adapter.send([enter("ada@example.com")])
    assert down.status is OutcomeStatus.RETRY and down.answer.startswith("500")
    meta_platform.fail_next("expired_token")
    [expired] = meta_adapter.send([enter("ada@example.com")])
    assert expired.status is OutcomeStatus.DISABLED and "Session has expired" in expired.answer
    assert meta_platform.size(meta_audience(meta_adapter)) == 0
    [sent] = meta_adapter.send([enter("ada@example.com")])
    assert sent.status is OutcomeStatus.DELIVERED


def test_meta_a_deleted_audience_disables_and_its_size_is_unreadable(meta_platform: MetaEmulator) -> None:
    settings = meta.MetaSettings(api_url=meta_platform.url)
    adapter = meta.build(
        settings, meta.MetaOptions(audience_id="1234"), meta_platform.token, session_for(meta_platform.ca_path)
    )
    [gone] = adapter.send([enter("ada@example.com")])
    assert gone.status is OutcomeStatus.DISABLED and "does not exist" in gone.answer
    with pytest.raises(AudienceUnreadable, match="does not exist"):
        adapter.audience_status()


# -- LinkedIn -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def linkedin_platform() -> Iterator[LinkedInEmulator]:
    with LinkedInEmulator() as running:
        yield running


def linkedin_adapter(platform: LinkedInEmulator) -> tuple[linkedin.LinkedInAdapter, str]:
    segment = platform.create_segment()
    adapter = linkedin.build(
        linkedin.LinkedInSettings(api_url=platform.url),
        linkedin.LinkedInOptions(segment_id=segment),
        platform.token,
        session_for(platform.ca_path),
    )
    return adapter, segment


def test_linkedin_segment_follows_enter_exit_enter(linkedin_platform: LinkedInEmulator) -> None:
    adapter, segment = linkedin_adapter(linkedin_platform)
    ada = sha256_hex("ada@example.com")
    outcomes = adapter.send([enter(" ADA@example.com"), enter("ben@example.com")])
    assert [outcome.status for outcome in outcomes] == [OutcomeStatus.DELIVERED] * 2
    assert linkedin_platform.has(segment, ada) and linkedin_platform.size(segment) == 2
    adapter.send([leave("ada@example.com")])
    assert not linkedin_platform.has(segment, ada)
    adapter.send([enter("ada@example.com"), leave("ben@example.com")])
    assert linkedin_platform.has(segment, ada) and linkedin_platform.size(segment) == 1
    assert adapter.audience_status() == AudienceStatus(size=1, minimum=linkedin.MINIMUM)


def test_linkedin_sends_12000_changes_in_batches_of_5000(linkedin_platform: LinkedInEmulator) -> None:
    adapter, segment = linkedin_adapter(linkedin_platform)
    before = linkedin_platform.requests["users"]
    outcomes = adapter.send([enter(f"person{index}@example.com") for index in range(12_000)])
    assert all(outcome.status is OutcomeStatus.DELIVERED for outcome in outcomes)
    assert linkedin_platform.requests["users"] - before == 3
    assert linkedin_platform.size(segment) == 12_000


def test_linkedin_refuses_oversize_batches_unhashed_emails_and_missing_versions(
    linkedin_platform: LinkedInEmulator,
) -> None:
    segment = linkedin_platform.create_segment()
    session = session_for(linkedin_platform.ca_path)
    url = f"{linkedin_platform.url}/rest/dmpSegments/{segment}/users"
    headers = {
        "Authorization": f"Bearer {linkedin_platform.token}",
        "LinkedIn-Version": "202610",
        "X-Restli-Protocol-Version": "2.0.0",
        "X-RestLi-Method": "BATCH_CREATE",
    }
    user = {"action": "ADD", "userIds": [{"idType": "SHA256_EMAIL", "idValue": sha256_hex("a@example.com")}]}
    too_many = session.post(url, json={"elements": [user] * 5_001}, headers=headers)
    assert too_many.status_code == 400 and "maximum of 5000" in too_many.json()["message"]
    plain = {"action": "ADD", "userIds": [{"idType": "SHA256_EMAIL", "idValue": "a@example.com"}]}
    mixed = session.post(url, json={"elements": [plain, user]}, headers=headers).json()
    assert [result["status"] for result in mixed["elements"]] == [400, 201]
    unversioned = session.post(url, json={"elements": [user]}, headers={**headers, "LinkedIn-Version": ""})
    assert unversioned.status_code == 400 and unversioned.json()["code"] == "VERSION_MISSING"
    assert linkedin_platform.size(segment) == 1


def test_linkedin_a_record_without_email_fails_alone_and_names_go_in_clear_when_sent(
    linkedin_platform: LinkedInEmulator,
) -> None:
    adapter, segment = linkedin_adapter(linkedin_platform)
    outcomes = adapter.send([enter("ada@example.com"), enter(phone="+14155552671")])
    assert linkedin_platform.size(segment) == 1
    assert [outcome.status for outcome in outcomes] == [OutcomeStatus.DELIVERED, OutcomeStatus.FAILED]
    assert "no e-mail" in outcomes[1].answer
    assert linkedin.element(enter("ada@example.com")) == {
        "action": "ADD",
        "userIds": [{"idType": "SHA256_EMAIL", "idValue": sha256_hex("ada@example.com")}],
    }
    named = linkedin.element(leave("ada@example.com", first_name=" Ada ", last_name="Lovelace"))
    assert named is not None and (named["action"], named["firstName"], named["lastName"]) == (
        "REMOVE",
        "Ada",
        "Lovelace",
    )


def test_linkedin_throttling_retries_and_an_expired_token_or_retired_version_disables(
    linkedin_platform: LinkedInEmulator,
) -> None:
    adapter, segment = linkedin_adapter(linkedin_platform)
    linkedin_platform.fail_next("throttled")
    [throttled] = adapter.send([enter("ada@example.com")])
    assert throttled.status is OutcomeStatus.RETRY and throttled.retry_after == 60
    linkedin_platform.fail_next("server_error")
    [down] = adapter.send([enter("ada@example.com")])
    assert down.status is OutcomeStatus.RETRY
    linkedin_platform.fail_next("expired_token")
    [expired] = adapter.send([enter("ada@example.com")])
    assert expired.status is OutcomeStatus.DISABLED and "EXPIRED_ACCESS_TOKEN" in expired.answer
    assert linkedin_platform.size(segment) == 0
    retired = linkedin.build(
        linkedin.LinkedInSettings(api_url=linkedin_platform.url, linkedin_version="202301"),
        linkedin.LinkedInOptions(segment_id=segment),
        linkedin_platform.token,
        session_for(linkedin_platform.ca_path),
    )
    [old] = retired.send([enter("ada@example.com")])
    assert old.status is OutcomeStatus.DISABLED and "no longer serves" in old.answer
    with pytest.raises(AudienceUnreadable, match="426"):
        retired.audience_status()


# -- Google Ads ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def google_platform() -> Iterator[GoogleAdsEmulator]:
    with GoogleAdsEmulator(customer_id="1234567890", manager_id="9876543210") as running:
        yield running


def google_adapter(platform: GoogleAdsEmulator, **settings: Any) -> tuple[google_ads.GoogleAdsAdapter, str]:
    user_list = platform.create_user_list()
    adapter = google_ads.build(
        google_ads.GoogleAdsSettings(
            **{
                "customer_id": "123-456-7890",
                "login_customer_id": "987-654-3210",
                "api_url": platform.url,
                "token_url": f"{platform.url}/token",
                **settings,
            }
        ),
        google_ads.GoogleAdsOptions(user_list_id=user_list),
        platform.secret(),
        session_for(platform.ca_path),
        KeptInMemory(),
    )
    return adapter, user_list


def test_google_list_follows_enter_exit_enter_in_one_job_per_send(google_platform: GoogleAdsEmulator) -> None:
    adapter, user_list = google_adapter(google_platform)
    ada = sha256_hex("ada@example.com")
    before = dict(google_platform.requests)
    outcomes = adapter.send([enter("Ada@Example.com", phone="(415) 555-2671", country="US"), enter("ben@example.com")])
    assert [outcome.status for outcome in outcomes] == [OutcomeStatus.DELIVERED] * 2
    assert "running" in outcomes[0].answer
    assert google_platform.has(user_list, ada) and google_platform.has(user_list, sha256_hex("+14155552671"))
    assert google_platform.size(user_list) == 2
    calls = {name: google_platform.requests[name] - before.get(name, 0) for name in google_platform.requests}
    assert calls == {"token": 1, "create_job": 1, "add_operations": 1, "run_job": 1}
    adapter.send([leave("ada@example.com")])
    assert not google_platform.has(user_list, ada)
    adapter.send([enter("ada@example.com"), leave("ben@example.com")])
    assert google_platform.has(user_list, ada) and google_platform.size(user_list) == 1
    assert adapter.audience_status() == AudienceStatus(size=1, minimum=google_ads.MINIMUM)


def test_google_sends_an_address_only_whole_with_names_normalized(google_platform: GoogleAdsEmulator) -> None:
    adapter, user_list = google_adapter(google_platform)
    [sent] = adapter.send(
        [enter(first_name="  Mary  Ann ", last_name="O'Neil", country="United States", postal_code="10011")]
    )
    assert sent.status is OutcomeStatus.DELIVERED
    last = sha256_hex("o'neil")
    address = f"{sha256_hex('mary ann')}:{last}:US:10011"
    assert google_platform.has(user_list, address)
    [partial] = adapter.send([enter(first_name="Mary", last_name="Ann", country="US")])
    assert partial.status is OutcomeStatus.FAILED and "no e-mail, phone or full address" in partial.answer


def test_google_adds_at_most_the_recommended_10000_identifiers_a_request(google_platform: GoogleAdsEmulator) -> None:
    adapter, user_list = google_adapter(google_platform)
    before = len(google_platform.identifiers_per_request)
    deliveries = [
        enter(
            f"person{index}@example.com",
            phone=f"+1415555{index % 10_000:04d}",
            first_name="A",
            last_name="B",
            country="US",
            postal_code=f"{index:05d}",
        )
        for index in range(10_000)
    ]
    outcomes = adapter.send(deliveries)
    assert {outcome.status for outcome in outcomes} == {OutcomeStatus.DELIVERED}
    sent = google_platform.identifiers_per_request[before:]
    assert sent == [9_999, 9_999, 9_999, 3]  # 30,000 identifiers, 3 a person, in requests of at most 10,000
    assert google_platform.size(user_list) == 10_000


def test_google_jobs_carry_consent_only_when_the_destination_says_it_was_granted(
    google_platform: GoogleAdsEmulator,
) -> None:
    silent, _ = google_adapter(google_platform)
    silent.send([enter("ada@example.com")])
    assert google_platform.jobs()[-1]["consent"] == {}
    granted, _ = google_adapter(google_platform, consent_granted=True)
    granted.send([enter("ada@example.com")])
    assert google_platform.jobs()[-1]["consent"] == {"adUserData": "GRANTED", "adPersonalization": "GRANTED"}


def test_google_refuses_too_many_identifiers_and_unhashed_ones(google_platform: GoogleAdsEmulator) -> None:
    adapter, user_list = google_adapter(google_platform)
    token = adapter.api.tokens.token()
    assert isinstance(token, str)
    headers = {
        "Authorization": f"Bearer {token}",
        "developer-token": google_platform.developer_token,
        "login-customer-id": "9876543210",
    }
    session = session_for(google_platform.ca_path)
    base = f"{google_platform.url}/v22/customers/1234567890"
    job = {
        "type": "CUSTOMER_MATCH_USER_LIST",
        "customerMatchUserListMetadata": {"userList": f"customers/1234567890/userLists/{user_list}"},
    }
    name = session.post(f"{base}/offlineUserDataJobs:create", json={"job": job}, headers=headers).json()["resourceName"]
    url = f"{google_platform.url}/v22/{name}:addOperations"
    many = [{"create": {"userIdentifiers": [{"hashedEmail": sha256_hex(f"{i}@x.com")}]}} for i in range(100_001)]
    refused = session.post(url, json={"operations": many}, headers=headers)
    assert refused.status_code == 400 and "100,000" in refused.json()["error"]["message"]
    plain = {"create": {"userIdentifiers": [{"hashedEmail": "ada@example.com"}]}}
    good = {"create": {"userIdentifiers": [{"hashedEmail": sha256_hex("ada@example.com")}]}}
    answered = session.post(url, json={"enablePartialFailure": True, "operations": [plain, good]}, headers=headers)
    assert google_ads.partial_failures(answered.json()) == {
        0: "offlineUserDataJobError=INVALID_SHA256_FORMAT: hashedEmail must be a SHA-256 hex digest of the "
        "normalized value."
    }


def test_google_a_running_job_makes_the_next_send_wait(google_platform: GoogleAdsEmulator) -> None:
    adapter, user_list = google_adapter(google_platform)
    google_platform.hold_jobs = True
    try:
        [first] = adapter.send([enter("ada@example.com")])
        [second] = adapter.send([leave("ada@example.com")])
    finally:
        google_platform.hold_jobs = False
    assert first.status is OutcomeStatus.DELIVERED
    assert second.status is OutcomeStatus.RETRY and "CONCURRENT_MODIFICATION" in second.answer
    google_platform.finish_jobs()
    assert google_platform.has(user_list, sha256_hex("ada@example.com"))
    [again] = adapter.send([leave("ada@example.com")])
    assert again.status is OutcomeStatus.DELIVERED and google_platform.size(user_list) == 0


def test_google_refreshes_an_expired_token_retries_quota_and_disables_when_revoked(
    google_platform: GoogleAdsEmulator,
) -> None:
    adapter, user_list = google_adapter(google_platform)
    adapter.send([enter("ada@example.com")])
    tokens = google_platform.requests["token"]
    google_platform.fail_next("expired_token")
    [refreshed] = adapter.send([enter("ben@example.com")])
    assert refreshed.status is OutcomeStatus.DELIVERED
    assert google_platform.requests["token"] == tokens + 1
    google_platform.fail_next("rate_limit")
    [throttled] = adapter.send([enter("cy@example.com")])
    assert throttled.status is OutcomeStatus.RETRY and throttled.retry_after == 30
    google_platform.fail_next("server_error")
    [down] = adapter.send([enter("cy@example.com")])
    assert down.status is OutcomeStatus.RETRY
    assert google_platform.size(user_list) == 2
    secret = google_platform.refresh_token
    google_platform.fail_next("revoked")
    try:
        [revoked] = adapter.send([enter("cy@example.com")])
    finally:
        google_platform.refresh_token = secret
    assert revoked.status is OutcomeStatus.DISABLED and "invalid_grant" in revoked.answer


def test_google_without_the_manager_header_is_refused_and_disables(google_platform: GoogleAdsEmulator) -> None:
    adapter, _ = google_adapter(google_platform, login_customer_id=None)
    [refused] = adapter.send([enter("ada@example.com")])
    assert refused.status is OutcomeStatus.DISABLED and "USER_PERMISSION_DENIED" in refused.answer


def test_google_a_list_that_is_gone_disables(google_platform: GoogleAdsEmulator) -> None:
    adapter = google_ads.build(
        google_ads.GoogleAdsSettings(
            customer_id="1234567890",
            login_customer_id="9876543210",
            api_url=google_platform.url,
            token_url=f"{google_platform.url}/token",
        ),
        google_ads.GoogleAdsOptions(user_list_id="404"),
        google_platform.secret(),
        session_for(google_platform.ca_path),
        KeptInMemory(),
    )
    [gone] = adapter.send([enter("ada@example.com")])
    assert gone.status is OutcomeStatus.DISABLED and "INVALID_USER_LIST_ID" in gone.answer
    with pytest.raises(AudienceUnreadable, match="no user list"):
        adapter.audience_status()


def test_google_secret_must_be_the_four_values() -> None:
    with pytest.raises(ValueError, match="client_id, client_secret, developer_token, refresh_token"):
        google_ads.credentials_of('{"refresh_token": "x"}')


# -- the local stack's ad platforms, through the registry ---------------------------------------------------


def test_each_registered_kind_reaches_its_local_emulator() -> None:
    platforms = AdPlatforms().start()
    try:
        for kind, destination in platforms.destinations().items():
            entry = destination_kind(kind)
            settings = entry.settings.model_validate(destination["settings"])
            options = entry.options.model_validate(destination["options"])
            assert entry.check is not None and entry.audience is not None
            entry.check(settings)  # the emulator is exempt from the address check while it runs
            with pytest.raises(OutboundRefused, match="private address"):
                entry.check(settings.model_copy(update={"api_url": "https://10.1.2.3"}))
            session = session_for(destination["ca_bundle"])  # as the delivery core trusts it on a local stack
            kept = KeptInMemory()
            adapter = entry.build(settings, options, destination["secret"], session, kept)
            assert [outcome.status for outcome in adapter.send([enter("ada@example.com")])] == ["delivered"], kind
            status = entry.audience(settings, options, destination["secret"], session, kept)
            assert status.size == 1 and status.minimum > 1, kind
            adapter.send([leave("ada@example.com")])
            assert entry.audience(settings, options, destination["secret"], session, kept).size == 0
            assert entry.probe is not None and entry.check_secret is not None
            assert entry.probe(settings, destination["secret"], session, kept).status == "delivered", kind
            assert bool(kept.saved) == (kind == "google_ads")  # only Google's access tokens are kept in the secret
            wrong = "not-the-token"
            if kind == "google_ads":
                wrong = json.dumps({**json.loads(destination["secret"]), "refresh_token": "1//not-the-token"})
            assert entry.probe(settings, wrong, session, KeptInMemory()).status == "disabled", kind
            entry.check_secret(destination["secret"])
            with pytest.raises(ValueError, match="secret"):
                entry.check_secret("two words")
    finally:
        platforms.stop()


# -- in step whatever the sequence --------------------------------------------------------------------------

PEOPLE = [f"person{index}@example.com" for index in range(6)]
# batches of changes, each batch at most one change per person (the delivery core's promise), True = enters
batches = st.lists(
    st.dictionaries(st.sampled_from(PEOPLE), st.booleans(), min_size=1, max_size=len(PEOPLE)), min_size=1, max_size=5
)


@pytest.fixture(scope="module")
def all_platforms() -> Iterator[AdPlatforms]:
    running = AdPlatforms().start()
    yield running
    running.stop()


@pytest.mark.parametrize("kind", ["google_ads", "meta", "linkedin"])
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=batches)
def test_the_audience_holds_exactly_the_people_whose_last_change_was_an_entry(
    all_platforms: AdPlatforms, kind: str, plan: list[dict[str, bool]]
) -> None:
    destination = all_platforms.destinations()[kind]
    entry = destination_kind(kind)
    emulator = all_platforms.emulator(kind)
    audience = all_platforms.new_audience(kind)
    options = entry.options.model_validate({**destination["options"], next(iter(destination["options"])): audience})
    adapter = entry.build(
        entry.settings.model_validate(destination["settings"]),
        options,
        destination["secret"],
        session_for(destination["ca_bundle"]),
        KeptInMemory(),
    )
    last: dict[str, bool] = {}
    for batch in plan:
        outcomes = adapter.send([enter(email) if entering else leave(email) for email, entering in batch.items()])
        assert {outcome.status for outcome in outcomes} == {OutcomeStatus.DELIVERED}
        last.update(batch)
    expected = {sha256_hex(email) for email, entering in last.items() if entering}
    held = {sha256_hex(email) for email in PEOPLE if emulator.has(audience, sha256_hex(email))}
    assert held == expected
    assert emulator.size(audience) == len(expected)


@pytest.mark.parametrize("kind", ["google_ads", "meta", "linkedin"])
def test_a_company_record_fails_alone(all_platforms: AdPlatforms, kind: str) -> None:
    destination = all_platforms.destinations()[kind]
    entry = destination_kind(kind)
    adapter = entry.build(
        entry.settings.model_validate(destination["settings"]),
        entry.options.model_validate(destination["options"]),
        destination["secret"],
        session_for(destination["ca_bundle"]),
        KeptInMemory(),
    )
    company = replace(enter(phone="+14155552671"), kind=Kind.COMPANIES)
    outcomes = adapter.send([company, enter(f"{kind}.person@example.com")])
    assert [outcome.status for outcome in outcomes] == [OutcomeStatus.FAILED, OutcomeStatus.DELIVERED]
    assert outcomes[0].answer == "not sent: an ad audience holds people, not companies"

"""The sequencer destinations (Outreach, Salesloft, Apollo) against their emulators, over real HTTPS.

Each platform is run through the same behaviour a user relies on: find or create the person, then enrol; a second
delivery of an entry enrols nobody twice; exits are ignored unless the action says `remove`; 429 and 5xx are
retried (after the platform's wait), a refused token disables the destination; a bad record fails alone. The
platforms a user connects by OAuth (Outreach; Salesloft when its secret is the OAuth JSON rather than an API key)
are run through the same renewal and rotation of their tokens.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roster.actions.destinations import apollo, outreach, salesloft
from roster.actions.destinations.base import Adapter, Delivery, OutcomeStatus, Transition
from roster.actions.destinations.registry import destination_kind
from roster.connectors.core.trust import LOCAL_STACK_FLAG
from roster.outbound import guard
from roster.profiles.fields import Kind
from roster.segments.events import Change, MembershipChange, MembershipEvent
from roster.services import services
from roster_dev.emulators.apollo import ApolloEmulator
from roster_dev.emulators.kept_secret import KeptInMemory
from roster_dev.emulators.outreach import OutreachEmulator
from roster_dev.emulators.salesloft import SalesloftEmulator
from roster_dev.emulators.sequencing import TOKEN_SECONDS, FailureKind, OAuthEmulator, SequencerEmulator
from roster_dev.local.runner import Runner
from tests.conftest import Api


@dataclass
class Platform:
    """One sequencer and its emulator, seen the same way: build an adapter, add a person, read who is enrolled."""

    name: str
    emulator: Any
    build: Callable[..., Adapter]  # (on_exit=..., secret=...) -> adapter
    enrolled: Callable[[], list[str]]  # e-mail addresses currently in the action's sequence
    people: Callable[[], int]  # person records on the platform
    add_person: Callable[[str], None]
    retry_after: tuple[float, float]  # the wait an injected 429 asks for, as a range
    wrong_secret: str  # a secret of the right shape that the platform refuses
    kept: KeptInMemory  # the secret as adapters saved it anew (Outreach: new access and refresh tokens)


def _session(ca_bundle: str) -> requests.Session:
    """As Roster makes one for a destination: public addresses only (emulators exempt), its `ca_bundle` trusted."""
    session = guard(requests.Session())
    session.verify = ca_bundle
    return session


def _builder(emulator: SequencerEmulator, kept: KeptInMemory) -> Callable[..., Adapter]:
    """Adapters made through the destination registry, configured the way `roster local up` describes the
    emulator (its `destination()`); a secret an adapter saves anew goes to `kept`."""

    def build(on_exit: str = "ignore", secret: str | None = None, **options: Any) -> Adapter:
        destination = emulator.destination()
        entry = destination_kind(destination["kind"])
        settings = entry.settings.model_validate(destination["settings"])
        chosen = entry.options.model_validate({**destination["options"], "on_exit": on_exit, **options})
        session = _session(destination["ca_bundle"])
        return entry.build(settings, chosen, secret or destination["secret"], session, kept)

    return build


def _wrong_oauth(emulator: OAuthEmulator) -> str:
    """The app's client with a refresh token the platform never issued."""
    return json.dumps({"client_id": emulator.client_id, "client_secret": emulator.client_secret, "refresh_token": "x"})


def _outreach(emulator: OutreachEmulator) -> Platform:
    def add_person(email: str) -> None:
        prospect = emulator.ids.take("prospect")
        emulator.prospects[prospect] = {"emails": [email], "firstName": "Known"}

    kept = KeptInMemory()
    return Platform(
        "outreach",
        emulator,
        _builder(emulator, kept),
        lambda: sorted(s["emails"][0] for s in emulator.enrolled(emulator.sequence_id) if s["state"] == "active"),
        lambda: len(emulator.prospects),
        add_person,
        (1.0, 3600.0),  # until the hour's X-RateLimit-Reset
        _wrong_oauth(emulator),
        kept,
    )


def _salesloft(emulator: SalesloftEmulator) -> Platform:
    def add_person(email: str) -> None:
        emulator.people[emulator.ids.take("person")] = {"email_address": email, "first_name": "Known"}

    kept = KeptInMemory()
    return Platform(
        "salesloft",
        emulator,
        _builder(emulator, kept),
        lambda: sorted(m["email"] for m in emulator.on_cadence(emulator.cadence_id)),
        lambda: len(emulator.people),
        add_person,
        (30.0, 30.0),  # Retry-After
        _wrong_oauth(emulator) if emulator.oauth else "not-the-key",
        kept,
    )


def _apollo(emulator: ApolloEmulator) -> Platform:
    def add_person(email: str) -> None:
        emulator.contacts[f"{len(emulator.contacts):024x}"] = {"email": email, "first_name": "Known"}

    kept = KeptInMemory()
    return Platform(
        "apollo",
        emulator,
        _builder(emulator, kept),
        lambda: sorted(e for e, status in emulator.in_sequence(emulator.sequence_id).items() if status == "active"),
        lambda: len(emulator.contacts),
        add_person,
        (60.0, 60.0),  # the minute x-minute-requests-left says is used up
        "not-the-key",
        kept,
    )


EMULATORS: dict[str, tuple[type[SequencerEmulator], Callable[[Any], Platform]]] = {
    "outreach": (OutreachEmulator, _outreach),
    "salesloft": (SalesloftEmulator, _salesloft),
    "apollo": (ApolloEmulator, _apollo),
}


@pytest.fixture(params=sorted(EMULATORS))
def platform(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Platform]:
    monkeypatch.setenv(LOCAL_STACK_FLAG, "1")  # an emulator's URL and CA are accepted on the local stack only
    emulator_class, view = EMULATORS[request.param]
    with emulator_class() as emulator:
        yield view(emulator)


#: The platforms connected by OAuth: Outreach always, Salesloft when its secret is the OAuth JSON.
CONNECTED_BY_OAUTH: dict[str, Callable[[], tuple[OAuthEmulator, Callable[[Any], Platform]]]] = {
    "outreach": lambda: (OutreachEmulator(), _outreach),
    "salesloft": lambda: (SalesloftEmulator(oauth=True), _salesloft),
}


@pytest.fixture(params=sorted(CONNECTED_BY_OAUTH))
def connected(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Platform]:
    """A platform whose destination secret is the OAuth app's client and a user's refresh token."""
    monkeypatch.setenv(LOCAL_STACK_FLAG, "1")
    emulator, view = CONNECTED_BY_OAUTH[request.param]()
    with emulator:
        yield view(emulator)


def change(
    email: str | None, transition: Transition = Transition.ENTERED, record: str | None = None, **fields: Any
) -> Delivery:
    record = record or f"p-{email}"
    values = {"email": email, "first_name": "Ada", "last_name": "Lovelace", "job_title": "CTO", **fields}
    return Delivery(
        delivery_id=f"a1:{record}:{transition}",
        action_id="a1",
        segment_id="s1",
        kind=Kind.PEOPLE,
        profile_id=record,
        transition=transition,
        occurred_at="2026-11-29T12:00:00Z",
        fields={name: value for name, value in values.items() if value is not None},
    )


def test_an_entry_finds_the_person_or_creates_them_then_enrols(platform: Platform) -> None:
    platform.add_person("known@acme.com")
    adapter = platform.build()
    outcomes = adapter.send([change("Known@Acme.com"), change("new@acme.com")])

    assert [o.status for o in outcomes] == [OutcomeStatus.DELIVERED] * 2, outcomes
    assert platform.enrolled() == ["known@acme.com", "new@acme.com"]
    assert platform.people() == 2  # the known person was found, not duplicated; the new one created once
    assert [o.delivery_id for o in outcomes] == ["a1:p-Known@Acme.com:entered", "a1:p-new@acme.com:entered"]


def test_a_redelivered_entry_enrols_once_and_counts_as_delivered(platform: Platform) -> None:
    adapter = platform.build()
    first = adapter.send([change("ada@acme.com")])
    again = platform.build().send([change("ada@acme.com")])

    assert first[0].status == again[0].status == OutcomeStatus.DELIVERED
    assert "already" in again[0].answer
    assert platform.enrolled() == ["ada@acme.com"]
    assert platform.people() == 1


def test_an_exit_is_ignored_by_default(platform: Platform) -> None:
    adapter = platform.build()
    adapter.send([change("ada@acme.com")])
    calls = sum(platform.emulator.calls.values())
    [outcome] = adapter.send([change("ada@acme.com", Transition.EXITED)])

    assert outcome.status == OutcomeStatus.DELIVERED
    assert "ignored" in outcome.answer
    assert platform.enrolled() == ["ada@acme.com"]
    assert sum(platform.emulator.calls.values()) == calls  # nothing was asked of the platform


def test_an_exit_removes_the_person_when_the_action_says_so(platform: Platform) -> None:
    adapter = platform.build(on_exit="remove")
    adapter.send([change("ada@acme.com"), change("bob@acme.com")])
    outcomes = adapter.send([change("ada@acme.com", Transition.EXITED), change("nobody@acme.com", Transition.EXITED)])

    assert [o.status for o in outcomes] == [OutcomeStatus.DELIVERED] * 2, outcomes
    assert "nothing to remove" in outcomes[1].answer  # never on the platform: nothing created just to remove
    assert platform.enrolled() == ["bob@acme.com"]
    assert platform.people() == 2
    # removing twice (a redelivered exit) is still delivered and changes nothing
    [again] = adapter.send([change("ada@acme.com", Transition.EXITED)])
    assert again.status == OutcomeStatus.DELIVERED
    assert platform.enrolled() == ["bob@acme.com"]


def test_enter_exit_enter_leaves_the_person_enrolled_once(platform: Platform) -> None:
    adapter = platform.build(on_exit="remove")
    for transition in (Transition.ENTERED, Transition.EXITED, Transition.ENTERED):
        [outcome] = adapter.send([change("ada@acme.com", transition)])
        assert outcome.status == OutcomeStatus.DELIVERED, outcome
    # Outreach keeps the finished state and refuses a second one; Salesloft and Apollo add the person again
    expected = [] if platform.name == "outreach" else ["ada@acme.com"]
    assert platform.enrolled() == expected
    assert platform.people() == 1


def test_429_is_retried_after_the_platforms_wait_and_stops_the_batch(platform: Platform) -> None:
    adapter = platform.build()
    platform.emulator.fail_next("rate_limit")
    outcomes = adapter.send([change("ada@acme.com"), change("bob@acme.com")])

    assert [o.status for o in outcomes] == [OutcomeStatus.RETRY] * 2, outcomes
    low, high = platform.retry_after
    assert all(o.retry_after is not None and low <= o.retry_after <= high for o in outcomes), outcomes
    assert outcomes[0].answer.startswith("429")
    assert "batch stopped" in outcomes[1].answer
    assert platform.emulator.calls["find"] == 1  # bob was not sent into the limit
    assert platform.enrolled() == []
    # once the platform takes requests again, the same changes go through
    assert [o.status for o in adapter.send([change("ada@acme.com"), change("bob@acme.com")])] == [
        OutcomeStatus.DELIVERED
    ] * 2
    assert platform.enrolled() == ["ada@acme.com", "bob@acme.com"]


def test_a_server_error_is_retried_and_the_retry_enrols_once(platform: Platform) -> None:
    adapter = platform.build()
    platform.emulator.fail_next("server_error", on="enrol")
    [outcome] = adapter.send([change("ada@acme.com")])
    assert outcome.status == OutcomeStatus.RETRY
    assert outcome.answer.startswith("500")

    [retried] = adapter.send([change("ada@acme.com")])
    assert retried.status == OutcomeStatus.DELIVERED
    assert platform.enrolled() == ["ada@acme.com"]
    assert platform.people() == 1  # the retry found the person the first attempt created


@pytest.mark.parametrize("step", ["find", "enrol"])
def test_an_unreadable_answer_is_retried_and_the_retry_enrols_once(platform: Platform, step: str) -> None:
    adapter = platform.build()
    platform.emulator.fail_next("garbled", on=step)
    outcomes = adapter.send([change("ada@acme.com"), change("bob@acme.com")])
    assert outcomes[0].status == OutcomeStatus.RETRY, outcomes
    assert "cannot read" in outcomes[0].answer

    retried = adapter.send([change("ada@acme.com"), change("bob@acme.com")])
    assert [o.status for o in retried] == [OutcomeStatus.DELIVERED] * 2, retried
    assert platform.enrolled() == ["ada@acme.com", "bob@acme.com"]
    assert platform.people() == 2


@pytest.mark.parametrize("failure", ["expired", "revoked", "wrong"])
def test_a_refused_credential_disables_the_destination(platform: Platform, failure: str) -> None:
    secret = platform.wrong_secret if failure == "wrong" else None
    adapter = platform.build(secret=secret)
    if failure == "expired":
        platform.emulator.fail_next("expired_token")
    if failure == "revoked":
        platform.emulator.revoke()
    outcomes = adapter.send([change("ada@acme.com"), change("bob@acme.com")])
    if failure == "expired" and platform.name == "outreach":  # an OAuth access token: renewed once, then sent
        assert [o.status for o in outcomes] == [OutcomeStatus.DELIVERED] * 2, outcomes
        assert platform.emulator.calls["token"] == 2
        return

    assert [o.status for o in outcomes] == [OutcomeStatus.DISABLED] * 2, outcomes
    assert "refused the credentials" in outcomes[0].answer
    api_calls = sum(count for route, count in platform.emulator.calls.items() if route != "token")
    assert api_calls <= 1  # the rest of the batch was not sent
    assert platform.people() == 0
    answers = " ".join(o.answer for o in outcomes)
    assert platform.emulator.token not in answers and platform.emulator.secret() not in answers


def test_a_bad_record_fails_alone_with_the_reason(platform: Platform) -> None:
    company = Delivery(
        delivery_id="a1:c1:entered",
        action_id="a1",
        segment_id="s1",
        kind=Kind.COMPANIES,
        profile_id="c1",
        transition=Transition.ENTERED,
        occurred_at="2026-11-29T12:00:00Z",
        fields={"domain": "acme.com"},
    )
    outcomes = platform.build().send(
        [change(None, record="p-none"), company, change("not-an-address", record="p-bad"), change("ada@acme.com")]
    )

    assert [o.status for o in outcomes] == [OutcomeStatus.FAILED] * 3 + [OutcomeStatus.DELIVERED], outcomes
    assert "no e-mail address" in outcomes[0].answer
    assert "company" in outcomes[1].answer
    assert "not an e-mail address" in outcomes[2].answer
    assert platform.enrolled() == ["ada@acme.com"]


def test_an_emulator_url_is_refused_outside_the_local_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(LOCAL_STACK_FLAG, raising=False)
    for model in (outreach.OutreachSettings, salesloft.SalesloftSettings, apollo.ApolloSettings):
        with pytest.raises(ValueError, match="local stack"):
            model(api_url="https://127.0.0.1:8443")
        assert model().api_url is None  # the platform's own API
    with pytest.raises(ValueError, match="local stack"):
        salesloft.SalesloftSettings(token_url="https://127.0.0.1:8443/oauth/token")
    assert str(salesloft.SalesloftSettings().token_url) == "https://accounts.salesloft.com/oauth/token"


def test_outreach_refuses_a_request_without_the_json_api_media_type(monkeypatch: pytest.MonkeyPatch) -> None:
    with OutreachEmulator() as org:
        answer = requests.post(
            f"{org.url}/api/v2/prospects",
            json={"data": {"type": "prospect", "attributes": {"emails": ["ada@acme.com"]}}},
            headers={"Authorization": f"Bearer {org.token}"},
            verify=org.ca_path,
            timeout=10,
        )
    assert answer.status_code == 415
    assert answer.json()["errors"][0]["id"] == "unsupportedMediaType"
    assert org.prospects == {}


def test_outreach_429_without_retry_after_waits_for_the_rate_limit_reset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LOCAL_STACK_FLAG, "1")
    with OutreachEmulator(clock=lambda: 7_200.0 + 90) as org:  # 90 s into an hour: it resets in 3,510 s
        platform = _outreach(org)
        settings = outreach.OutreachSettings(api_url=org.url)
        credentials = outreach.outreach_credentials(org.secret())
        connection = outreach.OutreachConnection(
            _session(org.ca_path), settings, credentials, KeptInMemory(), clock=lambda: 7_200.0 + 90
        )
        adapter = outreach.OutreachAdapter(
            connection, outreach.OutreachOptions(sequence_id=org.sequence_id, mailbox_id=org.mailbox_id)
        )
        org.fail_next("rate_limit")
        [outcome] = adapter.send([change("ada@acme.com")])
    assert outcome.status == OutcomeStatus.RETRY
    assert outcome.retry_after == 3_510.0
    assert platform.enrolled() == []


def test_apollo_without_a_master_key_disables_the_destination(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LOCAL_STACK_FLAG, "1")
    with ApolloEmulator() as team:
        [outcome] = _apollo(team).build(secret=team.plain_key).send([change("ada@acme.com")])
        assert outcome.status == OutcomeStatus.DISABLED
        assert "403" in outcome.answer
        assert team.in_sequence(team.sequence_id) == {}


def test_apollo_adds_a_batch_in_one_request_and_reports_each_skip(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LOCAL_STACK_FLAG, "1")
    with ApolloEmulator() as team:
        platform = _apollo(team)
        other = team.add_sequence("Another")
        platform.add_person("busy@acme.com")
        busy = next(iter(team.contacts))
        team.statuses[(busy, other)] = "active"
        adapter = platform.build()
        assert adapter.max_batch == 100
        outcomes = adapter.send([change(f"p{i}@acme.com") for i in range(20)] + [change("busy@acme.com")])

        assert [o.status for o in outcomes] == [OutcomeStatus.DELIVERED] * 20 + [OutcomeStatus.FAILED]
        assert "contacts_active_in_other_campaigns" in outcomes[-1].answer
        assert team.calls["enrol"] == 1
        assert len(platform.enrolled()) == 20

        # the action may say to enrol people who are in another sequence too
        [outcome] = platform.build(while_in_other_sequences=True).send([change("busy@acme.com")])
        assert outcome.status == OutcomeStatus.DELIVERED, outcome
        assert "busy@acme.com" in platform.enrolled()


def test_salesloft_adds_the_membership_for_the_chosen_user(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LOCAL_STACK_FLAG, "1")
    with SalesloftEmulator() as team:
        user = team.add_user("rep@example.com")
        [outcome] = _builder(team, KeptInMemory())(user_id=user).send([change("ada@acme.com")])
        assert outcome.status == OutcomeStatus.DELIVERED
        [membership] = team.on_cadence()
        assert membership["user_id"] == user
        assert team.people[membership["person_id"]]["first_name"] == "Ada"


def test_a_person_created_meanwhile_is_used_not_duplicated(platform: Platform) -> None:
    """Two deliveries racing for one new person: the one whose create is refused uses the person the other made."""
    platform.add_person("ada@acme.com")
    adapter = platform.build()
    found = adapter.find  # type: ignore[attr-defined]
    misses = iter([None])  # the first look-up runs before the other delivery's create lands
    adapter.find = lambda person: next(misses, None) or found(person)  # type: ignore[attr-defined]
    [outcome] = adapter.send([change("ada@acme.com")])

    assert outcome.status == OutcomeStatus.DELIVERED, outcome
    assert platform.enrolled() == ["ada@acme.com"]
    assert platform.people() == 1


TRANSITIONS = st.lists(
    st.tuples(st.integers(0, 3), st.sampled_from([Transition.ENTERED, Transition.EXITED]), st.booleans()),
    max_size=12,
)


@pytest.mark.parametrize("kind", sorted(EMULATORS))
def test_enrolment_follows_each_records_changes_delivered_in_order_and_twice(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Invariant: whatever entries and exits arrive (each record's in order, any of them delivered twice), a person
    is in the sequence exactly when their last change was an entry (on Outreach: when no exit followed their first
    entry, since Outreach never re-enrols a finished prospect), and each person exists once on the platform."""
    monkeypatch.setenv(LOCAL_STACK_FLAG, "1")
    emulator_class, view = EMULATORS[kind]
    with emulator_class() as emulator:
        platform = view(emulator)
        adapter = platform.build(on_exit="remove")
        runs = iter(range(10_000))

        @settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(TRANSITIONS)
        def check(changes: list[tuple[int, Transition, bool]]) -> None:
            run = next(runs)
            before, people = set(platform.enrolled()), platform.people()
            history: dict[int, list[Transition]] = {}
            for person, transition, twice in changes:
                email = f"r{run}p{person}@acme.com"
                for _ in range(2 if twice else 1):
                    [outcome] = adapter.send([change(email, transition)])
                    assert outcome.status == OutcomeStatus.DELIVERED, outcome
                history.setdefault(person, []).append(transition)

            def enrolled(transitions: list[Transition]) -> bool:
                if kind != "outreach":
                    return transitions[-1] == Transition.ENTERED
                first = transitions.index(Transition.ENTERED) if Transition.ENTERED in transitions else None
                return first is not None and Transition.EXITED not in transitions[first:]

            expected = {f"r{run}p{person}@acme.com" for person, seen in history.items() if enrolled(seen)}
            assert set(platform.enrolled()) - before == expected
            # a person is created by their first entry, once; an exit never creates anyone
            assert platform.people() - people == sum(Transition.ENTERED in seen for seen in history.values())

        check()


@pytest.mark.parametrize("credential", ["valid", "wrong"])
def test_the_destination_test_checks_the_credentials_without_sending_a_record(
    platform: Platform, credential: str
) -> None:
    destination = platform.emulator.destination()
    entry = destination_kind(destination["kind"])
    settings = entry.settings.model_validate(destination["settings"])
    secret = destination["secret"] if credential == "valid" else platform.wrong_secret
    assert entry.probe is not None
    outcome = entry.probe(settings, secret, _session(destination["ca_bundle"]), platform.kept)

    expected = OutcomeStatus.DELIVERED if credential == "valid" else OutcomeStatus.DISABLED
    assert outcome.status == expected, outcome
    assert platform.people() == 0 and platform.enrolled() == []


@pytest.mark.parametrize("kind", ["salesloft", "apollo"])
def test_a_secret_with_spaces_or_nothing_in_it_is_refused_when_saved(kind: str) -> None:
    check = destination_kind(kind).check_secret
    assert check is not None
    check("a-token_123")
    for bad, reason in (("", "empty"), ("  ", "empty"), ("Bearer abc", "spaces"), ("abc\n", "spaces")):
        with pytest.raises(ValueError, match=reason):
            check(bad)


def pipeline(platform: Platform, api: Api, runner: Runner, on_exit: str) -> str:
    """A destination and an action (trigger both) saved through the API on a segment of VPs; returns the segment."""
    described = platform.emulator.destination()
    status, created = api.call(
        "POST",
        "/v1/destinations",
        {
            "name": platform.name,
            "kind": described["kind"],
            "settings": described["settings"],
            "secret": described["secret"],
            "ca_bundle": described["ca_bundle"],
        },
    )
    assert status == 201, created
    assert described["secret"] not in str(created)  # the user's token is kept, never shown again
    status, tested = api.call("POST", f"/v1/destinations/{created['destination']['destination_id']}/test")
    assert status == 200 and tested["status"] == "delivered", tested
    filter_ = {"match": "all", "conditions": [{"field": "job_title", "op": "contains", "value": "vp"}]}
    status, segment = api.call("POST", "/v1/segments", {"name": "VPs", "kind": "people", "filter": filter_})
    assert status == 201, segment
    runner.drain()
    status, action = api.call(
        "POST",
        "/v1/actions",
        {
            "name": "nurture",
            "segment_id": segment["segment_id"],
            "destination_id": created["destination"]["destination_id"],
            "trigger": "both",
            "fields": ["first_name", "last_name", "job_title"],
            "options": {**described["options"], "on_exit": on_exit},
        },
    )
    assert status == 201, action
    return str(segment["segment_id"])


def test_a_person_entering_and_leaving_a_segment_is_enrolled_then_removed_through_the_local_stack(
    platform: Platform, api: Api, runner: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole path: a destination and an action saved through the API, a person upserted into the segment and
    out again, the deliveries drained into the emulator, and the answers in the record's delivery log."""
    monkeypatch.setattr(services.actions, "sleep", lambda seconds: None)  # the rate budget's pacing
    pipeline(platform, api, runner, on_exit="remove")

    def upsert(title: str) -> str:
        record = {"email": "ada@acme.com", "first_name": "Ada", "last_name": "Lovelace", "job_title": title}
        status, body = api.call("POST", "/v1/people/upsert", {"records": [{"source": "test", "fields": record}]})
        assert status == 200, body
        runner.drain()
        return str(body["results"][0]["profile_id"])

    ada = upsert("VP Engineering")
    assert platform.enrolled() == ["ada@acme.com"]
    assert platform.people() == 1
    upsert("Engineer")
    assert platform.enrolled() == []

    status, log = api.call("GET", f"/v1/people/{ada}/deliveries")
    assert status == 200, log
    assert [(each["transition"], each["status"]) for each in log["deliveries"]] == [
        ("exited", "delivered"),
        ("entered", "delivered"),
    ]


@pytest.mark.parametrize(("on_exit", "enrolled"), [("ignore", ["ada@acme.com"]), ("remove", [])])
def test_an_entry_and_exit_both_unsent_enrol_unless_exits_remove(
    platform: Platform, api: Api, runner: Runner, monkeypatch: pytest.MonkeyPatch, on_exit: str, enrolled: list[str]
) -> None:
    """A person who entered and left before anything was sent: where exits are ignored the sequence still runs
    (the entry is sent, even by a batching platform); where exits remove, the person ends up not enrolled."""
    monkeypatch.setattr(services.actions, "sleep", lambda seconds: None)
    segment_id = pipeline(platform, api, runner, on_exit=on_exit)
    record = {"email": "ada@acme.com", "first_name": "Ada", "last_name": "Lovelace", "job_title": "Engineer"}
    status, body = api.call("POST", "/v1/people/upsert", {"records": [{"source": "test", "fields": record}]})
    assert status == 200, body
    runner.drain()
    ada = str(body["results"][0]["profile_id"])
    stay, left = "2026-11-01T10:00:00.000000Z", "2026-11-01T10:05:00.000000Z"

    def change(kind: Change, at: str) -> MembershipChange:
        event = MembershipEvent(
            workspace=api.workspace, segment_id=segment_id, kind=Kind.PEOPLE, profile_id=ada, time=at, entered_at=stay
        )
        return MembershipChange(kind, event)

    services.actions.intake([change(Change.ENTERED, stay), change(Change.EXITED, left)])  # both queued, none sent
    runner.drain()
    assert platform.enrolled() == enrolled


# -- OAuth (Outreach; Salesloft by OAuth): access tokens renewed, refresh tokens rotated ---------------------


def _refresh(org: OAuthEmulator, refresh_token: str) -> requests.Response:
    form = {
        "grant_type": "refresh_token",
        "client_id": org.client_id,
        "client_secret": org.client_secret,
        "refresh_token": refresh_token,
    }
    return requests.post(f"{org.url}/oauth/token", data=form, verify=org.ca_path, timeout=10)


def test_oauth_renews_an_expired_access_token_and_keeps_the_rotated_refresh_token(connected: Platform) -> None:
    platform, org = connected, connected.emulator
    given = json.loads(org.secret())
    [first] = platform.build().send([change("ada@acme.com")])
    assert first.status == OutcomeStatus.DELIVERED, first
    assert org.calls["token"] == 1
    [kept] = platform.kept.saved
    saved = json.loads(kept)
    assert saved["refresh_token"] == org.refresh_token != given["refresh_token"]
    assert saved["access_token"] == org.token
    [second] = platform.build(secret=kept).send([change("bob@acme.com")])  # the next drain, from the secret
    assert second.status == OutcomeStatus.DELIVERED, second
    assert org.calls["token"] == 1  # the kept access token was good: no refresh
    refused = _refresh(org, given["refresh_token"])  # the platform rotated it: the old one is spent
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"

    org.advance(TOKEN_SECONDS + 1)  # the platform now refuses that access token with a 401
    outcomes = platform.build(secret=kept).send([change("cy@acme.com"), change("dee@acme.com")])
    assert [o.status for o in outcomes] == [OutcomeStatus.DELIVERED] * 2, outcomes
    assert org.calls["token"] == 3  # one refresh (after the test's own refused one)
    latest = json.loads(platform.kept.saved[-1])
    assert latest["refresh_token"] == org.refresh_token != saved["refresh_token"]
    assert _refresh(org, saved["refresh_token"]).status_code == 400
    assert platform.enrolled() == ["ada@acme.com", "bob@acme.com", "cy@acme.com", "dee@acme.com"]
    assert all(org.client_secret not in o.answer for o in [first, second, *outcomes])


def test_outreach_renews_the_access_token_shortly_before_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    """On the adapter's own clock (here the org's): no request is sent with a token about to expire."""
    monkeypatch.setenv(LOCAL_STACK_FLAG, "1")
    with OutreachEmulator() as org:
        kept = KeptInMemory()
        connection = outreach.OutreachConnection(
            _session(org.ca_path),
            outreach.OutreachSettings(api_url=org.url),
            outreach.outreach_credentials(org.secret()),
            kept,
            clock=org.now,
        )
        adapter = outreach.OutreachAdapter(
            connection, outreach.OutreachOptions(sequence_id=org.sequence_id, mailbox_id=org.mailbox_id)
        )
        adapter.send([change("ada@acme.com")])
        org.advance(TOKEN_SECONDS - 30)  # within the minute's margin
        [outcome] = adapter.send([change("bob@acme.com")])
    assert outcome.status == OutcomeStatus.DELIVERED, outcome
    assert org.calls["token"] == 2 and len(kept.saved) == 2
    assert org.calls["find"] == 2  # one each: no request met a 401


def test_oauth_two_runs_on_one_secret_at_once_do_not_disable_the_destination(connected: Platform) -> None:
    """A destination test during a drain: both start from the same refresh token; the one the platform refuses
    because the other rotated it first takes the newer secret that one kept instead of disabling the destination."""
    platform, org = connected, connected.emulator
    drain, test = platform.build(), platform.build()  # both from the stored secret as it is now
    [first] = drain.send([change("ada@acme.com")])
    [second] = test.send([change("bob@acme.com")])
    assert [first.status, second.status] == [OutcomeStatus.DELIVERED] * 2, (first, second)
    assert org.calls["token"] == 2  # the drain's refresh, and the test's refused one
    assert json.loads(platform.kept.saved[-1])["refresh_token"] == org.refresh_token
    assert platform.enrolled() == ["ada@acme.com", "bob@acme.com"]


@pytest.mark.parametrize("failure", ["server_error", "rate_limit"])
def test_oauth_token_endpoint_failing_is_retried_not_disabled(connected: Platform, failure: FailureKind) -> None:
    platform, org = connected, connected.emulator
    org.fail_next(failure, on="token")
    outcomes = platform.build().send([change("ada@acme.com"), change("bob@acme.com")])
    assert [o.status for o in outcomes] == [OutcomeStatus.RETRY] * 2, outcomes
    assert "gave no access token" in outcomes[0].answer
    assert org.calls["find"] == 0 and platform.kept.saved == []
    [retried] = platform.build().send([change("ada@acme.com")])
    assert retried.status == OutcomeStatus.DELIVERED, retried
    assert platform.enrolled() == ["ada@acme.com"]


def test_a_salesloft_api_key_is_sent_as_given_and_never_renewed(monkeypatch: pytest.MonkeyPatch) -> None:
    """An API key does not expire: no token endpoint, nothing saved back, and its 401 disables at once."""
    monkeypatch.setenv(LOCAL_STACK_FLAG, "1")
    with SalesloftEmulator() as team:
        platform = _salesloft(team)
        assert platform.build().send([change("ada@acme.com")])[0].status == OutcomeStatus.DELIVERED
        team.fail_next("expired_token")
        [refused] = platform.build().send([change("bob@acme.com")])
    assert refused.status == OutcomeStatus.DISABLED and "reconnect" in refused.answer, refused
    assert team.calls["token"] == 0 and platform.kept.saved == []
    assert platform.enrolled() == ["ada@acme.com"]


#: OAuth JSON objects refused at save, with what the message names (and never a value from the secret).
BAD_OAUTH_SECRETS = [
    (json.dumps({"client_id": "app", "client_secret": "s3cr3t-value"}), "refresh_token: missing"),
    (json.dumps({"client_id": "app", "client_secret": "", "refresh_token": "r3fr3sh-value"}), "client_secret: empty"),
    (
        json.dumps({"client_id": "app", "client_secret": "s3cr3t-value", "refresh_token": "r", "token": "t0k3n"}),
        "token: not a key Roster knows",
    ),
]
GOOD_OAUTH_SECRET = json.dumps({"client_id": "app", "client_secret": "s3cr3t-value", "refresh_token": "r3fr3sh-value"})


def _refused_at_save(kind: str, cases: list[tuple[str, str]]) -> None:
    check = destination_kind(kind).check_secret
    assert check is not None
    for secret, reason in cases:
        with pytest.raises(ValueError, match=reason) as refused:
            check(secret)
        assert not any(value in str(refused.value) for value in ("s3cr3t-value", "r3fr3sh-value", "t0k3n")), secret


def test_outreach_secret_is_the_oauth_client_and_refresh_token() -> None:
    check = destination_kind("outreach").check_secret
    assert check is not None
    check(GOOD_OAUTH_SECRET)
    check(json.dumps({"client_id": "a", "client_secret": "b", "refresh_token": "c", "redirect_uri": "https://x.io/cb"}))
    plain = [
        ("an-access-token-value", "client_id, client_secret, refresh_token; this is not JSON"),
        ('["client_id"]', "not an object"),
    ]
    _refused_at_save("outreach", plain + BAD_OAUTH_SECRETS)


def test_salesloft_secret_is_an_api_key_or_the_oauth_client_and_refresh_token() -> None:
    check = destination_kind("salesloft").check_secret
    assert check is not None
    check("an-api-key-value")
    check("12345")  # JSON, but not an object: a key
    check(GOOD_OAUTH_SECRET)
    _refused_at_save("salesloft", [*BAD_OAUTH_SECRETS, ("{}", "client_id: missing"), ("an api key", "spaces")])


def test_oauth_through_the_local_stack_renews_keeps_the_rotated_token_and_disables_when_revoked(
    connected: Platform, api: Api, runner: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(services.actions, "sleep", lambda seconds: None)
    platform, org = connected, connected.emulator
    described = org.destination()
    partial = {k: v for k, v in json.loads(org.secret()).items() if k != "refresh_token"}
    refusals = [(json.dumps(partial), "refresh_token")]
    if platform.name == "outreach":
        refusals.append((org.token, "this is not JSON"))  # a bare access token would stop working within 2 hours
    for secret, named in refusals:
        body = {"name": "o", "kind": described["kind"], "settings": described["settings"], "secret": secret}
        status, refused = api.call("POST", "/v1/destinations", {**body, "ca_bundle": described["ca_bundle"]})
        assert status == 422 and named in str(refused), refused
        assert secret not in str(refused)

    pipeline(platform, api, runner, on_exit="ignore")  # its test call already refreshed once
    [destination] = services.actions.destinations(api.workspace)

    def stored() -> dict[str, Any]:
        secret = services.actions.secrets.load(api.workspace, destination.destination_id)
        assert secret is not None
        return dict(json.loads(secret))

    def upsert(email: str) -> None:
        record = {"email": email, "first_name": "Ada", "last_name": "Lovelace", "job_title": "VP Sales"}
        status, body = api.call("POST", "/v1/people/upsert", {"records": [{"source": "test", "fields": record}]})
        assert status == 200, body
        runner.drain()

    assert stored()["refresh_token"] == org.refresh_token
    upsert("ada@acme.com")
    assert platform.enrolled() == ["ada@acme.com"] and org.calls["token"] == 1  # the kept access token
    before = stored()["refresh_token"]

    org.advance(TOKEN_SECONDS + 1)
    upsert("bob@acme.com")
    assert platform.enrolled() == ["ada@acme.com", "bob@acme.com"]
    assert org.calls["token"] == 2
    assert stored()["refresh_token"] == org.refresh_token != before
    assert _refresh(org, before).status_code == 400

    org.revoke()
    upsert("cy@acme.com")
    status, view = api.call("GET", f"/v1/destinations/{destination.destination_id}")
    assert status == 200, view
    assert view["destination"]["status"] == "disabled"
    assert "reconnect" in view["destination"]["disabled_reason"]
    assert "invalid_grant" in view["destination"]["disabled_reason"]
    assert platform.enrolled() == ["ada@acme.com", "bob@acme.com"]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(waits=st.lists(st.sampled_from([0.0, 600.0, 7_100.0, 7_200.0, 7_201.0, 86_400.0]), min_size=1, max_size=6))
def test_outreach_drains_after_any_waits_deliver_and_leave_a_working_refresh_token_stored(
    monkeypatch: pytest.MonkeyPatch, waits: list[float]
) -> None:
    """Whatever time passes between drains (each building its adapter from the stored secret, as the delivery
    function does), every drain delivers and what is stored afterwards is the refresh token Outreach takes."""
    monkeypatch.setenv(LOCAL_STACK_FLAG, "1")
    with OutreachEmulator() as org:
        platform = _outreach(org)
        stored = org.secret()
        for number, wait in enumerate(waits):
            org.advance(wait)
            [outcome] = platform.build(secret=stored).send([change(f"p{number}@acme.com")])
            assert outcome.status == OutcomeStatus.DELIVERED, outcome
            stored = platform.kept.saved[-1]
            assert json.loads(stored)["refresh_token"] == org.refresh_token
    assert len(platform.enrolled()) == len(waits)

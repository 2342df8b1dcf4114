"""Which membership changes an action sends: each once, in order per record, whatever order and how often the
events arrive (the intake's decisions, without the store)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from roster.actions.config import Action, Entry, Trigger
from roster.actions.destinations.base import Transition
from roster.actions.intake import Change, Context, DeliveryStatus, plan, skipped
from roster.profiles.fields import Kind
from roster.profiles.values import format_time
from roster.store.actions import State, StoredDelivery

START = datetime(2026, 11, 1, tzinfo=UTC)


def make_action(trigger: Trigger = Trigger.BOTH, entry: Entry = Entry.EVERY, hours: float | None = None) -> Action:
    return Action(
        action_id="act_1",
        kind=Kind.PEOPLE,
        created_at="2026-11-01T00:00:00.000000Z",
        name="a",
        segment_id="seg",
        destination_id="dst",
        trigger=trigger,
        entry=entry,
        cooldown_hours=hours,
    )


def history(stays: int, open_at_end: bool) -> list[Change]:
    """A record's true changes: `stays` stays a day apart, each 2 hours long (the last maybe still open)."""
    changes = []
    for stay in range(stays):
        began = format_time(START + timedelta(days=stay))
        changes.append(Change("p", Transition.ENTERED, began, began))
        if stay < stays - 1 or not open_at_end:
            changes.append(Change("p", Transition.EXITED, began, format_time(START + timedelta(days=stay, hours=2))))
    return changes


def take(action: Action, arrivals: list[Change], fields: dict[str, str] | None = None) -> list[StoredDelivery]:
    """Feed changes one by one as the intake does; returns the deliveries in the order they are sent."""
    state = State()
    made: dict[str, StoredDelivery] = {}
    for change in arrivals:
        result = plan("ws", action, state, change, Context(fields or {"email": "a@b.co"}), change.at)
        if result is None:
            continue
        for delivery in result.new:
            assert delivery.delivery_id not in made, "a delivery is written once"
            made[delivery.delivery_id] = delivery
        state = result.state
    return [made[each] for each in state.backlog]


@st.composite
def deliveries_of_a_record(draw: st.DrawFn) -> tuple[list[Change], list[Change]]:
    truth = history(draw(st.integers(1, 4)), draw(st.booleans()))
    arrivals = draw(st.lists(st.sampled_from(truth), min_size=len(truth), max_size=3 * len(truth)))
    arrivals += truth  # every change arrives at least once, in any order, some twice or more
    return truth, draw(st.permutations(arrivals))


@given(deliveries_of_a_record())
def test_an_audience_ends_in_step_whatever_order_and_repeats(case: tuple[list[Change], list[Change]]) -> None:
    truth, arrivals = case
    sent = take(make_action(), arrivals)
    phases = [each.transition for each in sent]
    assert all(a != b for a, b in itertools.pairwise(phases)), "entries and exits alternate"
    assert not phases or phases[0] == "entered", "an exit never goes before its entry"
    is_member = truth[-1].transition is Transition.ENTERED
    assert (bool(phases) and phases[-1] == "entered") == is_member


@given(deliveries_of_a_record())
def test_once_sends_at_most_one_entry(case: tuple[list[Change], list[Change]]) -> None:
    _, arrivals = case
    sent = take(make_action(Trigger.ENTER, Entry.ONCE), arrivals)
    assert len(sent) <= 1
    assert all(each.transition == "entered" for each in sent)


def test_in_order_stays_fire_by_the_entry_rule() -> None:
    truth = history(4, open_at_end=True)  # four entries a day apart
    assert len(take(make_action(Trigger.ENTER, Entry.EVERY), truth)) == 4
    assert len(take(make_action(Trigger.ENTER, Entry.ONCE), truth)) == 1
    assert len(take(make_action(Trigger.ENTER, Entry.COOLDOWN, hours=36), truth)) == 2  # days 0 and 2
    exits = take(make_action(Trigger.EXIT, Entry.EVERY), truth)
    assert [each.transition for each in exits] == ["exited"] * 3


def test_a_record_merged_into_another_brings_its_history() -> None:
    began = format_time(START)
    fired = State(stint="2026-10-01T00:00:00.000000Z", phase="exited", last_fired_at="2026-10-01T00:00:00.000000Z")
    change = Change("survivor", Transition.ENTERED, began, began)
    action = make_action(Trigger.ENTER, Entry.ONCE)
    merged = plan("ws", action, State(), change, Context({}, history=(fired,)), began)
    assert merged is not None and merged.new == []
    alone = plan("ws", action, State(), change, Context({}), began)
    assert alone is not None and len(alone.new) == 1


def test_a_reentry_by_a_rebuild_does_not_fire_again() -> None:
    action = make_action(Trigger.ENTER, Entry.COOLDOWN, hours=1)
    first, _, again = history(2, open_at_end=True)
    state = State(stint=first.stint, phase="exited", last_fired_at=first.at)
    by_rebuild = Change(again.profile_id, again.transition, again.stint, again.at, run="01RUN")
    during = plan("ws", action, state, by_rebuild, Context({}), again.at)
    assert during is not None and during.new == []
    after = plan("ws", action, state, again, Context({}), again.at)
    assert after is not None and len(after.new) == 1


def test_an_entry_failing_the_quality_gate_is_logged_as_skipped_and_not_queued() -> None:
    [entry] = history(1, open_at_end=True)
    skip = skipped("ws", make_action(Trigger.BOTH, Entry.ONCE), entry, {"email": None, "phone": "1"}, entry.at)
    assert skip.status == DeliveryStatus.SKIPPED and skip.due_at is None
    assert skip.log[0]["answer"] == "not sent: failed the action's quality gate"
    sent = take(make_action(Trigger.BOTH, Entry.ONCE), [entry])
    assert skip.delivery_id == sent[0].delivery_id, "one id per (action, record, transition, stay)"

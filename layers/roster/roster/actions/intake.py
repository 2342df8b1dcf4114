"""From membership changes to deliveries: which changes an action sends, each once, in the order they happened.

A record's stays in a segment are told apart by when they began (`entered_at`); an exit names the stay it ends.
Ordering one record's changes by (stay, entry before exit) makes every late or repeated event harmless: a change
at or before the record's state is dropped, so a duplicate writes nothing and a late event never undoes a newer
one. A delivery's id is derived from (action, record, transition, stay), so the same change is one delivery.

Which stays fire: `once` (the record's first), `cooldown` (again once `cooldown_hours` passed since it last fired)
or `every`. A record merged into another brings its history: a survivor entering because of the merge does not
fire again for a person who already fired. A record re-entering by a rebuild of its segment (a filter saved) does
not fire again either (unless the action fires on `every` entry, as ad audiences do, which must follow the segment).
An exit is sent when the stay's entry fired (trigger `both`), or as the stay's firing moment (trigger `exit`).

An action with a quality gate follows a kept segment, its segment's members that pass the gate (see
`Actions.create_action`), so a member that stops passing it leaves that segment, and an audience loses it. A record
that enters the action's own segment but fails the gate is logged as a `skipped` delivery with the reason.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from roster.actions.config import Action, Entry, Trigger
from roster.actions.destinations.base import Transition
from roster.store.actions import State, StoredDelivery


class DeliveryStatus:
    PENDING = "pending"  # due (now, or after a retry's wait)
    BLOCKED = "blocked"  # waits for an earlier change of the same record
    DELIVERED = "delivered"
    FAILED = "failed"  # the destination refused it for good
    DEAD = "dead"  # retries ran out (about 3 days): replay it by hand
    SKIPPED = "skipped"  # failed the quality gate: not sent
    HELD = "held"  # its action is off: sent, in order, when it is on again
    COLLAPSED = "collapsed"  # an entry and its exit both still unsent: neither needed sending


SETTLED = {DeliveryStatus.DELIVERED, DeliveryStatus.FAILED, DeliveryStatus.DEAD, DeliveryStatus.COLLAPSED}
_RANK = {Transition.ENTERED: 0, Transition.EXITED: 1}


def delivery_id(action_id: str, profile_id: str, transition: Transition, stint: str) -> str:
    digest = hashlib.sha256(f"{action_id}|{profile_id}|{transition}|{stint}".encode()).hexdigest()
    return f"dlv_{digest[:26]}"


@dataclass(frozen=True)
class Change:
    """One membership change as an action sees it."""

    profile_id: str
    transition: Transition
    stint: str  # when the stay began
    at: str  # when the change happened
    run: str | None = None  # an entry made by a rebuild of the segment: that run


@dataclass(frozen=True)
class Context:
    """What an intake decision reads besides the record's own state."""

    fields: Mapping[str, Any]  # the record's current values
    history: tuple[State, ...] = ()  # the states of records merged into this one


@dataclass
class Plan:
    state: State
    new: list[StoredDelivery] = field(default_factory=list)


def _key(stint: str, phase: str) -> tuple[str, int]:
    return stint, _RANK[Transition(phase)] if phase else -1


def _hours_between(earlier: str, later: str) -> float:
    return (datetime.fromisoformat(later) - datetime.fromisoformat(earlier)).total_seconds() / 3600


def _may_fire(action: Action, state: State, context: Context, change: Change) -> bool:
    """Whether a new stay fires, by the action's entry rule and the record's (and its merged records') history."""
    if action.entry is Entry.EVERY:
        return True
    fired = [each.last_fired_at for each in (state, *context.history) if each.last_fired_at]
    if not fired:
        return True
    if change.run is not None or action.entry is Entry.ONCE:
        return False
    return _hours_between(max(fired), change.at) >= float(action.cooldown_hours or 0)


def new_delivery(
    workspace: str,
    action: Action,
    change: Change,
    transition: Transition,
    stint: str,
    fields: Mapping[str, Any],
    now: str,
) -> StoredDelivery:
    """A delivery of `transition` of the stay `stint`, carrying the action's fields, pending."""
    return StoredDelivery(
        delivery_id=delivery_id(action.action_id, change.profile_id, transition, stint),
        workspace=workspace,
        action_id=action.action_id,
        destination_id=action.destination_id,
        segment_id=action.segment_id,
        kind=str(action.kind),
        profile_id=change.profile_id,
        transition=str(transition),
        occurred_at=change.at,
        stint=stint,
        status=DeliveryStatus.PENDING,
        created_at=now,
        updated_at=now,
        fields={name: fields.get(name) for name in action.sent_fields()},
        due_at=now,
    )


def skipped(workspace: str, action: Action, change: Change, fields: Mapping[str, Any], now: str) -> StoredDelivery:
    """The log of an entry into the action's segment by a record that fails its quality gate: not sent."""
    delivery = new_delivery(workspace, action, change, Transition.ENTERED, change.stint, fields, now)
    delivery.status, delivery.due_at = DeliveryStatus.SKIPPED, None
    delivery.log = [{"at": now, "status": delivery.status, "answer": "not sent: failed the action's quality gate"}]
    return delivery


def plan(workspace: str, action: Action, state: State, change: Change, context: Context, now: str) -> Plan | None:
    """The record's next state and the deliveries the change creates; None when the change is stale or repeated."""
    if state.phase and _key(change.stint, change.transition) <= _key(state.stint, state.phase):
        return None
    after = State(state.stint, state.phase, state.fired, state.last_fired_at, list(state.backlog), state.version)
    result = Plan(after)

    def owe(transition: Transition, stint: str) -> None:
        delivery = new_delivery(workspace, action, change, transition, stint, context.fields, now)
        if after.backlog:
            delivery.status, delivery.due_at = DeliveryStatus.BLOCKED, None
        after.backlog.append(delivery.delivery_id)
        result.new.append(delivery)

    def fire_new_stay(transition: Transition) -> bool:
        if not _may_fire(action, state, context, change):
            return False
        owe(transition, change.stint)
        after.last_fired_at = change.at
        return True

    newer_stay = change.stint != state.stint
    if newer_stay:
        if state.phase == Transition.ENTERED and state.fired and action.trigger is Trigger.BOTH:
            owe(Transition.EXITED, state.stint)  # the previous stay's own exit has not arrived (yet)
        after.fired = False
    if change.transition is Transition.ENTERED:
        if action.trigger is not Trigger.EXIT:
            after.fired = fire_new_stay(Transition.ENTERED)
    elif action.trigger is Trigger.EXIT:
        after.fired = fire_new_stay(Transition.EXITED)
    elif action.trigger is Trigger.BOTH and not newer_stay and state.fired:
        owe(Transition.EXITED, change.stint)
    after.stint, after.phase = change.stint, str(change.transition)
    return result

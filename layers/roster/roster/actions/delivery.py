"""Sending what actions owe, per destination: batched, in order per record, retried, within a rate budget.

Each destination is drained on its own (one SQS FIFO message group per destination, so one drain at a time per
destination and destinations side by side): a slow or failing destination only ever delays itself. A drain sends
the destination's due deliveries in batches of its adapter's `max_batch`, at most `requests_per_second` (the pace
carries over from one drain to the next: a drain starts no sooner than its predecessor's next request was due),
and settles each by the adapter's outcome:

- delivered or failed for good: settled; the record's next change (if any) becomes due;
- retry: due again after exponential backoff with jitter (1 min, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 20 h:
  about 3 days), or after the destination's `Retry-After` when longer, which also pauses the whole destination;
  after the last attempt it is `dead` (settled, listed, replayable by hand);
- disabled: the destination is disabled (webhook 410); nothing is lost, its deliveries wait until it is enabled.

The deliveries of an action that is off are `held`: out of the due list until it is on again (then due, in order).

When a batching adapter whose exits undo entries (ad audiences; a sequencer told to remove on exit) would get a
record's entry and that stay's exit both unsent, neither is sent (`collapsed`): adding and removing the same person
is a no-op the platform need not see. Where exits are ignored (a sequence runs its course), the entry is sent.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from roster.actions.config import Action, Destination, DestinationStatus
from roster.actions.destinations.base import Adapter, Delivery, Outcome, OutcomeStatus, Transition
from roster.actions.intake import DeliveryStatus
from roster.profiles.fields import Kind
from roster.profiles.values import format_time
from roster.store.actions import ActionStore, State, StoredDelivery

RETRY_SCHEDULE = (60, 300, 1800, 7200, 18000, 36000, 50400, 72000, 72000)  # seconds before attempt 2, 3, ...
JITTER = 0.2  # each wait is stretched or shrunk by up to 20%, so retries of many records spread out
DRAIN_SECONDS = 240.0  # then the drain hands over to a fresh invocation (the function's timeout is 300 s)
PAGE = 100  # due deliveries read a round, at least; a batching adapter's batch size when larger
MAX_PAGE = 10_000
LOG_ENTRIES = 10  # attempts kept per delivery
COMMIT_ATTEMPTS = 5


def backoff(attempt: int, rand: Callable[[float, float], float] = random.uniform) -> float:
    """Seconds to wait after the `attempt`-th failed attempt (1-based), with jitter."""
    base = RETRY_SCHEDULE[min(attempt, len(RETRY_SCHEDULE)) - 1]
    return base * rand(1 - JITTER, 1 + JITTER)


def log_attempt(delivery: StoredDelivery, at: str, status: str, answer: str) -> None:
    """Add an attempt (or a hold, a replay) to the delivery's log, which keeps the last LOG_ENTRIES."""
    delivery.log = [*delivery.log, {"at": at, "status": status, "answer": answer}][-LOG_ENTRIES:]


def as_delivery(stored: StoredDelivery) -> Delivery:
    return Delivery(
        delivery_id=stored.delivery_id,
        action_id=stored.action_id,
        segment_id=stored.segment_id,
        kind=Kind(stored.kind),
        profile_id=stored.profile_id,
        transition=Transition(stored.transition),
        occurred_at=stored.occurred_at,
        fields=stored.fields,
    )


@dataclass
class DrainReport:
    sent: int = 0
    requests: int = 0
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    failed: int = 0
    collapsed: int = 0
    held: int = 0
    more: bool = False  # due work remains: drain again
    stopped: str | None = None  # why it stopped early (disabled, paused)


@dataclass
class Drain:
    """One drain of one destination."""

    store: ActionStore
    workspace: str
    destination: Destination
    actions: Callable[[str], Action | None]
    adapter_for: Callable[[Action], Adapter]
    save_destination: Callable[[Destination], None]
    clock: Callable[[], datetime]
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic
    rand: Callable[[float, float], float] = random.uniform
    report: DrainReport = field(default_factory=DrainReport)
    _adapters: dict[str, Adapter | None] = field(default_factory=dict)
    _states: dict[tuple[str, str], State] = field(default_factory=dict)  # read with the page, used once to settle
    _next_request: float = 0.0

    def run(self, seconds: float = DRAIN_SECONDS, action_ids: Iterable[str] = ()) -> DrainReport:
        """Drain for about `seconds`; `action_ids` (the destination's actions) size the pages to their batches."""
        for action_id in action_ids:
            self._adapter(action_id)
        started = self.monotonic()
        paced = self.store.paced_until(self.workspace, self.destination.destination_id)
        if paced is not None:  # the previous drain's next request: that far ahead of now, on this drain's clock
            ahead = (datetime.fromisoformat(paced) - self.clock()).total_seconds()
            self._next_request = started + min(max(ahead, 0.0), 1.0 / self.destination.requests_per_second)
        try:
            while self.monotonic() - started < seconds:
                if self.report.stopped or not self._page():
                    return self.report
            self.report.more = True
            return self.report
        finally:
            if self.report.requests:
                ahead = max(0.0, self._next_request - self.monotonic())
                at = format_time(self.clock() + timedelta(seconds=ahead))
                self.store.pace(self.workspace, self.destination.destination_id, at)

    def _page(self) -> bool:
        """Send one page of due deliveries; False when nothing was due."""
        now = format_time(self.clock())
        batches = [adapter.max_batch for adapter in self._adapters.values() if adapter is not None]
        page = min(MAX_PAGE, max([PAGE, *batches]))
        due = self.store.due(self.workspace, self.destination.destination_id, now, page)
        if not due:
            return False
        by_action: dict[str, list[StoredDelivery]] = {}
        for delivery in due:
            by_action.setdefault(delivery.action_id, []).append(delivery)
        for action_id, deliveries in by_action.items():
            self._send_action(action_id, deliveries)
            if self.report.stopped:
                break
        return True

    def _adapter(self, action_id: str) -> tuple[Action | None, Adapter | None]:
        action = self.actions(action_id)
        if action_id not in self._adapters:
            self._adapters[action_id] = self.adapter_for(action) if action is not None else None
        return action, self._adapters[action_id]

    def _send_action(self, action_id: str, listed: list[StoredDelivery]) -> None:
        action, adapter = self._adapter(action_id)
        states = self.store.states(self.workspace, action_id, [each.profile_id for each in listed])
        self._states.update({(action_id, profile_id): state for profile_id, state in states.items()})
        current = self.store.deliveries_of(self.workspace, action_id, [each.delivery_id for each in listed])
        heads: list[StoredDelivery] = []
        for each in listed:  # the index lags the table: send only what is still due and first in its record's line
            delivery = current.get(each.delivery_id)
            state = states.get(each.profile_id)
            if (
                delivery
                and state
                and delivery.status == DeliveryStatus.PENDING
                and state.backlog[:1] == [each.delivery_id]
            ):
                heads.append(delivery)
        if action is None or adapter is None:
            for delivery in heads:
                self._settle(delivery, Outcome(delivery.delivery_id, OutcomeStatus.FAILED, "the action was deleted"))
            return
        if not action.enabled:
            for delivery in heads:
                self._hold(delivery)
            again = self.actions(action_id)
            if again is not None and again.enabled:  # turned on meanwhile, maybe after it released what was held
                for delivery in heads:
                    self._unhold(delivery)
            return
        if adapter.max_batch > 1 and adapter.exits_undo_entries:
            heads = [delivery for delivery in heads if not self._collapsed(delivery, states[delivery.profile_id])]
        for start in range(0, len(heads), adapter.max_batch):
            batch = heads[start : start + adapter.max_batch]
            self._pace()
            outcomes = {outcome.delivery_id: outcome for outcome in adapter.send([as_delivery(each) for each in batch])}
            self.report.requests += 1
            self.report.sent += len(batch)
            for delivery in batch:
                outcome = outcomes.get(delivery.delivery_id) or Outcome(
                    delivery.delivery_id, OutcomeStatus.RETRY, "the adapter gave no outcome"
                )
                self._settle(delivery, outcome)
            if self.report.stopped:
                return

    def _hold(self, delivery: StoredDelivery) -> None:
        at = format_time(self.clock())
        delivery.status, delivery.due_at, delivery.updated_at = DeliveryStatus.HELD, None, at
        log_attempt(delivery, at, "held", "held: the action is off")
        self.store.save_delivery(delivery)
        self.report.held += 1

    def _unhold(self, delivery: StoredDelivery) -> None:
        fresh = self.store.delivery(self.workspace, delivery.action_id, delivery.delivery_id)
        if fresh is not None and fresh.status == DeliveryStatus.HELD:
            release(self.store, fresh, format_time(self.clock()))

    def _pace(self) -> None:
        """Keep to the destination's rate budget: requests at least 1/rate seconds apart."""
        wait = self._next_request - self.monotonic()
        if wait > 0:
            self.sleep(wait)
        self._next_request = self.monotonic() + 1.0 / self.destination.requests_per_second

    def _collapsed(self, entry: StoredDelivery, state: State) -> bool:
        """An entry whose exit is queued right behind it, both unsent: settle both, send neither."""
        if entry.transition != Transition.ENTERED or len(state.backlog) < 2:
            return False
        following = self.store.delivery(self.workspace, entry.action_id, state.backlog[1])
        if following is None or following.transition != Transition.EXITED or following.status != DeliveryStatus.BLOCKED:
            return False
        outcome = Outcome(entry.delivery_id, OutcomeStatus.DELIVERED, "collapsed: entered and exited before sending")
        for delivery in (entry, following):
            self._settle(delivery, outcome, status=DeliveryStatus.COLLAPSED)
        self.report.collapsed += 2
        return True

    def _settle(self, delivery: StoredDelivery, outcome: Outcome, status: str | None = None) -> None:
        """Record an attempt's outcome on the delivery and, when it is settled, move its record's line on."""
        now = self.clock()
        at = format_time(now)
        log_attempt(delivery, at, str(outcome.status), outcome.answer)
        delivery.updated_at = at
        settled = True
        if status is not None:
            delivery.status = status
        elif outcome.status is OutcomeStatus.DELIVERED:
            delivery.status = DeliveryStatus.DELIVERED
            delivery.attempts += 1
            self.report.delivered += 1
        elif outcome.status is OutcomeStatus.FAILED:
            delivery.status = DeliveryStatus.FAILED
            delivery.attempts += 1
            self.report.failed += 1
        elif outcome.status is OutcomeStatus.DISABLED:
            settled = False  # not the delivery's fault: it waits for the destination to be enabled
            self._disable(outcome.answer)
        else:
            delivery.attempts += 1
            if delivery.attempts > len(RETRY_SCHEDULE):
                delivery.status = DeliveryStatus.DEAD
                self.report.dead += 1
            else:
                settled = False
                wait = max(backoff(delivery.attempts, self.rand), outcome.retry_after or 0.0)
                delivery.due_at = format_time(now + timedelta(seconds=wait))
                self.report.retried += 1
                if outcome.retry_after:
                    self._pause(now + timedelta(seconds=outcome.retry_after))
        if not settled:
            self.store.save_delivery(delivery)
            return
        delivery.due_at = None
        state = self._states.pop((delivery.action_id, delivery.profile_id), None)
        self.settle_in_line(self.store, self.workspace, delivery, at, state)

    @staticmethod
    def settle_in_line(
        store: ActionStore, workspace: str, delivery: StoredDelivery, at: str, state: State | None = None
    ) -> None:
        """Save a settled delivery, take it out of its record's line and make the next one due (`state`: the
        record's state if just read; read again when another writer changed it meanwhile)."""
        for _ in range(COMMIT_ATTEMPTS):
            if state is None:
                state = store.state(workspace, delivery.action_id, delivery.profile_id)
            state.backlog = [each for each in state.backlog if each != delivery.delivery_id]
            changed = [delivery]
            if state.backlog:
                following = store.delivery(workspace, delivery.action_id, state.backlog[0])
                if following is not None and following.status == DeliveryStatus.BLOCKED:
                    following.status, following.due_at, following.updated_at = DeliveryStatus.PENDING, at, at
                    changed.append(following)
            if store.commit(workspace, delivery.action_id, delivery.profile_id, state, changed):
                return
            fresh = store.delivery(workspace, delivery.action_id, delivery.delivery_id)
            delivery.version = fresh.version if fresh else None
            state = None
        raise RuntimeError(f"delivery {delivery.delivery_id} kept losing races to settle")

    def _disable(self, reason: str) -> None:
        self.destination = self.destination.model_copy(
            update={"status": DestinationStatus.DISABLED, "disabled_reason": reason}
        )
        self.save_destination(self.destination)
        self.report.stopped = "disabled"

    def _pause(self, until: datetime) -> None:
        self.destination = self.destination.model_copy(update={"paused_until": format_time(until)})
        self.save_destination(self.destination)
        self.report.stopped = "paused"


def release(store: ActionStore, delivery: StoredDelivery, at: str) -> None:
    """A held delivery due again (its action is on)."""
    delivery.status, delivery.due_at, delivery.updated_at = DeliveryStatus.PENDING, at, at
    store.save_delivery(delivery)


def sendable(destination: Destination, now: datetime) -> bool:
    """Active and not asked to wait."""
    if destination.status is not DestinationStatus.ACTIVE:
        return False
    return destination.paused_until is None or destination.paused_until <= format_time(now)

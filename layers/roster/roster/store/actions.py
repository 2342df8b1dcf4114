"""Destinations, actions, and the deliveries actions owe: the actions table.

==============================  ==========================  ===============  ======================================
pk                              sk                          model            item
==============================  ==========================  ===============  ======================================
{ws}                            destination#{destination}   ConfigItem       a destination (its secret is elsewhere)
{ws}                            action#{action}             ConfigItem       an action
{ws}                            pace#{destination}          ConfigItem       when its next request may go
destinations                    {ws}#{destination}          ConfigItem       every destination, for the sweep
{ws}#{action}                   state#{profile}             StateItem        a record's place at one action
{ws}#{action}                   delivery#{delivery}         DeliveryItem     one change owed to the destination
==============================  ==========================  ===============  ======================================

A record's state holds its `backlog`: the deliveries not yet settled, oldest first. Only the first one is due
(listed in the `Due` index by destination and due time); the next becomes due when it settles, so an exit never
overtakes its entry. State and deliveries change together in one transaction, conditioned on the state's version.
The `ByRecord` index lists a record's deliveries across actions, in the order their changes happened.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from pynamodb.attributes import JSONAttribute, ListAttribute, NumberAttribute, UnicodeAttribute, VersionAttribute
from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from roster.config import settings

CANCELED = "TransactionCanceledException"
DESTINATIONS = "destination#"
ACTIONS = "action#"
DESTINATION_INDEX = "destinations"
PACE = "pace#"
STATE = "state#"
DELIVERY = "delivery#"


class ActionsTableItem(Model):
    """The base of the models on the actions table, never stored itself: they share its `Meta`."""

    class Meta:
        table_name = "ActionsTable"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)


class ConfigItem(ActionsTableItem):
    """A destination or an action as JSON, or a destination's entry in the sweep's index."""

    data = JSONAttribute()


class StateItem(ActionsTableItem):
    """Where one record stands at one action: its latest known stay in the segment and what is owed."""

    stint = UnicodeAttribute()  # entered_at of the latest stay seen
    phase = UnicodeAttribute()  # entered | exited
    fired = NumberAttribute(default=0)  # 1 when this stay fired the action
    last_fired_at = UnicodeAttribute(null=True)
    backlog = ListAttribute(of=UnicodeAttribute, default=list)  # unsettled delivery ids, oldest first
    version = VersionAttribute()


class Due(GlobalSecondaryIndex["DeliveryItem"]):  # type: ignore[no-untyped-call]
    """Deliveries due to be sent, per destination (`{ws}#{destination}`), by due time; sparse."""

    class Meta:
        index_name = "Due"
        projection = AllProjection()

    due_key = UnicodeAttribute(hash_key=True)
    due_at = UnicodeAttribute(range_key=True)


class ByRecord(GlobalSecondaryIndex["DeliveryItem"]):  # type: ignore[no-untyped-call]
    """A record's deliveries (`{ws}#{kind}#{profile}`) across actions, in the order their changes happened."""

    class Meta:
        index_name = "ByRecord"
        projection = AllProjection()

    record_key = UnicodeAttribute(hash_key=True)
    record_order = UnicodeAttribute(range_key=True)


class DeliveryItem(ActionsTableItem):
    delivery_id = UnicodeAttribute()
    workspace = UnicodeAttribute()
    action_id = UnicodeAttribute()
    destination_id = UnicodeAttribute()
    segment_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    profile_id = UnicodeAttribute()
    transition = UnicodeAttribute()
    occurred_at = UnicodeAttribute()
    stint = UnicodeAttribute()  # when the stay the change belongs to began
    record_order = UnicodeAttribute()  # `{occurred_at}#{stint}#{0 entry | 1 exit}`
    status = UnicodeAttribute()
    attempts = NumberAttribute(default=0)
    fields = JSONAttribute(default=dict)
    log = JSONAttribute(default=list)  # the last attempts: when, status, answer
    record_key = UnicodeAttribute()
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    due_key = UnicodeAttribute(null=True)
    due_at = UnicodeAttribute(null=True)
    by_record = ByRecord()
    due = Due()
    version = VersionAttribute()


@dataclass
class State:
    stint: str = ""
    phase: str = ""
    fired: bool = False
    last_fired_at: str | None = None
    backlog: list[str] = field(default_factory=list)
    version: int | None = None


@dataclass
class StoredDelivery:
    delivery_id: str
    workspace: str
    action_id: str
    destination_id: str
    segment_id: str
    kind: str
    profile_id: str
    transition: str
    occurred_at: str
    stint: str
    status: str
    created_at: str
    updated_at: str
    attempts: int = 0
    fields: dict[str, Any] = field(default_factory=dict)
    log: list[dict[str, Any]] = field(default_factory=list)
    due_at: str | None = None
    version: int | None = None


def _action_key(workspace: str, action_id: str) -> str:
    return f"{workspace}#{action_id}"


def due_key(workspace: str, destination_id: str) -> str:
    return f"{workspace}#{destination_id}"


def record_key(workspace: str, kind: str, profile_id: str) -> str:
    return f"{workspace}#{kind}#{profile_id}"


def _to_state(item: StateItem) -> State:
    backlog = [str(each) for each in item.backlog or []]
    return State(item.stint, item.phase, bool(item.fired), item.last_fired_at, backlog, item.version)


def _to_delivery(item: DeliveryItem) -> StoredDelivery:
    return StoredDelivery(
        delivery_id=item.delivery_id,
        workspace=item.workspace,
        action_id=item.action_id,
        destination_id=item.destination_id,
        segment_id=item.segment_id,
        kind=item.kind,
        profile_id=item.profile_id,
        transition=item.transition,
        occurred_at=item.occurred_at,
        stint=item.stint,
        status=item.status,
        created_at=item.created_at,
        updated_at=item.updated_at,
        attempts=int(item.attempts or 0),
        fields=dict(item.fields or {}),
        log=list(item.log or []),
        due_at=item.due_at,
        version=item.version,
    )


def _to_item(delivery: StoredDelivery) -> DeliveryItem:
    item = DeliveryItem(
        _action_key(delivery.workspace, delivery.action_id),
        DELIVERY + delivery.delivery_id,
        delivery_id=delivery.delivery_id,
        workspace=delivery.workspace,
        action_id=delivery.action_id,
        destination_id=delivery.destination_id,
        segment_id=delivery.segment_id,
        kind=delivery.kind,
        profile_id=delivery.profile_id,
        transition=delivery.transition,
        occurred_at=delivery.occurred_at,
        stint=delivery.stint,
        record_order=f"{delivery.occurred_at}#{delivery.stint}#{int(delivery.transition == 'exited')}",
        status=delivery.status,
        attempts=delivery.attempts,
        fields=delivery.fields,
        log=delivery.log,
        record_key=record_key(delivery.workspace, delivery.kind, delivery.profile_id),
        created_at=delivery.created_at,
        updated_at=delivery.updated_at,
        due_key=due_key(delivery.workspace, delivery.destination_id) if delivery.due_at else None,
        due_at=delivery.due_at,
    )
    if delivery.version is not None:
        item.version = delivery.version
    return item


class ActionStore:
    """The only code that reads and writes the actions table."""

    # --- destinations and actions ------------------------------------------------------------

    def put_config(self, workspace: str, sk: str, data: dict[str, Any]) -> None:
        ConfigItem(workspace, sk, data=data).save()
        if sk.startswith(DESTINATIONS):
            ConfigItem(DESTINATION_INDEX, f"{workspace}#{sk.removeprefix(DESTINATIONS)}", data={}).save()

    def get_config(self, workspace: str, sk: str) -> dict[str, Any] | None:
        try:
            return dict(ConfigItem.get(workspace, sk, consistent_read=True).data)
        except DoesNotExist:
            return None

    def configs(self, workspace: str, prefix: str) -> list[dict[str, Any]]:
        return [dict(item.data) for item in ConfigItem.query(workspace, ConfigItem.sk.startswith(prefix))]

    def delete_config(self, workspace: str, sk: str) -> None:
        ConfigItem(workspace, sk).delete()
        if sk.startswith(DESTINATIONS):
            ConfigItem(DESTINATION_INDEX, f"{workspace}#{sk.removeprefix(DESTINATIONS)}").delete()
            ConfigItem(workspace, PACE + sk.removeprefix(DESTINATIONS)).delete()

    def pace(self, workspace: str, destination_id: str, next_request_at: str) -> None:
        """When the destination's next request may go, for the next drain (one drain at a time per destination)."""
        ConfigItem(workspace, PACE + destination_id, data={"next_request_at": next_request_at}).save()

    def paced_until(self, workspace: str, destination_id: str) -> str | None:
        found = self.get_config(workspace, PACE + destination_id)
        return None if found is None else str(found["next_request_at"])

    def all_destinations(self) -> Iterator[tuple[str, str]]:
        """(workspace, destination id) of every destination of the deployment."""
        for item in ConfigItem.query(DESTINATION_INDEX):
            workspace, _, destination_id = item.sk.rpartition("#")
            yield workspace, destination_id

    # --- states and deliveries ---------------------------------------------------------------

    def state(self, workspace: str, action_id: str, profile_id: str) -> State:
        try:
            item = StateItem.get(_action_key(workspace, action_id), STATE + profile_id, consistent_read=True)
        except DoesNotExist:
            return State()
        return _to_state(item)

    def states(self, workspace: str, action_id: str, profile_ids: Iterable[str]) -> dict[str, State]:
        """The states of several records (one BatchGetItem per 100); records never seen are left out."""
        keys = [(_action_key(workspace, action_id), STATE + profile_id) for profile_id in set(profile_ids)]
        found = StateItem.batch_get(keys, consistent_read=True)
        return {item.sk.removeprefix(STATE): _to_state(item) for item in found}

    def commit(
        self,
        workspace: str,
        action_id: str,
        profile_id: str,
        state: State,
        deliveries: Iterable[StoredDelivery] = (),
        new: Iterable[StoredDelivery] = (),
    ) -> bool:
        """Write a record's state (at the version it was read) with the deliveries it changed or created, all or
        nothing; False when another writer got there first (read again and retry) or a new delivery exists."""
        item = StateItem(
            _action_key(workspace, action_id),
            STATE + profile_id,
            stint=state.stint,
            phase=state.phase,
            fired=int(state.fired),
            last_fired_at=state.last_fired_at,
            backlog=state.backlog,
        )
        if state.version is not None:
            item.version = state.version
        try:
            with TransactWrite(connection=self._connection) as transaction:
                transaction.save(item)
                for delivery in deliveries:
                    transaction.save(_to_item(delivery))
                for delivery in new:
                    transaction.save(_to_item(delivery), condition=DeliveryItem.sk.does_not_exist())
        except TransactWriteError as error:
            if error.cause_response_code == CANCELED:
                return False
            raise
        return True

    def save_delivery(self, delivery: StoredDelivery) -> bool:
        """Write a delivery at the version it was read; False when it changed meanwhile."""
        try:
            with TransactWrite(connection=self._connection) as transaction:
                transaction.save(_to_item(delivery))
        except TransactWriteError as error:
            if error.cause_response_code == CANCELED:
                return False
            raise
        return True

    def delivery(self, workspace: str, action_id: str, delivery_id: str) -> StoredDelivery | None:
        try:
            item = DeliveryItem.get(_action_key(workspace, action_id), DELIVERY + delivery_id, consistent_read=True)
        except DoesNotExist:
            return None
        return _to_delivery(item)

    def deliveries_of(self, workspace: str, action_id: str, delivery_ids: Iterable[str]) -> dict[str, StoredDelivery]:
        keys = [(_action_key(workspace, action_id), DELIVERY + each) for each in set(delivery_ids)]
        return {item.delivery_id: _to_delivery(item) for item in DeliveryItem.batch_get(keys, consistent_read=True)}

    def due(self, workspace: str, destination_id: str, until: str, limit: int) -> list[StoredDelivery]:
        """The destination's deliveries due by `until`, earliest first."""
        found = DeliveryItem.due.query(due_key(workspace, destination_id), DeliveryItem.due_at <= until, limit=limit)
        return [_to_delivery(item) for item in found]

    def count_due(self, workspace: str, destination_id: str) -> int:
        return int(DeliveryItem.due.count(due_key(workspace, destination_id)))

    def action_deliveries(
        self, workspace: str, action_id: str, cursor: str | None, limit: int
    ) -> tuple[list[StoredDelivery], str | None]:
        """A page of an action's deliveries, and the cursor of the next page."""
        pk = _action_key(workspace, action_id)
        start = {"pk": {"S": pk}, "sk": {"S": DELIVERY + cursor}} if cursor else None
        result = DeliveryItem.query(pk, DeliveryItem.sk.startswith(DELIVERY), last_evaluated_key=start, limit=limit)
        items = [_to_delivery(item) for item in result]
        last = result.last_evaluated_key
        return items, (last["sk"]["S"].removeprefix(DELIVERY) if last else None)

    def every_delivery(self, workspace: str, action_id: str) -> Iterator[StoredDelivery]:
        """All of an action's deliveries, a page at a time."""
        cursor: str | None = None
        while True:
            page, cursor = self.action_deliveries(workspace, action_id, cursor, 100)
            yield from page
            if cursor is None:
                return

    def record_deliveries(self, workspace: str, kind: str, profile_id: str, limit: int) -> list[StoredDelivery]:
        """A record's deliveries across actions, newest first."""
        found = DeliveryItem.by_record.query(
            record_key(workspace, kind, profile_id), scan_index_forward=False, limit=limit
        )
        return [_to_delivery(item) for item in found]

    @cached_property
    def _connection(self) -> Connection:
        return Connection(region=settings().region)

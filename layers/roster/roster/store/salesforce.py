"""The Salesforce import's and export's items on the jobs table (their keys are in `roster.store.jobs`).

Settings, state and runs are pydantic models kept as JSON. A model with a `version` field is written at
the version it was read at, and a run commits together with its object's state in one transaction, so two
workers holding one run can never both count a batch: the slower one gets Stale. Index partitions list
what is switched on, so a scheduler reads one partition instead of scanning.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel
from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError
from pynamodb.transactions import TransactWrite

from roster.config import settings
from roster.profiles.values import utc_now
from roster.store import jobs
from roster.store.jobs import Key, SalesforceItem

HISTORY_DAYS = 90

ModelT = TypeVar("ModelT", bound=BaseModel)
RunT = TypeVar("RunT", bound=BaseModel)
StateT = TypeVar("StateT", bound=BaseModel)


class Stale(Exception):
    """Another worker moved the run or the state on first: this worker must stop."""


@dataclass(frozen=True)
class RunKeys:
    """Where a run and its object's state live, and what a Stale error calls the run."""

    run: Key
    state: Key
    started_at: str  # the run expires from history HISTORY_DAYS after it
    what: str


def history_expiry(started_at: str) -> int:
    """Runs expire from history after HISTORY_DAYS (the table's TTL attribute)."""
    return int(datetime.fromisoformat(started_at.replace("Z", "+00:00")).timestamp()) + HISTORY_DAYS * 86_400


def _item(key: Key, model: BaseModel, expires_at: int | None = None) -> SalesforceItem:
    data = model.model_dump(mode="json", exclude={"version"})
    item = SalesforceItem(*key, data=data, created_at=utc_now(), expires_at=expires_at)
    version = getattr(model, "version", None)
    if version is not None:
        item.version = version
    return item


def _model(model: type[ModelT], item: SalesforceItem) -> ModelT:
    """The stored model, with the item's version when the model keeps one."""
    if "version" in model.model_fields:
        return model.model_validate({**item.data, "version": item.version})
    return model.model_validate(item.data)


class SalesforceItems:
    """Reads and writes of the connector's items."""

    def __init__(self) -> None:
        self._connection = Connection(region=settings().region)

    def read(self, model: type[ModelT], key: Key) -> ModelT | None:
        try:
            return _model(model, SalesforceItem.get(*key, consistent_read=True))
        except DoesNotExist:
            return None

    def read_all(
        self, model: type[ModelT], workspace: str, prefix: str, *, newest_first: bool = False, limit: int | None = None
    ) -> list[ModelT]:
        """A workspace's items whose sort key starts with `prefix` (newest first: run ids are ULIDs)."""
        items = SalesforceItem.query(
            workspace, SalesforceItem.sk.startswith(prefix), scan_index_forward=not newest_first, limit=limit
        )
        return [_model(model, item) for item in items]

    def put(self, key: Key, model: BaseModel) -> None:
        """Write settings whatever their stored version (they have none of their own)."""
        item = SalesforceItem(*key, data=model.model_dump(mode="json"), created_at=utc_now())
        item.save(add_version_condition=False)

    def put_versioned(self, key: Key, model: ModelT, what: str) -> ModelT:
        """Save a model at the version it was read at; Stale when another writer moved it on."""
        item = _item(key, model)
        try:
            item.save()
        except PutError as error:
            if error.cause_response_code == "ConditionalCheckFailedException":
                raise Stale(f"{what} changed meanwhile") from error
            raise
        return model.model_copy(update={"version": item.version})

    def commit(self, keys: RunKeys, run: RunT, state: StateT | None) -> tuple[RunT, StateT | None]:
        """Write a run (and its object's state) at the versions read, all or nothing; raises Stale."""
        run_item = _item(keys.run, run, history_expiry(keys.started_at))
        state_item = _item(keys.state, state) if state is not None else None
        self._transact([run_item, state_item], keys.what)
        saved = state.model_copy(update={"version": state_item.version}) if state and state_item else None
        return run.model_copy(update={"version": run_item.version}), saved

    def _transact(self, items: Iterable[SalesforceItem | None], what: str) -> None:
        try:
            with TransactWrite(connection=self._connection) as transaction:
                for item in items:
                    if item is not None:
                        transaction.save(item)
        except TransactWriteError as error:
            if error.cause_response_code == "TransactionCanceledException":
                raise Stale(f"{what} moved on meanwhile") from error
            raise

    def delete(self, *keys: Key, prefix: tuple[str, str] | None = None) -> None:
        """The items at `keys`, and every item of a workspace whose sort key starts with a prefix
        (`(workspace, prefix)`), a query page at a time."""
        with SalesforceItem.batch_write() as batch:
            for key in keys:
                batch.delete(SalesforceItem(*key))
            if prefix is not None:
                for item in SalesforceItem.query(prefix[0], SalesforceItem.sk.startswith(prefix[1])):
                    batch.delete(item)

    # -- index partitions: what is switched on, for the schedulers -------------------------------------

    def set_enabled(self, partition: str, workspace: str, obj: str, enabled: bool) -> None:
        """Add an object to an index partition, or remove it."""
        key = jobs.listing(partition, workspace, obj)
        index = SalesforceItem(*key, data={"workspace": workspace, "object": obj}, created_at=utc_now())
        if enabled:
            index.save(add_version_condition=False)
        else:
            index.delete(add_version_condition=False)

    def enabled(self, partition: str) -> list[dict[str, Any]]:
        """The `workspace` and `object` of every entry of an index partition."""
        return [dict(item.data) for item in SalesforceItem.query(partition)]

    # -- the export's pending membership changes -------------------------------------------------------

    def note_pending(self, partition: str, profile_ids: Iterable[str], noted_at: str) -> int:
        """One item per profile, so noting a profile twice keeps one."""
        count = 0
        with SalesforceItem.batch_write() as batch:
            for profile_id in sorted(set(profile_ids)):
                batch.save(SalesforceItem(partition, profile_id, data={"noted_at": noted_at}, created_at=noted_at))
                count += 1
        return count

    def pending(self, partition: str, after: str | None) -> Iterator[tuple[str, str]]:
        """(profile id, noted at) in profile id order after `after`."""
        condition = SalesforceItem.sk > after if after else None
        for item in SalesforceItem.query(partition, range_key_condition=condition):
            yield item.sk, str(item.data.get("noted_at", ""))

    def clear_pending(self, partition: str, up_to: str) -> None:
        """Delete the items noted before `up_to`."""
        for item in SalesforceItem.query(partition):
            if str(item.data.get("noted_at", "")) < up_to:
                item.delete(add_version_condition=False)

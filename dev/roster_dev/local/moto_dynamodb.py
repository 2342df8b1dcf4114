"""Make moto's DynamoDB behave like DynamoDB under concurrent writers.

moto's server handles requests on many threads but its DynamoDB backend is not thread-safe: a
conditional write checks and writes in two steps, and a transaction deep-copies every table it
touches (O(table size) per call) and, on cancel, puts back that copy, undoing writes other
threads made meanwhile. Real DynamoDB serializes writes per item and cancels a transaction
before applying any of it. The local stack installs this once: one lock around every read and
write of the backend, conditions of a transaction checked before anything is applied, and no
table copies.
"""

from __future__ import annotations

import copy
import functools
import threading
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from moto.dynamodb import models
from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import TransactionCanceledException
from moto.dynamodb.models.table import Table

_lock = threading.RLock()
_GUARDED = ("put_item", "update_item", "delete_item", "get_item", "query", "scan", "transact_write_items")


def _deepcopy_except_tables(value: Any, memo: Any = None) -> Any:
    return value if isinstance(value, Table) else copy.deepcopy(value, memo)


def _guarded(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        with _lock:
            return method(*args, **kwargs)

    return call


def _check_first(transact: Callable[..., Any]) -> Callable[..., Any]:
    """Cancel a transaction whose conditions fail before applying any of its writes."""

    @functools.wraps(transact)
    def call(backend: Any, transact_items: list[dict[str, Any]]) -> Any:
        errors: list[tuple[Any, Any, Any]] = []
        for entry in transact_items:
            _, request = next(iter(entry.items()))
            table = backend.get_table(request["TableName"])
            key = request.get("Key")
            if key is None:
                key = {table.hash_key_attr: request["Item"][table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = request["Item"][table.range_key_attr]
            condition = request.get("ConditionExpression")
            current = backend.get_item(request["TableName"], key)
            if condition and not get_filter_expression(
                condition, request.get("ExpressionAttributeNames"), request.get("ExpressionAttributeValues")
            ).expr(current):
                errors.append(("ConditionalCheckFailed", "The conditional request failed", None))
            else:
                errors.append((None, None, None))
        if any(code for code, _, _ in errors):
            raise TransactionCanceledException(errors)
        return transact(backend, transact_items)

    return call


def install() -> None:
    """Patch moto's DynamoDB backend (idempotent)."""
    backend = models.DynamoDBBackend
    if getattr(backend, "_roster_thread_safe", False):
        return
    models.copy = SimpleNamespace(deepcopy=_deepcopy_except_tables)  # type: ignore[assignment,attr-defined,unused-ignore]
    backend.transact_write_items = _check_first(backend.transact_write_items)  # type: ignore[method-assign]
    for name in _GUARDED:
        setattr(backend, name, _guarded(getattr(backend, name)))
    backend._roster_thread_safe = True  # type: ignore[assignment,attr-defined,unused-ignore]

"""Make moto's hot paths cost what DynamoDB's would, without changing what it answers.

Profiling `make demo` (py-spy, share of interpreter time) showed moto itself, not Roster, as
the local stack's cost: every Query sorted the whole table before picking one partition (33%),
the model-driven serializer walked every attribute of every item it returned (16%), each
conditional write parsed its condition several times, and EventBridge compiled its JSONPath
input transformers again for every event. Each patch below keeps the answer the same and only
skips repeated work: a partition is read from its own bucket, an item already in wire form is
dumped as JSON, a parsed condition is reused for the same expression, names and values.
"""

from __future__ import annotations

import base64
import functools
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import jsonpath_ng.ext
import moto.sqs.models
from moto.core.responses import ActionResult
from moto.dynamodb.comparisons import ConditionExpressionParser
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table

# Data-plane answers: plain items in wire form, which the generic serializer only copies.
_WIRE_FORM = frozenset(
    {
        "GetRecords",
        "GetItem",
        "BatchGetItem",
        "Query",
        "Scan",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
    }
)
_PARSED_CONDITIONS: dict[tuple[str | None, str, str], tuple[Any, list[str], list[str]]] = {}
_MAX_PARSED = 4096


def _partition_query(query: Callable[..., Any]) -> Callable[..., Any]:
    """Read one partition from its own bucket; index queries skip the whole-table sort (moto sorts the hits)."""

    @functools.wraps(query)
    def call(table: Table, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = kwargs.get("index_name") if "index_name" in kwargs else (args[6] if len(args) > 6 else None)
        if index_name:
            candidates = _unsorted_items(table)
        elif table.range_key_attr:
            candidates = list(table.items[hash_key].values()) if hash_key in table.items else []
        else:
            candidates = [table.items[hash_key]] if hash_key in table.items else []
        table.all_items = lambda: candidates  # type: ignore[method-assign]  # callers hold the backend's lock
        try:
            return query(table, hash_key, *args, **kwargs)
        finally:
            del table.all_items

    return call


def _unsorted_items(table: Table) -> list[Any]:
    if table.range_key_attr:
        return [item for bucket in table.items.values() for item in bucket.values()]
    return list(table.items.values())


def _plain_equality(type_: type[DynamoType]) -> None:
    """Strings and binaries compare as themselves (moto re-derives a typed value on every comparison)."""
    equal, not_equal, cast = type_.__eq__, type_.__ne__, type_.cast_value

    def eq(self: DynamoType, other: DynamoType) -> bool:
        if self.type == "S" and isinstance(other, DynamoType) and other.type == "S":
            return bool(self.value == other.value)
        return bool(equal(self, other))

    def ne(self: DynamoType, other: DynamoType) -> bool:
        if self.type == "S" and isinstance(other, DynamoType) and other.type == "S":
            return bool(self.value != other.value)
        return bool(not_equal(self, other))

    def cast_value(self: DynamoType) -> Any:
        return self.value if self.type == "S" else cast.fget(self)  # type: ignore[attr-defined]

    type_.__eq__ = eq  # type: ignore[method-assign]
    type_.__ne__ = ne  # type: ignore[method-assign]
    type_.__hash__ = lambda self: hash((self.type, cast_value(self)))  # type: ignore[method-assign]
    type_.cast_value = property(cast_value)  # type: ignore[method-assign,assignment]


def _reused_parse(parse: Callable[[ConditionExpressionParser], Any]) -> Callable[[ConditionExpressionParser], Any]:
    """A condition with the same expression, names and values parses to the same tree (trees are never mutated)."""

    @functools.wraps(parse)
    def call(parser: ConditionExpressionParser) -> Any:
        key = (
            parser.condition_expression,
            json.dumps(parser.expression_attribute_names, sort_keys=True),
            json.dumps(parser.expression_attribute_values, sort_keys=True, default=str),
        )
        found = _PARSED_CONDITIONS.get(key)
        if found is None:
            tree = parse(parser)
            if len(_PARSED_CONDITIONS) >= _MAX_PARSED:
                _PARSED_CONDITIONS.clear()
            found = _PARSED_CONDITIONS[key] = (tree, parser.expr_attr_names_found, parser.expr_attr_values_found)
        tree, parser.expr_attr_names_found, parser.expr_attr_values_found = found[0], list(found[1]), list(found[2])
        return tree

    return call


def _wire_value(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _direct_json(execute: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(execute)
    def call(result: ActionResult, context: Any) -> Any:
        service = context.service_model.service_name
        if (
            service not in ("dynamodb", "dynamodbstreams")
            or context.operation_model.name not in _WIRE_FORM
            or not isinstance(result.result, dict)
        ):
            return execute(result, context)
        body = json.dumps(result.result, default=_wire_value, separators=(",", ":"))
        return 200, {"Content-Type": "application/x-amz-json-1.0"}, body

    return call


def _unix_time_millis(dt: datetime | None = None) -> float:
    """moto's SQS asks the time for every message on every receive; the clock answers it directly."""
    if dt is None:
        return time.time() * 1000.0
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp() * 1000.0


def install() -> None:
    """Patch moto once per process (idempotent)."""
    if getattr(Table, "_roster_hot_paths", False):
        return
    Table.query = _partition_query(Table.query)  # type: ignore[method-assign]
    _plain_equality(DynamoType)
    setattr(ConditionExpressionParser, "parse", _reused_parse(ConditionExpressionParser.parse))  # noqa: B010
    ActionResult.execute_result = _direct_json(ActionResult.execute_result)  # type: ignore[method-assign]
    setattr(moto.sqs.models, "unix_time_millis", _unix_time_millis)  # noqa: B010
    # EventBridge imports this per event and builds a new parser for every input path
    setattr(jsonpath_ng.ext, "parse", functools.lru_cache(maxsize=256)(jsonpath_ng.ext.parse))  # type: ignore[attr-defined]  # noqa: B010
    Table._roster_hot_paths = True  # type: ignore[attr-defined]

"""Counting the AWS requests a piece of work makes (tests and benchmarks assert on them)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.client import BaseClient

_lock = threading.Lock()


@contextmanager
def count_aws_calls() -> Iterator[Counter[str]]:
    """Counts every botocore request made in the block, as `service.Operation`."""
    counts: Counter[str] = Counter()
    original = BaseClient._make_api_call

    def counting(client: Any, operation: str, params: Any) -> Any:
        with _lock:
            counts[f"{client.meta.service_model.service_name}.{operation}"] += 1
        return original(client, operation, params)

    BaseClient._make_api_call = counting
    try:
        yield counts
    finally:
        BaseClient._make_api_call = original


DYNAMODB_WRITES = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")


def dynamodb_writes(counts: Counter[str]) -> int:
    return sum(
        count for name, count in counts.items() if name.startswith("dynamodb.") and name.endswith(DYNAMODB_WRITES)
    )


def dynamodb_requests(counts: Counter[str]) -> int:
    return sum(count for name, count in counts.items() if name.startswith("dynamodb."))

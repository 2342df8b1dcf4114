"""SQS work queues: each kind of work travels as one pydantic message, sent as JSON to its own queue,
and is parsed back at the edge (Powertools' batch processor), where a malformed body fails its record alone."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from pydantic import BaseModel, Json

MAX_DELAY_SECONDS = 900  # the longest SQS holds a message back

Body = TypeVar("Body")
Detail = TypeVar("Detail")


class QueueRecord(SqsRecordModel, Generic[Body]):
    """An SQS record whose body is one JSON message of a known kind, e.g. `QueueRecord[ImportMessage]`."""

    body: Json[Body]  # type: ignore[assignment]


class EventDetail(BaseModel, Generic[Detail]):
    """An EventBridge event as a rule delivers it to a queue; only its `detail` is read."""

    detail: Detail


@dataclass(frozen=True)
class WorkQueue:
    """One queue of the deployment; `send` is what domain code is handed to queue its next step."""

    sqs: Any
    url: str

    def send(self, message: BaseModel, delay_seconds: int = 0) -> None:
        """Queue one message, held back `delay_seconds` (cut to the 15 minutes SQS allows)."""
        request: dict[str, Any] = {"QueueUrl": self.url, "MessageBody": message.model_dump_json()}
        if delay_seconds > 0:
            request["DelaySeconds"] = min(delay_seconds, MAX_DELAY_SECONDS)
        self.sqs.send_message(**request)


@dataclass(frozen=True)
class FifoQueue:
    """A FIFO queue: messages of one group are handled one at a time, in order; groups run side by side."""

    sqs: Any
    url: str

    def send(self, message: BaseModel, group: str) -> None:
        self.sqs.send_message(
            QueueUrl=self.url,
            MessageBody=message.model_dump_json(),
            MessageGroupId=group,
            MessageDeduplicationId=uuid.uuid4().hex,  # every nudge counts: work may have arrived since the last
        )

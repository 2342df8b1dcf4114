"""Work queues: messages go out as JSON (delays capped as SQS allows) and come back parsed at the edge,
where a malformed body fails its own record and no other."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from pydantic import BaseModel

from roster.queues import EventDetail, QueueRecord, WorkQueue


class Work(BaseModel):
    workspace: str
    batch: int


class Sqs:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send_message(self, **request: Any) -> None:
        self.sent.append(request)


def sqs_record(message_id: str, body: str) -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": "handle",
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1764072000000",
            "SenderId": "sender",
            "ApproximateFirstReceiveTimestamp": "1764072000010",
        },
        "messageAttributes": {},
        "md5OfBody": "md5",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:Queue",
        "awsRegion": "us-east-1",
    }


def test_a_message_is_sent_as_json_and_its_delay_is_capped() -> None:
    sqs = Sqs()
    queue = WorkQueue(sqs, "https://queue")
    queue.send(Work(workspace="w", batch=1))
    queue.send(Work(workspace="w", batch=2), delay_seconds=3600)
    assert sqs.sent[0] == {"QueueUrl": "https://queue", "MessageBody": '{"workspace":"w","batch":1}'}
    assert sqs.sent[1]["DelaySeconds"] == 900


def test_a_malformed_body_fails_its_record_alone() -> None:
    done: list[Work] = []

    def handle(record: QueueRecord[Work]) -> None:
        done.append(record.body)

    event = {
        "Records": [
            sqs_record("good", '{"workspace": "w", "batch": 1}'),
            sqs_record("not-json", "{oops"),
            sqs_record("wrong-shape", '{"workspace": "w"}'),
        ]
    }
    processor = BatchProcessor(event_type=EventType.SQS, model=QueueRecord[Work])
    failed = process_partial_response(event=event, record_handler=handle, processor=processor)
    assert failed == {"batchItemFailures": [{"itemIdentifier": "not-json"}, {"itemIdentifier": "wrong-shape"}]}
    assert done == [Work(workspace="w", batch=1)]


def test_an_eventbridge_event_on_a_queue_is_read_by_its_detail() -> None:
    body = json.dumps({"version": "0", "detail-type": "work", "detail": {"workspace": "w", "batch": 3}})
    parsed = QueueRecord[EventDetail[Work]].model_validate(sqs_record("event", body))
    assert parsed.body.detail == Work(workspace="w", batch=3)

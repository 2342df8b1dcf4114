"""SQS (export intake queue, fed by an EventBridge rule) → note segment entries and exits an export must write."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from roster.queues import EventDetail, QueueRecord
from roster.segments.events import MembershipEvent
from roster.services import cold_start

logger = Logger(service="roster-export")
services = cold_start()  # a missing setting fails here, named
Change = QueueRecord[EventDetail[MembershipEvent]]
processor = BatchProcessor(event_type=EventType.SQS, model=Change, raise_on_entire_batch_failure=False)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    changes: list[MembershipEvent] = []  # malformed records fail alone: retried, then parked in the DLQ

    def take(record: Change) -> None:
        changes.append(record.body.detail)

    failed = process_partial_response(event=event, record_handler=take, processor=processor, context=context)
    noted = services.salesforce_export.note_membership_changes(changes)
    logger.info("segment changes noted for export", extra={"events": len(changes), "noted": noted})
    return failed

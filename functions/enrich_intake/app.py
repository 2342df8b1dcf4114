"""SQS (intake queue, fed by an EventBridge rule) → queue `segment.entered` records for continuous enrichment."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from roster.queues import EventDetail, QueueRecord
from roster.segments.events import MembershipEvent
from roster.services import cold_start

logger = Logger(service="roster-enrich")
services = cold_start()  # a missing setting fails here, named
Entered = QueueRecord[EventDetail[MembershipEvent]]
processor = BatchProcessor(event_type=EventType.SQS, model=Entered, raise_on_entire_batch_failure=False)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    entered: list[MembershipEvent] = []  # malformed records fail alone: retried, then parked in the DLQ

    def take(record: Entered) -> None:
        entered.append(record.body.detail)

    failed = process_partial_response(event=event, record_handler=take, processor=processor, context=context)
    queued = services.continuous.intake(entered)
    malformed = len(failed["batchItemFailures"])
    logger.info("segment entries taken in", extra={"events": len(entered), "queued": queued, "malformed": malformed})
    return failed

"""SQS (segment queue) → rebuild a slice of a segment, re-check a company's people, or drop a segment."""

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from roster.queues import QueueRecord
from roster.segments.membership import SegmentWork
from roster.services import cold_start

logger = Logger(service="roster-segments")
services = cold_start()  # a missing setting fails here, named
processor = BatchProcessor(event_type=EventType.SQS, model=QueueRecord[SegmentWork])


def handle(record: QueueRecord[SegmentWork]) -> None:
    work = record.body
    tally = services.membership.handle(work)
    logger.info("segment work done", extra={"work": work.type, "workspace": work.workspace, **asdict(tally)})


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=handle, processor=processor, context=context)

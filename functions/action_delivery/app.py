"""SQS FIFO (action delivery queue, one message group per destination) → drain a destination's due deliveries, or
take a page of an action's backfill in."""

from dataclasses import asdict, is_dataclass
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from roster.actions.service import DeliveryWork
from roster.queues import QueueRecord
from roster.services import cold_start

logger = Logger(service="roster-actions")
services = cold_start()  # a missing setting fails here, named
processor = SqsFifoPartialProcessor(model=QueueRecord[DeliveryWork])


def handle(record: QueueRecord[DeliveryWork]) -> None:
    work = record.body
    result = services.actions.handle(work)
    extra = asdict(result) if is_dataclass(result) and not isinstance(result, type) else {"written": result}
    logger.info("action work done", extra={"work": work.type, "workspace": work.workspace, **extra})


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=handle, processor=processor, context=context)

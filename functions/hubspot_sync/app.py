"""SQS (HubSpot sync queue) → run one HubSpot object's import sync until it is done or its deadline nears."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from roster.connectors.core.runs import work_on
from roster.connectors.hubspot.importer import SyncMessage
from roster.queues import QueueRecord
from roster.services import cold_start

logger = Logger(service="roster-hubspot")
services = cold_start()  # a missing setting fails here, named
processor = BatchProcessor(  # report, not raise
    event_type=EventType.SQS, model=QueueRecord[SyncMessage], raise_on_entire_batch_failure=False
)


def sync(record: QueueRecord[SyncMessage], lambda_context: LambdaContext) -> None:
    remaining = lambda_context.get_remaining_time_in_millis
    work_on(services.hubspot, record.body, lambda: remaining() / 1000, services.hubspot_queue.send, logger)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=sync, processor=processor, context=context)

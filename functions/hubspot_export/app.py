"""SQS (HubSpot export queue) → run one object's export to HubSpot until it is done, must wait, or its deadline
nears."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from roster.connectors.core.export import export_on
from roster.connectors.hubspot.exporter import ExportMessage
from roster.queues import QueueRecord
from roster.services import cold_start

logger = Logger(service="roster-hubspot-export")
services = cold_start()  # a missing setting fails here, named
processor = BatchProcessor(  # report, not raise
    event_type=EventType.SQS, model=QueueRecord[ExportMessage], raise_on_entire_batch_failure=False
)


def export(record: QueueRecord[ExportMessage], lambda_context: LambdaContext) -> None:
    remaining = lambda_context.get_remaining_time_in_millis
    export_on(
        services.hubspot_export, record.body, lambda: remaining() / 1000, services.hubspot_export_queue.send, logger
    )


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=export, processor=processor, context=context)

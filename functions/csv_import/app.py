"""SQS (import queue) → split a confirmed CSV import into batches for the ingest queue."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from roster.queues import QueueRecord
from roster.services import cold_start
from roster.sources.csv_import import ImportMessage

logger = Logger(service="roster-csv-import")
services = cold_start()  # a missing setting fails here, named
processor = BatchProcessor(event_type=EventType.SQS, model=QueueRecord[ImportMessage])


def split(record: QueueRecord[ImportMessage]) -> None:
    message = record.body
    batches = services.imports.split(message)
    logger.info("import split", extra={"import_id": message.import_id, "batches": batches})


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=split, processor=processor, context=context)

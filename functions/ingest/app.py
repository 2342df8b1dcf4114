"""SQS (ingest queue) → resolve one batch of imported rows into profiles."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from roster.profiles.fields import Kind
from roster.queues import QueueRecord
from roster.services import cold_start
from roster.sources.csv_import import INGEST_ATTEMPTS, IngestMessage

logger = Logger(service="roster-ingest")
services = cold_start()  # a missing setting fails here, named
processor = BatchProcessor(event_type=EventType.SQS, model=QueueRecord[IngestMessage])


def ingest(record: QueueRecord[IngestMessage]) -> None:
    message = record.body
    kind = Kind(services.imports.job(message.workspace, message.import_id)["kind"])
    last_attempt = int(record.attributes.ApproximateReceiveCount) >= INGEST_ATTEMPTS
    result = services.imports.ingest(message, services.resolver(message.workspace, kind), last_attempt=last_attempt)
    logger.info(
        "batch ingested", extra={"import_id": message.import_id, "batch": message.batch, "outcomes": result["outcomes"]}
    )


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=ingest, processor=processor, context=context)

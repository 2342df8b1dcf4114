"""SQS (ingest queue) → resolve one batch of imported rows into profiles."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from roster.profiles.fields import Kind
from roster.services import services
from roster.sources.csv_import import IngestMessage

logger = Logger(service="roster-ingest")
processor = BatchProcessor(event_type=EventType.SQS)


def ingest(record: SQSRecord) -> None:
    message = IngestMessage.model_validate_json(record.body)
    kind = Kind(services.imports.job(message.workspace, message.import_id)["kind"])
    result = services.imports.ingest(message, services.resolver(message.workspace, kind))
    logger.info(
        "batch ingested", extra={"import_id": message.import_id, "batch": message.batch, "outcomes": result["outcomes"]}
    )


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=ingest, processor=processor, context=context)

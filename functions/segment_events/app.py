"""DynamoDB stream (memberships table) → one `segment.entered` / `segment.exited` event per change."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.typing import LambdaContext

from roster.config import settings
from roster.segments.events import publish_stream_record
from roster.services import services

logger = Logger(service="roster-segment-events")
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
persistence = DynamoDBPersistenceLayer(table_name=settings().idempotency_table)
config = IdempotencyConfig(event_key_jmespath="eventID", expires_after_seconds=7 * 24 * 3600)


@idempotent_function(data_keyword_argument="record", persistence_store=persistence, config=config)  # type: ignore[untyped-decorator]
def publish_once(record: dict[str, Any]) -> bool:
    return publish_stream_record(record, services.segment_store, services.put_event)


def handle(record: DynamoDBRecord) -> None:
    publish_once(record=record.raw_event)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    config.register_lambda_context(context)
    return process_partial_response(event=event, record_handler=handle, processor=processor, context=context)

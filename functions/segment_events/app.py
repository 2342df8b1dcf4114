"""DynamoDB stream (memberships table) → one `segment.entered` / `segment.exited` event per change.

A batch is published and counted at once (see roster.segments.events); when only part of it was
committed, the stream resumes at the first record left undone.
"""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from roster.services import cold_start

logger = Logger(service="roster-segment-events")
services = cold_start()  # a missing setting fails here, named


@logger.inject_lambda_context
@event_source(data_class=DynamoDBStreamEvent)
def lambda_handler(event: DynamoDBStreamEvent, context: LambdaContext) -> PartialItemFailureResponse:
    resume_at = services.segment_events.publish_batch(event.records)
    return {"batchItemFailures": [{"itemIdentifier": resume_at}] if resume_at else []}

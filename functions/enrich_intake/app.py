"""SQS (intake queue, fed by an EventBridge rule) → queue `segment.entered` records for continuous enrichment."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from roster.segments.events import read_queued_events
from roster.services import cold_start

logger = Logger(service="roster-enrich")
services = cold_start()  # a missing setting fails here, named


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    entered, failed = read_queued_events(event, context)
    queued = services.continuous.intake(entered)
    malformed = len(failed["batchItemFailures"])
    logger.info("segment entries taken in", extra={"events": len(entered), "queued": queued, "malformed": malformed})
    return failed

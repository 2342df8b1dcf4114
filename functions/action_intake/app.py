"""SQS (action intake queue, fed by an EventBridge rule) → deliveries owed by actions on segments records entered
or left."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from roster.segments.events import read_queued_changes
from roster.services import cold_start

logger = Logger(service="roster-actions")
services = cold_start()  # a missing setting fails here, named


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    changes, failed = read_queued_changes(event, context)
    written = services.actions.intake(changes)
    logger.info("segment changes taken in by actions", extra={"events": len(changes), "deliveries": written})
    return failed

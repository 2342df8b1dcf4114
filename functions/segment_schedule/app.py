"""EventBridge schedule (daily) → rebuild segments whose filters use relative dates."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from roster.services import cold_start

logger = Logger(service="roster-segments")
services = cold_start()  # a missing setting fails here, named


@logger.inject_lambda_context
@event_source(data_class=EventBridgeEvent)
def lambda_handler(event: EventBridgeEvent, context: LambdaContext) -> dict[str, Any]:
    started = services.segments.rebuild_relative()
    logger.info("relative-date segments rebuilding", extra={"segments": started, "scheduled_at": event.time})
    return {"rebuilds_started": started}

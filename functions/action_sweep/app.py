"""EventBridge schedule (every minute) → queue a drain of each destination with deliveries due (retries whose
wait ended, destinations whose pause ended)."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from roster.services import cold_start

logger = Logger(service="roster-actions")
services = cold_start()  # a missing setting fails here, named


@logger.inject_lambda_context
@event_source(data_class=EventBridgeEvent)
def lambda_handler(event: EventBridgeEvent, context: LambdaContext) -> dict[str, Any]:
    queued = services.actions.sweep()
    logger.info("destinations with due deliveries queued", extra={"destinations": queued, "scheduled_at": event.time})
    return {"drains_queued": queued}

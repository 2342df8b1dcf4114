"""EventBridge schedule (every 5 minutes) → enqueue the HubSpot imports and exports that are due."""

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from roster.connectors.core.export import start_due_work
from roster.services import cold_start

logger = Logger(service="roster-hubspot")
services = cold_start()  # a missing setting fails here, named


@logger.inject_lambda_context
@event_source(data_class=EventBridgeEvent)
def lambda_handler(event: EventBridgeEvent, context: LambdaContext) -> dict[str, Any]:
    now = datetime.now(UTC)
    work = start_due_work(
        services.hubspot, services.hubspot_queue.send, services.hubspot_export, services.hubspot_export_queue.send, now
    )
    logger.info("hubspot work started", extra={**work, "scheduled_at": event.time})
    return work

"""EventBridge schedule (every 5 minutes) → start continuous runs for queued entries, then due scheduled runs."""

from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from roster.services import cold_start

logger = Logger(service="roster-enrich")
services = cold_start()  # a missing setting fails here, named


@logger.inject_lambda_context
@event_source(data_class=EventBridgeEvent)
def lambda_handler(event: EventBridgeEvent, context: LambdaContext) -> dict[str, Any]:
    now = datetime.fromisoformat(event.time)  # the firing time: a retried invocation starts the same runs
    continuous = services.continuous.flush_due(now)
    scheduled = services.continuous.run_scheduled(now)
    runs = {"continuous_runs": [run.run_id for run in continuous], "scheduled_runs": [run.run_id for run in scheduled]}
    logger.info("enrichment schedule", extra={"scheduled_at": event.time, **runs})
    return runs

"""EventBridge schedule (every 5 minutes) → enqueue the Salesforce syncs that are due, one per object."""

import contextlib
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from roster.services import services
from roster.sources.salesforce.sync import SyncRefused, due_syncs

logger = Logger(service="roster-salesforce")


@logger.inject_lambda_context
@event_source(data_class=EventBridgeEvent)
def lambda_handler(event: EventBridgeEvent, context: LambdaContext) -> dict[str, Any]:
    started = []
    for due in due_syncs(services.salesforce.store, datetime.now(UTC)):
        message = None
        with contextlib.suppress(SyncRefused):  # turned off since due_syncs read it
            message = services.salesforce.start(due.workspace, due.object, due.mode)
        if message is not None:
            services.send_salesforce_work(message)
            started.append({"workspace": due.workspace, "object": due.object, "mode": message.mode})
    logger.info("salesforce syncs started", extra={"started": started, "scheduled_at": event.time})
    return {"started": started}

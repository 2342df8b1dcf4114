"""EventBridge schedule (every 5 minutes) → enqueue the HubSpot imports and exports that are due."""

import contextlib
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from roster.connectors.core.export import ExportRefused
from roster.connectors.core.runs import SyncRefused, due_syncs
from roster.services import cold_start

logger = Logger(service="roster-hubspot")
services = cold_start()  # a missing setting fails here, named


@logger.inject_lambda_context
@event_source(data_class=EventBridgeEvent)
def lambda_handler(event: EventBridgeEvent, context: LambdaContext) -> dict[str, Any]:
    started, exports = [], []
    for due in due_syncs(services.hubspot.store, now := datetime.now(UTC)):
        message = None
        with contextlib.suppress(SyncRefused):  # turned off since due_syncs read it
            message = services.hubspot.start(due.workspace, due.object, due.mode)
        if message is not None:
            services.hubspot_queue.send(message)
            started.append({"workspace": due.workspace, "object": due.object, "mode": message.mode})
    for workspace, obj in services.hubspot_export.due(now):
        export = None
        with contextlib.suppress(ExportRefused):  # turned off, or its mapping removed, since due() read it
            export = services.hubspot_export.start(workspace, obj)
        if export is not None:
            services.hubspot_export_queue.send(export)
            exports.append({"workspace": workspace, "object": obj, "run_id": export.run_id})
    logger.info("hubspot work started", extra={"started": started, "exports": exports, "scheduled_at": event.time})
    return {"started": started, "exports": exports}

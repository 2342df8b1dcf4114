"""EventBridge schedule (every 5 minutes) → enqueue the warehouse imports that are due (incremental sources every
15 minutes and fully every week, the others fully every 12 hours, by default)."""

import contextlib
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from roster.connectors.warehouse.importer import ImportRefused, due_imports
from roster.services import cold_start

logger = Logger(service="roster-warehouse")
services = cold_start()  # a missing setting fails here, named


@logger.inject_lambda_context
@event_source(data_class=EventBridgeEvent)
def lambda_handler(event: EventBridgeEvent, context: LambdaContext) -> dict[str, Any]:
    started = []
    for due in due_imports(services.warehouse.store, datetime.now(UTC)):
        message = None
        with contextlib.suppress(ImportRefused):  # deleted or turned off since due_imports read it
            message = services.warehouse.start(due.workspace, due.source, due.mode)
        if message is not None:
            services.send_warehouse(message.dialect, message)
            started.append({"workspace": due.workspace, "source": due.source, "run_id": message.run_id})
    logger.info("warehouse imports started", extra={"started": started, "scheduled_at": event.time})
    return {"started": started}

"""SQS (export intake queue, fed by an EventBridge rule) → note segment entries and exits an export must write
(Salesforce's and HubSpot's)."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from roster.segments.events import read_queued_events
from roster.services import cold_start

logger = Logger(service="roster-export")
services = cold_start()  # a missing setting fails here, named


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    changes, failed = read_queued_events(event, context)
    noted = services.salesforce_export.note_membership_changes(changes)
    noted += services.hubspot_export.note_membership_changes(changes)
    logger.info("segment changes noted for export", extra={"events": len(changes), "noted": noted})
    return failed

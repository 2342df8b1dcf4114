"""SQS (export intake queue, fed by an EventBridge rule) → note segment entries and exits an export must write."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import SQSEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from roster.segments.events import MembershipEvent
from roster.services import services

logger = Logger(service="roster-export")


@logger.inject_lambda_context
@event_source(data_class=SQSEvent)
def lambda_handler(event: SQSEvent, context: LambdaContext) -> dict[str, Any]:
    changes, failed = [], []
    for record in event.records:
        try:
            changes.append(MembershipEvent.model_validate(record.json_body["detail"]))
        except (ValueError, KeyError, TypeError, ValidationError):
            failed.append({"itemIdentifier": record.message_id})  # malformed: retried, then parked in the DLQ
    noted = services.salesforce_export.note_membership_changes(changes)
    logger.info("segment changes noted for export", extra={"events": len(changes), "noted": noted})
    return {"batchItemFailures": failed}

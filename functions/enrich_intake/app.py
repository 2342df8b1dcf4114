"""SQS (intake queue, fed by an EventBridge rule) → queue `segment.entered` records for continuous enrichment."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import SQSEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from roster.segments.events import MembershipEvent
from roster.services import services

logger = Logger(service="roster-enrich")


@logger.inject_lambda_context
@event_source(data_class=SQSEvent)
def lambda_handler(event: SQSEvent, context: LambdaContext) -> dict[str, Any]:
    entered, failed = [], []
    for record in event.records:
        try:
            entered.append(MembershipEvent.model_validate(record.json_body["detail"]))
        except (ValueError, KeyError, TypeError, ValidationError):
            failed.append({"itemIdentifier": record.message_id})  # malformed: retried, then parked in the DLQ
    queued = services.continuous.intake(entered)
    logger.info("segment entries taken in", extra={"events": len(entered), "queued": queued, "malformed": len(failed)})
    return {"batchItemFailures": failed}

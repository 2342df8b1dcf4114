"""DynamoDB stream (profiles table) → keep segment membership current for the changed profiles."""

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from roster.segments.membership import change_from_images
from roster.services import cold_start
from roster.store.profiles import profile_image

logger = Logger(service="roster-segments")
services = cold_start()  # a missing setting fails here, named


@logger.inject_lambda_context
@event_source(data_class=DynamoDBStreamEvent)
def lambda_handler(event: DynamoDBStreamEvent, context: LambdaContext) -> dict[str, Any]:
    changes = [
        change
        for record in event.records
        if (
            change := change_from_images(
                profile_image(record.dynamodb.old_image if record.dynamodb else None),
                profile_image(record.dynamodb.new_image if record.dynamodb else None),
            )
        )
    ]
    tally = services.membership.apply_changes(changes)
    logger.info("membership updated", extra={"changes": len(changes), **asdict(tally)})
    return {"batchItemFailures": []}

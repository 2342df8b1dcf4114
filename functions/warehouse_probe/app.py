"""Lambda Invoke from the API (RequestResponse) → test, browse or preview a Snowflake or BigQuery warehouse, whose
dialects only this function's layer holds. The event carries credentials: it is never logged."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from roster.connectors.warehouse.probe import ProbeRequest, answer

logger = Logger(service="roster-warehouse")


@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return answer(ProbeRequest.model_validate(event)).model_dump(mode="json")

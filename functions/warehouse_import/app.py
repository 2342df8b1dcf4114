"""SQS → run one warehouse source's import until done or near the deadline (two functions, one per dialect layer)."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from roster.connectors.warehouse.importer import ImportStopped, WarehouseMessage
from roster.queues import QueueRecord
from roster.services import cold_start

logger = Logger(service="roster-warehouse")
services = cold_start()  # a missing setting fails here, named
processor = BatchProcessor(  # report, not raise
    event_type=EventType.SQS, model=QueueRecord[WarehouseMessage], raise_on_entire_batch_failure=False
)


def work(record: QueueRecord[WarehouseMessage], lambda_context: LambdaContext) -> None:
    message = record.body
    try:
        following = services.warehouse.run(message, lambda: lambda_context.get_remaining_time_in_millis() / 1000)
    except ImportStopped as stopped:  # the record fails: retried, then parked in the DLQ
        logger.warning(
            "import stopped", extra={"run_id": message.run_id, "code": stopped.code, "reason": stopped.reason}
        )
        raise
    if following is not None:
        services.send_warehouse(following.dialect, following)
    logger.info(
        "import worked", extra={"workspace": message.workspace, "source": message.object, "done": not following}
    )


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=work, processor=processor, context=context)

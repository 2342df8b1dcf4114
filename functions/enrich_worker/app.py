"""SQS (enrichment queue) → dispatch a run into batches, or enrich one batch under the credit budget."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from roster.enrich.runs import EnrichWork
from roster.queues import QueueRecord
from roster.services import cold_start
from roster.store.enrichments import BatchBusy

logger = Logger(service="roster-enrich")
services = cold_start()  # a missing setting fails here, named
processor = BatchProcessor(event_type=EventType.SQS, model=QueueRecord[EnrichWork])
LAST_ATTEMPT = 5  # the enrichment queue's maxReceiveCount: after it, the message goes to the DLQ


def handle(record: QueueRecord[EnrichWork], lambda_context: LambdaContext) -> None:
    work = record.body
    time_is_short = lambda: lambda_context.get_remaining_time_in_millis() < 60_000  # noqa: E731
    try:
        result = services.enrichments.worker.handle(work, should_stop=time_is_short)
    except BatchBusy:
        raise  # another worker holds the batch: the message comes back later
    except Exception as error:
        if int(record.attributes.ApproximateReceiveCount) >= LAST_ATTEMPT:
            services.enrichments.runs.fail(work.workspace, work.run_id, f"{work.type} failed: {type(error).__name__}")
        raise
    done = result.model_dump(mode="json", exclude={"skipped_budget"}) if result else {}
    logger.info("enrichment work done", extra={"work": work.type, "run_id": work.run_id, **done})


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=handle, processor=processor, context=context)

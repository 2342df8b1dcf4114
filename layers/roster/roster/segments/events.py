"""`segment.entered` and `segment.exited`: one EventBridge event per membership change.

The memberships table's stream carries each entry and exit once per change, but Lambda may deliver
a stream record again (a retried or bisected batch, a timeout). The publisher works per stream
batch and keeps a done mark per stream record (by its event id):

1. read the batch's changes; drop a record seen twice in the batch, records already marked done
   (one BatchGetItem) and changes of segments that no longer exist (one BatchGetItem);
2. publish the rest in stream order, ten events a PutEvents; refused entries are sent again, and
   if EventBridge keeps refusing them the batch fails rather than drop them;
3. then commit, per chunk of at most 100 items, each segment's summed count change and the
   records' marks in one transaction (conditions: the segment exists, the mark does not). A
   canceled chunk is read again and retried without the records marked meanwhile (a concurrent
   duplicate) and without the segments deleted meanwhile.

Publishing comes before committing: a crash between the two publishes those changes again when the
batch is redelivered (events are at least once, as EventBridge's delivery is anyway, so consumers
must be idempotent), but a change is never counted twice and an event is never lost. Committing
first would risk the opposite: a change counted and marked done whose event never went out.
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, Field

from roster.eventbus import Event, EventPublisher
from roster.profiles.fields import Kind
from roster.profiles.values import format_time
from roster.queues import EventDetail, QueueRecord
from roster.store.segments import SegmentKey, SegmentStore

SOURCE = "roster.segments"
MARK_SECONDS = 7 * 24 * 3600  # how long a done mark is kept (a stream keeps records for 24 hours)
MAX_TRANSACTION_ITEMS = 100  # TransactWriteItems' limit: one count update per segment, one mark per record
COMMIT_ATTEMPTS = 8

logger = logging.getLogger(__name__)


class Change(StrEnum):
    ENTERED = "segment.entered"
    EXITED = "segment.exited"


class MembershipEvent(BaseModel):
    """The detail of a segment event, as consumers (enrichment, signals, actions, export) read it."""

    workspace: str
    segment_id: str
    kind: Kind
    profile_id: str
    time: str
    entered_at: str | None = None  # an exit's: when the stay it ends began (an entry's is its `time`)
    run: str | None = None  # an entry's: the rebuild run that made it when a filter was saved; else none


@dataclass(frozen=True)
class MembershipChange:
    change: Change
    event: MembershipEvent


def membership_change(
    event_name: str, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None
) -> MembershipChange | None:
    """Read a memberships-table stream record: an insert is an entry, a removal an exit."""
    if event_name == "INSERT" and new:
        change, image, at = Change.ENTERED, new, str(new["entered_at"])
    elif event_name == "REMOVE" and old:
        change, image, at = Change.EXITED, old, ""
    else:
        return None
    event = MembershipEvent(
        workspace=str(image["workspace"]),
        segment_id=str(image["segment_id"]),
        kind=Kind(image["kind"]),
        profile_id=str(image["profile_id"]),
        time=at,
        entered_at=str(image["entered_at"]) if change is Change.EXITED and image.get("entered_at") else None,
        run=str(image["run"]) if change is Change.ENTERED and image.get("run") else None,
    )
    return MembershipChange(change, event)


@dataclass(frozen=True)
class StreamChange:
    """The membership change one stream record carries, with the record's event id and position."""

    event_id: str
    sequence_number: str
    change: MembershipChange

    @property
    def segment(self) -> SegmentKey:
        return self.change.event.workspace, self.change.event.segment_id

    @property
    def delta(self) -> int:
        return 1 if self.change.change is Change.ENTERED else -1

    def event(self) -> Event:
        return Event(SOURCE, str(self.change.change), self.change.event.model_dump_json())


def stream_change(record: DynamoDBRecord) -> StreamChange | None:
    """Read one memberships-table stream record; None when it carries no entry or exit. An exit has
    no time of its own: its time is when the stream saw the removal."""
    stream = record.dynamodb
    if stream is None:
        return None
    change = membership_change(record.event_name.name if record.event_name else "", stream.old_image, stream.new_image)
    if change is None:
        return None
    if not change.event.time:
        seen = float(record.raw_event["dynamodb"].get("ApproximateCreationDateTime") or time.time())
        removed_at = format_time(datetime.fromtimestamp(seen, UTC))
        change = MembershipChange(change.change, change.event.model_copy(update={"time": removed_at}))
    return StreamChange(str(record.event_id), str(stream.sequence_number), change)


def transaction_chunks(changes: Sequence[StreamChange]) -> Iterator[list[StreamChange]]:
    """Consecutive changes whose marks and distinct segments fit in one transaction."""
    chunk: list[StreamChange] = []
    segments: set[SegmentKey] = set()
    for change in changes:
        if len(chunk) + len(segments | {change.segment}) + 1 > MAX_TRANSACTION_ITEMS:
            yield chunk
            chunk, segments = [], set()
        chunk.append(change)
        segments.add(change.segment)
    if chunk:
        yield chunk


class CommitFailed(RuntimeError):
    """A chunk's transaction kept being canceled by concurrent writers."""


class SegmentEvents:
    """Publishes and counts the membership changes of memberships-table stream batches, each once."""

    def __init__(
        self,
        segments: SegmentStore,
        publisher: EventPublisher,
        commit_attempts: int = COMMIT_ATTEMPTS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.segments = segments
        self.publisher = publisher
        self.commit_attempts = commit_attempts
        self.sleep = sleep

    def publish_batch(self, records: Iterable[DynamoDBRecord]) -> str | None:
        """Publish and count the changes of one stream batch. Returns the sequence number of the first
        record left uncommitted (the stream resumes there), None when the whole batch is done; raises
        when it could do nothing (the whole batch is delivered again)."""
        changes: dict[str, StreamChange] = {}
        for record in records:
            change = stream_change(record)
            if change is not None:
                changes.setdefault(change.event_id, change)  # a record twice in one batch counts once
        pending = self._undone(list(changes.values()))
        self.publisher.publish([change.event() for change in pending])
        for chunk in transaction_chunks(pending):
            try:
                self._commit(chunk)
            except Exception:
                logger.exception("segment events published but not counted; resuming at %s", chunk[0].sequence_number)
                return chunk[0].sequence_number
        return None

    def _undone(self, changes: list[StreamChange]) -> list[StreamChange]:
        """The changes not marked done yet whose segment still exists."""
        if not changes:
            return []
        done = self.segments.events_done(change.event_id for change in changes)
        changes = [change for change in changes if change.event_id not in done]
        if not changes:
            return []
        alive = self.segments.existing(change.segment for change in changes)
        return [change for change in changes if change.segment in alive]

    def _commit(self, chunk: list[StreamChange]) -> None:
        """Count a chunk's changes and mark its records done, at once; read again and retry when canceled."""
        for attempt in range(self.commit_attempts):
            if not chunk:
                return
            deltas: Counter[SegmentKey] = Counter()
            for change in chunk:
                deltas[change.segment] += change.delta
            expires_at = int(time.time()) + MARK_SECONDS
            if self.segments.count_events(deltas, [change.event_id for change in chunk], expires_at):
                return
            self.sleep(random.uniform(0, 0.01 * 2**attempt))  # another writer touched an item: back off
            chunk = self._undone(chunk)
        raise CommitFailed(f"{len(chunk)} segment event(s) kept losing races for their counts")


class ChangeDetail(EventDetail[MembershipEvent]):
    """A segment event as a rule queues it, with its detail-type (entered or exited)."""

    detail_type: Change = Field(alias="detail-type")


QueuedMembershipEvent = QueueRecord[EventDetail[MembershipEvent]]
QueuedMembershipChange = QueueRecord[ChangeDetail]


def read_queued_events(
    event: dict[str, Any], context: LambdaContext
) -> tuple[list[MembershipEvent], PartialItemFailureResponse]:
    """The membership events an EventBridge rule queued for a consumer, and the batch's failures:
    a malformed record fails alone (retried, then parked in the queue's DLQ), the rest are read."""
    processor = BatchProcessor(
        event_type=EventType.SQS, model=QueuedMembershipEvent, raise_on_entire_batch_failure=False
    )
    found: list[MembershipEvent] = []

    def take(record: QueuedMembershipEvent) -> None:
        found.append(record.body.detail)

    failed = process_partial_response(event=event, record_handler=take, processor=processor, context=context)
    return found, failed


def read_queued_changes(
    event: dict[str, Any], context: LambdaContext
) -> tuple[list[MembershipChange], PartialItemFailureResponse]:
    """As `read_queued_events`, keeping whether each is an entry or an exit."""
    processor = BatchProcessor(
        event_type=EventType.SQS, model=QueuedMembershipChange, raise_on_entire_batch_failure=False
    )
    found: list[MembershipChange] = []

    def take(record: QueuedMembershipChange) -> None:
        found.append(MembershipChange(record.body.detail_type, record.body.detail))

    failed = process_partial_response(event=event, record_handler=take, processor=processor, context=context)
    return found, failed

"""`segment.entered` and `segment.exited`: one EventBridge event per membership change.

The memberships table's stream carries each entry and exit once per change; the publisher
handles every stream record idempotently (keyed by its event id), so a redelivered record is
neither published nor counted twice. Changes of a segment that was deleted are not published.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from pydantic import BaseModel

from roster.profiles.fields import Kind
from roster.profiles.values import format_time
from roster.store.segments import SegmentStore

SOURCE = "roster.segments"


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


@dataclass(frozen=True)
class MembershipChange:
    change: Change
    event: MembershipEvent


def membership_change(
    event_name: str, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None
) -> MembershipChange | None:
    """Read a memberships-table stream record: an insert is an entry, a removal an exit."""
    if event_name == "INSERT" and new:
        change, image, time = Change.ENTERED, new, str(new["entered_at"])
    elif event_name == "REMOVE" and old:
        change, image, time = Change.EXITED, old, ""
    else:
        return None
    event = MembershipEvent(
        workspace=str(image["workspace"]),
        segment_id=str(image["segment_id"]),
        kind=Kind(image["kind"]),
        profile_id=str(image["profile_id"]),
        time=time,
    )
    return MembershipChange(change, event)


def publish_stream_record(
    record: dict[str, Any], segments: SegmentStore, put_event: Callable[[str, str, str], None]
) -> bool:
    """Publish the change one stream record carries; False when it carries none (or its segment is gone)."""
    stream = DynamoDBRecord(record)
    change = membership_change(
        stream.event_name.name if stream.event_name else "",
        stream.dynamodb.old_image if stream.dynamodb else None,
        stream.dynamodb.new_image if stream.dynamodb else None,
    )
    if change is None:
        return False
    seen = float(record.get("dynamodb", {}).get("ApproximateCreationDateTime") or datetime.now(UTC).timestamp())
    return publish(change, segments, put_event, format_time(datetime.fromtimestamp(seen, UTC)))


def publish(
    change: MembershipChange, segments: SegmentStore, put_event: Callable[[str, str, str], None], removed_at: str
) -> bool:
    """Count the change on its segment and publish it; False when the segment no longer exists."""
    event = change.event if change.event.time else change.event.model_copy(update={"time": removed_at})
    if not segments.count_change(event.workspace, event.segment_id, 1 if change.change is Change.ENTERED else -1):
        return False
    put_event(SOURCE, str(change.change), event.model_dump_json())
    return True

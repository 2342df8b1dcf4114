"""Segments and their memberships.

A membership item exists while a profile is in a segment. Entering puts it only if absent and
exiting deletes it only if present, so a redelivered change or two evaluators racing on one
profile write each entry and exit once; the table's stream then carries exactly those changes.

Each published change of that stream is counted on its segment together with a done mark of its
stream record (`segment-event#{eventID}` in the idempotency table), in one transaction, so a
redelivered record is never counted twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import DeleteError, DoesNotExist, PutError, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from roster.config import settings
from roster.profiles.fields import Kind
from roster.profiles.values import utc_now
from roster.store.models import EventMarkItem, MembershipItem, SegmentItem

CONDITION_FAILED = "ConditionalCheckFailedException"
CANCELED = "TransactionCanceledException"
EVENT_MARK = "segment-event#"

#: A segment as the events of its memberships name it: (workspace, segment id).
SegmentKey = tuple[str, str]


@dataclass
class Segment:
    workspace: str
    segment_id: str
    name: str
    kind: Kind
    filter: dict[str, Any]
    created_by: str
    created_at: str = ""
    updated_at: str = ""
    draft: bool = False
    relative_dates: bool = False
    member_count: int = 0
    rebuild_run: str | None = None
    rebuild_parts: int = 0
    rebuild_done: set[str] = field(default_factory=set)
    based_on: str | None = None  # a kept segment (see SegmentManager.create_kept): the segment it follows
    adds: dict[str, Any] | None = None  # ... the filter it adds to that segment's
    kept_by: str | None = None  # ... and what keeps it, in the user's words

    @property
    def rebuilding(self) -> bool:
        return self.rebuild_run is not None and len(self.rebuild_done) < self.rebuild_parts


def _to_segment(item: SegmentItem) -> Segment:
    return Segment(
        workspace=item.workspace,
        segment_id=item.segment_id,
        name=item.name,
        kind=Kind(item.kind),
        filter=dict(item.filter),
        created_by=item.created_by,
        created_at=item.created_at,
        updated_at=item.updated_at,
        draft=bool(item.draft),
        relative_dates=bool(item.relative_dates),
        member_count=int(item.member_count or 0),
        rebuild_run=item.rebuild_run,
        rebuild_parts=int(item.rebuild_parts or 0),
        rebuild_done=set(item.rebuild_done or ()),
        based_on=item.based_on,
        adds=dict(item.adds) if item.adds is not None else None,
        kept_by=item.kept_by,
    )


def _membership_key(workspace: str, segment_id: str) -> str:
    return f"{workspace}#{segment_id}"


def _profile_key(workspace: str, kind: Kind, profile_id: str) -> str:
    return f"{workspace}#{kind}#{profile_id}"


class SegmentStore:
    # --- segments ---------------------------------------------------------------------------

    def save(self, segment: Segment) -> None:
        segment.updated_at = utc_now()
        segment.created_at = segment.created_at or segment.updated_at
        SegmentItem(
            segment.workspace,
            segment.segment_id,
            name=segment.name,
            kind=str(segment.kind),
            filter=segment.filter,
            draft=segment.draft,
            relative_dates=segment.relative_dates,
            created_by=segment.created_by,
            created_at=segment.created_at,
            updated_at=segment.updated_at,
            member_count=segment.member_count,
            rebuild_run=segment.rebuild_run,
            rebuild_parts=segment.rebuild_parts,
            rebuild_done=segment.rebuild_done or None,
            based_on=segment.based_on,
            adds=segment.adds,
            kept_by=segment.kept_by,
        ).save()

    def get(self, workspace: str, segment_id: str) -> Segment | None:
        try:
            return _to_segment(SegmentItem.get(workspace, segment_id, consistent_read=True))
        except DoesNotExist:
            return None

    def in_workspace(self, workspace: str) -> list[Segment]:
        return [_to_segment(item) for item in SegmentItem.query(workspace)]

    def with_relative_dates(self) -> Iterator[Segment]:
        """Live segments of every workspace whose membership moves with the calendar."""
        for item in SegmentItem.scan((SegmentItem.relative_dates == True) & (SegmentItem.draft == False)):  # noqa: E712
            yield _to_segment(item)

    def delete(self, workspace: str, segment_id: str) -> None:
        SegmentItem(workspace, segment_id).delete()

    def start_rebuild(self, segment: Segment, run: str, parts: int) -> None:
        """Record a new rebuild run; messages of older runs are ignored from now on."""
        SegmentItem(segment.workspace, segment.segment_id).update(
            actions=[
                SegmentItem.rebuild_run.set(run),
                SegmentItem.rebuild_parts.set(parts),
                SegmentItem.rebuild_done.remove(),
            ],
            condition=SegmentItem.segment_id.exists(),
        )
        segment.rebuild_run, segment.rebuild_parts, segment.rebuild_done = run, parts, set()

    def finish_part(self, workspace: str, segment_id: str, run: str, part: int) -> None:
        """Mark one part of a run done (a set, so a redelivered part counts once)."""
        try:
            SegmentItem(workspace, segment_id).update(
                actions=[SegmentItem.rebuild_done.add({str(part)})],
                condition=SegmentItem.rebuild_run == run,
            )
        except UpdateError as error:
            if error.cause_response_code != CONDITION_FAILED:
                raise

    def existing(self, keys: Iterable[SegmentKey]) -> set[SegmentKey]:
        """Which of these segments exist (one BatchGetItem per 100, reading only their keys)."""
        wanted = set(keys)
        if not wanted:
            return set()
        found = SegmentItem.batch_get(wanted, consistent_read=True, attributes_to_get=["workspace", "segment_id"])
        return {(item.workspace, item.segment_id) for item in found}

    # --- counting the memberships' stream records -------------------------------------------

    def events_done(self, event_ids: Iterable[str]) -> set[str]:
        """The stream records (by event id) already published and counted (one BatchGetItem per 100)."""
        keys = {EVENT_MARK + event_id for event_id in event_ids}
        if not keys:
            return set()
        return {item.id.removeprefix(EVENT_MARK) for item in EventMarkItem.batch_get(keys, consistent_read=True)}

    def count_events(self, deltas: Mapping[SegmentKey, int], event_ids: Iterable[str], expires_at: int) -> bool:
        """Add each segment's summed change to its member count and mark the stream records done, all
        or nothing (one TransactWriteItems: at most 100 segments and records together). False when
        the transaction was canceled: a record was marked meanwhile, a segment is gone, or another
        transaction touched one of the items."""
        try:
            with TransactWrite(connection=self._connection) as transaction:
                for (workspace, segment_id), delta in deltas.items():
                    transaction.update(
                        SegmentItem(workspace, segment_id),
                        actions=[SegmentItem.member_count.add(delta)],
                        condition=SegmentItem.segment_id.exists(),
                    )
                for event_id in event_ids:
                    transaction.save(
                        EventMarkItem(EVENT_MARK + event_id, expiration=expires_at),
                        condition=EventMarkItem.id.does_not_exist(),
                    )
        except TransactWriteError as error:
            if error.cause_response_code == CANCELED:
                return False
            raise
        return True

    @cached_property
    def _connection(self) -> Connection:
        return Connection(region=settings().region)

    # --- memberships ------------------------------------------------------------------------

    def segments_of(self, workspace: str, kind: Kind, profile_id: str) -> set[str]:
        """The segments a profile is in now."""
        prefix = f"{workspace}#"
        return {
            item.pk.removeprefix(prefix)
            for item in MembershipItem.by_profile.query(_profile_key(workspace, kind, profile_id))
        }

    def members_among(self, workspace: str, segment_id: str, profile_ids: Iterable[str]) -> set[str]:
        return {profile_id for _, profile_id in self.memberships(workspace, ((segment_id, p) for p in profile_ids))}

    def memberships(self, workspace: str, pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which of these (segment, profile) memberships exist: one BatchGetItem per 100, not a query each."""
        keys = {(_membership_key(workspace, segment_id), profile_id) for segment_id, profile_id in pairs}
        if not keys:
            return set()
        prefix = f"{workspace}#"
        found = MembershipItem.batch_get(list(keys), consistent_read=True)
        return {(item.pk.removeprefix(prefix), item.profile_id) for item in found}

    def entered_at(self, workspace: str, segment_id: str, profile_ids: Iterable[str]) -> dict[str, str]:
        """When each of these profiles that is in the segment entered it (one BatchGetItem per 100)."""
        keys = {(_membership_key(workspace, segment_id), profile_id) for profile_id in profile_ids}
        if not keys:
            return {}
        found = MembershipItem.batch_get(
            list(keys), consistent_read=True, attributes_to_get=["profile_id", "entered_at"]
        )
        return {item.profile_id: item.entered_at for item in found}

    def enter(self, workspace: str, segment_id: str, kind: Kind, profile_id: str, run: str | None = None) -> bool:
        """Put a profile in a segment (`run`: the rebuild run doing it, if one is); False when it already was."""
        item = MembershipItem(
            _membership_key(workspace, segment_id),
            profile_id,
            profile_key=_profile_key(workspace, kind, profile_id),
            workspace=workspace,
            segment_id=segment_id,
            kind=str(kind),
            entered_at=utc_now(),
            run=run,
        )
        try:
            item.save(condition=MembershipItem.pk.does_not_exist())
        except PutError as error:
            if error.cause_response_code == CONDITION_FAILED:
                return False
            raise
        return True

    def exit(self, workspace: str, segment_id: str, profile_id: str) -> bool:
        """Take a profile out of a segment; False when it was not in it."""
        try:
            MembershipItem(_membership_key(workspace, segment_id), profile_id).delete(
                condition=MembershipItem.pk.exists()
            )
        except DeleteError as error:
            if error.cause_response_code == CONDITION_FAILED:
                return False
            raise
        return True

    def members(
        self, workspace: str, segment_id: str, cursor: str | None = None, limit: int = 50
    ) -> tuple[list[str], str | None]:
        """A page of member profile ids in id order, and the cursor of the next page."""
        start = {"pk": {"S": _membership_key(workspace, segment_id)}, "profile_id": {"S": cursor}} if cursor else None
        result = MembershipItem.query(_membership_key(workspace, segment_id), last_evaluated_key=start, limit=limit)
        ids = [item.profile_id for item in result]
        last = result.last_evaluated_key
        return ids, (last["profile_id"]["S"] if last else None)

    def member_entries(
        self, workspace: str, segment_id: str, cursor: str | None, limit: int
    ) -> tuple[list[tuple[str, str]], str | None]:
        """A page of (member id, when it entered), and the cursor of the next page."""
        start = {"pk": {"S": _membership_key(workspace, segment_id)}, "profile_id": {"S": cursor}} if cursor else None
        result = MembershipItem.query(_membership_key(workspace, segment_id), last_evaluated_key=start, limit=limit)
        entries = [(item.profile_id, item.entered_at) for item in result]
        last = result.last_evaluated_key
        return entries, (last["profile_id"]["S"] if last else None)

    def count_members(self, workspace: str, segment_id: str) -> int:
        return int(MembershipItem.count(_membership_key(workspace, segment_id)))

    def all_members(self, workspace: str, segment_id: str) -> Iterator[str]:
        for item in MembershipItem.query(_membership_key(workspace, segment_id)):
            yield item.profile_id

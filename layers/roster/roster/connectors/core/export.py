"""The export sync every CRM shares: write enriched fields and segment membership back to the CRM's records.

A run goes through three phases, committing its checkpoint after every flush so a redelivered or continued
message resumes where the last flush left off (a resent write is harmless: updates carry the same values and
creates are upserts on a unique key):

1. *refresh*: an import of the object (incremental, full when fields were mapped since the last full one), so
   export compares against what the CRM holds now; one already running is driven to its end instead.
2. *profiles*: every active profile (first export) or those changed since the last successful export, a page at
   a time; each linked record gets the fields its rules allow and that would change (`planner.py`), and profiles
   without a record are created when create-new is on.
3. *pending*: profiles whose membership of an exported segment changed (noted from segment events), and
   records the CRM refused last time.

An adapter (`ExportLoop` + `Sender`) says how its CRM takes the writes (Salesforce: Bulk API 2.0 ingest jobs;
HubSpot: batch update and upsert, 100 a call). What the CRM accepted is put back into the profile as the
record's last-seen values (so the next export finds nothing to change), a created record is linked to its
profile as an alias, and a refused record is listed with its fields and the CRM's message in the run's history
and tried again by the next export, without holding up the others.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar, Generic, Literal, Protocol, TypeVar, cast

from aws_lambda_powertools import Logger
from pydantic import BaseModel, Field
from ulid import ULID

from roster.connectors.core.items import JobKeys, RunItems
from roster.connectors.core.mapping import FieldMapping, exported_fields
from roster.connectors.core.planner import ExportPlanner, ObjectRules, PlannedWrite
from roster.connectors.core.runs import (
    Refresh,
    RunLoop,
    RunWorker,
    Scheduled,
    SyncRefused,
    busy,
    due_syncs,
    parse_stamp,
)
from roster.connectors.core.state import ExportCounts, Mode, Run, RunState, Status
from roster.identity.resolver import Resolver
from roster.profiles.fields import Kind
from roster.profiles.model import IncomingRecord, Profile
from roster.profiles.model import Status as ProfileStatus
from roster.profiles.values import format_time
from roster.segments.events import MembershipEvent
from roster.store.profiles import ProfileStore
from roster.store.segments import SegmentStore

Phase = Literal["refresh", "profiles", "pending", "done"]
PAGE_PROFILES = 500
SCHEDULE_GRACE = timedelta(minutes=5)
WAIT_FOR_IMPORT_SECONDS = 60  # an import started elsewhere is running: look again this much later
PREVIEW_WRITES = 50
MAX_REJECTIONS = 200  # kept per run (all are counted); the rest are in the counts


class ExportSettings(BaseModel):
    """What a user turns on for one object. Export sync and record creation are both off by default."""

    enabled: bool = False
    create_new: bool = False
    #: Create records only for members of this segment (None: every active profile without a record).
    create_segment: str | None = Field(default=None, max_length=64)
    every_hours: int = Field(default=24, ge=1, le=24 * 7)


class ExportState(RunState):
    settings: ExportSettings = Field(default_factory=ExportSettings)
    #: The start of the last successful export: the next one considers profiles changed after it.
    mark: str | None = None


class Rejection(BaseModel):
    """A record the CRM refused: which profile, which fields, and the CRM's own words (adapters add the record)."""

    profile_id: str
    code: str
    message: str
    fields: list[str]


class ExportRun(Run):
    """One export of one object: where it is (phase and profile cursor), what it sent and what was refused."""

    full: bool
    since: str | None = None  # incremental: profiles changed after this moment
    phase: Phase = "refresh"
    refresh_run: str | None = None  # the import run that refreshes the CRM values first
    cursor: str | None = None  # the next profile page (phase profiles) or pending item (phase pending)
    counts: ExportCounts = Field(default_factory=ExportCounts)
    rejections: list[Rejection] = Field(default_factory=list)


class ExportMessage(BaseModel):
    """One unit of export work: run (or continue) one object's export run."""

    workspace: str
    object: str
    run_id: str
    delay_seconds: int = 0  # how long the queue should hold a continuation (waiting for an import)


class ExportRefused(Exception):
    """An export that cannot start or be configured (export sync off, a bad setting); the reason is the text."""


class ExportFailed(Exception):
    """A run stopped on a failure retries did not fix; its message goes to the dead-letter queue."""

    def __init__(self, message: ExportMessage, code: str, reason: str) -> None:
        super().__init__(f"{message.workspace} {message.object} export {message.run_id}: {code}: {reason}")
        self.message = message
        self.code = code
        self.reason = reason


R = TypeVar("R", bound=ExportRun)
S = TypeVar("S", bound=ExportState)
M = TypeVar("M", bound=ExportMessage)
O = TypeVar("O", bound=str)  # noqa: E741 - the adapter's object names


class ExportItems(RunItems[R, S, O]):
    """An export's items: its object states and runs, and the membership changes owed to its next run."""

    def __init__(self, run: type[R], state: type[S], keys: JobKeys, pending: Callable[[str, str], str]) -> None:
        super().__init__(run, state, keys)
        self._pending = pending

    def put_state(self, state: S) -> S:
        return self._put_state(state, state.settings.enabled)

    def note_pending(self, workspace: str, kind: Kind, profile_ids: Iterable[str], noted_at: str) -> int:
        """Remember profiles whose exported-segment membership changed (idempotent: one item per profile)."""
        return self._items.note_pending(self._pending(workspace, kind), profile_ids, noted_at)

    def pending(self, workspace: str, kind: Kind, after: str | None = None) -> Iterator[tuple[str, str]]:
        """(profile id, noted at) of the pending changes, in profile id order after `after`."""
        return self._items.pending(self._pending(workspace, kind), after)

    def clear_pending(self, workspace: str, kind: Kind, up_to: str) -> None:
        """Forget the changes noted before `up_to` (the start of an export that covered them)."""
        self._items.clear_pending(self._pending(workspace, kind), up_to)


class _Mappings(Protocol):
    def mapping(self, workspace: str, obj: Any) -> Any: ...


class Import(Refresh[Any], Protocol):
    """What export needs of the import side (the adapter's importer, wired in by services): its mappings,
    connections, resolvers, and the refresh it runs first."""

    @property
    def store(self) -> _Mappings: ...
    @property
    def resolver(self) -> Callable[[str, Kind], Resolver]: ...
    @property
    def connect(self) -> Callable[[str], Any]: ...


@dataclass(frozen=True)
class Preview:
    """What the next export would write, up to a limit (adapters show it in their own words)."""

    full: bool
    considered: int
    writes: list[PlannedWrite]
    more: bool  # the preview stopped at its limit; the export would write more


@dataclass
class ExportLoop(RunLoop[R, S, M], ABC):
    """An export's operations; handlers inject the stores and the import side (see `Import`)."""

    store: ExportItems[R, S, Any]
    sync: Import
    profiles: ProfileStore
    segments: SegmentStore
    page_profiles: int = PAGE_PROFILES
    max_records: int = 10_000  # planned writes buffered before they are sent and the checkpoint committed
    reserve_seconds: float = field(default=120.0, kw_only=True)

    objects: ClassVar[Mapping[Any, Kind]]  # the objects export writes, and the kind each holds
    rules: ClassVar[Mapping[Any, ObjectRules]]
    run_type: ClassVar[type[ExportRun]]  # the adapter's R (a ClassVar cannot name a type variable: hence the casts)
    message_type: ClassVar[type[ExportMessage]]  # its M
    status_type: ClassVar[type[BaseModel]]  # what `status` lists
    preview_type: ClassVar[type[BaseModel]]  # what `preview` shows: object, full, considered, writes and more

    @property
    def planner(self) -> ExportPlanner:
        return ExportPlanner(self.profiles, self.segments, self.page_profiles)

    def new_run(self, run_id: str, workspace: str, obj: Any, full: bool, started_at: str, since: str | None) -> R:
        run = self.run_type(
            run_id=run_id, workspace=workspace, object=obj, full=full, started_at=started_at, since=since
        )
        return cast(R, run)

    def new_message(self, workspace: str, obj: Any, run_id: str) -> M:
        return cast(M, self.message_type(workspace=workspace, object=obj, run_id=run_id))

    def status(self, workspace: str) -> list[Any]:
        """Each object's export settings, state and latest run."""
        return [self.view(self.status_type, self.store.state(workspace, obj)) for obj in self.objects]

    def preview(self, workspace: str, obj: Any, limit: int = PREVIEW_WRITES) -> Any:
        """What the next export would write (against the CRM values last imported), up to `limit` records."""
        plan = self.plan_preview(workspace, obj, limit)
        writes = [self.write_view(write) for write in plan.writes]
        return self.preview_type(object=obj, full=plan.full, considered=plan.considered, writes=writes, more=plan.more)

    # -- what an adapter says -------------------------------------------------------------------------------

    @abstractmethod
    def write_view(self, write: PlannedWrite) -> BaseModel:
        """A planned write as the preview shows it, in the adapter's words."""

    @abstractmethod
    def check_create(self, workspace: str, obj: Any, settings: Any) -> None:
        """Raise ExportRefused when create-new cannot work as set (the key the CRM upserts on is missing)."""

    @abstractmethod
    def sender(self, worker: ExportWorker[R, S, M], mapping: Any) -> Sender[R, S, M]:
        """The adapter's sender for one invocation (the worker's connection is open)."""

    @abstractmethod
    def rejection(self, write: PlannedWrite, record_id: str | None, code: str, message: str, fields: list[str]) -> Any:
        """The adapter's Rejection of a refused record."""

    @abstractmethod
    def classify(self, error: Exception) -> tuple[str, str, bool]:
        """(code, reason, parked) of the failure a run stopped on; parked when retrying later may help."""

    # -- configuration ------------------------------------------------------------------------------------

    def configure(self, workspace: str, obj: Any, settings: ExportSettings) -> S:
        """Save an object's export settings, checking what can be checked before the first run."""
        kind = self.objects[obj]
        if settings.create_segment is not None:
            segment = self.segments.get(workspace, settings.create_segment)
            if segment is None or segment.kind is not kind:
                raise ExportRefused(f"create_segment: no {kind} segment {settings.create_segment!r} in this workspace")
        if settings.enabled and settings.create_new:
            self.check_create(workspace, obj, settings)
        state = self.store.state(workspace, obj)
        return self.store.put_state(state.model_copy(update={"settings": settings}))

    def mapping(self, workspace: str, obj: Any) -> Any:
        mapping = self.sync.store.mapping(workspace, obj)
        if mapping is None:
            raise ExportRefused(f"{obj} has no field mapping yet: map fields (and their export rules) first")
        return mapping

    # -- preview ------------------------------------------------------------------------------------------

    def plan_preview(self, workspace: str, obj: Any, limit: int = PREVIEW_WRITES) -> Preview:
        """What the next export would write (against the CRM values last imported), up to `limit` records:
        updates of existing records first, then records to create. Reads only."""
        state = self.store.state(workspace, obj)
        fields = exported_fields(self.mapping(workspace, obj).fields)
        updates: list[PlannedWrite] = []
        creates: list[PlannedWrite] = []
        considered = planned = 0
        kind = self.objects[obj]
        for batch in self.planner.candidates(workspace, kind, state.mark, lambda: self.store.pending(workspace, kind)):
            plan = self.planner.plan(workspace, self.rules[obj], state.settings, fields, batch)
            considered += plan.counts.considered
            planned += len(plan.updates) + len(plan.creates)
            updates.extend(plan.updates)
            creates.extend(create for create, _ in plan.creates[: max(0, limit - len(creates))])
            if len(updates) > limit:
                break
        return Preview(state.mark is None, considered, [*updates, *creates][:limit], planned > limit)

    # -- runs ---------------------------------------------------------------------------------------------

    def start(self, workspace: str, obj: Any, full: bool | None = None) -> M | None:
        """Begin a run and return the message to queue, or None when one is already running."""
        state = self.store.state(workspace, obj)
        if not state.settings.enabled:
            raise ExportRefused(f"export sync is off for {obj}")
        self.mapping(workspace, obj)
        now = self.clock()
        if busy(state, now):
            return None
        full = state.mark is None if full is None else full or state.mark is None
        run = self.new_run(str(ULID()), workspace, obj, full, format_time(now), None if full else state.mark)
        if not self.begin(run, state):
            return None
        return self.new_message(workspace, obj, run.run_id)

    def due(self, now: datetime) -> list[tuple[str, Any]]:
        """The exports the schedule should start now: every `every_hours` (24 by default) since the last start."""
        due: list[tuple[str, Any]] = []
        for workspace, obj in sorted(self.store.enabled()):
            state = self.store.state(workspace, obj)
            if not state.settings.enabled or busy(state, now):
                continue
            every = timedelta(hours=state.settings.every_hours) - SCHEDULE_GRACE
            if state.last_started is None or now - parse_stamp(state.last_started) >= every:
                due.append((workspace, obj))
        return due

    def worker(self, run: R, state: S, message: M, remaining: Callable[[], float]) -> ExportWorker[R, S, M]:
        return ExportWorker(loop=self, run=run, state=state, message=message, remaining=remaining)

    def note_membership_changes(self, events: Iterable[MembershipEvent]) -> int:
        """Remember profiles whose membership of a segment some enabled export writes changed (for its next run)."""
        by_workspace: dict[str, list[MembershipEvent]] = {}
        for event in events:
            by_workspace.setdefault(event.workspace, []).append(event)
        noted = 0
        for workspace, changes in sorted(by_workspace.items()):
            exported: dict[Kind, set[str]] = {}
            for obj, kind in self.objects.items():
                mapping = self.sync.store.mapping(workspace, obj)
                if mapping is not None and self.store.state(workspace, obj).settings.enabled:
                    exported[kind] = {each.segment for each in mapping.fields.values() if each.segment}
            for kind, segments in exported.items():
                ids = [change.profile_id for change in changes if change.kind is kind and change.segment_id in segments]
                if ids:
                    noted += self.store.note_pending(workspace, kind, ids, format_time(self.clock()))
        return noted


@dataclass(kw_only=True)
class ExportWorker(RunWorker[R, S, M]):
    """One invocation's work on an export run."""

    loop: ExportLoop[R, S, M]

    @property
    def kind(self) -> Kind:
        return self.loop.objects[self.run.object]

    def go(self) -> M | None:
        if self.resume_parked():
            if self.run.phase == "refresh":
                self.run.refresh_run = None  # the import that failed is started again (or the running one joined)
            self.commit(with_state=True)
        if self.run.phase == "refresh" and not self._refresh():
            return self._continue(WAIT_FOR_IMPORT_SECONDS)
        mapping = self.loop.mapping(self.run.workspace, self.run.object)
        self.connection = self.loop.sync.connect(self.run.workspace)
        sender = self.loop.sender(self, mapping)
        if self.run.phase == "profiles":
            cursor = self.run.cursor  # the checkpoint: the first page not yet sent
            while True:
                page = self.loop.profiles.page(
                    self.run.workspace,
                    self.kind,
                    status=ProfileStatus.ACTIVE,
                    changed_since=None if self.run.full else self.run.since,
                    cursor=cursor,
                    limit=self.loop.page_profiles,
                )
                sender.add(page.profiles)
                cursor = page.cursor
                if cursor is None:
                    sender.flush("pending" if not self.run.full else "done", None)
                    break
                if sender.full_after_next_page() or self.near_deadline():
                    sender.flush("profiles", cursor)
                    if self.near_deadline():
                        return self._continue()
        if self.run.phase == "pending":
            after = self.run.cursor
            pending = self.loop.store.pending(self.run.workspace, self.kind, after)
            for profiles in self.loop.planner.pending_pages(self.run.workspace, self.kind, pending):
                sender.add(profiles, skip_considered=True)
                last = profiles[-1].profile_id if profiles else after
                if sender.full_after_next_page() or self.near_deadline():
                    sender.flush("pending", last)
                    if self.near_deadline():
                        return self._continue()
            sender.flush("done", None)
        self._finish()
        return None

    def _refresh(self) -> bool:
        """Bring the CRM values up to date with an import of the object; False when it must wait or continue."""
        sync, workspace, obj = self.loop.sync, self.run.workspace, self.run.object
        if self.run.refresh_run is None:
            self.run.refresh_run = sync.start_refresh(workspace, obj)
            self.commit(with_state=True)
        remaining = lambda: self.remaining() - self.loop.reserve_seconds / 2  # noqa: E731
        if self.run.refresh_run is not None and not sync.finish_refresh(
            workspace, obj, self.run.refresh_run, remaining
        ):
            return False
        self.run.phase = "profiles"
        self.commit(with_state=True)
        return True

    def _finish(self) -> None:
        self.loop.store.clear_pending(self.run.workspace, self.kind, self.run.started_at)
        self.run.status, self.run.finished_at, self.run.phase = (
            Status.SUCCEEDED,
            format_time(self.loop.clock()),
            "done",
        )
        self.state.status, self.state.error, self.state.mark = Status.IDLE, None, self.run.started_at
        self.commit(with_state=True)

    def _continue(self, delay: int = 0) -> M:
        self.commit(with_state=True)
        return self.message.model_copy(update={"delay_seconds": delay})

    def stop(self, error: Exception) -> ExportFailed:
        """Record why the run stopped: parked (the message waits in the DLQ) unless retrying cannot help."""
        code, reason, parked = self.loop.classify(error)
        self.halt(code, reason, parked)
        return ExportFailed(self.message, code, reason)


@dataclass
class Sender(ABC, Generic[R, S, M]):
    """Planned writes buffered until `max_records`, sent by the adapter, and what the CRM's answers mean."""

    worker: ExportWorker[R, S, M]
    mapping: Any  # the adapter's object mapping (its `fields`)
    updates: list[PlannedWrite] = field(default_factory=list)
    creates: list[tuple[PlannedWrite, str]] = field(default_factory=list)
    counts: ExportCounts = field(default_factory=ExportCounts)
    considered: set[str] = field(default_factory=set)
    refused: list[str] = field(default_factory=list)  # profiles whose records the CRM refused

    @abstractmethod
    def send_updates(self, writes: list[PlannedWrite]) -> None:
        """Update linked records; `accepted` and `reject` each one by the CRM's answer."""

    @abstractmethod
    def send_creates(self, creates: list[tuple[PlannedWrite, str]]) -> None:
        """Create (upsert) records for profiles, each with an alias the profile holds; `accepted` or `reject`."""

    @property
    def fields(self) -> dict[str, FieldMapping]:
        return exported_fields(self.mapping.fields)

    @property
    def loop(self) -> ExportLoop[R, S, M]:
        return self.worker.loop

    def add(self, profiles: list[Profile], *, skip_considered: bool = False) -> None:
        run = self.worker.run
        skip = self.considered if skip_considered else None
        settings = self.worker.state.settings
        plan = self.loop.planner.plan(run.workspace, self.loop.rules[run.object], settings, self.fields, profiles, skip)
        self.considered |= plan.profile_ids
        self.updates.extend(plan.updates)
        self.creates.extend(plan.creates)
        self.counts = self.counts.add(plan.counts)

    def full_after_next_page(self) -> bool:
        """True when one more page could push the buffer past `max_records`: send now, at a page boundary."""
        limit = self.loop.max_records - self.loop.page_profiles
        return len(self.updates) >= limit or len(self.creates) >= limit

    def flush(self, phase: Phase, cursor: str | None) -> None:
        """Send what is buffered, apply the results, and commit the checkpoint (the next page to read)."""
        run = self.worker.run
        if self.updates:
            self.send_updates(self.updates)
        if self.creates:
            self.send_creates(self.creates)
        if self.refused:  # tried again by the next export, until the CRM accepts them
            stamp = format_time(self.loop.clock())
            self.loop.store.note_pending(run.workspace, self.worker.kind, self.refused, stamp)
        self.updates, self.creates, self.refused = [], [], []
        self.worker.run.counts = run.counts.add(self.counts)
        self.counts = ExportCounts()
        self.worker.run.phase = phase
        self.worker.run.cursor = cursor
        self.worker.commit(with_state=True)

    def observed(self) -> str:
        return format_time(self.loop.clock())

    def accepted(self, write: PlannedWrite, record_id: str, observed: str, *, created: bool = False) -> IncomingRecord:
        """Count a write the CRM took; the record as it now holds the written values."""
        if created:
            self.counts.created += 1
        else:
            self.counts.updated += 1
        self.counts.fields_written += len(write.changes)
        source, obj = self.loop.rules[self.worker.run.object].source, self.worker.run.object
        return IncomingRecord(source, obj, record_id, observed, write.values())

    def reject(
        self, write: PlannedWrite, record_id: str | None, code: str | None, message: str | None, fields: Iterable[str]
    ) -> None:
        """Count and list a write the CRM refused; the profile is owed to the next export."""
        self.counts.rejected += 1
        self.refused.append(write.profile_id)
        if len(self.worker.run.rejections) < MAX_REJECTIONS:
            self.worker.run.rejections.append(
                self.loop.rejection(write, record_id, code or "UNKNOWN", message or "", list(fields))
            )

    def remember(self, records: list[IncomingRecord], links: dict[str, list[str]]) -> None:
        """Keep what the CRM now holds as the records' last-seen values; link created records to profiles."""
        if records:
            resolver = self.loop.sync.resolver(self.worker.run.workspace, self.worker.kind)
            resolver.upsert(records, extra_aliases=links)


class _ScheduledImport(Protocol):
    @property
    def store(self) -> Scheduled: ...
    def start(self, workspace: str, obj: Any, mode: Mode | None = None) -> Any: ...


def start_due_work(
    sync: _ScheduledImport,
    sync_queue: Callable[[BaseModel], None],
    export: ExportLoop[Any, Any, Any],
    export_queue: Callable[[BaseModel], None],
    now: datetime,
) -> dict[str, list[dict[str, str]]]:
    """A CRM schedule tick: queue the import syncs and the exports that are due now; says what it started."""
    started, exports = [], []
    for due in due_syncs(sync.store, now):
        message = None
        with contextlib.suppress(SyncRefused):  # turned off since due_syncs read it
            message = sync.start(due.workspace, due.object, due.mode)
        if message is not None:
            sync_queue(message)
            started.append({"workspace": due.workspace, "object": str(due.object), "mode": str(message.mode)})
    for workspace, obj in export.due(now):
        run = None
        with contextlib.suppress(ExportRefused):  # turned off, or its mapping removed, since due() read it
            run = export.start(workspace, obj)
        if run is not None:
            export_queue(run)
            exports.append({"workspace": workspace, "object": str(obj), "run_id": run.run_id})
    return {"started": started, "exports": exports}


def export_on(
    loop: ExportLoop[R, S, M],
    message: M,
    remaining: Callable[[], float],
    send: Callable[[M, int], Any],
    logger: Logger,
) -> None:
    """An export queue handler's work on one message: run it, queue what continues (held `delay_seconds` while
    an import runs elsewhere), log the outcome. A run that stopped raises ExportFailed, so the message is retried
    and then parked in the DLQ."""
    try:
        following = loop.run(message, remaining)
    except ExportFailed as failed:
        logger.warning("export stopped", extra={"run_id": message.run_id, "code": failed.code, "reason": failed.reason})
        raise
    if following is not None:
        send(following, following.delay_seconds)
    logger.info(
        "export worked", extra={"workspace": message.workspace, "object": message.object, "done": not following}
    )

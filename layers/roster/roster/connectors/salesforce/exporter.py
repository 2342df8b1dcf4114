"""The Salesforce export sync: write enriched fields and segment membership back to Accounts and Contacts.

A run goes through three phases, committing its checkpoint after every ingest job so a redelivered or continued
message resumes where the last job left off (a resent job is harmless: updates carry the same values and
creates are upserts on the Roster id):

1. *refresh*: an import of the object (incremental, full when fields were mapped since the last full one), so
   export compares against what Salesforce holds now; one already running is driven to its end instead.
2. *profiles*: every active profile (first export) or those changed since the last successful export, a page at
   a time; each linked record gets the fields its rules allow and that would change (`core/planner.py`), and profiles
   without a record are created when create-new is on.
3. *pending*: profiles whose membership of an exported segment changed (noted from segment events).

Rows go out in Bulk API 2.0 ingest jobs of up to 10,000 records (`ingest.py`). What Salesforce accepted is put
back into the profile as the record's last-seen values (so the next export finds nothing to change), a created
record is linked to its profile as an alias, and a refused record is listed with its fields and Salesforce's
message in the run's history, without holding up the others.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from pydantic import BaseModel
from ulid import ULID

from roster.connectors.core.mapping import FieldMapping, MappingError, exported_fields
from roster.connectors.core.planner import ExportPlanner, ObjectRules, PlannedWrite, WriteView, view
from roster.connectors.core.runs import Refresh, RefreshFailed, RunLoop, RunWorker, busy, parse_stamp
from roster.connectors.core.state import ExportCounts, Status
from roster.connectors.salesforce.connection import Calls, Connection, explain, transient
from roster.connectors.salesforce.describe import SOURCE, ObjectMapping, describe
from roster.connectors.salesforce.export_store import (
    EXPORT_OBJECTS,
    MAX_REJECTIONS,
    ExportObject,
    ExportRun,
    ExportSettings,
    ExportState,
    ExportStore,
    Phase,
    Rejection,
)
from roster.connectors.salesforce.ingest import (
    ACCOUNT_COLUMN,
    MAX_JOB_RECORDS,
    MAX_UPLOAD_BYTES,
    IngestFailed,
    IngestJobs,
    IngestReport,
    row_of,
)
from roster.connectors.salesforce.store import SyncStore
from roster.identity.resolver import Resolver
from roster.profiles.fields import Kind
from roster.profiles.model import IncomingRecord, Profile
from roster.profiles.model import Status as ProfileStatus
from roster.profiles.values import format_time
from roster.segments.events import MembershipEvent
from roster.store.profiles import ProfileStore
from roster.store.segments import SegmentStore

PAGE_PROFILES = 500
SCHEDULE_GRACE = timedelta(minutes=5)
WAIT_FOR_IMPORT_SECONDS = 60  # an import started elsewhere is running: look again this much later
PREVIEW_WRITES = 50
#: Per object: a Contact created for a person belongs to their company's Account, and a person who is a Lead
#: already is not created again as a Contact.
RULES: dict[ExportObject, ObjectRules] = {
    "Account": ObjectRules(SOURCE, "Account"),
    "Contact": ObjectRules(SOURCE, "Contact", company_object="Account", already=("Lead",)),
}


class ExportMessage(BaseModel):
    """One unit of export work: run (or continue) one object's export run."""

    workspace: str
    object: ExportObject
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


class ExportPreview(BaseModel):
    """What the next export would write, up to a limit."""

    object: ExportObject
    full: bool
    considered: int
    writes: list[WriteView]
    more: bool  # the preview stopped at its limit; the export would write more


class ExportStatus(BaseModel):
    object: ExportObject
    settings: ExportSettings
    status: Status
    mark: str | None
    error: str | None
    last_run: ExportRun | None


class _Import(Refresh[ExportObject], Protocol):
    """What export needs of the import side (the importer, wired in by services): its mappings, connections,
    resolvers, and the refresh it runs first."""

    @property
    def store(self) -> SyncStore: ...
    @property
    def resolver(self) -> Callable[[str, Kind], Resolver]: ...
    @property
    def connect(self) -> Callable[[str], Connection]: ...


@dataclass
class SalesforceExport(RunLoop[ExportRun, ExportState, ExportMessage]):
    """The export's operations; handlers inject the stores and the import side (see `_Import`)."""

    store: ExportStore
    sync: _Import
    profiles: ProfileStore
    segments: SegmentStore
    page_profiles: int = PAGE_PROFILES
    max_records: int = MAX_JOB_RECORDS
    max_bytes: int = MAX_UPLOAD_BYTES
    reserve_seconds: float = field(default=120.0, kw_only=True)

    @property
    def planner(self) -> ExportPlanner:
        return ExportPlanner(self.profiles, self.segments, self.page_profiles)

    # -- configuration ------------------------------------------------------------------------------------

    def configure(self, workspace: str, obj: ExportObject, settings: ExportSettings) -> ExportState:
        """Save an object's export settings, checking what can be checked before the first run."""
        kind = EXPORT_OBJECTS[obj]
        if settings.create_segment is not None:
            segment = self.segments.get(workspace, settings.create_segment)
            if segment is None or segment.kind is not kind:
                raise ExportRefused(f"create_segment: no {kind} segment {settings.create_segment!r} in this workspace")
        if settings.enabled and settings.create_new:
            self._check_external_id(workspace, obj, settings.external_id_field)
        state = self.store.state(workspace, obj)
        return self.store.put_state(state.model_copy(update={"settings": settings}))

    def _check_external_id(self, workspace: str, obj: ExportObject, name: str) -> None:
        described = describe(self.sync.connect(workspace).sf, obj)
        spec = next((each for each in described.get("fields", []) if each.get("name") == name), None)
        if spec is None or not spec.get("externalId"):
            raise ExportRefused(
                f"create_new needs {obj}.{name} to be an External ID field holding the Roster id (so a retried "
                "export never creates a duplicate); add it in Salesforce or name another with external_id_field"
            )

    def status(self, workspace: str) -> list[ExportStatus]:
        return [self.view(ExportStatus, self.store.state(workspace, obj)) for obj in EXPORT_OBJECTS]

    def _mapping(self, workspace: str, obj: ExportObject) -> ObjectMapping:
        mapping = self.sync.store.mapping(workspace, obj)
        if mapping is None:
            raise ExportRefused(f"{obj} has no field mapping yet: map fields (and their export rules) first")
        return mapping

    # -- preview ------------------------------------------------------------------------------------------

    def preview(self, workspace: str, obj: ExportObject, limit: int = PREVIEW_WRITES) -> ExportPreview:
        """What the next export would write (against the CRM values last imported), up to `limit` records:
        updates of existing records first, then records to create."""
        state = self.store.state(workspace, obj)
        mapping = self._mapping(workspace, obj)
        full = state.mark is None
        updates: list[PlannedWrite] = []
        creates: list[PlannedWrite] = []
        considered = planned = 0
        kind, fields = EXPORT_OBJECTS[obj], exported_fields(mapping.fields)
        for batch in self.planner.candidates(workspace, kind, state.mark, lambda: self.store.pending(workspace, kind)):
            plan = self.planner.plan(workspace, RULES[obj], state.settings, fields, batch)
            considered += plan.counts.considered
            planned += len(plan.updates) + len(plan.creates)
            updates.extend(plan.updates)
            creates.extend(create for create, _ in plan.creates[: max(0, limit - len(creates))])
            if len(updates) > limit:
                break
        writes = [*updates, *creates][:limit]
        more = planned > limit
        return ExportPreview(object=obj, full=full, considered=considered, writes=[view(w) for w in writes], more=more)

    # -- runs ---------------------------------------------------------------------------------------------

    def start(self, workspace: str, obj: ExportObject, full: bool | None = None) -> ExportMessage | None:
        """Begin a run and return the message to queue, or None when one is already running."""
        state = self.store.state(workspace, obj)
        if not state.settings.enabled:
            raise ExportRefused(f"export sync is off for {obj}")
        self._mapping(workspace, obj)
        now = self.clock()
        if busy(state, now):
            return None
        stamp = format_time(now)
        full = state.mark is None if full is None else full or state.mark is None
        run = ExportRun(
            run_id=str(ULID()),
            workspace=workspace,
            object=obj,
            full=full,
            started_at=stamp,
            since=None if full else state.mark,
        )
        if not self.begin(run, state):
            return None
        return ExportMessage(workspace=workspace, object=obj, run_id=run.run_id)

    def due(self, now: datetime) -> list[tuple[str, ExportObject]]:
        """The exports the schedule should start now: every `every_hours` (24 by default) since the last start."""
        due: list[tuple[str, ExportObject]] = []
        for workspace, obj in sorted(self.store.enabled()):
            state = self.store.state(workspace, obj)
            if not state.settings.enabled or busy(state, now):
                continue
            every = timedelta(hours=state.settings.every_hours) - SCHEDULE_GRACE
            if state.last_started is None or now - parse_stamp(state.last_started) >= every:
                due.append((workspace, obj))
        return due

    def worker(
        self, run: ExportRun, state: ExportState, message: ExportMessage, remaining: Callable[[], float]
    ) -> _Worker:
        return _Worker(loop=self, run=run, state=state, message=message, remaining=remaining)

    def note_membership_changes(self, events: Iterable[MembershipEvent]) -> int:
        """Remember profiles whose membership of a segment some enabled export writes changed (for its next run)."""
        by_workspace: dict[str, list[MembershipEvent]] = {}
        for event in events:
            by_workspace.setdefault(event.workspace, []).append(event)
        noted = 0
        for workspace, changes in sorted(by_workspace.items()):
            exported: dict[Kind, set[str]] = {}
            for obj, kind in EXPORT_OBJECTS.items():
                mapping = self.sync.store.mapping(workspace, obj)
                if mapping is not None and self.store.state(workspace, obj).settings.enabled:
                    exported[kind] = {each.segment for each in mapping.fields.values() if each.segment}
            for kind, segments in exported.items():
                ids = [change.profile_id for change in changes if change.kind is kind and change.segment_id in segments]
                if ids:
                    noted += self.store.note_pending(workspace, kind, ids, format_time(self.clock()))
        return noted


@dataclass(kw_only=True)
class _Worker(RunWorker[ExportRun, ExportState, ExportMessage]):
    """One invocation's work on an export run."""

    loop: SalesforceExport

    @property
    def kind(self) -> Kind:
        return EXPORT_OBJECTS[self.run.object]

    def go(self) -> ExportMessage | None:
        if self.resume_parked():
            if self.run.phase == "refresh":
                self.run.refresh_run = None  # the import that failed is started again (or the running one joined)
            self.commit(with_state=True)
        if self.run.phase == "refresh" and not self._refresh():
            return self._continue(WAIT_FOR_IMPORT_SECONDS)
        mapping = self.loop._mapping(self.run.workspace, self.run.object)
        self.connection = self.loop.sync.connect(self.run.workspace)
        calls = Calls(self.connection, self.loop.attempts, self.loop.wait, self.loop.sleep)
        sender = _Sender(self, mapping, calls)
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

    def _continue(self, delay: int = 0) -> ExportMessage:
        self.commit(with_state=True)
        return self.message.model_copy(update={"delay_seconds": delay})

    def stop(self, error: Exception) -> ExportFailed:
        """Record why the run stopped: parked (the message waits in the DLQ) unless retrying cannot help."""
        if isinstance(error, RefreshFailed):
            code, reason = "import_failed", str(error)
        elif isinstance(error, IngestFailed):
            code, reason = "bulk_job_failed", str(error)
        elif isinstance(error, MappingError | ExportRefused):
            code, reason = "bad_configuration", str(error)
        else:
            code, reason = explain(error)
        self.halt(code, reason, isinstance(error, IngestFailed | RefreshFailed) or transient(error))
        return ExportFailed(self.message, code, reason)


@dataclass
class _Sender:
    """Planned writes buffered into ingest jobs of up to `max_records`, and what their results mean."""

    worker: _Worker
    mapping: ObjectMapping
    calls: Calls
    updates: list[PlannedWrite] = field(default_factory=list)
    creates: list[tuple[PlannedWrite, str]] = field(default_factory=list)
    counts: ExportCounts = field(default_factory=ExportCounts)
    considered: set[str] = field(default_factory=set)
    refused: list[str] = field(default_factory=list)  # profiles whose records Salesforce refused

    @property
    def fields(self) -> dict[str, FieldMapping]:
        return exported_fields(self.mapping.fields)

    def add(self, profiles: list[Profile], *, skip_considered: bool = False) -> None:
        export, run = self.worker.loop, self.worker.run
        skip = self.considered if skip_considered else None
        settings = self.worker.state.settings
        plan = export.planner.plan(run.workspace, RULES[run.object], settings, self.fields, profiles, skip)
        self.considered |= plan.profile_ids
        self.updates.extend(plan.updates)
        self.creates.extend(plan.creates)
        self.counts = self.counts.add(plan.counts)

    def full_after_next_page(self) -> bool:
        """True when one more page could push a job past `max_records`: send now, at a page boundary."""
        limit = self.worker.loop.max_records - self.worker.loop.page_profiles
        return len(self.updates) >= limit or len(self.creates) >= limit

    def flush(self, phase: Phase, cursor: str | None) -> None:
        """Send what is buffered, apply the results, and commit the checkpoint (the next page to read)."""
        run = self.worker.run
        if self.updates:
            self._send_updates(self.updates)
        if self.creates:
            self._send_creates(self.creates)
        if self.refused:  # tried again by the next export, until Salesforce accepts them
            stamp = format_time(self.worker.loop.clock())
            self.worker.loop.store.note_pending(run.workspace, self.worker.kind, self.refused, stamp)
        self.updates, self.creates, self.refused = [], [], []
        self.worker.run.counts = run.counts.add(self.counts)
        self.counts = ExportCounts()
        self.worker.run.phase = phase
        self.worker.run.cursor = cursor
        self.worker.commit(with_state=True)

    def _jobs(self, operation: str, columns: list[str], external_id: str | None = None) -> IngestJobs:
        export = self.worker.loop
        return IngestJobs(
            self.calls,
            self.worker.run.object,
            "update" if operation == "update" else "upsert",
            columns,
            external_id_field=external_id,
            max_records=export.max_records,
            max_bytes=export.max_bytes,
            poll_seconds=export.poll_seconds,
            sleep=export.sleep,
            attempts=export.attempts,
        )

    def _send_updates(self, writes: list[PlannedWrite]) -> None:
        fields = self.fields
        by_id = {write.salesforce_id: write for write in writes if write.salesforce_id}
        jobs = self._jobs("update", ["Id", *fields])
        report = jobs.send(row_of(write, fields, "Id", key) for key, write in by_id.items())
        self._account(report)
        accepted: list[IncomingRecord] = []
        observed = format_time(self.worker.loop.clock())
        for result in report.results:
            write = by_id.get(result.key)
            if write is None:
                continue
            if result.status == "succeeded":
                self.counts.updated += 1
                self.counts.fields_written += len(write.changes)
                accepted.append(IncomingRecord(SOURCE, self.worker.run.object, result.key, observed, write.values()))
            else:
                self._reject(
                    write, result.salesforce_id or result.key, result.error_code, result.message, result.fields
                )
        self._remember(accepted, {})

    def _send_creates(self, creates: list[tuple[PlannedWrite, str]]) -> None:
        fields = self.fields
        external = self.worker.state.settings.external_id_field
        by_key = {write.profile_id: (write, alias) for write, alias in creates}
        account = [ACCOUNT_COLUMN] if any(write.account_id for write, _ in creates) else []
        jobs = self._jobs("upsert", [external, *fields, *account], external)
        report = jobs.send(row_of(write, fields, external, key) for key, (write, _) in by_key.items())
        self._account(report)
        accepted: list[IncomingRecord] = []
        links: dict[str, list[str]] = {}
        observed = format_time(self.worker.loop.clock())
        for result in report.results:
            if result.key not in by_key:
                continue
            write, alias = by_key[result.key]
            if result.status == "succeeded" and result.salesforce_id:
                self.counts.created += 1
                self.counts.fields_written += len(write.changes)
                record = IncomingRecord(SOURCE, self.worker.run.object, result.salesforce_id, observed, write.values())
                accepted.append(record)
                links[record.key] = [alias]
            else:
                self._reject(write, result.salesforce_id, result.error_code, result.message, result.fields)
        self._remember(accepted, links)

    def _account(self, report: IngestReport) -> None:
        self.worker.run.jobs += len(report.job_ids)
        self.worker.run.csv_bytes += report.csv_bytes

    def _reject(
        self,
        write: PlannedWrite,
        salesforce_id: str | None,
        code: str | None,
        message: str | None,
        fields: Iterable[str],
    ) -> None:
        self.counts.rejected += 1
        self.refused.append(write.profile_id)
        if len(self.worker.run.rejections) < MAX_REJECTIONS:
            self.worker.run.rejections.append(
                Rejection(
                    profile_id=write.profile_id,
                    salesforce_id=salesforce_id,
                    code=code or "UNKNOWN",
                    message=message or "",
                    fields=list(fields),
                )
            )

    def _remember(self, records: list[IncomingRecord], links: dict[str, list[str]]) -> None:
        """Keep what Salesforce now holds as the records' last-seen values; link created records to profiles."""
        if records:
            resolver = self.worker.loop.sync.resolver(self.worker.run.workspace, self.worker.kind)
            resolver.upsert(records, extra_aliases=links)

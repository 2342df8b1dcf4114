"""The Salesforce import sync: scheduler, worker and continuation, over Bulk API 2.0 query jobs.

A run reads one object in windows of SystemModstamp (`>= from AND < to`, the last one open-ended), one `queryAll`
job each (so soft deletes appear) and no ORDER BY: ordering turns Salesforce's PK chunking off, and on a large
object the job then gets slow and may time out. The windows are sized from a REST count of what the run reads:
one window when that is at most `window_records` (500,000 by default), else equal time spans from the oldest
record, each next span scaled by how many records the last one held. A window's results come in pages of about
50,000 records fetched by locator (gzip-compressed), in no order, handed to identity resolution in batches of
2,000. After each batch the run's checkpoint (window, job, locator, next batch, counts, API calls) and the
object's state commit together, at the versions read: a second worker holding the same run stops at its first
commit, and a redelivered message resumes from the stored checkpoint, so nothing is counted twice or skipped. The
high-water mark moves only when a window has been read to its end, to the newest (SystemModstamp, Id) it held.
A worker near its deadline returns a continuation message.

Records sharing one SystemModstamp always fall in one window (the bounds are stamps), so a window edge never
splits them. Incremental runs read from `mark - overlap` (10 minutes by default), which also catches records
committed late with an earlier stamp, and skip the records whose (Id, SystemModstamp) was already committed
(`ObjectState.recent`, at most MAX_RECENT entries; past that a re-read record only costs an unchanged
resolution); a record edited between windows is read again at its new stamp, as the change it is. Then they list
the deleted records of the window for the ones that left the Recycle Bin.

A failing call is retried with backoff (connection errors, 5xx, REQUEST_LIMIT_EXCEEDED; an expired session logs in
again once). A failed job is created again after a backoff, unless it failed as the one before it did (a query
timeout, an invalid field): the same query would fail again, so the run fails with the reason and what to do.
What still fails raises PageFailed with the reason, and the run and object show `parked` (a redrive may help) or
`failed`.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, TypeVar

from pydantic import BaseModel
from simple_salesforce.bulk2 import Operation
from simple_salesforce.exceptions import SalesforceMalformedRequest
from tenacity import RetryCallState, Retrying

from roster.connectors.core.links import unlink
from roster.connectors.core.mapping import FieldMapping
from roster.connectors.core.runs import ImportLoop, PageFailed, RunWorker, busy, fields_added_since_full, parse_stamp
from roster.connectors.core.state import Status
from roster.connectors.salesforce import soql
from roster.connectors.salesforce.connection import Calls, Connection, error_code, error_message, explain, transient
from roster.connectors.salesforce.describe import (
    SOURCE,
    SPECS,
    ObjectMapping,
    PreviewRecord,
    SalesforceObject,
    auto_map,
    describe,
    preview,
    validate_mapping,
)
from roster.connectors.salesforce.ingest import MAX_JOB_RECORDS
from roster.connectors.salesforce.objects import BatchContext, Row, process, query_fields
from roster.connectors.salesforce.store import (
    Mode,
    ObjectState,
    RunCounts,
    SyncConfig,
    SyncRun,
    SyncStore,
    Watermark,
)
from roster.identity.resolver import Resolver
from roster.profiles.fields import Kind
from roster.profiles.values import format_time

PAGE_RECORDS = 50_000
BATCH_RECORDS = 2_000
MAX_RECENT = 4_000
MAX_PROBLEMS = 20
DELETED_WINDOW = timedelta(days=29)  # `sobjects/{O}/deleted` answers for the last 30 days only
DONE = "done"  # the checkpoint locator once every page is committed
MAX_WINDOW_GROWTH = 8  # a window's span changes at most this factor from one window to the next
#: Job failures that are Salesforce's own hiccups, retried however often they repeat (up to the loop's attempts).
TRANSIENT_JOB_FAILURES = ("UNKNOWN_EXCEPTION", "SERVER_UNAVAILABLE", "An unexpected error occurred")
ACTIVITIES = ("Task", "Event")
IMPORT_OVERHEAD = 6  # login, the count, create the query job, two status polls, the deleted-records list
WINDOW_CALLS = 3  # each further window: create its job, two status polls
EXPORT_CALLS_PER_JOB = 6
T = TypeVar("T")


class SyncMessage(BaseModel):
    """One unit of sync work on the queue: start a run, or continue it from a job's page and batch."""

    workspace: str
    object: SalesforceObject
    mode: Mode
    run_id: str
    job_id: str | None = None
    locator: str | None = None
    batch: int = 0


class ObjectStatus(BaseModel):
    """What the API shows of one object: its toggle, state, mark and latest run (never credentials)."""

    object: SalesforceObject
    enabled: bool
    status: Status
    watermark: Watermark | None
    last_full_sync: str | None
    error: str | None
    last_run: SyncRun | None


class ApiMath(BaseModel):
    """Estimated Salesforce API calls for an org of `records` records."""

    records: int
    import_calls: int  # result pages of 50,000, the fixed overhead of a run, and its windows past the first
    export_batches: int  # Bulk API 2.0 ingest jobs of up to 10,000 records (one Salesforce batch each)
    export_calls: int  # per job: create, upload, close, a poll, two result files; plus the login


def api_math(records: int) -> ApiMath:
    batches = math.ceil(records / MAX_JOB_RECORDS)
    windows = max(1, math.ceil(records / SyncConfig().window_records))
    further = (windows - 1) * WINDOW_CALLS + (1 if windows > 1 else 0)  # and the oldest record's stamp
    return ApiMath(
        records=records,
        import_calls=math.ceil(records / PAGE_RECORDS) + IMPORT_OVERHEAD + further,
        export_batches=batches,
        export_calls=batches * EXPORT_CALLS_PER_JOB + (1 if batches else 0),
    )


@dataclass
class SalesforceSync(ImportLoop[SyncRun, ObjectState, SyncMessage]):
    """The connector's operations; handlers inject the store, resolvers and a way to connect a workspace."""

    store: SyncStore
    resolver: Callable[[str, Kind], Resolver]
    connect: Callable[[str], Connection]
    page_records: int = PAGE_RECORDS
    batch_records: int = BATCH_RECORDS

    # -- configuration ------------------------------------------------------------------------------------

    def mapping(self, workspace: str, obj: SalesforceObject) -> ObjectMapping:
        """The saved mapping, or the automatic one from the object's describe (one API call)."""
        saved = self.store.mapping(workspace, obj)
        if saved is not None:
            return saved
        return auto_map(obj, describe(self.connect(workspace).sf, obj))

    def set_mapping(
        self, workspace: str, obj: SalesforceObject, fields: dict[str, str | FieldMapping]
    ) -> ObjectMapping:
        """Check a manual mapping against describe and save it; raises MappingError naming the bad field."""
        mapping = validate_mapping(obj, fields, describe(self.connect(workspace).sf, obj))
        before = self.store.mapping(workspace, obj)
        if before is None or set(mapping.fields) - set(before.fields):
            mapping.fields_added_at = format_time(self.clock())
        else:
            mapping.fields_added_at = before.fields_added_at
        self.store.put_mapping(workspace, mapping)
        return mapping

    def preview(
        self, workspace: str, obj: SalesforceObject, fields: dict[str, str | FieldMapping] | None = None
    ) -> list[PreviewRecord]:
        """Ten records as a mapping (the given one, else the current one) would store them, before saving."""
        connection = self.connect(workspace)
        if fields is None:
            mapping = self.store.mapping(workspace, obj) or auto_map(obj, describe(connection.sf, obj))
        else:
            mapping = validate_mapping(obj, fields, describe(connection.sf, obj))
        return preview(connection.sf, mapping)

    def status(self, workspace: str) -> list[ObjectStatus]:
        states = {state.object: state for state in self.store.states(workspace)}
        return [
            self.view(ObjectStatus, states.get(obj) or ObjectState(workspace=workspace, object=obj)) for obj in SPECS
        ]

    # -- runs ---------------------------------------------------------------------------------------------

    def new_run(self, run_id: str, workspace: str, obj: SalesforceObject, mode: Mode, started_at: str) -> SyncRun:
        return SyncRun(run_id=run_id, workspace=workspace, object=obj, mode=mode, started_at=started_at)

    def message(self, run: SyncRun, mode: Mode) -> SyncMessage:
        return SyncMessage(workspace=run.workspace, object=run.object, mode=mode, run_id=run.run_id)

    def blocked(self, workspace: str, obj: SalesforceObject, now: datetime) -> bool:
        """Tasks and Events share the activity roll-ups: never write them together."""
        return obj in ACTIVITIES and busy(self.store.state(workspace, "Event" if obj == "Task" else "Task"), now)

    def worker(self, run: SyncRun, state: ObjectState, message: SyncMessage, remaining: Callable[[], float]) -> _Worker:
        return _Worker(loop=self, run=run, state=state, message=message, remaining=remaining)


@dataclass(kw_only=True)
class _Worker(RunWorker[SyncRun, ObjectState, SyncMessage]):
    """One invocation's work on an import run."""

    loop: SalesforceSync
    calls: Calls | None = None
    mapping: ObjectMapping | None = None

    @property
    def obj(self) -> SalesforceObject:
        return self.run.object

    def go(self) -> SyncMessage | None:
        if self.resume_parked():
            if self.run.locator is None:  # no page read yet: a job that failed is replaced by a fresh one
                self.run.job_id, self.run.job_attempts, self.run.job_failure = None, 0, None
            self.commit(with_state=True)
        self.connection = self.loop.connect(self.run.workspace)
        self.calls = Calls(self.connection, self.loop.attempts, self.loop.wait, self.loop.sleep)
        self.mapping = self._mapping()
        if self.run.until is None and fields_added_since_full(self.mapping.fields_added_at, self.state.last_full_sync):
            self.run.mode = Mode.FULL
        if self.run.until is None:
            self._plan()
        while True:
            if self.run.job_id is None:
                self._create_job()
            if self.run.locator is None:
                if not self._wait_for_job():
                    return self._continue()
                self.run.locator = ""
            while self.run.locator != DONE:
                if self.near_deadline():
                    return self._continue()
                self._read_page()
            if not self._next_window():
                break
            if self.near_deadline():
                return self._continue()
        self._finish()
        return None

    # -- Salesforce calls ---------------------------------------------------------------------------------

    def _call(self, action: Callable[[Connection], T]) -> T:
        assert self.calls is not None
        return self.calls(action)

    def _mapping(self) -> ObjectMapping:
        saved = self.loop.store.mapping(self.run.workspace, self.obj)
        if saved is not None:
            return saved
        described = self._call(lambda connection: describe(connection.sf, self.obj))
        mapping = auto_map(self.obj, described)
        self.loop.store.put_mapping(self.run.workspace, mapping)
        return mapping

    def _since(self) -> datetime | None:
        if self.run.mode is Mode.FULL or self.state.watermark is None:
            return None
        overlap = timedelta(minutes=self.loop.store.config(self.run.workspace).overlap_minutes)
        return parse_stamp(self.state.watermark.stamp) - overlap

    def _rest_query(self, query: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call(lambda connection: connection.sf.query(query, include_deleted=True))
        return result

    def _plan(self) -> None:
        """Size the run's windows of SystemModstamp from a count of what it reads: one window when that is at
        most `window_records`, else windows of equal time spans over [oldest, now), the last one open-ended."""
        since = self._since()
        self.run.since = soql.soql_time(since) if since else None
        now = self.loop.clock()
        self.run.until = soql.soql_time(now)
        self.run.window_from, self.run.window_to, self.run.window_seconds = self.run.since, None, None
        self.run.job_id, self.run.locator, self.run.batch = None, None, 0  # a job from before windows: start over
        target = self.loop.store.config(self.run.workspace).window_records
        total = int(self._rest_query(soql.count(self.obj, self.run.since))["totalSize"])
        if total > target:
            oldest = since
            if oldest is None:
                records = self._rest_query(soql.oldest(self.obj))["records"]
                oldest = parse_stamp(records[0]["SystemModstamp"]) if records else now
            span = (now - oldest).total_seconds() / math.ceil(total / target)
            self.run.window_seconds = max(1, math.ceil(span))
            self.run.window_to = self._edge(oldest, self.run.window_seconds)
        self.commit()

    def _edge(self, start: datetime, seconds: int) -> str | None:
        """The end of a window of `seconds` from `start`; None (open-ended) once it reaches the planned end."""
        assert self.run.until is not None
        end = soql.soql_time(start + timedelta(seconds=seconds))
        return None if end >= self.run.until else end

    def _next_window(self) -> bool:
        """Close the window that was read: the mark moves to its newest record. Then start the next window, its
        span scaled by how many records the last one held; False when the last window is done."""
        self._advance_mark()
        end, seconds = self.run.window_to, self.run.window_seconds
        if end is None or seconds is None:
            return False
        target = self.loop.store.config(self.run.workspace).window_records
        scale = target / self.run.window_read if self.run.window_read else MAX_WINDOW_GROWTH
        seconds = max(1, math.ceil(seconds * min(max(scale, 1 / MAX_WINDOW_GROWTH), MAX_WINDOW_GROWTH)))
        self.run.window_from, self.run.window_to = end, self._edge(parse_stamp(end), seconds)
        self.run.window_seconds, self.run.window_read, self.run.window_newest = seconds, 0, None
        self.run.job_id, self.run.locator, self.run.batch = None, None, 0
        self.run.job_attempts, self.run.job_failure = 0, None
        self.commit(with_state=True)
        return True

    def _create_job(self) -> None:
        assert self.mapping is not None
        query = soql.window(self.obj, query_fields(self.mapping), self.run.window_from, self.run.window_to)
        job = self._call(lambda connection: connection.bulk(self.obj).create_job(Operation.query_all, query))
        self.run.job_id, self.run.locator, self.run.batch = str(job["id"]), None, 0
        self.commit()

    def _wait_for_job(self) -> bool:
        """True once the job completed; False if the deadline came first. A failed job is created again after a
        backoff, unless it failed as the one before did (the same query will fail again: _JobRefused)."""
        while True:
            job_id = self.run.job_id
            assert job_id is not None
            info: dict[str, Any] = self._call(partial(_job_info, self.obj, job_id))
            if info["state"] == "JobComplete":
                return True
            if info["state"] in ("Failed", "Aborted"):
                message = str(info.get("errorMessage") or info["state"])
                failure = _failure(message)
                repeated = failure == self.run.job_failure and not _transient_job_failure(message)
                self.run.job_attempts += 1
                self.run.job_failure = failure
                if repeated:
                    raise _JobRefused(self._refusal(message))
                reason = f"Bulk query job {job_id} {info['state']}: {message}"
                if self.run.job_attempts >= self.loop.attempts:
                    raise _JobFailed(reason)
                self.run.problems = [*self.run.problems, reason][:MAX_PROBLEMS]
                self.loop.sleep(self._backoff())
                self._create_job()
                continue
            if self.near_deadline():
                return False
            self.loop.sleep(self.loop.poll_seconds)

    def _backoff(self) -> float:
        """The wait before creating a failed job again (the loop's retry wait, by jobs failed so far)."""
        state = RetryCallState(Retrying(), None, (), {})
        state.attempt_number = self.run.job_attempts
        return float(self.loop.wait(state))

    def _refusal(self, message: str) -> str:
        bounds = f"SystemModstamp from {self.run.window_from or 'the first record'} to {self.run.window_to or 'now'}"
        if "QUERY_TIMEOUT" in message:
            target = self.loop.store.config(self.run.workspace).window_records
            advice = (
                f"lower window_records (now {target:,}) in the sync settings so each query reads fewer records, "
                "then sync again"
            )
        else:
            advice = "check the object's mapped fields and the integration user's access, then sync again"
        return (
            f"Salesforce failed the Bulk query of {self.obj} ({bounds}) twice for the same reason: {message}. "
            f"Roster stopped instead of running it again: {advice}."
        )

    def _read_page(self) -> None:
        """Fetch the checkpoint's page and commit its batches from the checkpoint's batch on."""
        job_id, locator = self.run.job_id, self.run.locator
        assert job_id is not None and locator is not None
        page = self._call(
            lambda connection: connection.bulk(self.obj).get_query_results(job_id, locator, self.loop.page_records)
        )
        following = page["locator"] or DONE
        batches = _batches(page.get("records", ""), self.loop.batch_records)
        total = math.ceil(page["number_of_records"] / self.loop.batch_records)
        if total == 0:
            self.run.locator, self.run.batch = following, 0
            self.commit(with_state=True)
            return
        for index, batch in enumerate(batches):
            if index < self.run.batch:
                continue  # committed before this message was (re)delivered
            if index > self.run.batch and self.near_deadline():
                return
            self._commit_batch(batch, following if index == total - 1 else None)

    def _commit_batch(self, rows: list[Row], following: str | None) -> None:
        """Resolve a batch (skipping what an earlier run committed at the same SystemModstamp) and commit it with
        the checkpoint; the records join `recent`, the mark moves only when the window is done."""
        assert self.mapping is not None
        incremental = self.run.mode is Mode.INCREMENTAL
        fresh = [row for row in rows if not (incremental and self.state.recent.get(row["Id"]) == row["SystemModstamp"])]
        context = BatchContext(
            self.run.workspace, self.mapping, lambda kind: self.loop.resolver(self.run.workspace, kind)
        )
        counts, problems = process(context, fresh) if fresh else (RunCounts(), [])
        counts.read, counts.skipped = len(rows), counts.skipped + len(rows) - len(fresh)
        newest = self.run.window_newest
        for row in rows:
            if newest is None or (row["SystemModstamp"], row["Id"]) > (newest.stamp, newest.id):
                newest = Watermark(stamp=row["SystemModstamp"], id=row["Id"])
        self.run.window_newest, self.run.window_read = newest, self.run.window_read + len(rows)
        self._remember(rows)
        self.run.counts = self.run.counts.add(counts)
        self.run.problems = [*self.run.problems, *problems][:MAX_PROBLEMS]
        if following is None:
            self.run.batch += 1
        else:
            self.run.locator, self.run.batch = following, 0
        self.commit(with_state=True)

    def _remember(self, rows: list[Row]) -> None:
        """Keep (Id, SystemModstamp) of committed records within the overlap below the mark (the newest ones,
        at most MAX_RECENT), so the next incremental run skips its re-reads."""
        recent = dict(self.state.recent)
        recent.update((row["Id"], row["SystemModstamp"]) for row in rows)
        mark = self.state.watermark
        floor = ""
        if mark is not None:
            overlap = timedelta(minutes=self.loop.store.config(self.run.workspace).overlap_minutes)
            floor = soql.soql_time(parse_stamp(mark.stamp) - overlap)
        kept = sorted(((stamp, key) for key, stamp in recent.items() if stamp >= floor), reverse=True)
        self.state.recent = {key: stamp for stamp, key in kept[:MAX_RECENT]}

    def _advance_mark(self) -> None:
        """A window was read to its end: the mark moves to the newest (SystemModstamp, Id) it held."""
        newest, mark = self.run.window_newest, self.state.watermark
        if newest is not None and (mark is None or (newest.stamp, newest.id) > (mark.stamp, mark.id)):
            self.state.watermark = newest
            self._remember([])

    def _finish(self) -> None:
        """Unlink what left the Recycle Bin during the window (incremental), then close the run."""
        if self.run.mode is Mode.INCREMENTAL and SPECS[self.obj].kind is not None and self.run.since:
            kind = SPECS[self.obj].kind
            assert kind is not None
            resolver = self.loop.resolver(self.run.workspace, kind)
            for record_id in self._deleted(parse_stamp(self.run.since)):
                self.run.counts.deleted += unlink(resolver, SOURCE, self.obj, record_id)
        self.run.status, self.run.finished_at = Status.SUCCEEDED, format_time(self.loop.clock())
        self.state.status, self.state.error = Status.IDLE, None
        if self.run.mode is Mode.FULL:
            self.state.last_full_sync = self.run.started_at
        self.commit(with_state=True)

    def _deleted(self, since: datetime) -> list[str]:
        """Ids Salesforce lists as deleted since `since`. Its list reaches back 30 days only (older starts fail with
        INVALID_REPLICATION_DATE, as they do once an admin empties the Recycle Bin): deletions it can no longer list
        are named in the run's problems, not guessed at."""
        end = self.loop.clock() + timedelta(minutes=1)
        start = max(since, end - DELETED_WINDOW)
        if since < start:
            self._problem(
                f"deleted records: Salesforce lists deletions for the last 30 days only and this sync reads changes "
                f"since {format_time(since)}; records deleted before {format_time(start)} that already left the "
                "Recycle Bin were not seen and keep their Salesforce link in Roster"
            )
        try:
            listed = self._call(lambda connection: getattr(connection.sf, self.obj).deleted(start, end))
        except SalesforceMalformedRequest as error:
            if error_code(error) != "INVALID_REPLICATION_DATE":
                raise
            self._problem(f"deleted records: Salesforce would not list them ({error_message(error)})")
            return []
        return [str(record["id"]) for record in listed.get("deletedRecords", [])]

    def _problem(self, problem: str) -> None:
        self.run.problems = [*self.run.problems, problem][:MAX_PROBLEMS]

    # -- checkpoints --------------------------------------------------------------------------------------

    def _continue(self) -> SyncMessage:
        self.commit(with_state=True)
        return self.message.model_copy(
            update={"job_id": self.run.job_id, "locator": self.run.locator, "batch": self.run.batch}
        )

    def stop(self, error: Exception) -> PageFailed[SyncMessage]:
        """Record why the run stopped (parked when retrying later may help): the PageFailed to raise."""
        if isinstance(error, _JobRefused):
            code, reason, parked = "bulk_query_refused", str(error), False
        elif isinstance(error, _JobFailed):
            code, reason, parked = "bulk_job_failed", str(error), True
        else:
            code, reason = explain(error)
            parked = transient(error)
        self.halt(code, reason, parked)
        position = self.message.model_copy(
            update={"job_id": self.run.job_id, "locator": self.run.locator, "batch": self.run.batch}
        )
        return PageFailed(position, code, reason, parked)


def _job_info(obj: str, job_id: str, connection: Connection) -> dict[str, Any]:
    info: dict[str, Any] = connection.bulk(obj).get_job(job_id, True)
    return info


def _failure(message: str) -> str:
    """What makes two job failures the same: their message without the ids and numbers that vary each time."""
    return re.sub(r"[-\d]+", "#", message).strip()


def _transient_job_failure(message: str) -> bool:
    """Salesforce's own hiccups (an internal error, an unavailable server): worth retrying even when repeated."""
    return any(code in message for code in TRANSIENT_JOB_FAILURES)


class _JobFailed(Exception):
    """A Bulk query job kept failing on Salesforce's side (retrying later may help)."""


class _JobRefused(Exception):
    """A Bulk query job failed twice for the same reason: the same query would fail again."""


def _batches(text: str, size: int) -> Iterator[list[Row]]:
    """The rows of a CSV results page, `size` at a time, parsed lazily (a page is read once, batch by batch)."""
    reader = csv.DictReader(io.StringIO(text))
    while batch := list(itertools.islice(reader, size)):
        yield list[Row](batch)

"""Warehouse imports on the connector core's run loop: a source's query streamed in pages to identity resolution.

A source with a timestamp field runs incrementally: rows whose cursor is at or past the mark less the lookback,
compared in SQL (see sql.py), in (cursor, identifier) order; a row whose (identifier, cursor) an earlier run
committed is skipped (`SourceState.recent`, the newest MAX_RECENT). Its first run, and every run of a source
without one, is full: every row in identifier order, each row's mapped values hashed and compared with the last
full run's snapshot as both stream (a merge of two sorted sequences: the result, and the snapshot's parts on S3
read one at a time), so only new and changed rows are resolved and memory stays flat whatever the size. Snapshot
identifiers the result passes by left it: they are written to S3 as they are found, and once the result is read
their source links are dropped (`unlink`), one commit each, unless the result is empty or more than
`shrink_limit` smaller than the last one: then nothing is removed, the state says why, and a full run started
with `confirm_removals` removes them.

The identifier must be unique and non-null: SQL counts each identifier's rows, and rows with an empty or repeated
identifier are rejected with the reason (never merged). Results stream from a server-side cursor (`yield_per`),
`batch_rows` at a time; after each page the run's checkpoint (the last identifier, and cursor) and the source's
state commit together, so a redelivered message resumes after the last committed row and a worker near its
deadline hands over to a continuation. Nothing is counted twice: a second worker holding the run stops at its
first commit (Stale).
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from ulid import ULID

from roster.connectors.core.links import unlink
from roster.connectors.core.runs import RunLoop, RunWorker, busy, parse_stamp
from roster.connectors.core.state import Mode, Status
from roster.connectors.warehouse.connection import ConnectFailed, Credentials, engine_for, read_only, reason
from roster.connectors.warehouse.sql import COPIES, CURSOR, IDENT, Dialect, ImportQuery, as_text
from roster.connectors.warehouse.store import RunCounts, SourceState, WarehouseRun, WarehouseSource, WarehouseStore
from roster.identity.records import to_incoming
from roster.identity.resolver import Resolver
from roster.profiles.fields import Kind
from roster.profiles.model import IncomingRecord
from roster.profiles.values import ValueProblem, format_time

BATCH_ROWS = 1_000
MAX_RECENT = 4_000
MAX_PROBLEMS = 20
SCHEDULE_GRACE = timedelta(minutes=1)


class WarehouseMessage(BaseModel):
    """One unit of import work on the queue: a run of a source (its checkpoint is in the run)."""

    workspace: str
    object: str  # the source's name
    run_id: str
    dialect: Dialect  # which worker's layer reads it


class ImportStopped(Exception):
    """A run stopped on a failure; the handler lets its message go to the DLQ when `parked`."""

    def __init__(self, message: WarehouseMessage, code: str, reason: str, parked: bool) -> None:
        super().__init__(f"{message.workspace} {message.object} run {message.run_id}: {code}: {reason}")
        self.message, self.code, self.reason, self.parked = message, code, reason, parked


class ImportRefused(Exception):
    """An import that cannot start (no such source, or it is off)."""


class _SourceGone(Exception):
    """The source was deleted while its run was queued."""


@dataclass
class Snapshots:
    """A full run's result as identifier → hash, on S3 in parts of one page each, sorted by identifier: the parts
    the run writes as it reads, and the identifiers that left the result (`gone`) for the removals to follow."""

    s3: Any
    bucket: str

    @staticmethod
    def prefix(workspace: str, source: str, run_id: str | None = None) -> str:
        return f"warehouse/{workspace}/{source}/" + (f"{run_id}/" if run_id else "")

    def key(self, workspace: str, source: str, run_id: str, what: str, part: int) -> str:
        return f"{self.prefix(workspace, source, run_id)}{what}-{part:07d}.json.gz"

    def put(self, key: str, entries: Sequence[Sequence[str]]) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=gzip.compress(json.dumps(entries).encode()))

    def get(self, key: str) -> list[list[str]]:
        body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        loaded: list[list[str]] = json.loads(gzip.decompress(body))
        return loaded

    def runs(self, workspace: str, source: str) -> list[str]:
        """The runs that stored anything for the source (their parts' folders)."""
        found = []
        paginator = self.s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix(workspace, source), Delimiter="/"):
            found += [entry["Prefix"].rstrip("/").rpartition("/")[2] for entry in page.get("CommonPrefixes", [])]
        return found

    def delete(self, prefix: str) -> None:
        """Every object under `prefix`, a listing page (≤ 1,000 keys) at a time."""
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            objects = [{"Key": entry["Key"]} for entry in page.get("Contents", [])]
            if objects:
                self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": objects})


@dataclass
class _Parts:
    """Reads a run's parts in order from a position (part, index), one part in memory at a time."""

    snapshots: Snapshots
    keys: Callable[[int], str]
    parts: int
    part: int = 0
    index: int = 0
    _loaded: int = -1
    _entries: list[list[str]] | None = None

    def peek(self) -> list[str] | None:
        while self.part < self.parts:
            if self._loaded != self.part:
                self._entries, self._loaded = self.snapshots.get(self.keys(self.part)), self.part
            assert self._entries is not None
            if self.index < len(self._entries):
                return self._entries[self.index]
            self.part, self.index = self.part + 1, 0
        return None

    def advance(self) -> None:
        self.index += 1


class OrderMismatch(Exception):
    """The warehouse ordered identifiers otherwise than byte by byte, so the result cannot be diffed in one pass."""


@dataclass(frozen=True)
class DueImport:
    workspace: str
    source: str
    mode: Mode


def due_imports(store: WarehouseStore, now: datetime) -> list[DueImport]:
    """What the scheduler starts now: incremental sources every `incremental_minutes` and fully every `full_days`
    (first of all too, so deletions are seen), the others fully every `full_hours`."""
    due: list[DueImport] = []
    for workspace, name in sorted(store.enabled()):
        source, state = store.source(workspace, name), store.state(workspace, name)
        if source is None or not source.enabled or busy(state, now):
            continue
        started = parse_stamp(state.last_started) if state.last_started else None
        last_full = parse_stamp(state.last_full) if state.last_full else None
        if last_full is None:
            due.append(DueImport(workspace, name, Mode.FULL))
        elif source.cursor and state.mark is not None:
            if now - last_full >= timedelta(days=source.full_days) - SCHEDULE_GRACE:
                due.append(DueImport(workspace, name, Mode.FULL))
            elif started is None or now - started >= timedelta(minutes=source.incremental_minutes) - SCHEDULE_GRACE:
                due.append(DueImport(workspace, name, Mode.INCREMENTAL))
        elif started is None or now - started >= timedelta(hours=source.full_hours) - SCHEDULE_GRACE:
            due.append(DueImport(workspace, name, Mode.FULL))
    return due


def values_hash(values: dict[str, Any]) -> str:
    """A short digest of a row's mapped values (what the snapshot compares)."""
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass
class WarehouseImport(RunLoop[WarehouseRun, SourceState, WarehouseMessage]):
    """The connector's runs; handlers inject the store, resolvers, each source's credentials and the snapshots."""

    store: WarehouseStore
    resolver: Callable[[str, Kind], Resolver]
    credentials: Callable[[str, str], Credentials]
    snapshots: Snapshots
    batch_rows: int = BATCH_ROWS

    def start(
        self, workspace: str, name: str, mode: Mode | None = None, confirm_removals: bool = False
    ) -> WarehouseMessage | None:
        """Begin a run and return the message to queue, or None when one is running already. A source with a
        timestamp field runs incrementally once a full run has set its mark; every other run is full."""
        source = self.store.source(workspace, name)
        if source is None:
            raise ImportRefused(f"no warehouse source {name!r} in this workspace")
        if not source.enabled:
            raise ImportRefused(f"warehouse source {name!r} is turned off")
        state, now = self.store.state(workspace, name), self.clock()
        if busy(state, now):
            return None
        if mode is None:
            mode = Mode.INCREMENTAL if source.cursor else Mode.FULL
        if not source.cursor or state.mark is None or confirm_removals:
            mode = Mode.FULL
        run = WarehouseRun(
            run_id=str(ULID()),
            workspace=workspace,
            object=name,
            mode=mode,
            started_at=format_time(now),
            since=state.mark if mode is Mode.INCREMENTAL else None,
            confirm_removals=confirm_removals,
        )
        if not self.begin(run, state):
            return None
        return WarehouseMessage(workspace=workspace, object=name, run_id=run.run_id, dialect=source.dialect)

    def delete(self, workspace: str, name: str) -> bool:
        """Forget a source: its schedule, settings, state, history and snapshots (False: no such source). The
        source links its imports put on profiles stay, as every value a source gave does (DESIGN.md, invariant 4)."""
        if self.store.source(workspace, name) is None:
            return False
        self.store.delete_source(workspace, name)
        self.snapshots.delete(self.snapshots.prefix(workspace, name))
        return True

    def worker(
        self, run: WarehouseRun, state: SourceState, message: WarehouseMessage, remaining: Callable[[], float]
    ) -> _Worker:
        return _Worker(loop=self, run=run, state=state, message=message, remaining=remaining)


@dataclass(kw_only=True)
class _Worker(RunWorker[WarehouseRun, SourceState, WarehouseMessage]):
    loop: WarehouseImport
    source: WarehouseSource | None = None
    previous: _Parts | None = None  # full runs: the last full run's snapshot, from the run's position in it
    gone: list[str] = field(default_factory=list)  # identifiers that left the result, not yet written
    committed: WarehouseRun | None = None  # the run as last committed (a failure records its status on it)

    def commit(self, *, with_state: bool = False) -> None:
        super().commit(with_state=with_state)
        self.committed = self.run.model_copy(deep=True)

    def go(self) -> WarehouseMessage | None:
        """Read the result (a full run diffs it against the previous snapshot as it goes), then a full run's
        removals; each phase checkpoints, so a continuation picks up where the last commit left off."""
        self.committed = self.run.model_copy(deep=True)
        if self.resume_parked():
            self.commit(with_state=True)
        source = self.loop.store.source(self.run.workspace, self.run.object)
        if source is None:
            raise _SourceGone(f"warehouse source {self.run.object!r} was deleted")
        self.source = source
        full = self.run.mode is Mode.FULL
        if full and self.state.snapshot_run is not None:
            snapshot, snapshots = self.state.snapshot_run, self.loop.snapshots
            self.previous = _Parts(
                snapshots,
                lambda part: snapshots.key(self.run.workspace, self.run.object, snapshot, "part", part),
                self.state.snapshot_parts,
                self.run.previous_part,
                self.run.previous_index,
            )
        if not self.run.read_done and self._read(source):
            return self.message
        if full and not self.run.removing and self._rest_of_previous():
            return self.message
        if full and not self._may_remove(source):
            return None
        if full and self._remove(source):
            return self.message
        self._finish()
        return None

    def _read(self, source: WarehouseSource) -> bool:
        """Stream the result page by page; True when the worker must hand over (the run is committed)."""
        query = ImportQuery(
            source.query, tuple(source.columns), source.identifier, source.dialect, source.cursor, source.cursor_type
        )
        engine = engine_for(self.loop.credentials(self.run.workspace, source.source))
        with read_only(engine) as connection:
            if self.run.mode is Mode.FULL and source.cursor and self.run.newest is None and self.run.after_id is None:
                self._note_newest(connection, query)
            if self.run.mode is Mode.FULL:
                statement = query.full(self.run.after_id)
            else:
                after = self.run.after_cursor
                resume = (after, self.run.after_id or "") if after is not None else None
                statement = query.incremental(self.run.since, source.lookback_minutes * 60, resume)
            result = connection.execution_options(stream_results=True, yield_per=self.loop.batch_rows).execute(
                statement
            )
            for page in result.partitions(self.loop.batch_rows):
                self._commit_page([dict(row._mapping) for row in page])
                if self.near_deadline():
                    result.close()
                    return True
        self.run.read_done = True
        self._save()
        return False

    def _note_newest(self, connection: sa.Connection, query: ImportQuery) -> None:
        """A full run of a timestamp source: the newest cursor now, as the warehouse writes it (the next mark)."""
        assert query.cursor is not None and query.cursor_type is not None
        q = sa.text(query.query).columns(*[sa.column(name) for name in query.columns]).subquery("q")
        newest = as_text(sa.func.max(q.c[query.cursor]), query.dialect, query.cursor_type)
        self.run.newest = connection.execute(sa.select(newest)).scalar()
        self.commit()

    def _previous_hash(self, ident: str) -> str | None:
        """Step the previous snapshot up to `ident`: what it passes left the result; its hash for `ident`."""
        if self.previous is None:
            return None
        found = None
        while (entry := self.previous.peek()) is not None and entry[0] <= ident:
            if entry[0] == ident:
                found = entry[1]
            else:
                self._note_gone(entry[0])
            self.previous.advance()
        return found

    def _note_gone(self, ident: str) -> None:
        self.gone.append(ident)
        self.run.gone += 1
        if len(self.gone) >= self.loop.batch_rows:
            self._write_gone()

    def _write_gone(self) -> None:
        """Write the identifiers found gone as the next part (a retried page rewrites the same part)."""
        if self.gone:
            key = self.loop.snapshots.key(
                self.run.workspace, self.run.object, self.run.run_id, "gone", self.run.gone_parts
            )
            self.loop.snapshots.put(key, [[ident] for ident in self.gone])
            self.run.gone_parts += 1
            self.gone = []

    def _save(self) -> None:
        """Commit the checkpoint: what was found gone is written first, and the position in the previous snapshot
        goes with the run."""
        self._write_gone()
        if self.previous is not None:
            self.run.previous_part, self.run.previous_index = self.previous.part, self.previous.index
        self.commit(with_state=True)

    def _commit_page(self, rows: list[dict[str, Any]]) -> None:
        """Check, diff and resolve one page, then commit it with the checkpoint."""
        source = self.source
        assert source is not None
        full = self.run.mode is Mode.FULL
        counts, problems = RunCounts(read=len(rows)), list[str]()
        entries: list[list[str]] = []  # the page's part of the new snapshot, in identifier order
        records: list[IncomingRecord] = []
        for row in rows:
            ident, cursor = row[IDENT], row.get(CURSOR)
            where = f"row {ident!r}" + (f" (cursor {cursor})" if cursor is not None else "")
            if row[source.identifier] is None or not str(ident).strip():
                counts.rejected += 1
                problems.append(
                    f"a row{f' with cursor {cursor}' if cursor else ''}: the identifier column "
                    f"{source.identifier!r} is empty"
                )
                continue
            if full:
                if self.run.last_kept is not None and ident < self.run.last_kept:
                    raise OrderMismatch(
                        f"the warehouse returned identifier {ident!r} after {self.run.last_kept!r}: full runs need "
                        "identifiers ordered byte by byte (a collation that orders otherwise, e.g. case-insensitive, "
                        "cannot be diffed); nothing was removed"
                    )
                old = self._previous_hash(ident)
                repeat = ident == self.run.last_kept
                self.run.last_kept = ident
            if row[COPIES] > 1:
                counts.rejected += 1
                if full and not repeat:  # not removed, and resolved again once the duplicates are gone
                    entries.append([ident, "duplicate"])
                problems.append(
                    f"{where}: identifier {source.identifier!r} appears {row[COPIES]} times in the "
                    "result; each row needs its own identifier (rows were not merged)"
                )
                continue
            values = {field: row[column] for column, field in source.mapping.items() if field and column in row}
            values[source.identifier_field] = row[source.identifier]
            digest = values_hash(values)
            if full:
                entries.append([ident, digest])
                if old == digest:
                    counts.skipped += 1  # unchanged since the last full run
                    continue
            elif self.state.recent.get(ident) == cursor:
                counts.skipped += 1  # a lookback re-read of a row an earlier run committed
                continue
            observed = row[source.cursor] if source.cursor else None
            try:
                records.append(
                    to_incoming(
                        source.kind,
                        source.source,
                        str(source.kind),
                        {name: _plain(value) for name, value in values.items()},
                        record_id=str(ident),
                        observed_at=format_time(observed) if isinstance(observed, datetime) else self.run.started_at,
                    )
                )
            except ValueProblem as problem:
                counts.rejected += 1
                problems.append(f"{where}: {problem.field}: {problem.reason}")
        if records:
            for record, resolution in zip(
                records, self.loop.resolver(self.run.workspace, source.kind).upsert(records), strict=True
            ):
                if resolution.problem is not None:
                    counts.rejected += 1
                    problems.append(f"row {record.record_id!r}: {resolution.problem}")
                else:
                    setattr(counts, str(resolution.outcome), getattr(counts, str(resolution.outcome)) + 1)
        if full:
            if entries:
                key = self.loop.snapshots.key(
                    self.run.workspace, self.run.object, self.run.run_id, "part", self.run.parts
                )
                self.loop.snapshots.put(key, entries)
                self.run.parts += 1
                self.run.kept += len(entries)
        else:
            self._remember(rows)
        if rows and rows[-1][IDENT] is not None:
            self.run.after_id, self.run.after_cursor = rows[-1][IDENT], rows[-1].get(CURSOR)
        self.run.counts = self.run.counts.add(counts)
        self.run.problems = [*self.run.problems, *problems][:MAX_PROBLEMS]
        self._save()

    def _remember(self, rows: list[dict[str, Any]]) -> None:
        """The newest (identifier, cursor) pairs committed, and the mark: rows come in cursor order, so the last
        one's cursor is the newest read (ties ordered by identifier)."""
        recent = dict(self.state.recent)
        for row in rows:
            if row.get(CURSOR) is not None:
                recent.pop(row[IDENT], None)
                recent[row[IDENT]] = row[CURSOR]
        self.state.recent = dict(list(recent.items())[-MAX_RECENT:])
        if rows and rows[-1].get(CURSOR) is not None:
            self.state.mark = rows[-1][CURSOR]

    def _rest_of_previous(self) -> bool:
        """What the previous snapshot holds past the result's last identifier left the result; True to hand over."""
        while self.previous is not None and (entry := self.previous.peek()) is not None:
            self.previous.advance()
            self._note_gone(entry[0])
            if not self.gone:  # a part was written: a checkpoint
                self._save()
                if self.near_deadline():
                    return True
        self.run.removing = True
        self._save()
        return False

    def _may_remove(self, source: WarehouseSource) -> bool:
        """The shrink guard: False (and the run is finished, nothing removed) when the result is empty or shrank
        past `shrink_limit` and the user has not confirmed removals."""
        before, now, gone = self.state.snapshot_rows or 0, self.run.kept, self.run.gone
        shrunk = self.state.snapshot_run is not None and (now == 0 or now < before * (1 - source.shrink_limit))
        if not (gone and shrunk and not self.run.confirm_removals):
            return True
        why = (
            f"the result has {now} rows where the last full run had {before}: Roster did not remove the "
            f"{gone} missing rows. If they are really gone, start a full run with confirm_removals"
        )
        self.state.awaiting_confirmation = why
        self.run.error_code, self.run.error = "removals_need_confirmation", why
        self.loop.snapshots.delete(self.loop.snapshots.prefix(self.run.workspace, self.run.object, self.run.run_id))
        self._finish(keep_snapshot=True)
        return False

    def _remove(self, source: WarehouseSource) -> bool:
        """Drop the source link of every identifier that left the result, committing after each one, so a
        continuation neither skips nor repeats one; True to hand over."""
        snapshots, run_id = self.loop.snapshots, self.run.run_id
        gone = _Parts(
            snapshots,
            lambda part: snapshots.key(self.run.workspace, self.run.object, run_id, "gone", part),
            self.run.gone_parts,
            self.run.removed_part,
            self.run.removed_index,
        )
        resolver = self.loop.resolver(self.run.workspace, source.kind)
        while (entry := gone.peek()) is not None:
            self.run.counts.removed += unlink(resolver, source.source, str(source.kind), entry[0])
            gone.advance()
            self.run.removed_part, self.run.removed_index = gone.part, gone.index
            self.commit(with_state=True)
            if self.near_deadline():
                return True
        return False

    def _finish(self, keep_snapshot: bool = False) -> None:
        """End the run; a full run's result becomes the snapshot the next one diffs against (unless the shrink
        guard kept the old one), and after the commit what the old one, the removals and earlier runs that will
        never resume (failed, or kept by the shrink guard) stored is deleted."""
        stale: list[str] = []
        if self.run.mode is Mode.FULL:  # refused or not, the next periodic full run is a period away
            self.state.last_full = self.run.started_at
        if self.run.mode is Mode.FULL and not keep_snapshot:
            snapshots, workspace, name = self.loop.snapshots, self.run.workspace, self.run.object
            for run_id in set(snapshots.runs(workspace, name)) - {self.run.run_id}:
                earlier = self.loop.store.run(workspace, name, run_id)
                if earlier is None or earlier.status in (Status.FAILED, Status.SUCCEEDED):  # parked ones resume
                    stale.append(snapshots.prefix(workspace, name, run_id))
            stale.append(f"{snapshots.prefix(workspace, name, self.run.run_id)}gone-")
            self.state.snapshot_run, self.state.snapshot_parts = self.run.run_id, self.run.parts
            self.state.snapshot_rows = self.run.kept
            self.state.awaiting_confirmation = None
            if self.run.newest is not None:
                self.state.mark = self.run.newest
        self.run.status, self.run.finished_at = Status.SUCCEEDED, format_time(self.clock())
        self.state.status, self.state.error = Status.IDLE, None
        self.commit(with_state=True)
        for prefix in stale:
            self.loop.snapshots.delete(prefix)

    def stop(self, error: Exception) -> ImportStopped:
        """Record why the run stopped: a warehouse that could not be reached may answer later (parked); a query
        it refuses, or a source deleted meanwhile, will not (failed)."""
        if isinstance(error, ConnectFailed):
            code, why, parked = "connect_failed", str(error), True
        elif isinstance(error, OperationalError):  # the connection dropped or timed out mid-read: later may work
            code, why, parked = "read_failed", f"the warehouse stopped answering: {reason(error)}", True
        elif isinstance(error, SQLAlchemyError):
            code, why, parked = "query_failed", f"the warehouse refused the import's query: {reason(error)}", False
        elif isinstance(error, OrderMismatch):
            code, why, parked = "order_mismatch", str(error), False
        elif isinstance(error, _SourceGone):
            code, why, parked = "source_deleted", str(error), False
        else:
            code, why, parked = "import_failed", f"{type(error).__name__}: {error}", True
        if self.committed is not None:  # what the failed page had counted is not kept: it is read again
            self.run = self.committed
        self.halt(code, why, parked)
        return ImportStopped(self.message, code, why, parked)


def _plain(value: Any) -> Any:
    """A warehouse value as a profile field takes it (times as ISO text, decimals and other types as text)."""
    if value is None or isinstance(value, bool | int | float | str | list | dict):
        return value
    if isinstance(value, datetime):
        return format_time(value if value.tzinfo else value.replace(tzinfo=UTC))
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)

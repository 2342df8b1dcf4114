"""Warehouse imports on the connector core's run loop: a source's query streamed in pages to identity resolution.

A source with a timestamp field runs incrementally: rows whose cursor is at or past the mark less the lookback,
compared in SQL (see sql.py), in (cursor, identifier) order; a row whose (identifier, cursor) an earlier run
committed is skipped (`SourceState.recent`, the newest MAX_RECENT). Its first run, and every run of a source
without one, is full: every row in identifier order, each row's mapped values hashed and compared with the last
full run's snapshot (identifier → hash, on S3), so only new and changed rows are resolved; identifiers missing from
the result drop their source link (`unlink`), unless the result is empty or more than `shrink_limit` smaller than
the last one: then nothing is removed, the state says why, and a full run started with `confirm_removals` removes
them.

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
from dataclasses import dataclass
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
    """Full results as identifier → hash, gzip JSON on S3: the parts a run writes page by page, then one file."""

    s3: Any
    bucket: str

    def part_key(self, run: WarehouseRun, part: int) -> str:
        return f"warehouse/{run.workspace}/{run.object}/{run.run_id}/part-{part:07d}.json.gz"

    def put(self, key: str, hashes: dict[str, str]) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=gzip.compress(json.dumps(hashes).encode()))

    def get(self, key: str | None) -> dict[str, str]:
        if key is None:
            return {}
        body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        loaded: dict[str, str] = json.loads(gzip.decompress(body))
        return loaded

    def delete(self, keys: Sequence[str]) -> None:
        for start in range(0, len(keys), 1000):
            objects = [{"Key": key} for key in keys[start : start + 1000]]
            self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": objects})


@dataclass(frozen=True)
class DueImport:
    workspace: str
    source: str
    mode: Mode


def due_imports(store: WarehouseStore, now: datetime) -> list[DueImport]:
    """What the scheduler starts now: incremental sources every `incremental_minutes` (full first), the others
    fully every `full_hours`."""
    due: list[DueImport] = []
    for workspace, name in sorted(store.enabled()):
        source, state = store.source(workspace, name), store.state(workspace, name)
        if source is None or not source.enabled or busy(state, now):
            continue
        started = parse_stamp(state.last_started) if state.last_started else None
        if source.cursor and state.mark is not None and state.last_full:
            every, mode = timedelta(minutes=source.incremental_minutes), Mode.INCREMENTAL
        else:
            every, mode = timedelta(hours=source.full_hours), Mode.FULL
        if started is None or now - started >= every - SCHEDULE_GRACE or (mode is Mode.FULL and not state.last_full):
            due.append(DueImport(workspace, name, mode))
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

    def worker(
        self, run: WarehouseRun, state: SourceState, message: WarehouseMessage, remaining: Callable[[], float]
    ) -> _Worker:
        return _Worker(loop=self, run=run, state=state, message=message, remaining=remaining)


@dataclass(kw_only=True)
class _Worker(RunWorker[WarehouseRun, SourceState, WarehouseMessage]):
    loop: WarehouseImport
    source: WarehouseSource | None = None

    def go(self) -> WarehouseMessage | None:
        if self.resume_parked():
            self.commit(with_state=True)
        source = self.loop.store.source(self.run.workspace, self.run.object)
        if source is None:
            raise _SourceGone(f"warehouse source {self.run.object!r} was deleted")
        self.source = source
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
            old = self.loop.snapshots.get(self.state.snapshot) if self.run.mode is Mode.FULL else {}
            result = connection.execution_options(stream_results=True, yield_per=self.loop.batch_rows).execute(
                statement
            )
            for page in result.partitions(self.loop.batch_rows):
                self._commit_page([dict(row._mapping) for row in page], old)
                if self.near_deadline():
                    result.close()
                    self.commit(with_state=True)
                    return self.message
        self._finish(old)
        return None

    def _note_newest(self, connection: sa.Connection, query: ImportQuery) -> None:
        """A full run of a timestamp source: the newest cursor now, as the warehouse writes it (the next mark)."""
        assert query.cursor is not None and query.cursor_type is not None
        q = sa.text(query.query).columns(*[sa.column(name) for name in query.columns]).subquery("q")
        newest = as_text(sa.func.max(q.c[query.cursor]), query.dialect, query.cursor_type)
        self.run.newest = connection.execute(sa.select(newest)).scalar()
        self.commit()

    def _commit_page(self, rows: list[dict[str, Any]], old: dict[str, str]) -> None:
        """Check, diff and resolve one page, then commit it with the checkpoint."""
        source = self.source
        assert source is not None
        counts, problems = RunCounts(read=len(rows)), list[str]()
        hashes: dict[str, str] = {}
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
            if row[COPIES] > 1:
                counts.rejected += 1
                hashes[ident] = "duplicate"  # not removed, and resolved again once the duplicates are gone
                problems.append(
                    f"{where}: identifier {source.identifier!r} appears {row[COPIES]} times in the "
                    "result; each row needs its own identifier (rows were not merged)"
                )
                continue
            values = {field: row[column] for column, field in source.mapping.items() if field and column in row}
            values[source.identifier_field] = row[source.identifier]
            digest = values_hash(values)
            hashes[ident] = digest
            if self.run.mode is Mode.INCREMENTAL and self.state.recent.get(ident) == cursor:
                counts.skipped += 1  # a lookback re-read of a row an earlier run committed
                continue
            if self.run.mode is Mode.FULL and old.get(ident) == digest:
                counts.skipped += 1  # unchanged since the last full run
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
        if self.run.mode is Mode.FULL:
            self.loop.snapshots.put(self.loop.snapshots.part_key(self.run, self.run.parts), hashes)
            self.run.parts += 1
        else:
            self._remember(rows)
        if rows:
            self.run.after_id, self.run.after_cursor = rows[-1][IDENT], rows[-1].get(CURSOR)
        self.run.counts = self.run.counts.add(counts)
        self.run.problems = [*self.run.problems, *problems][:MAX_PROBLEMS]
        self.commit(with_state=True)

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

    def _finish(self, old: dict[str, str]) -> None:
        if self.run.mode is Mode.FULL:
            self._close_full(old)
        self.run.status, self.run.finished_at = Status.SUCCEEDED, format_time(self.clock())
        self.state.status, self.state.error = Status.IDLE, None
        self.commit(with_state=True)

    def _close_full(self, old: dict[str, str]) -> None:
        """Remove what left the result (unless it shrank past the guard), keep the new snapshot, move the mark."""
        source = self.source
        assert source is not None
        parts = [self.loop.snapshots.part_key(self.run, part) for part in range(self.run.parts)]
        current: dict[str, str] = {}
        for key in parts:
            current.update(self.loop.snapshots.get(key))
        gone = sorted(set(old) - set(current))
        before, now = len(old), len(current)
        shrunk = self.state.snapshot is not None and (now == 0 or now < before * (1 - source.shrink_limit))
        if gone and shrunk and not self.run.confirm_removals:
            why = (
                f"the result has {now} rows where the last full run had {before}: Roster did not remove the "
                f"{len(gone)} missing rows. If they are really gone, start a full run with confirm_removals"
            )
            self.state.awaiting_confirmation = why
            self.run.error_code, self.run.error = "removals_need_confirmation", why
            self.loop.snapshots.delete(parts)
            return
        resolver = self.loop.resolver(self.run.workspace, source.kind)
        for ident in gone:
            self.run.counts.removed += unlink(resolver, source.source, str(source.kind), ident)
        key = f"warehouse/{self.run.workspace}/{self.run.object}/snapshot-{self.run.run_id}.json.gz"
        self.loop.snapshots.put(key, current)
        self.loop.snapshots.delete([*parts, *([self.state.snapshot] if self.state.snapshot else [])])
        self.state.snapshot, self.state.snapshot_rows = key, now
        self.state.last_full, self.state.awaiting_confirmation = self.run.started_at, None
        if self.run.newest is not None:
            self.state.mark = self.run.newest

    def stop(self, error: Exception) -> ImportStopped:
        """Record why the run stopped: a warehouse that could not be reached may answer later (parked); a query
        it refuses, or a source deleted meanwhile, will not (failed)."""
        if isinstance(error, ConnectFailed):
            code, why, parked = "connect_failed", str(error), True
        elif isinstance(error, OperationalError):  # the connection dropped or timed out mid-read: later may work
            code, why, parked = "read_failed", f"the warehouse stopped answering: {reason(error)}", True
        elif isinstance(error, SQLAlchemyError):
            code, why, parked = "query_failed", f"the warehouse refused the import's query: {reason(error)}", False
        elif isinstance(error, _SourceGone):
            code, why, parked = "source_deleted", str(error), False
        else:
            code, why, parked = "import_failed", f"{type(error).__name__}: {error}", True
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

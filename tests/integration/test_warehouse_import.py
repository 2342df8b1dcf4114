"""Warehouse imports end to end on DuckDB files: SQLAlchemy + duckdb-engine, the run loop, moto DynamoDB and S3."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ulid import ULID

from roster import aws
from roster.connectors.core.state import Status
from roster.connectors.salesforce.store import Mode
from roster.connectors.warehouse.connection import Credentials, DuckDbCredentials, run_query
from roster.connectors.warehouse.importer import (
    ImportStopped,
    Snapshots,
    WarehouseImport,
    WarehouseMessage,
    due_imports,
)
from roster.connectors.warehouse.store import WarehouseRun, WarehouseSource, WarehouseStore
from roster.identity.aliases import record_alias
from roster.identity.resolver import resolver_for
from roster.profiles.fields import Kind
from roster.profiles.model import Profile
from roster.profiles.model import Status as ProfileStatus
from roster.store.profiles import ProfileStore
from roster.store.workspaces import WorkspaceStore
from roster_dev.local.stack import LocalStack

FOREVER: Callable[[], float] = lambda: 1e9  # noqa: E731 - a deadline that never comes
SOURCE = "dw-people"


@pytest.fixture
def store(stack: LocalStack) -> WarehouseStore:
    aws.clients()
    return WarehouseStore()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.execute(
            "CREATE TABLE people (email VARCHAR, first_name VARCHAR, plan VARCHAR, updated_at TIMESTAMP_NS)"
        )
    return path


def sql(path: Path, statement: str, *parameters: Any) -> None:
    with duckdb.connect(str(path)) as connection:
        connection.execute(statement, list(parameters))


def make(store: WarehouseStore, path: Path | Credentials, **options: Any) -> WarehouseImport:
    """An import loop reading the DuckDB file at `path` (or the given credentials)."""
    profiles, workspaces, clients = ProfileStore(), WorkspaceStore(), aws.clients()
    credentials = DuckDbCredentials(path=str(path)) if isinstance(path, Path) else path
    return WarehouseImport(
        store=store,
        resolver=lambda workspace, kind: resolver_for(profiles, workspaces, workspace, kind),
        credentials=lambda workspace, source: credentials,
        snapshots=Snapshots(clients.s3, clients.settings.uploads_bucket),
        **options,
    )


def add_source(
    loop: WarehouseImport, path: Path | Credentials, query: str, *, cursor: str | None = "updated_at", **extra: Any
) -> str:
    """A new workspace with one source whose columns and cursor type come from testing the query."""
    workspace = f"wh-{str(ULID()).lower()}"
    credentials = DuckDbCredentials(path=str(path)) if isinstance(path, Path) else path
    preview = run_query(credentials, query)
    types = {column.name: column.type for column in preview.columns}
    columns = [column.name for column in preview.columns]
    source = WarehouseSource(
        source=SOURCE,
        kind=Kind.PEOPLE,
        dialect=credentials.dialect,
        query=query,
        columns=columns,
        identifier="email",
        identifier_field="email",
        cursor=cursor,
        cursor_type=types[cursor] if cursor else None,
        mapping={"first_name": "first_name", "plan": "plan"},
        **extra,
    )
    loop.store.put_source(workspace, source)
    return workspace


def run_now(
    loop: WarehouseImport,
    workspace: str,
    mode: Mode | None = None,
    remaining: Callable[[], float] = FOREVER,
    confirm: bool = False,
) -> WarehouseRun:
    message: WarehouseMessage | None = loop.start(workspace, SOURCE, mode, confirm_removals=confirm)
    assert message is not None
    run_id = message.run_id
    while message is not None:
        message = loop.run(message, remaining)
    run = loop.store.run(workspace, SOURCE, run_id)
    assert run is not None
    return run


def person(workspace: str, email: str) -> Profile | None:
    return ProfileStore().lookup(workspace, Kind.PEOPLE, record_alias(SOURCE, "people", email))


def linked(workspace: str, email: str) -> bool:
    profile = person(workspace, email)
    return (
        profile is not None and profile.status is ProfileStatus.ACTIVE and f"{SOURCE}:people:{email}" in profile.records
    )


def test_full_then_incremental_reads_changes_late_rows_and_equal_cursors(store: WarehouseStore, db: Path) -> None:
    sql(
        db,
        "INSERT INTO people SELECT 'p' || i || '@example.com', 'P' || i, 'free', "
        "TIMESTAMP_NS '2026-01-01 00:00:00' + INTERVAL (i) MINUTE FROM range(30) t(i)",
    )
    loop = make(store, db, batch_rows=7)
    workspace = add_source(loop, db, "SELECT email, first_name, plan, updated_at FROM people")
    first = run_now(loop, workspace)
    assert first.mode is Mode.FULL and first.status is Status.SUCCEEDED
    assert (first.counts.read, first.counts.created) == (30, 30)
    state = store.state(workspace, SOURCE)
    assert state.mark == "2026-01-01 00:29:00"  # as DuckDB writes it: the mark keeps the warehouse's text

    # an update, a new row at the very mark (equal cursor, an identifier before the last one), and a row
    # committed late with a cursor 5 minutes older than the mark (inside the 10 minute lookback)
    sql(
        db,
        "UPDATE people SET plan = 'pro', updated_at = TIMESTAMP_NS '2026-01-01 01:00:00' "
        "WHERE email = 'p3@example.com'",
    )
    sql(db, "INSERT INTO people VALUES ('a-equal@example.com', 'Eq', 'free', TIMESTAMP_NS '2026-01-01 00:29:00')")
    sql(db, "INSERT INTO people VALUES ('late@example.com', 'Late', 'free', TIMESTAMP_NS '2026-01-01 00:24:00')")
    second = run_now(loop, workspace)
    assert second.mode is Mode.INCREMENTAL
    # read: the rows from mark - 10 minutes on (00:19 … 00:29 = 11 old, the late one, the equal one, p3)
    assert second.counts.read == 14
    assert (second.counts.created, second.counts.updated) == (2, 1)
    # the lookback's re-reads: a full run keeps no (identifier, cursor) list, so they resolve as unchanged (no
    # write); from then on an incremental run skips the rows an earlier one committed
    assert second.counts.unchanged == 11
    assert person(workspace, "a-equal@example.com") is not None
    assert person(workspace, "late@example.com") is not None
    p3 = person(workspace, "p3@example.com")
    assert p3 is not None and p3.records[f"{SOURCE}:people:p3@example.com"].values["plan"] == "pro"
    assert store.state(workspace, SOURCE).mark == "2026-01-01 01:00:00"

    third = run_now(loop, workspace)  # nothing changed: the lookback reads a few rows, resolves none
    assert third.counts.created == third.counts.updated == 0 and third.counts.skipped == third.counts.read


def test_nanosecond_cursors_are_compared_in_sql(store: WarehouseStore, db: Path) -> None:
    """Two rows a nanosecond apart: Python sees one microsecond for both, SQL keeps them apart."""
    sql(db, "INSERT INTO people VALUES ('a@example.com', 'A', 'free', TIMESTAMP_NS '2026-01-01 00:00:00.000000001')")
    loop = make(store, db)
    workspace = add_source(loop, db, "SELECT * FROM people", lookback_minutes=0)
    run_now(loop, workspace)
    assert store.state(workspace, SOURCE).mark == "2026-01-01 00:00:00.000000001"
    sql(db, "INSERT INTO people VALUES ('b@example.com', 'B', 'free', TIMESTAMP_NS '2026-01-01 00:00:00.000000002')")
    second = run_now(loop, workspace)
    # without lookback only the mark row itself is re-read (>=, unchanged); the row 1 ns later is new
    assert (second.counts.read, second.counts.created, second.counts.unchanged) == (2, 1, 1)
    assert store.state(workspace, SOURCE).mark == "2026-01-01 00:00:00.000000002"


def test_time_zone_cursors_compare_as_instants(store: WarehouseStore, tmp_path: Path) -> None:
    path = tmp_path / "tz.duckdb"
    sql(path, "SET TimeZone = 'UTC'")
    sql(path, "CREATE TABLE people (email VARCHAR, first_name VARCHAR, plan VARCHAR, updated_at TIMESTAMPTZ)")
    sql(path, "INSERT INTO people VALUES ('a@example.com', 'A', 'free', TIMESTAMPTZ '2026-01-01 12:00:00+00')")
    loop = make(store, path)
    workspace = add_source(loop, path, "SELECT * FROM people", lookback_minutes=0)
    run_now(loop, workspace)
    # 13:30 at +02:00 is 11:30 UTC: before the mark, not a change; 12:30+00 is after it
    sql(path, "INSERT INTO people VALUES ('older@example.com', 'O', 'free', TIMESTAMPTZ '2026-01-01 13:30:00+02')")
    sql(path, "INSERT INTO people VALUES ('newer@example.com', 'N', 'free', TIMESTAMPTZ '2026-01-01 12:30:00+00')")
    second = run_now(loop, workspace)
    assert second.counts.created == 1
    assert person(workspace, "newer@example.com") is not None and person(workspace, "older@example.com") is None


def test_duplicate_and_empty_identifiers_are_rejected_with_reasons(store: WarehouseStore, db: Path) -> None:
    sql(
        db,
        "INSERT INTO people VALUES ('dup@example.com', 'One', 'free', TIMESTAMP_NS '2026-01-01'), "
        "('dup@example.com', 'Two', 'pro', TIMESTAMP_NS '2026-01-02'), (NULL, 'Nobody', 'free', "
        "TIMESTAMP_NS '2026-01-03'), ('ok@example.com', 'Ok', 'free', TIMESTAMP_NS '2026-01-04')",
    )
    loop = make(store, db, batch_rows=1)  # the duplicates stream in different pages
    workspace = add_source(loop, db, "SELECT * FROM people")
    run = run_now(loop, workspace)
    assert (run.counts.read, run.counts.created, run.counts.rejected) == (4, 1, 3)
    assert person(workspace, "dup@example.com") is None
    assert any("'dup@example.com'" in problem and "appears 2 times" in problem for problem in run.problems)
    assert any("'email' is empty" in problem for problem in run.problems)


def test_full_refresh_removes_missing_rows_and_resolves_only_changes(store: WarehouseStore, db: Path) -> None:
    sql(db, "INSERT INTO people SELECT 'p' || i || '@example.com', 'P' || i, 'free', NULL FROM range(10) t(i)")
    loop = make(store, db, batch_rows=4)
    workspace = add_source(loop, db, "SELECT email, first_name, plan FROM people", cursor=None)
    first = run_now(loop, workspace)
    assert first.counts.created == 10
    sql(db, "DELETE FROM people WHERE email = 'p4@example.com'")
    sql(db, "UPDATE people SET plan = 'pro' WHERE email = 'p7@example.com'")
    second = run_now(loop, workspace)
    assert second.mode is Mode.FULL
    assert (second.counts.read, second.counts.updated, second.counts.skipped, second.counts.removed) == (9, 1, 8, 1)
    assert not linked(workspace, "p4@example.com") and linked(workspace, "p7@example.com")
    assert store.state(workspace, SOURCE).snapshot_rows == 9


def test_shrink_guard_refuses_mass_removal_until_confirmed(store: WarehouseStore, db: Path) -> None:
    sql(db, "INSERT INTO people SELECT 'p' || i || '@example.com', 'P' || i, 'free', NULL FROM range(10) t(i)")
    loop = make(store, db)
    workspace = add_source(loop, db, "SELECT email, first_name, plan FROM people", cursor=None)
    run_now(loop, workspace)
    sql(db, "DELETE FROM people WHERE email NOT IN ('p1@example.com', 'p2@example.com', 'p3@example.com')")
    refused = run_now(loop, workspace)
    assert refused.status is Status.SUCCEEDED and refused.counts.removed == 0
    assert refused.error_code == "removals_need_confirmation" and "has 3 rows where the last full run had 10" in (
        refused.error or ""
    )
    assert linked(workspace, "p5@example.com")
    assert store.state(workspace, SOURCE).awaiting_confirmation
    again = run_now(loop, workspace)  # the old snapshot stands: still refused
    assert again.counts.removed == 0
    confirmed = run_now(loop, workspace, confirm=True)
    assert confirmed.counts.removed == 7 and not linked(workspace, "p5@example.com")
    assert store.state(workspace, SOURCE).awaiting_confirmation is None
    sql(db, "DELETE FROM people")
    empty = run_now(loop, workspace)
    assert empty.counts.removed == 0 and empty.error_code == "removals_need_confirmation"


def test_a_crash_mid_import_resumes_after_the_last_committed_page(store: WarehouseStore, db: Path) -> None:
    sql(
        db,
        "INSERT INTO people SELECT 'p' || i || '@example.com', 'P' || i, 'free', "
        "TIMESTAMP_NS '2026-01-01' + INTERVAL (i % 3) SECOND FROM range(25) t(i)",
    )
    loop = make(store, db, batch_rows=5)
    workspace = add_source(loop, db, "SELECT * FROM people")
    message = loop.start(workspace, SOURCE)
    assert message is not None
    pages = 0
    original = loop.resolver

    def crashing(workspace: str, kind: Kind) -> Any:
        nonlocal pages
        pages += 1
        if pages == 3:
            raise ConnectionError("the Lambda died")
        return original(workspace, kind)

    loop.resolver = crashing
    with pytest.raises(ImportStopped) as stopped:
        loop.run(message, FOREVER)
    assert stopped.value.parked
    run = store.run(workspace, SOURCE, message.run_id)
    assert run is not None and run.status is Status.PARKED and run.counts.read == 10
    loop.resolver = original
    while message is not None:  # the redriven message resumes after the 10 committed rows
        message = loop.run(message, FOREVER)
    done = store.run(workspace, SOURCE, stopped.value.message.run_id)
    assert done is not None and done.status is Status.SUCCEEDED
    assert (done.counts.read, done.counts.created) == (25, 25)


def test_a_worker_near_its_deadline_hands_over_to_a_continuation(store: WarehouseStore, db: Path) -> None:
    sql(
        db,
        "INSERT INTO people SELECT 'p' || i || '@example.com', 'P' || i, 'free', "
        "TIMESTAMP_NS '2026-01-01' + INTERVAL (i) SECOND FROM range(12) t(i)",
    )
    loop = make(store, db, batch_rows=5, reserve_seconds=10)
    workspace = add_source(loop, db, "SELECT * FROM people")
    message = loop.start(workspace, SOURCE)
    assert message is not None
    continuations = 0
    while message is not None:
        message = loop.run(message, lambda: 5.0)  # always near the deadline: one page per invocation
        continuations += message is not None
    run = store.run(workspace, SOURCE, loop.store.state(workspace, SOURCE).run_id or "")
    assert run is not None and (run.counts.read, run.counts.created) == (12, 12)
    assert continuations == 3


def test_the_schedule_runs_incremental_sources_every_15_minutes_and_the_others_every_12_hours(
    store: WarehouseStore, db: Path
) -> None:
    sql(db, "INSERT INTO people VALUES ('a@example.com', 'A', 'free', TIMESTAMP_NS '2026-01-01')")
    loop = make(store, db)
    incremental = add_source(loop, db, "SELECT * FROM people")
    full = add_source(loop, db, "SELECT email, first_name, plan FROM people", cursor=None)
    start = datetime.now(UTC)

    def due(at: datetime) -> set[tuple[str, Mode]]:
        return {(item.workspace, item.mode) for item in due_imports(store, at) if item.workspace in (incremental, full)}

    assert due(start) == {(incremental, Mode.FULL), (full, Mode.FULL)}  # never run: a full run first
    run_now(loop, incremental)
    run_now(loop, full)
    assert due(datetime.now(UTC) + timedelta(minutes=5)) == set()
    assert due(datetime.now(UTC) + timedelta(minutes=15)) == {(incremental, Mode.INCREMENTAL)}
    assert due(datetime.now(UTC) + timedelta(hours=12)) == {(incremental, Mode.INCREMENTAL), (full, Mode.FULL)}
    # weekly, the timestamp source runs fully too: rows deleted in the warehouse lose their links
    assert due(datetime.now(UTC) + timedelta(days=7)) == {(incremental, Mode.FULL), (full, Mode.FULL)}


def test_the_weekly_full_run_of_a_timestamp_source_drops_deleted_rows(store: WarehouseStore, db: Path) -> None:
    sql(
        db,
        "INSERT INTO people SELECT 'p' || i || '@example.com', 'P' || i, 'free', "
        "TIMESTAMP_NS '2026-01-01' + INTERVAL (i) MINUTE FROM range(6) t(i)",
    )
    loop = make(store, db)
    workspace = add_source(loop, db, "SELECT * FROM people")
    run_now(loop, workspace)
    sql(db, "DELETE FROM people WHERE email = 'p2@example.com'")
    sql(db, "UPDATE people SET plan = 'pro', updated_at = TIMESTAMP_NS '2026-01-02' WHERE email = 'p4@example.com'")
    incremental = run_now(loop, workspace)
    assert incremental.mode is Mode.INCREMENTAL and incremental.counts.removed == 0  # a delete moves no timestamp
    assert linked(workspace, "p2@example.com")
    (weekly,) = [
        item for item in due_imports(store, datetime.now(UTC) + timedelta(days=7)) if item.workspace == workspace
    ]
    weekly_run = run_now(loop, workspace, weekly.mode)
    assert weekly_run.mode is Mode.FULL and weekly_run.counts.removed == 1 and not linked(workspace, "p2@example.com")
    assert weekly_run.counts.updated == 0  # p4's change came with the incremental run (its profile holds it)
    assert store.state(workspace, SOURCE).mark == "2026-01-02 00:00:00"


def test_a_query_the_warehouse_refuses_fails_the_run_with_its_reason(store: WarehouseStore, db: Path) -> None:
    loop = make(store, db)
    workspace = add_source(loop, db, "SELECT * FROM people")
    sql(db, "DROP TABLE people")
    message = loop.start(workspace, SOURCE)
    assert message is not None
    with pytest.raises(ImportStopped) as stopped:
        loop.run(message, FOREVER)
    assert stopped.value.code == "query_failed" and not stopped.value.parked  # the same query would fail again
    assert "people" in stopped.value.reason
    run = store.run(workspace, SOURCE, message.run_id)
    assert run is not None and run.status is Status.FAILED and run.error == stopped.value.reason


def test_full_refresh_diffs_against_the_previous_snapshot_part_by_part(store: WarehouseStore, db: Path) -> None:
    """Removed rows before, between and after the kept ones, new rows in the gaps, one row per page: the diff
    of the two sorted sides finds exactly the changes, reading the previous snapshot one part at a time."""
    sql(db, "INSERT INTO people SELECT 'p' || i || '@example.com', 'P' || i, 'free', NULL FROM range(10, 20) t(i)")
    loop = make(store, db, batch_rows=1)
    workspace = add_source(loop, db, "SELECT email, first_name, plan FROM people", cursor=None)
    run_now(loop, workspace)
    sql(db, "DELETE FROM people WHERE email IN ('p10@example.com', 'p14@example.com', 'p19@example.com')")
    sql(
        db, "INSERT INTO people VALUES ('p0@example.com', 'New', 'free', NULL), ('p15a@example.com', 'N', 'free', NULL)"
    )
    sql(db, "UPDATE people SET plan = 'pro' WHERE email = 'p16@example.com'")
    read = []
    original = loop.snapshots.get

    def reading(key: str) -> list[list[str]]:
        read.append(key)
        return original(key)

    loop.snapshots.get = reading  # type: ignore[method-assign]
    second = run_now(loop, workspace)
    counts = second.counts
    assert (counts.read, counts.created, counts.updated, counts.skipped, counts.removed) == (9, 2, 1, 6, 3)
    assert not any(linked(workspace, f"p{i}@example.com") for i in (10, 14, 19))
    assert all(linked(workspace, f"p{i}@example.com") for i in (0, 11, 12, 13, "15a", 16, 17, 18))
    previous = [key for key in read if "/part-" in key]
    assert len(previous) == len(set(previous)) == 10  # each of the 10 one-row parts read once
    third = run_now(loop, workspace)  # the new snapshot stands: nothing changed, nothing removed
    assert (third.counts.skipped, third.counts.removed, third.counts.created) == (9, 0, 0)


@pytest.mark.parametrize("failure", ["deadline", "crash"])
def test_removals_hand_over_and_resume_without_losing_or_repeating_one(
    store: WarehouseStore, db: Path, monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:
    from roster.connectors.core.links import unlink as original
    from roster.connectors.warehouse import importer

    sql(db, "INSERT INTO people SELECT 'p' || i || '@example.com', 'P' || i, 'free', NULL FROM range(12) t(i)")
    loop = make(store, db, batch_rows=2, reserve_seconds=10)
    workspace = add_source(loop, db, "SELECT email, first_name, plan FROM people", cursor=None)
    run_now(loop, workspace)
    gone = {f"p{i}@example.com" for i in (1, 4, 5, 8, 11)}
    sql(db, "DELETE FROM people WHERE email IN (SELECT unnest(?))", sorted(gone))
    unlinked: list[str] = []
    attempts = 0

    def counting(resolver: Any, source: str, obj: str, record_id: str) -> bool:
        nonlocal attempts
        attempts += 1
        if failure == "crash" and attempts == 3:
            raise ConnectionError("the Lambda died")
        unlinked.append(record_id)
        return original(resolver, source, obj, record_id)

    monkeypatch.setattr(importer, "unlink", counting)
    message = loop.start(workspace, SOURCE)
    assert message is not None
    run_id, handovers = message.run_id, 0
    remaining = (lambda: 5.0) if failure == "deadline" else FOREVER
    while message is not None:
        try:
            message = loop.run(message, remaining)
        except ImportStopped as stopped:
            assert stopped.parked and stopped.code == "import_failed"
            parked = store.run(workspace, SOURCE, run_id)
            assert parked is not None and parked.removing and parked.counts.removed == 2
        else:
            handovers += message is not None
    run = store.run(workspace, SOURCE, run_id)
    assert run is not None and run.status is Status.SUCCEEDED
    assert sorted(unlinked) == sorted(gone)  # each one once: the crashed call never reached the profile
    assert run.counts.removed == 5 and not any(linked(workspace, email) for email in gone)
    assert failure == "crash" or handovers >= 5  # one removal per invocation, all near the deadline
    assert store.state(workspace, SOURCE).snapshot_rows == 7


def test_a_warehouse_ordering_otherwise_than_by_bytes_fails_the_full_run_before_removing(
    store: WarehouseStore, db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Snowflake or BigQuery columns with a collation (e.g. case-insensitive) order identifiers otherwise than
    Python compares them; DuckDB casts collations away, so its ORDER BY is turned around here to stand in."""
    from roster.connectors.warehouse.sql import IDENT, ImportQuery

    sql(db, "INSERT INTO people SELECT 'p' || i || '@example.com', 'P' || i, 'free', NULL FROM range(4) t(i)")
    loop = make(store, db, batch_rows=1)  # a part a row: the failing run has stored some before it stops
    workspace = add_source(loop, db, "SELECT email, first_name, plan FROM people", cursor=None)
    run_now(loop, workspace)
    full = ImportQuery.full
    monkeypatch.setattr(
        ImportQuery, "full", lambda self, after: full(self, after).order_by(None).order_by(sa.desc(sa.column(IDENT)))
    )
    message = loop.start(workspace, SOURCE)
    assert message is not None
    with pytest.raises(ImportStopped) as stopped:
        loop.run(message, FOREVER)
    assert stopped.value.code == "order_mismatch" and not stopped.value.parked
    assert "'p2@example.com' after 'p3@example.com'" in stopped.value.reason
    assert all(linked(workspace, f"p{i}@example.com") for i in range(4))
    assert len(loop.snapshots.runs(workspace, SOURCE)) == 2, "the failed run's parts stay until a run succeeds"
    monkeypatch.setattr(ImportQuery, "full", full)
    fixed = run_now(loop, workspace)
    assert loop.snapshots.runs(workspace, SOURCE) == [fixed.run_id], "only the new snapshot is left on S3"


def test_deleting_a_source_stops_its_run_at_the_next_commit(store: WarehouseStore, db: Path) -> None:
    sql(db, "INSERT INTO people SELECT 'p' || i || '@example.com', 'P' || i, 'free', NULL FROM range(9) t(i)")
    loop = make(store, db, batch_rows=3, reserve_seconds=10)
    workspace = add_source(loop, db, "SELECT email, first_name, plan FROM people", cursor=None)
    message = loop.start(workspace, SOURCE)
    assert message is not None
    following = loop.run(message, lambda: 5.0)  # one page, then a hand-over
    assert following is not None
    original = loop.resolver
    deleted = []

    def deleting(workspace: str, kind: Kind) -> Any:  # deleted while this worker resolves its next page
        deleted.append(loop.delete(workspace, SOURCE))
        return original(workspace, kind)

    loop.resolver = deleting
    assert loop.run(following, FOREVER) is None  # its commit finds the state gone: it stops
    assert deleted == [True] and store.source(workspace, SOURCE) is None
    assert store.runs(workspace, SOURCE) == [] and store.enabled().count((workspace, SOURCE)) == 0
    assert linked(workspace, "p0@example.com") and not linked(workspace, "p8@example.com")  # never read
    assert loop.run(following, FOREVER) is None  # a redelivered message finds no run


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    before=st.sets(st.integers(0, 30), max_size=12),
    after=st.sets(st.integers(0, 30), max_size=12),
    changed=st.sets(st.integers(0, 30)),
    batch=st.integers(1, 4),
    hand_over=st.booleans(),
)
def test_a_full_run_removes_exactly_what_left_and_resolves_exactly_what_changed(
    store: WarehouseStore,
    tmp_path_factory: pytest.TempPathFactory,
    before: set[int],
    after: set[int],
    changed: set[int],
    batch: int,
    hand_over: bool,
) -> None:
    """Any two results, any page size, one page or one removal per invocation or all at once: the diff of the
    two sorted streams finds exactly the rows that left, arrived and changed (identifiers in text order:
    p10 sorts before p2)."""
    db = tmp_path_factory.mktemp("diff") / "warehouse.duckdb"
    sql(db, "CREATE TABLE people (email VARCHAR, first_name VARCHAR, plan VARCHAR, updated_at TIMESTAMP_NS)")
    for i in sorted(before):
        sql(db, "INSERT INTO people VALUES (?, 'P', 'free', NULL)", f"p{i}@example.com")
    loop = make(store, db, batch_rows=batch, reserve_seconds=10)
    workspace = add_source(loop, db, "SELECT email, first_name, plan FROM people", cursor=None)
    run_now(loop, workspace)
    sql(db, "DELETE FROM people")
    for i in sorted(after):
        sql(db, "INSERT INTO people VALUES (?, 'P', ?, NULL)", f"p{i}@example.com", "pro" if i in changed else "free")
    second = run_now(loop, workspace, remaining=(lambda: 5.0) if hand_over else FOREVER, confirm=True)
    counts = second.counts
    assert counts.removed == len(before - after) and counts.created == len(after - before)
    assert counts.updated == len(before & after & changed) and counts.skipped == len((before & after) - changed)
    assert all(linked(workspace, f"p{i}@example.com") for i in after)
    assert not any(linked(workspace, f"p{i}@example.com") for i in before - after)
    assert store.state(workspace, SOURCE).snapshot_rows == len(after)

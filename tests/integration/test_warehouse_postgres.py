"""The Postgres dialect against a real server: one started for these tests from Debian's `postgresql` binaries
(as `nobody` when the tests run as root, since Postgres refuses root), skipped with the reason when none is
installed."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from pydantic import SecretStr

from roster.connectors.warehouse.connection import ConnectFailed, PostgresCredentials, check_connection, run_query
from roster.connectors.warehouse.sql import QueryRefused
from roster.connectors.warehouse.store import WarehouseStore
from roster_dev.local.outbound import allowed
from roster_dev.local.stack import LocalStack
from tests.integration.test_warehouse_import import SOURCE, add_source, linked, make, person, run_now

BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)), None)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def postgres(stack: LocalStack) -> Iterator[PostgresCredentials]:
    if BIN is None or not (BIN / "initdb").exists():
        pytest.skip("no Postgres server installed (Debian: apt-get install postgresql)")
    home = Path(tempfile.mkdtemp(prefix="roster-postgres-"))  # outside pytest's root-only folder: nobody reads it
    as_user = ["runuser", "-u", "nobody", "--"] if os.geteuid() == 0 else []
    if as_user:
        shutil.chown(home, "nobody")
    data, port = home / "data", _free_port()
    subprocess.run(
        [*as_user, str(BIN / "initdb"), "-D", str(data), "-U", "roster", "--auth=trust"],
        check=True,
        capture_output=True,
    )
    options = f"-k {home} -p {port} -c listen_addresses=127.0.0.1"
    start = [*as_user, str(BIN / "pg_ctl"), "-D", str(data), "-l", str(home / "log"), "-o", options, "-w", "start"]
    # the server must not hold our pipes open: its output goes to the log file
    subprocess.run(start, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
    try:
        with psycopg.connect(host="127.0.0.1", port=port, user="roster", dbname="postgres", autocommit=True) as db:
            db.execute("CREATE TABLE people (email text, first_name text, plan text, updated_at timestamptz(6))")
            db.execute("CREATE SEQUENCE ticket")
        credentials = PostgresCredentials(
            host="127.0.0.1",
            port=port,
            database="postgres",
            user="roster",
            password=SecretStr("unused"),
            sslmode="disable",
        )
        with allowed("127.0.0.1", port):  # Roster calls public addresses only; the local stack exempts its own
            yield credentials
    finally:
        stop = [*as_user, str(BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]
        subprocess.run(stop, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
        shutil.rmtree(home, ignore_errors=True)


def execute(credentials: PostgresCredentials, statement: str) -> None:
    with psycopg.connect(
        host=credentials.host, port=credentials.port, user=credentials.user, dbname="postgres", autocommit=True
    ) as db:
        db.execute(statement)


def test_connection_test_query_types_and_read_only_sessions(postgres: PostgresCredentials) -> None:
    assert check_connection(postgres).ok
    closed = _free_port()
    with allowed("127.0.0.1", closed):
        failed = check_connection(postgres.model_copy(update={"port": closed}))
    assert not failed.ok and failed.reason and "refused" in failed.reason.lower()
    private = check_connection(postgres.model_copy(update={"host": "10.0.0.8"}))  # never even tried
    assert not private.ok and private.reason and "10.0.0.8" in private.reason
    execute(postgres, "INSERT INTO people VALUES ('a@example.com', 'A', 'free', '2026-01-01 00:00:00.123456+02')")
    preview = run_query(postgres, "SELECT email, updated_at FROM people")
    assert [(column.name, column.type) for column in preview.columns] == [
        ("email", "text"),
        ("updated_at", "timestamp with time zone"),
    ]
    # sqlglot lets a SELECT calling nextval() through; the session's read-only transaction refuses it
    with pytest.raises(QueryRefused, match="read-only transaction"):
        run_query(postgres, "SELECT nextval('ticket')")
    execute(postgres, "DELETE FROM people")


def test_full_then_incremental_import_on_postgres(postgres: PostgresCredentials) -> None:
    from roster import aws

    aws.clients()
    store = WarehouseStore()
    execute(
        postgres,
        "INSERT INTO people SELECT 'p' || i || '@example.com', 'P' || i, 'free', "
        "timestamptz '2026-01-01 00:00:00+00' + i * interval '1 minute' FROM generate_series(0, 9) i",
    )
    loop = make(store, postgres, batch_rows=4)
    workspace = add_source(loop, postgres, "SELECT email, first_name, plan, updated_at FROM people")
    first = run_now(loop, workspace)
    assert (first.counts.read, first.counts.created) == (10, 10)
    execute(postgres, "INSERT INTO people VALUES ('late@example.com', 'L', 'free', '2026-01-01 00:05:00.000001+00')")
    execute(
        postgres, "UPDATE people SET plan = 'pro', updated_at = '2026-01-01 01:30:00+02' WHERE email = 'p1@example.com'"
    )  # 23:30 UTC the day before: outside the lookback
    second = run_now(loop, workspace)
    assert second.counts.created == 1 and person(workspace, "late@example.com") is not None
    p1 = person(workspace, "p1@example.com")
    assert p1 is not None and p1.records[f"{SOURCE}:people:p1@example.com"].values["plan"] == "free"
    assert store.state(workspace, SOURCE).mark == "2026-01-01 00:09:00+00"
    with pytest.raises(ConnectFailed, match="does not resolve"):
        run_query(postgres.model_copy(update={"host": "no-such-host.invalid"}), "SELECT 1")


def test_full_runs_diff_in_byte_order_whatever_the_column_collation(postgres: PostgresCredentials) -> None:
    """An ICU collation orders 'alice' before 'Bob'; Python (and the diff) puts 'Bob' first: Roster asks for
    COLLATE "C", so the two sides of the diff agree and the removed row is found."""
    from roster import aws

    aws.clients()
    store = WarehouseStore()
    execute(postgres, 'CREATE TABLE mixed (email text COLLATE "und-x-icu", first_name text, plan text)')
    emails = ("alice@example.com", "Bob@example.com", "carol@example.com", "Dave@example.com")
    values = ", ".join(f"('{email}', 'N', 'free')" for email in emails)
    execute(postgres, f"INSERT INTO mixed VALUES {values}")  # noqa: S608 - constants
    loop = make(store, postgres, batch_rows=1)
    workspace = add_source(loop, postgres, "SELECT email, first_name, plan FROM mixed", cursor=None)
    assert run_now(loop, workspace).counts.created == 4
    execute(postgres, "DELETE FROM mixed WHERE email = 'Bob@example.com'")
    second = run_now(loop, workspace)
    assert (second.counts.read, second.counts.skipped, second.counts.removed) == (3, 3, 1)
    assert not linked(workspace, "Bob@example.com") and linked(workspace, "alice@example.com")

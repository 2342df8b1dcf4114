"""The warehouse SQL: the read-only check, and the import's query compiled by the real dialects (no account is
reachable from here, so Snowflake and BigQuery are checked as SQLAlchemy compiles them)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from pydantic import SecretStr
from snowflake.sqlalchemy.snowdialect import SnowflakeDialect
from sqlalchemy.dialects import postgresql
from sqlalchemy_bigquery import BigQueryDialect

from roster.connectors.warehouse.connection import SnowflakeCredentials, masked
from roster.connectors.warehouse.sql import Dialect, ImportQuery, NativeType, QueryRefused, check_read_only

DIALECTS: dict[Dialect, sa.Dialect] = {
    Dialect.POSTGRES: postgresql.dialect(),  # type: ignore[no-untyped-call]
    Dialect.SNOWFLAKE: SnowflakeDialect(),
    Dialect.BIGQUERY: BigQueryDialect(),
}
TYPES = {
    Dialect.POSTGRES: "timestamp with time zone",
    Dialect.SNOWFLAKE: "TIMESTAMP_NTZ(9)",
    Dialect.BIGQUERY: "TIMESTAMP",
}


@pytest.mark.parametrize("dialect", list(Dialect))
@pytest.mark.parametrize(
    "query",
    [
        "SELECT email FROM users",
        "WITH recent AS (SELECT * FROM users) SELECT email FROM recent",
        "SELECT email FROM a UNION ALL SELECT email FROM b",
        "SELECT email FROM users;",
    ],
)
def test_one_select_is_accepted(dialect: Dialect, query: str) -> None:
    assert check_read_only(query, dialect).endswith(("users", "recent", "b"))


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("DELETE FROM users", "not DELETE"),
        ("SELECT 1; DROP TABLE users", "not 2 statements"),
        ("INSERT INTO t SELECT * FROM users", "not INSERT"),
        ("UPDATE users SET a = 1", "not UPDATE"),
        ("WITH gone AS (DELETE FROM users RETURNING *) SELECT * FROM gone", "contains a DELETE"),
        ("SELECT * FROM users FOR UPDATE", "locks rows"),
        ("SELECT * INTO copy FROM users", "INTO writes a table"),
        ("CREATE TABLE t AS SELECT 1", "not CREATE"),
        ("SELECT FROM WHERE (", "does not parse"),
    ],
)
def test_anything_else_is_refused_with_the_reason(query: str, reason: str) -> None:
    with pytest.raises(QueryRefused, match=reason):
        check_read_only(query, Dialect.POSTGRES)


def test_a_type_name_is_never_free_text() -> None:
    assert NativeType("TIMESTAMP_NTZ(9)").get_col_spec() == "TIMESTAMP_NTZ(9)"
    with pytest.raises(QueryRefused):
        NativeType("TIMESTAMP); DROP TABLE users; --")


def compiled(dialect: Dialect, statement: sa.Select[tuple[object, ...]]) -> str:
    return str(statement.compile(dialect=DIALECTS[dialect])).replace("`", "")  # BigQuery quotes every name


@pytest.mark.parametrize("dialect", list(DIALECTS))
def test_incremental_query_compares_the_mark_in_sql_in_the_column_type(dialect: Dialect) -> None:
    query = ImportQuery(
        "SELECT * FROM users", ("email", "plan", "updated_at"), "email", dialect, "updated_at", TYPES[dialect]
    )
    first = compiled(dialect, query.incremental("2026-01-01 00:00:00.000000001", 600, None))
    assert "CAST(" in first and f"AS {TYPES[dialect]})" in first  # the bound mark cast to the column's type
    interval = "INTERVAL 600 SECOND" if dialect is Dialect.BIGQUERY else "INTERVAL '600 seconds'"
    assert interval in first and ">=" in first
    assert "count(*) OVER (PARTITION BY q.email)" in first.replace("COUNT", "count")
    assert "ORDER BY q.updated_at" in first
    resumed = compiled(dialect, query.incremental("x", 600, ("2026-01-01 00:00:00", "b@example.com")))
    assert " OR " in resumed and "INTERVAL" not in resumed  # strictly after the last committed (cursor, id)


def test_snowflake_writes_cursors_with_nine_digits() -> None:
    ntz = ImportQuery("SELECT * FROM u", ("email", "ts"), "email", Dialect.SNOWFLAKE, "ts", "TIMESTAMP_NTZ(9)")
    assert "to_varchar(q.ts, 'YYYY-MM-DD HH24:MI:SS.FF9')" in compiled(
        Dialect.SNOWFLAKE, ntz.incremental(None, 0, None)
    )
    tz = ImportQuery("SELECT * FROM u", ("email", "ts"), "email", Dialect.SNOWFLAKE, "ts", "TIMESTAMP_TZ(9)")
    assert "FF9 TZH:TZM'" in compiled(Dialect.SNOWFLAKE, tz.incremental(None, 0, None))


@pytest.mark.parametrize("dialect", list(DIALECTS))
def test_full_query_pages_by_identifier(dialect: Dialect) -> None:
    query = ImportQuery("SELECT * FROM users", ("email", "plan"), "email", dialect)
    text = compiled(dialect, query.full("m@example.com"))
    assert "ORDER BY CAST(q.email AS" in text and "> " in text


def test_secrets_are_masked_in_answers() -> None:
    credentials = SnowflakeCredentials(
        account="org-acct", user="roster", password=SecretStr("hunter2"), database="DW", warehouse="WH"
    )
    shown = masked(credentials)
    assert shown["password"] == "****" and "hunter2" not in repr(credentials) and "hunter2" not in str(shown)

"""The SQL Roster sends a warehouse: the user's query checked read-only, and the import's query around it.

The user's query is parsed with sqlglot in the warehouse's own dialect and must be one SELECT (or WITH … SELECT,
or a set operation of them) with no statement that writes inside it and no row locks. The import wraps it as a
subquery whose columns are declared (no reflection: duckdb-engine's breaks on SQLAlchemy ≥ 2.0.58) and adds:

- the cursor as text, written by the warehouse (`CAST(… AS VARCHAR)`; Snowflake's `TO_VARCHAR` with nine
  fractional digits), so a mark keeps every digit the warehouse has (DuckDB's nanoseconds come back as
  microseconds in Python);
- the identifier as text, the import's keyset order and resume point;
- how often each identifier occurs in the result (`COUNT(*) OVER (PARTITION BY …)`), so duplicates are rejected
  however far apart they stream.

Marks are compared in SQL, bound as text and cast to the cursor column's own type (`cursor_type`, read from the
warehouse when the query is tested), so no precision is lost on the way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
import sqlglot
from sqlalchemy.sql.elements import ColumnElement
from sqlglot import exp
from sqlglot.errors import ParseError

CURSOR = "__roster_cursor"
IDENT = "__roster_id"
COPIES = "__roster_copies"
#: A column type name the import may paste into a CAST: a SQL type as the warehouse names it (checked, never a
#: user's free text).
TYPE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_ ]{0,60}(\(\d{1,3}(, ?\d{1,3})?\))?$")
WRITES = (exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Drop, exp.Create, exp.Alter, exp.Command, exp.Copy)


class Dialect(StrEnum):
    """The warehouses Roster reads, by SQLAlchemy dialect name."""

    DUCKDB = "duckdb"
    POSTGRES = "postgresql"
    SNOWFLAKE = "snowflake"
    BIGQUERY = "bigquery"


#: The dialects whose drivers are in the warehouse-cloud layer (and its import worker), not the warehouse layer.
CLOUD = frozenset({Dialect.SNOWFLAKE, Dialect.BIGQUERY})
SQLGLOT = {
    Dialect.DUCKDB: "duckdb",
    Dialect.POSTGRES: "postgres",
    Dialect.SNOWFLAKE: "snowflake",
    Dialect.BIGQUERY: "bigquery",
}


class QueryRefused(ValueError):
    """The user's query is not one read-only SELECT (the reason says what was found)."""


def check_read_only(query: str, dialect: Dialect) -> str:
    """The query without a trailing semicolon, if it is one SELECT/WITH statement that writes nothing."""
    try:
        statements = [statement for statement in sqlglot.parse(query, read=SQLGLOT[dialect]) if statement is not None]
    except ParseError as error:
        raise QueryRefused(f"the query does not parse as {dialect} SQL: {str(error).splitlines()[0]}") from None
    if len(statements) != 1:
        raise QueryRefused(f"send one SELECT statement, not {len(statements)} statements")
    statement = statements[0]
    if not isinstance(statement, exp.Query):
        raise QueryRefused(f"only SELECT or WITH … SELECT is allowed, not {statement.key.upper()}")
    for node in statement.walk():
        if isinstance(node, WRITES):
            raise QueryRefused(f"the query contains a {node.key.upper()} statement: only reads are allowed")
        if isinstance(node, exp.Lock):
            raise QueryRefused("the query locks rows (FOR UPDATE/SHARE): only plain reads are allowed")
        if isinstance(node, exp.Into):
            raise QueryRefused("SELECT … INTO writes a table: only reads are allowed")
    return query.strip().rstrip(";").strip()


class NativeType(sa.types.UserDefinedType[Any]):
    """A column type by the warehouse's own name, for casting a bound mark to the cursor column's type."""

    cache_ok = True

    def __init__(self, name: str) -> None:
        if not TYPE_NAME.match(name):
            raise QueryRefused(f"{name!r} is not a column type Roster can compare in SQL")
        self.name = name

    def get_col_spec(self, **_: Any) -> str:
        return self.name


def as_text(column: ColumnElement[Any], dialect: Dialect, cursor_type: str) -> ColumnElement[Any]:
    """A cursor value as the warehouse writes it, every digit kept (Snowflake's default format keeps 3)."""
    if dialect is Dialect.SNOWFLAKE:
        zoned = cursor_type.upper().startswith(("TIMESTAMP_TZ", "TIMESTAMP_LTZ"))
        fmt = "YYYY-MM-DD HH24:MI:SS.FF9" + (" TZH:TZM" if zoned else "")
        return sa.func.to_varchar(column, sa.literal_column(f"'{fmt}'"))
    return sa.cast(column, sa.String)


def lookback(dialect: Dialect, seconds: int) -> ColumnElement[Any]:
    """An interval of `seconds` to subtract from a timestamp, in the warehouse's syntax."""
    if dialect is Dialect.BIGQUERY:
        return sa.literal_column(f"INTERVAL {int(seconds)} SECOND")
    return sa.literal_column(f"INTERVAL '{int(seconds)} seconds'")


def type_of(dialect: Dialect, column: str) -> str | None:
    """SQL naming a column's type in the warehouse (None: the DB-API description names it, as BigQuery's does)."""
    quoted = '"' + column.replace('"', '""') + '"'
    if dialect is Dialect.DUCKDB:
        return f"typeof({quoted})"
    if dialect is Dialect.POSTGRES:
        return f"format_type(pg_typeof({quoted}), NULL)"
    if dialect is Dialect.SNOWFLAKE:
        return f"regexp_replace(system$typeof({quoted}), '\\\\[.*\\\\]$', '')"
    return None


@dataclass(frozen=True)
class ImportQuery:
    """The import's query around the user's: the columns the user's query returns and which play which part."""

    query: str
    columns: tuple[str, ...]
    identifier: str
    dialect: Dialect
    cursor: str | None = None
    cursor_type: str | None = None

    def _source(self) -> sa.Subquery:
        columns: list[sa.ColumnClause[Any]] = [sa.column(name) for name in self.columns]
        return sa.text(self.query).columns(*columns).subquery("q")

    def full(self, after: str | None) -> sa.Select[Any]:
        """Every row in identifier order, byte by byte (as Python compares text: the import diffs the result
        against the previous one in one pass), from after the identifier `after` (a resumed run)."""
        q = self._source()
        ident: ColumnElement[Any] = sa.cast(q.c[self.identifier], sa.String)
        if self.dialect is Dialect.POSTGRES:  # its default collation follows the locale, not the bytes
            ident = ident.collate("C")
        select = self._select(q, ident).order_by(ident)
        return select.where(ident > sa.bindparam("after", after)) if after is not None else select

    def incremental(self, since: str | None, lookback_seconds: int, resume: tuple[str, str] | None) -> sa.Select[Any]:
        """Rows in (cursor, identifier) order: from `since` less the lookback, or after `resume`'s (cursor, id).

        A resumed run reads strictly after the last row it committed; a new one from the mark less the lookback,
        so rows committed late with an equal or older cursor are read again."""
        assert self.cursor is not None and self.cursor_type is not None
        q = self._source()
        cursor, ident = q.c[self.cursor], sa.cast(q.c[self.identifier], sa.String)
        kind = NativeType(self.cursor_type)
        select = self._select(q, ident).where(cursor.is_not(None)).order_by(cursor, ident)
        if resume is not None:
            mark = sa.cast(sa.bindparam("mark", resume[0]), kind)
            after: sa.BindParameter[str] = sa.bindparam("after", resume[1])
            return select.where(sa.or_(cursor > mark, sa.and_(cursor == mark, ident > after)))
        if since is not None:
            start: ColumnElement[Any] = sa.cast(sa.bindparam("since", since), kind)
            if lookback_seconds:
                start = start - lookback(self.dialect, lookback_seconds)
            return select.where(cursor >= start)
        return select

    def _select(self, q: sa.Subquery, ident: ColumnElement[Any]) -> sa.Select[Any]:
        extra: list[ColumnElement[Any]] = [ident.label(IDENT)]
        if self.cursor is not None and self.cursor_type is not None:
            extra.append(as_text(q.c[self.cursor], self.dialect, self.cursor_type).label(CURSOR))
        copies = sa.func.count(sa.literal_column("*")).over(partition_by=q.c[self.identifier]).label(COPIES)
        return sa.select(*[q.c[name] for name in self.columns], *extra, copies)

"""Connecting to a warehouse through SQLAlchemy: credentials in Secrets Manager, a connection test, browsing, and
running the user's query read-only with a row limit and a statement timeout.

DuckDB is the embedded default (a file path, opened read-only); Postgres goes through psycopg, Snowflake through
snowflake-sqlalchemy (password or key pair), BigQuery through sqlalchemy-bigquery (service-account JSON). The
dialects live in their own Lambda layer; a missing one is reported by name. Secrets are `SecretStr`: they never
show in a repr, a log line or an answer (`masked()`).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, Field, SecretStr, TypeAdapter, field_validator
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, NoSuchModuleError, SQLAlchemyError

from roster.connectors.warehouse.sql import Dialect, QueryRefused, check_read_only, type_of
from roster.outbound import OutboundRefused, Unresolvable, pinned_address

PREVIEW_ROWS = 20
MAX_PREVIEW_ROWS = 100
TIMEOUT_SECONDS = 30


class DuckDbCredentials(BaseModel):
    dialect: Literal[Dialect.DUCKDB] = Dialect.DUCKDB
    path: str = Field(min_length=2, max_length=1024, pattern=r"^/", description="absolute path of the DuckDB file")


class PostgresCredentials(BaseModel):
    dialect: Literal[Dialect.POSTGRES] = Dialect.POSTGRES
    host: str = Field(min_length=1)
    port: int = Field(default=5432, ge=1, le=65535)
    database: str = Field(min_length=1)
    user: str = Field(min_length=1)
    password: SecretStr
    sslmode: Literal["disable", "prefer", "require", "verify-full"] = "require"


class SnowflakeCredentials(BaseModel):
    dialect: Literal[Dialect.SNOWFLAKE] = Dialect.SNOWFLAKE
    account: str = Field(min_length=1, description="the account identifier, e.g. myorg-myaccount")
    user: str = Field(min_length=1)
    password: SecretStr | None = None
    private_key: SecretStr | None = Field(default=None, description="PEM private key of a key-pair user")
    database: str = Field(min_length=1)
    schema_: str = Field(default="PUBLIC", alias="schema")
    warehouse: str = Field(min_length=1)
    role: str | None = None


class BigQueryCredentials(BaseModel):
    dialect: Literal[Dialect.BIGQUERY] = Dialect.BIGQUERY
    project: str = Field(min_length=1)
    dataset: str | None = None
    service_account: SecretStr = Field(description="the service account's JSON key")

    @field_validator("service_account")
    @classmethod
    def _key(cls, value: SecretStr) -> SecretStr:
        try:
            key = json.loads(value.get_secret_value())
        except ValueError:
            raise ValueError("service_account must be the service account's JSON key") from None
        if not isinstance(key, dict) or "private_key" not in key:
            raise ValueError("service_account must be the service account's JSON key (with its private_key)")
        return value


Credentials = Annotated[
    DuckDbCredentials | PostgresCredentials | SnowflakeCredentials | BigQueryCredentials, Field(discriminator="dialect")
]
CREDENTIALS: TypeAdapter[Credentials] = TypeAdapter(Credentials)


def masked(credentials: BaseModel) -> dict[str, Any]:
    """What an answer may show of credentials: every secret as `****`."""
    shown = credentials.model_dump(mode="json", by_alias=True)
    for name, value in credentials:
        if isinstance(value, SecretStr):
            shown[name] = "****"
    return shown


def revealed(credentials: BaseModel) -> str:
    values = {
        name: value.get_secret_value() if isinstance(value, SecretStr) else value
        for name, value in credentials.model_dump(by_alias=True).items()
    }
    return json.dumps(values)


class ConnectFailed(Exception):
    """The warehouse could not be reached or refused the credentials; the reason is for the user."""


#: DuckDB runs inside the worker, and sorts and counts the whole result there (ORDER BY the identifier, the
#: duplicate check): bounded, it spills to local disk, so the worker's memory stays flat. Streaming such a query
#: over 1M / 3M / 10M rows peaked at 246 / 728 MB RSS unbounded, 200 / 212 / 222 MB with these (64 MB is too
#: little for its window operator).
DUCKDB_MEMORY = {
    "memory_limit": "128MB",
    "threads": 1,
    "temp_directory": os.path.join(tempfile.gettempdir(), "roster-duckdb-spill"),
}


def engine_for(credentials: Credentials, timeout_seconds: int = TIMEOUT_SECONDS) -> Engine:
    """An engine for the credentials; raises ConnectFailed when its dialect is not installed."""
    try:
        return _engine(credentials, timeout_seconds)
    except (NoSuchModuleError, ModuleNotFoundError) as error:
        raise ConnectFailed(f"the {credentials.dialect} dialect is not installed in this deployment: {error}") from None
    except ValueError as error:  # e.g. a service account key google-auth cannot load
        raise ConnectFailed(f"the {credentials.dialect} credentials are not usable: {reason(error)}") from None


def _engine(credentials: Credentials, timeout: int) -> Engine:
    if isinstance(credentials, DuckDbCredentials):
        if not os.path.isfile(credentials.path):
            raise ConnectFailed(f"no DuckDB file at {credentials.path}")
        # read-only, and a query may read nothing but the database: no files, no URLs, no extensions
        args = {"read_only": True, "config": {"enable_external_access": False, **DUCKDB_MEMORY}}
        return sa.create_engine(f"duckdb:///{credentials.path}", connect_args=args, poolclass=sa.NullPool)
    if isinstance(credentials, PostgresCredentials):
        try:  # public addresses only, and the one checked is the one connected to (see roster.outbound)
            address = pinned_address(credentials.host, credentials.port)
        except (OutboundRefused, Unresolvable) as refused:
            raise ConnectFailed(str(refused)) from None
        url = sa.URL.create(
            "postgresql+psycopg",
            username=credentials.user,
            password=credentials.password.get_secret_value(),
            host=credentials.host,
            port=credentials.port,
            database=credentials.database,
        )
        options = f"-c statement_timeout={timeout * 1000} -c default_transaction_read_only=on"
        pg_args = {
            "hostaddr": address,
            "sslmode": credentials.sslmode,
            "connect_timeout": timeout,
            "options": options,
        }
        return sa.create_engine(url, connect_args=pg_args, poolclass=sa.NullPool)
    if isinstance(credentials, SnowflakeCredentials):
        url = sa.URL.create(
            "snowflake",
            username=credentials.user,
            host=credentials.account,
            database=f"{credentials.database}/{credentials.schema_}",
            query={"warehouse": credentials.warehouse, **({"role": credentials.role} if credentials.role else {})},
        )
        sf_args: dict[str, Any] = {"session_parameters": {"STATEMENT_TIMEOUT_IN_SECONDS": timeout}}
        if credentials.private_key is not None:
            sf_args["private_key"] = _der_key(credentials.private_key)
        elif credentials.password is not None:
            sf_args["password"] = credentials.password.get_secret_value()
        else:
            raise ConnectFailed("Snowflake needs a password or a private_key")
        return sa.create_engine(url, connect_args=sf_args, poolclass=sa.NullPool)
    info = json.loads(credentials.service_account.get_secret_value())
    project = f"bigquery://{credentials.project}" + (f"/{credentials.dataset}" if credentials.dataset else "")
    return sa.create_engine(project, credentials_info=info, poolclass=sa.NullPool)


def _der_key(pem: SecretStr) -> bytes:
    """The key-pair user's private key as Snowflake's connector takes it (DER, unencrypted)."""
    from cryptography.hazmat.primitives import serialization

    try:
        key = serialization.load_pem_private_key(pem.get_secret_value().encode(), password=None)
    except ValueError as error:
        raise ConnectFailed(f"private_key is not an unencrypted PEM private key: {error}") from None
    return key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def reason(error: BaseException) -> str:
    """What the warehouse said, without SQLAlchemy's boilerplate (the first line of the driver's message)."""
    if isinstance(error, DBAPIError) and error.orig is not None:
        return str(error.orig).strip().splitlines()[0] if str(error.orig).strip() else type(error.orig).__name__
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


@contextmanager
def read_only(engine: Engine) -> Iterator[Connection]:
    """A connection that ends in a rollback. Reads only where the warehouse enforces it: DuckDB files open
    read-only, Postgres sessions default to read-only transactions; Snowflake and BigQuery have no read-only
    transaction, so there the SELECT-only check and the role's grants are the guard. Failing to connect raises
    ConnectFailed with the warehouse's reason."""
    try:
        connection = engine.connect()
    except (SQLAlchemyError, OSError) as error:
        raise ConnectFailed(reason(error)) from None
    with connection:
        yield connection
        connection.rollback()


class TestResult(BaseModel):
    ok: bool
    dialect: Dialect
    reason: str | None = None


def check_connection(credentials: Credentials) -> TestResult:
    """Connect and run `SELECT 1`; the warehouse's own words when it fails."""
    try:
        with read_only(engine_for(credentials)) as connection:
            connection.execute(sa.text("SELECT 1")).scalar()
    except ConnectFailed as failed:
        return TestResult(ok=False, dialect=credentials.dialect, reason=str(failed))
    except SQLAlchemyError as error:
        return TestResult(ok=False, dialect=credentials.dialect, reason=reason(error))
    return TestResult(ok=True, dialect=credentials.dialect)


class Tables(BaseModel):
    schemas: dict[str, list[str]]


def browse(credentials: Credentials, schema: str | None = None) -> Tables:
    """Schemas and their tables and views, as the dialect lists them (one schema when named)."""
    with read_only(engine_for(credentials)) as connection:
        inspector = sa.inspect(connection)
        try:
            names = [schema] if schema else inspector.get_schema_names()
            found: dict[str, list[str]] = {}
            for name in names:
                if name.endswith("information_schema") or name in ("pg_catalog", "INFORMATION_SCHEMA"):
                    continue
                found[name] = sorted({*inspector.get_table_names(schema=name), *inspector.get_view_names(schema=name)})
        except SQLAlchemyError as error:
            raise ConnectFailed(reason(error)) from None
    return Tables(schemas=found)


class QueryColumn(BaseModel):
    name: str
    type: str


class QueryPreview(BaseModel):
    columns: list[QueryColumn]
    rows: list[dict[str, Any]]


def column_types(connection: Connection, dialect: Dialect, query: str, columns: list[str], described: Any) -> list[str]:
    """Each column's type as the warehouse names it: from its own type function on the first row, else from the
    DB-API description (which names types in DuckDB and BigQuery)."""
    types = [str(entry[1]) for entry in described] if described else ["" for _ in columns]
    if type_of(dialect, columns[0]) is None or dialect is Dialect.DUCKDB:
        return types
    typed = ", ".join(str(type_of(dialect, name)) for name in columns)
    probe = f"SELECT {typed} FROM ({query}) AS q LIMIT 1"  # noqa: S608 - the user's query, checked read-only
    row = connection.execute(sa.text(probe)).first()
    return [str(value) for value in row] if row is not None else types


def run_query(credentials: Credentials, query: str, limit: int = PREVIEW_ROWS) -> QueryPreview:
    """The user's query (one read-only SELECT) on the warehouse: its columns, their types and the first rows."""
    checked = check_read_only(query, credentials.dialect)
    limit = max(1, min(limit, MAX_PREVIEW_ROWS))
    with read_only(engine_for(credentials)) as connection:
        try:
            limited = f"SELECT * FROM ({checked}) AS q LIMIT {limit}"  # noqa: S608 - checked read-only
            result = connection.execute(sa.text(limited))
            names = list(result.keys())
            described = result.cursor.description if result.cursor is not None else None
            rows = [dict(zip(names, row, strict=True)) for row in result]
            types = column_types(connection, credentials.dialect, checked, names, described) if names else []
        except SQLAlchemyError as error:
            raise QueryRefused(f"the warehouse refused the query: {reason(error)}") from None
    if len(set(names)) != len(names):
        raise QueryRefused("the query returns two columns of one name: give each column its own alias")
    return QueryPreview(
        columns=[QueryColumn(name=name, type=kind) for name, kind in zip(names, types, strict=True)],
        rows=[{name: _shown(value) for name, value in row.items()} for row in rows],
    )


def _shown(value: Any) -> Any:
    """A value as JSON shows it."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


class SecretStore:
    """Each source's credentials in its own secret, `roster/<workspace>/warehouse/<source>`."""

    def __init__(self, secrets: Any) -> None:
        self.secrets = secrets

    @staticmethod
    def name(workspace: str, source: str) -> str:
        return f"roster/{workspace}/warehouse/{source}"

    def save(self, workspace: str, source: str, credentials: Credentials) -> None:
        name, value = self.name(workspace, source), revealed(credentials)
        try:
            self.secrets.put_secret_value(SecretId=name, SecretString=value)
        except self.secrets.exceptions.ResourceNotFoundException:
            self.secrets.create_secret(Name=name, SecretString=value)

    def load(self, workspace: str, source: str) -> Credentials | None:
        try:
            value = str(self.secrets.get_secret_value(SecretId=self.name(workspace, source))["SecretString"])
        except self.secrets.exceptions.ResourceNotFoundException:
            return None
        return CREDENTIALS.validate_json(value)

    def delete(self, workspace: str, source: str) -> None:
        try:
            self.secrets.delete_secret(SecretId=self.name(workspace, source), ForceDeleteWithoutRecovery=True)
        except self.secrets.exceptions.ResourceNotFoundException:
            return

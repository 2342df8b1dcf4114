"""Warehouse routes: test a connection, browse schemas and tables, test a query; save a source (its credentials go
to Secrets Manager, never into an answer), start an import, and read its status and history."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body
from pydantic import BaseModel, ConfigDict, Field

from roster.api.errors import ApiError, answers
from roster.aws import clients
from roster.connectors.core.state import Status
from roster.connectors.salesforce.store import Mode
from roster.connectors.warehouse.connection import (
    ConnectFailed,
    Credentials,
    QueryPreview,
    SecretStore,
    Tables,
    TestResult,
    masked,
)
from roster.connectors.warehouse.importer import ImportRefused
from roster.connectors.warehouse.probe import ProbeFailed
from roster.connectors.warehouse.sql import QueryRefused
from roster.connectors.warehouse.store import IDENTIFIERS, SOURCE_NAME, WarehouseRun, WarehouseSource
from roster.profiles.fields import FIELD_NAME, Kind
from roster.services import services
from roster.sources.csv_file import auto_mapping

router = Router()
MAX_QUERY = 100_000


class Connect(BaseModel):
    """Credentials to try, or the name of a saved source whose credentials to use."""

    model_config = ConfigDict(extra="forbid")

    credentials: Credentials | None = None
    source: str | None = Field(default=None, max_length=63)


class BrowseBody(Connect):
    schema_: str | None = Field(default=None, alias="schema", max_length=255)


class QueryBody(Connect):
    query: str = Field(min_length=1, max_length=MAX_QUERY)
    limit: int = Field(default=20, ge=1, le=100)


class SourceBody(BaseModel):
    """A source: its query, which column is the unique identifier, an optional timestamp field, the mapping."""

    model_config = ConfigDict(extra="forbid")

    credentials: Credentials | None = Field(default=None, description="required when the source is new")
    kind: Kind
    query: str = Field(min_length=1, max_length=MAX_QUERY)
    identifier: str = Field(max_length=255, description="the column holding the unique identifier")
    identifier_field: str | None = Field(
        default=None, description="email or user_id (people); company_id or domain (companies). Default: the column"
    )
    timestamp_field: str | None = Field(default=None, max_length=255, description="a column that moves on change")
    mapping: dict[str, str | None] | None = Field(default=None, description="column → field; default: automatic")
    enabled: bool = True
    lookback_minutes: int = Field(default=10, ge=0, le=24 * 60)
    shrink_limit: float = Field(default=0.5, gt=0, le=1)
    full_days: int = Field(default=7, ge=1, le=90, description="with a timestamp field: a full run this often too")


class SourceView(BaseModel):
    source: WarehouseSource
    credentials: dict[str, Any] = Field(description="every secret masked")
    status: Status
    mark: str | None
    snapshot_rows: int | None
    awaiting_confirmation: str | None
    error: str | None
    last_run: WarehouseRun | None


class StartBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Mode | None = None
    confirm_removals: bool = Field(default=False, description="let a full run remove rows although it shrank")


class Started(BaseModel):
    source: str
    run_id: str


def _workspace() -> str:
    return str(router.context["workspace"])


def _secrets() -> SecretStore:
    return SecretStore(clients().secrets)


def _name(name: str) -> str:
    if not SOURCE_NAME.match(name):
        raise ApiError(404, "not_found", f"no warehouse source {name!r}")
    return name


def _credentials(body: Connect) -> Credentials:
    if body.credentials is not None:
        return body.credentials
    if body.source is None:
        raise ApiError(422, "invalid_request", "send credentials, or the name of a saved source")
    saved = _secrets().load(_workspace(), _name(body.source))
    if saved is None:
        raise ApiError(404, "not_found", f"no warehouse source {body.source!r}")
    return saved


def _view(workspace: str, source: WarehouseSource) -> SourceView:
    credentials = _secrets().load(workspace, source.source)
    state = services.warehouse.store.state(workspace, source.source)
    return SourceView(
        source=source,
        credentials=masked(credentials) if credentials else {},
        status=state.status,
        mark=state.mark,
        snapshot_rows=state.snapshot_rows,
        awaiting_confirmation=state.awaiting_confirmation,
        error=state.error,
        last_run=services.warehouse.last_run(state),
    )


def _source(name: str) -> WarehouseSource:
    source = services.warehouse.store.source(_workspace(), _name(name))
    if source is None:
        raise ApiError(404, "not_found", f"no warehouse source {name!r}")
    return source


def _unreachable(failed: ConnectFailed, inline: bool) -> ApiError:
    """Credentials sent with the request that do not connect are invalid input (422); a saved source's warehouse
    that does not answer is a failure upstream (502)."""
    return ApiError(422 if inline else 502, "connect_failed", str(failed))


def _probe_failed(failed: ProbeFailed) -> ApiError:
    """The function holding Snowflake's and BigQuery's dialects could not answer: a failure on Roster's side."""
    return ApiError(502, "warehouse_function_failed", str(failed))


def _preview(credentials: Credentials, query: str, limit: int = 20, inline: bool = True) -> QueryPreview:
    try:
        return services.warehouse_probe.query(credentials, query, limit)
    except QueryRefused as refused:
        raise ApiError(422, "query_refused", str(refused)) from None
    except ConnectFailed as failed:
        raise _unreachable(failed, inline) from None
    except ProbeFailed as failed:
        raise _probe_failed(failed) from None


@router.post(
    "/v1/warehouse/test", summary="Test warehouse credentials (nothing is saved)", responses=answers(200, 404, 502)
)
def try_connection(body: Annotated[Connect, Body()]) -> TestResult:
    try:
        return services.warehouse_probe.test(_credentials(body))
    except ProbeFailed as failed:
        raise _probe_failed(failed) from None


@router.post("/v1/warehouse/browse", summary="List a warehouse's schemas and tables", responses=answers(200, 404, 502))
def list_tables(body: Annotated[BrowseBody, Body()]) -> Tables:
    try:
        return services.warehouse_probe.browse(_credentials(body), body.schema_)
    except ConnectFailed as failed:
        raise _unreachable(failed, body.credentials is not None) from None
    except ProbeFailed as failed:
        raise _probe_failed(failed) from None


@router.post(
    "/v1/warehouse/query",
    summary="Test a query: one read-only SELECT, its columns, types and first rows",
    responses=answers(200, 404, 502),
)
def test_query(body: Annotated[QueryBody, Body()]) -> QueryPreview:
    return _preview(_credentials(body), body.query, body.limit, body.credentials is not None)


@router.get("/v1/warehouse/sources", summary="List warehouse sources", responses=answers(200))
def list_sources() -> list[SourceView]:
    workspace = _workspace()
    return [_view(workspace, source) for source in services.warehouse.store.sources(workspace)]


@router.put(
    "/v1/warehouse/sources/<name>",
    summary="Save a warehouse source: tests its query, checks the identifier and timestamp field, maps columns",
    responses=answers(200, 404, 502),
)
def put_source(name: str, body: Annotated[SourceBody, Body()]) -> SourceView:
    workspace, name = _workspace(), _name(name)
    credentials = body.credentials or _secrets().load(workspace, name)
    if credentials is None:
        raise ApiError(422, "invalid_request", "a new source needs credentials")
    preview = _preview(credentials, body.query, 1, body.credentials is not None)
    types = {column.name: column.type for column in preview.columns}
    columns = [column.name for column in preview.columns]
    for what, column in (("identifier", body.identifier), ("timestamp_field", body.timestamp_field)):
        if column is not None and column not in types:
            raise ApiError(422, "invalid_request", f"{what} {column!r} is not a column of the query: {columns}")
    identifier_field = body.identifier_field or body.identifier
    if identifier_field not in IDENTIFIERS[body.kind]:
        allowed = " or ".join(IDENTIFIERS[body.kind])
        raise ApiError(422, "invalid_request", f"the unique identifier of {body.kind} is {allowed}")
    mapping = body.mapping if body.mapping is not None else auto_mapping(body.kind, columns)
    unknown = sorted(set(mapping) - set(columns))
    if unknown:
        raise ApiError(422, "invalid_request", f"mapping names columns the query does not return: {unknown}")
    targets = [field for column, field in mapping.items() if field and column != body.identifier]
    bad = [field for field in targets if not FIELD_NAME.match(field) or field == identifier_field]
    if bad or len(targets) != len(set(targets)):
        raise ApiError(422, "invalid_request", f"mapping targets must be distinct field names: {bad or targets}")
    source = WarehouseSource(
        source=name,
        kind=body.kind,
        dialect=credentials.dialect,
        query=body.query,
        columns=columns,
        identifier=body.identifier,
        identifier_field=identifier_field,
        cursor=body.timestamp_field,
        cursor_type=types[body.timestamp_field] if body.timestamp_field else None,
        mapping={column: field for column, field in mapping.items() if column != body.identifier},
        enabled=body.enabled,
        lookback_minutes=body.lookback_minutes,
        shrink_limit=body.shrink_limit,
        full_days=body.full_days,
    )
    if body.credentials is not None:
        _secrets().save(workspace, name, body.credentials)
    services.warehouse.store.put_source(workspace, source)
    return _view(workspace, source)


@router.get(
    "/v1/warehouse/sources/<name>", summary="A warehouse source and its latest run", responses=answers(200, 404)
)
def get_source(name: str) -> SourceView:
    return _view(_workspace(), _source(name))


@router.delete(
    "/v1/warehouse/sources/<name>",
    summary="Delete a source: its schedule, credentials, state and history (profiles keep what it imported)",
    responses=answers(204, 404),
)
def delete_source(name: str) -> Response[None]:
    workspace = _workspace()
    if not services.warehouse.delete(workspace, _name(name)):
        raise ApiError(404, "not_found", f"no warehouse source {name!r}")
    _secrets().delete(workspace, name)
    return Response(status_code=204)


@router.post("/v1/warehouse/sources/<name>/runs", summary="Import now", responses=answers(202, 404, 409))
def start(name: str, body: Annotated[StartBody, Body()]) -> Response[Started]:
    source, workspace = _source(name), _workspace()
    try:
        message = services.warehouse.start(workspace, source.source, body.mode, body.confirm_removals)
    except ImportRefused as refused:
        raise ApiError(409, "import_off", str(refused)) from None
    if message is None:
        raise ApiError(409, "already_running", f"an import of {name} is already running")
    services.send_warehouse(message.dialect, message)
    started = Started(source=source.source, run_id=message.run_id)
    return Response(status_code=202, content_type="application/json", body=started)


@router.get(
    "/v1/warehouse/sources/<name>/runs",
    summary="Import history: rows read, created, updated, removed, rejected",
    responses=answers(200, 404),
)
def history(name: str) -> list[WarehouseRun]:
    source = _source(name)
    return services.warehouse.history(_workspace(), source.source)

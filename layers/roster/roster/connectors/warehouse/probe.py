"""Testing, browsing and previewing a warehouse for the API, in the function whose layer holds its dialect.

The API function carries the DuckDB and Postgres drivers (the `roster-warehouse` layer); Snowflake's and BigQuery's
are in `roster-warehouse-cloud`, which does not fit beside them in one function (Lambda's 250 MB). For those the
API invokes `WarehouseCloudProbeFunction` synchronously (Lambda Invoke, RequestResponse) with the request, the
credentials included (an invoke's payload is not logged, and that function logs no event), and raises what it
answers as if the request had run in the API itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from botocore.exceptions import BotoCoreError
from pydantic import BaseModel, ConfigDict, Field

from roster.connectors.warehouse.connection import (
    PREVIEW_ROWS,
    ConnectFailed,
    Credentials,
    QueryPreview,
    Tables,
    TestResult,
    browse,
    check_connection,
    revealed,
    run_query,
)
from roster.connectors.warehouse.sql import CLOUD, QueryRefused


class ProbeRequest(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    action: Literal["test", "browse", "query"]
    credentials: Credentials
    schema_: str | None = Field(default=None, alias="schema")
    query: str = ""
    limit: int = PREVIEW_ROWS


class ProbeAnswer(BaseModel):
    """What a request gave: its result, or why the warehouse could not be reached or refused the query."""

    test: TestResult | None = None
    tables: Tables | None = None
    preview: QueryPreview | None = None
    connect_failed: str | None = None
    query_refused: str | None = None


class ProbeFailed(Exception):
    """The function that holds the dialect could not be invoked or failed (not the warehouse's answer)."""


def answer(request: ProbeRequest) -> ProbeAnswer:
    """Run a request in this process (the probe function's handler, and the API's for its own dialects)."""
    try:
        if request.action == "test":
            return ProbeAnswer(test=check_connection(request.credentials))
        if request.action == "browse":
            return ProbeAnswer(tables=browse(request.credentials, request.schema_))
        return ProbeAnswer(preview=run_query(request.credentials, request.query, request.limit))
    except ConnectFailed as failed:
        return ProbeAnswer(connect_failed=str(failed))
    except QueryRefused as refused:
        return ProbeAnswer(query_refused=str(refused))


Invoke = Callable[[ProbeRequest], ProbeAnswer]


def lambda_invoke(client: Any, function_name: str) -> Invoke:
    """Requests sent to `function_name` through Lambda Invoke, waiting for its answer."""

    def invoke(request: ProbeRequest) -> ProbeAnswer:
        payload = {
            **request.model_dump(mode="json", by_alias=True),
            "credentials": json.loads(revealed(request.credentials)),
        }
        try:
            response = client.invoke(
                FunctionName=function_name, InvocationType="RequestResponse", Payload=json.dumps(payload).encode()
            )
        except (client.exceptions.ClientError, BotoCoreError) as error:  # denied, missing, timed out
            raise ProbeFailed(f"the {request.credentials.dialect} function could not be invoked: {error}") from None
        body = response["Payload"].read()
        if response.get("FunctionError"):  # its message might quote the request: only the type is shown
            failure = json.loads(body or b"{}").get("errorType", response["FunctionError"])
            raise ProbeFailed(f"the {request.credentials.dialect} function failed ({failure})")
        return ProbeAnswer.model_validate_json(body)

    return invoke


@dataclass(frozen=True)
class Probe:
    """Where the API runs a request: here, or for Snowflake and BigQuery through `cloud` when deployed with it."""

    cloud: Invoke | None = None

    def test(self, credentials: Credentials) -> TestResult:
        found = self._run(ProbeRequest(action="test", credentials=credentials)).test
        assert found is not None
        return found

    def browse(self, credentials: Credentials, schema: str | None) -> Tables:
        found = self._run(ProbeRequest(action="browse", credentials=credentials, schema=schema)).tables
        assert found is not None
        return found

    def query(self, credentials: Credentials, query: str, limit: int = PREVIEW_ROWS) -> QueryPreview:
        found = self._run(ProbeRequest(action="query", credentials=credentials, query=query, limit=limit)).preview
        assert found is not None
        return found

    def _run(self, request: ProbeRequest) -> ProbeAnswer:
        remote = self.cloud is not None and request.credentials.dialect in CLOUD
        found = self.cloud(request) if remote and self.cloud is not None else answer(request)
        if found.connect_failed is not None:
            raise ConnectFailed(found.connect_failed)
        if found.query_refused is not None:
            raise QueryRefused(found.query_refused)
        return found

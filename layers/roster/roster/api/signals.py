"""Signal routes: add a signal to audiences (with companion segments), preview its cost and test it before
saving, list signals with their last run, hits and credits, start runs, and read a record's signals.

A signal is an enrichment with the same id, so its budget, resume and archived rows use the enrichment
routes (`PUT /v1/enrichments/{id}/budget`, `POST /v1/enrichments/runs/{run_id}/resume`, ...).
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel, ConfigDict, Field

from roster.api.errors import ApiError, answering, answers
from roster.enrich.budget import CostPreview
from roster.enrich.definitions import ENRICHMENT_ID, RunProblem
from roster.enrich.runs import Run
from roster.enrich.trials import TestRun
from roster.profiles.fields import Kind
from roster.services import services
from roster.signals.service import RESERVED_IDS, RecordSignals, SignalDetail, SignalList, SignalSettings

router = Router()

SignalId = Annotated[str, Path(pattern=ENRICHMENT_ID)]


class SignalTest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    signal: SignalSettings
    profile_ids: list[Annotated[str, Field(pattern=r"^[0-9A-Z]{26}$")]] | None = Field(
        default=None, max_length=10, description="Records to test on; the audiences' first 10 when left out"
    )


class SignalRuns(BaseModel):
    runs: list[Run]


def _workspace() -> str:
    return str(router.context["workspace"])


# Static paths first, so `preview`, `test` and `records` are never read as signal ids.


@router.post(
    "/v1/signals/preview",
    summary="Cost preview before saving: records in the audiences x credits per record",
    responses=answers(200, 404, 422),
)
def preview_signal(body: SignalSettings) -> CostPreview:
    with answering(RunProblem):
        return services.signals.preview(_workspace(), body)


@router.post(
    "/v1/signals/test",
    summary="Run an unsaved signal on 10 records and show what it would write; writes and charges nothing",
    responses=answers(200, 404, 422),
)
def test_signal(body: SignalTest) -> TestRun:
    with answering(RunProblem):
        return services.signals.test(_workspace(), body.signal, body.profile_ids)


@router.get(
    "/v1/signals/records/<kind>/<profile_id>",
    summary="A record's signals: each one's latest event and the earlier ones",
    responses=answers(200, 404),
)
def record_signals(kind: Kind, profile_id: Annotated[str, Path(pattern=r"^[0-9A-Z]{26}$")]) -> RecordSignals:
    found = services.signals.record(_workspace(), kind, profile_id)
    if found is None:
        raise ApiError(404, "not_found", f"no {kind} profile {profile_id!r} in this workspace")
    return found


@router.get("/v1/signals", summary="Signals with their audiences, last run, hits and credits", responses=answers(200))
def list_signals() -> SignalList:
    with answering(RunProblem):
        return SignalList(signals=services.signals.all(_workspace()))


@router.post(
    "/v1/signals",
    summary="Add a signal to audiences: look-back, recurrence, provider, budget; creates companion segments",
    responses=answers(201, 404, 409, 413, 422),
)
def create_signal(body: SignalSettings) -> Response[SignalDetail]:
    if body.signal_id in RESERVED_IDS:
        raise ApiError(422, "invalid_request", f"{body.signal_id!r} is reserved; choose another signal_id")
    with answering(RunProblem):
        created = services.signals.create(_workspace(), body, created_by=str(router.context["key_id"]))
    return Response(status_code=201, content_type="application/json", body=created)


@router.get(
    "/v1/signals/<signal_id>", summary="A signal with its last run, hits and credits", responses=answers(200, 404)
)
def get_signal(signal_id: SignalId) -> SignalDetail:
    with answering(RunProblem):
        return services.signals.get(_workspace(), signal_id)


@router.delete(
    "/v1/signals/<signal_id>",
    summary="Delete a signal (events it wrote and its companion segments stay)",
    responses=answers(204, 404),
)
def delete_signal(signal_id: SignalId) -> Response[None]:
    with answering(RunProblem):
        services.signals.delete(_workspace(), signal_id)
    return Response(status_code=204)


@router.post(
    "/v1/signals/<signal_id>/runs",
    summary="Run the signal now over its audiences",
    responses=answers(202, 404, 409, 422),
)
def start_signal_run(signal_id: SignalId) -> Response[Run]:
    with answering(RunProblem):
        run = services.signals.start(_workspace(), signal_id)
    return Response(status_code=202, content_type="application/json", body=run)


@router.get("/v1/signals/<signal_id>/runs", summary="A signal's runs, newest first", responses=answers(200, 404))
def list_signal_runs(signal_id: SignalId, limit: Annotated[int, Query(ge=1, le=200)] = 50) -> SignalRuns:
    with answering(RunProblem):
        services.signals.get(_workspace(), signal_id)
    return SignalRuns(runs=services.enrichments.runs.recent(_workspace(), signal_id, limit))

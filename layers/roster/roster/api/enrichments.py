"""Enrichment routes: definitions, cost previews, tests on 10 rows, runs, budgets and archived runs as CSV."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from pydantic import BaseModel, ConfigDict, Field
from ulid import ULID

from roster.api.errors import ApiError, answering, answers
from roster.enrich.budget import BudgetReport, CostPreview
from roster.enrich.definitions import EnrichmentDefinition, RunProblem
from roster.enrich.runs import Run
from roster.enrich.trials import TestRun
from roster.services import services

router = Router()

#: Path words under /v1/enrichments that cannot be enrichment ids.
RESERVED_IDS = frozenset({"runs", "test"})
#: CSV exports larger than this are handed out through S3 (Lambda answers carry at most 6 MB).
MAX_INLINE_EXPORT_BYTES = 5 * 1024 * 1024
EXPORT_URL_SECONDS = 900


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EnrichmentDetail(EnrichmentDefinition):
    """A definition with what is left of its credit budget."""

    spent_credits: float
    remaining_credits: float


class EnrichmentList(BaseModel):
    enrichments: list[EnrichmentDetail]


class TestRequest(Strict):
    profile_ids: list[Annotated[str, Field(pattern=r"^[0-9A-Z]{26}$")]] | None = Field(
        default=None, max_length=10, description="Records to test on; the audiences' first 10 when left out"
    )


class StartRun(Strict):
    force: bool = Field(default=False, description="Enrich records answered recently too (they are charged again)")


class SetBudget(Strict):
    credits: float = Field(ge=0, le=1e12, description="The new cap; credits spent so far stay counted")


class RunList(BaseModel):
    runs: list[Run]


def _workspace() -> str:
    return str(router.context["workspace"])


def _detail(enrichment_id: str) -> EnrichmentDetail:
    with answering(RunProblem):
        definition = services.enrichments.definitions.get(_workspace(), enrichment_id)
        budget = services.enrichments.budgets.report(_workspace(), enrichment_id)
    return EnrichmentDetail(
        **definition.model_dump(),
        spent_credits=budget.spent_credits,
        remaining_credits=budget.remaining_credits,
    )


# Static paths first, so `runs` and `test` are never read as enrichment ids.


@router.post(
    "/v1/enrichments/test",
    summary="Test an unsaved definition on 10 records; writes and charges nothing",
    responses=answers(200, 404, 422),
)
def test_definition(body: EnrichmentDefinition) -> TestRun:
    with answering(RunProblem):
        return services.enrichments.trials.run(_workspace(), body)


@router.get("/v1/enrichments/runs", summary="Runs of every enrichment, newest first", responses=answers(200))
def list_all_runs(limit: Annotated[int, Query(ge=1, le=200)] = 50) -> RunList:
    return RunList(runs=services.enrichments.runs.recent(_workspace(), None, limit))


@router.get(
    "/v1/enrichments/runs/<run_id>",
    summary="A run: status, counts per outcome and credits spent",
    responses=answers(200, 404),
)
def get_run(run_id: str) -> Run:
    with answering(RunProblem):
        return services.enrichments.runs.get(_workspace(), run_id)


@router.post(
    "/v1/enrichments/runs/<run_id>/resume",
    summary="Resume a run stopped by its budget (raise it first)",
    responses=answers(202, 404, 409),
)
def resume_run(run_id: str) -> Response[Run]:
    with answering(RunProblem):
        run = services.enrichments.runs.resume(_workspace(), run_id)
    return Response(status_code=202, content_type="application/json", body=run)


@router.get(
    "/v1/enrichments/runs/<run_id>/export",
    summary="A run's records, outcomes and answers as CSV",
    responses=answers(200, 303, 404, media_type="text/csv"),
)
def export_run(run_id: str) -> Response[str]:
    workspace = _workspace()
    with answering(RunProblem):
        chunks = services.enrichments.exports.as_csv(workspace, run_id)
        text, size = [], 0
        for chunk in chunks:
            text.append(chunk)
            size += len(chunk.encode())
            if size > MAX_INLINE_EXPORT_BYTES:
                return _export_through_s3(workspace, run_id, [*text, *chunks])
    headers = {"Content-Disposition": f'attachment; filename="{run_id}.csv"'}
    return Response(status_code=200, content_type="text/csv; charset=utf-8", body="".join(text), headers=headers)


def _export_through_s3(workspace: str, run_id: str, chunks: list[str]) -> Response[str]:
    """Too large to answer inline: store the CSV and redirect to a short-lived download link."""
    s3, bucket = services.enrichments.exports.s3, services.enrichments.exports.bucket
    key = f"enrichment-exports/{workspace}/{run_id}/{str(ULID()).lower()}.csv"
    s3.put_object(Bucket=bucket, Key=key, Body="".join(chunks).encode(), ContentType="text/csv; charset=utf-8")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=EXPORT_URL_SECONDS)
    return Response(status_code=303, body="", headers={"Location": url})


@router.get(
    "/v1/enrichments",
    summary="Enrichment definitions with their budgets (signals: /v1/signals)",
    responses=answers(200),
)
def list_enrichments() -> EnrichmentList:
    with answering(RunProblem):
        definitions = services.enrichments.definitions.all(_workspace())
    return EnrichmentList(
        enrichments=[_detail(definition.enrichment_id) for definition in definitions if definition.signal is None]
    )


@router.post(
    "/v1/enrichments",
    summary="Create an enrichment: providers, audiences, field mapping and budget",
    responses=answers(201, 409, 413, 422),
)
def create_enrichment(body: EnrichmentDefinition) -> Response[EnrichmentDetail]:
    if body.enrichment_id in RESERVED_IDS:
        raise ApiError(422, "invalid_request", f"{body.enrichment_id!r} is reserved; choose another enrichment_id")
    with answering(RunProblem):
        saved = services.enrichments.definitions.save(_workspace(), body, create=True)
    return Response(status_code=201, content_type="application/json", body=_detail(saved.enrichment_id))


@router.get(
    "/v1/enrichments/<enrichment_id>", summary="An enrichment definition with its budget", responses=answers(200, 404)
)
def get_enrichment(enrichment_id: str) -> EnrichmentDetail:
    return _detail(enrichment_id)


@router.put(
    "/v1/enrichments/<enrichment_id>",
    summary="Replace a definition (its budget stays if left out)",
    responses=answers(200, 404, 413, 422),
)
def update_enrichment(enrichment_id: str, body: EnrichmentDefinition) -> EnrichmentDetail:
    if "enrichment_id" in body.model_fields_set and body.enrichment_id != enrichment_id:
        raise ApiError(422, "invalid_request", "enrichment_id in the body differs from the one in the path")
    update: dict[str, object] = {"enrichment_id": enrichment_id}
    with answering(RunProblem):
        if "budget_credits" not in body.model_fields_set:
            update["budget_credits"] = services.enrichments.budgets.report(_workspace(), enrichment_id).budget_credits
        services.enrichments.definitions.save(_workspace(), body.model_copy(update=update), create=False)
    return _detail(enrichment_id)


@router.delete(
    "/v1/enrichments/<enrichment_id>",
    summary="Delete an enrichment (values it wrote stay on the profiles)",
    responses=answers(204, 404),
)
def delete_enrichment(enrichment_id: str) -> Response[None]:
    with answering(RunProblem):
        services.enrichments.definitions.delete(_workspace(), enrichment_id)
    return Response(status_code=204)


@router.get(
    "/v1/enrichments/<enrichment_id>/cost",
    summary="Cost preview: records in the audiences x credits each",
    responses=answers(200, 404),
)
def enrichment_cost(enrichment_id: str) -> CostPreview:
    with answering(RunProblem):
        return services.enrichments.budgets.preview_cost(_workspace(), enrichment_id)


@router.post(
    "/v1/enrichments/<enrichment_id>/test",
    summary="Run on 10 records and show the writes; writes nothing",
    responses=answers(200, 404, 422),
)
def test_enrichment(enrichment_id: str, body: Annotated[TestRequest | None, Body()] = None) -> TestRun:
    with answering(RunProblem):
        definition = services.enrichments.definitions.get(_workspace(), enrichment_id)
        return services.enrichments.trials.run(_workspace(), definition, body.profile_ids if body else None)


@router.post(
    "/v1/enrichments/<enrichment_id>/runs",
    summary="Start a run over the audiences as they are now",
    responses=answers(202, 404, 409, 422),
)
def start_run(enrichment_id: str, body: Annotated[StartRun | None, Body()] = None) -> Response[Run]:
    with answering(RunProblem):
        run = services.enrichments.runs.start(_workspace(), enrichment_id, force=body.force if body else False)
    return Response(status_code=202, content_type="application/json", body=run)


@router.get(
    "/v1/enrichments/<enrichment_id>/runs", summary="An enrichment's runs, newest first", responses=answers(200)
)
def list_runs(enrichment_id: str, limit: Annotated[int, Query(ge=1, le=200)] = 50) -> RunList:
    return RunList(runs=services.enrichments.runs.recent(_workspace(), enrichment_id, limit))


@router.put(
    "/v1/enrichments/<enrichment_id>/budget",
    summary="Set the credit cap (raise it, then resume the run)",
    responses=answers(200, 404),
)
def set_budget(enrichment_id: str, body: SetBudget) -> BudgetReport:
    with answering(RunProblem):
        return services.enrichments.budgets.set(_workspace(), enrichment_id, body.credits)

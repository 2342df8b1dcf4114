"""CSV import routes: start an import, preview its columns and mapping, confirm it, follow its progress."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from roster.api.errors import ApiError, answers
from roster.api.schemas import MAX_INLINE_CSV_BYTES, ConfirmImport, ImportStarted, StartImport
from roster.profiles.fields import Kind
from roster.services import services
from roster.sources.csv_import import ImportReport, Preview

router = Router()


def _workspace() -> str:
    return str(router.context["workspace"])


@router.post(
    "/v1/<kind>/imports",
    summary="Start a CSV import: send it inline or PUT it to the upload URL",
    responses=answers(201, 413),
)
def start_import(kind: Kind, body: StartImport) -> Response[ImportStarted]:
    content = None
    if body.content is not None:
        content = body.content.encode()
        if len(content) > MAX_INLINE_CSV_BYTES:
            raise ApiError(413, "too_large", "inline CSV is limited to 5 MB; upload larger files to upload_url")
    job, upload_url = services.imports.start(_workspace(), kind, body.source_name, body.filename, content)
    started = ImportStarted(import_id=job["import_id"], status=job["status"], upload_url=upload_url)
    return Response(status_code=201, content_type="application/json", body=started)


@router.get("/v1/<kind>/imports", summary="Recent CSV imports", responses=answers(200))
def list_imports(kind: Kind) -> list[ImportReport]:
    jobs = services.imports.store.list(_workspace())
    return [services.imports.report(_workspace(), job["import_id"]) for job in jobs if job["kind"] == kind]


@router.get(
    "/v1/<kind>/imports/<import_id>/preview",
    summary="Detected columns, first rows and the auto-mapping",
    responses=answers(200, 404, 409, 422),
)
def preview_import(kind: Kind, import_id: str) -> Preview:
    return services.imports.preview(_workspace(), _import_of(kind, import_id))


@router.post(
    "/v1/<kind>/imports/<import_id>/confirm",
    summary="Start importing with a mapping",
    responses=answers(200, 404, 409, 422),
)
def confirm_import(kind: Kind, import_id: str, body: ConfirmImport) -> ImportReport:
    services.imports.confirm(_workspace(), _import_of(kind, import_id), body.mapping)
    return services.imports.report(_workspace(), import_id)


@router.get(
    "/v1/<kind>/imports/<import_id>",
    summary="Progress and results of an import, with every rejected row",
    responses=answers(200, 404),
)
def import_report(kind: Kind, import_id: str) -> ImportReport:
    return services.imports.report(_workspace(), _import_of(kind, import_id))


def _import_of(kind: Kind, import_id: str) -> str:
    job = services.imports.job(_workspace(), import_id)
    if job["kind"] != kind:
        raise ApiError(404, "not_found", f"no {kind} import {import_id!r}")
    return import_id

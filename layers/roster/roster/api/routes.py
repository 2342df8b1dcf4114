"""API routes on API Gateway, served by Powertools' resolver with pydantic validation.

Every route but the OpenAPI document is authenticated: workspace routes by a workspace API key,
whose workspace scopes every read and write (invariant 5); admin routes by the admin key.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable
from typing import Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Query
from pynamodb.exceptions import PynamoDBException
from ulid import ULID

from roster.api.enrichments import router as enrichment_routes
from roster.api.errors import ApiError
from roster.api.salesforce import router as salesforce_routes
from roster.api.schemas import (
    MAX_INLINE_CSV_BYTES,
    MAX_UPSERT_RECORDS,
    ConfirmImport,
    CreateWorkspace,
    ErrorBody,
    FieldDetail,
    ImportStarted,
    MatchingSetting,
    ProfileDetail,
    ProfileList,
    ProfileSummary,
    RecordError,
    SourceDetail,
    StartImport,
    SurvivorshipSetting,
    UpsertRequest,
    UpsertResponse,
    UpsertResult,
    WorkspaceCreated,
)
from roster.api.segments import router as segment_routes
from roster.identity.aliases import MATCHABLE, linkedin_url, normalize_email, record_alias, registrable_domain
from roster.identity.records import to_incoming
from roster.identity.resolver import ResolutionFailed
from roster.profiles.fields import STANDARD_FIELDS, Kind, is_empty
from roster.profiles.model import Profile, Status
from roster.profiles.values import ValueProblem, format_time
from roster.segments.filters import FilterProblem
from roster.services import services
from roster.sources.csv_import import ImportProblem, ImportReport, Preview
from roster.store.profiles import Conflict
from roster.store.workspaces import KEY_PREFIX, WorkspaceExists, matching_setting_name, survivorship_setting_name

logger = Logger(service="roster-api")
app = APIGatewayRestResolver(enable_validation=True)

PUBLIC_PATHS = {"/v1/openapi.json"}
THROTTLED = {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}


def _error(status: int, error: str, message: str, errors: list[RecordError] | None = None) -> Response[str]:
    body = ErrorBody(error=error, message=message, errors=errors or [])
    return Response(status_code=status, content_type="application/json", body=body.model_dump_json())


def _bearer(headers: dict[str, str]) -> str | None:
    value = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def authenticate(resolver: APIGatewayRestResolver, next_middleware: Callable[..., Response[Any]]) -> Response[Any]:
    """Admin key for /v1/admin, a workspace key for everything else; the key's workspace scopes the call."""
    path = resolver.current_event.path
    if path in PUBLIC_PATHS:
        return next_middleware(resolver)
    token = _bearer(dict(resolver.current_event.headers or {}))
    if token is None:
        return _error(401, "unauthorized", "send an API key as `Authorization: Bearer <key>`")
    is_admin = hmac.compare_digest(token.encode(), services.admin_key().encode())
    if path.startswith("/v1/admin/"):
        if not is_admin:
            return _error(403, "forbidden", "this route needs the admin key")
        return next_middleware(resolver)
    workspace = None if is_admin else services.workspaces.workspace_for_key(token)
    if workspace is None:
        if is_admin:
            return _error(403, "forbidden", "the admin key cannot read workspace data; use a workspace API key")
        return _error(401, "unauthorized", "the API key is not valid")
    resolver.append_context(workspace=workspace, key_id=token.removeprefix(KEY_PREFIX).partition(".")[0])
    logger.append_keys(workspace=workspace)
    return next_middleware(resolver)


app.use(middlewares=[authenticate])


def workspace() -> str:
    return str(app.context["workspace"])


@app.exception_handler(RequestValidationError)
def validation_failed(error: RequestValidationError) -> Response[str]:
    problems = [
        RecordError(path=".".join(str(part) for part in item.get("loc", ())), message=str(item.get("msg", "")))
        for item in error.errors()
    ]
    too_many = any(
        item.get("type") == "too_long" and tuple(item.get("loc", ()))[-1:] == ("records",) for item in error.errors()
    )
    if too_many:
        return _error(413, "too_many_records", f"send at most {MAX_UPSERT_RECORDS} records per request", problems)
    return _error(422, "invalid_request", "the request does not match the API schema", problems)


@app.exception_handler(ApiError)
def api_error(error: ApiError) -> Response[str]:
    return _error(error.status, error.error, error.message)


@app.exception_handler(FilterProblem)
def filter_problem(error: FilterProblem) -> Response[str]:
    return _error(422, "invalid_filter", str(error), [RecordError(path=error.path, message=error.reason)])


@app.exception_handler(ImportProblem)
def import_problem(error: ImportProblem) -> Response[str]:
    return _error(error.status, "import_problem", str(error))


@app.exception_handler(PynamoDBException)
def storage_error(error: PynamoDBException) -> Response[str]:
    if getattr(error, "cause_response_code", None) in THROTTLED:
        return Response(
            status_code=429,
            content_type="application/json",
            body=ErrorBody(error="throttled", message="too many requests; retry shortly").model_dump_json(),
            headers={"Retry-After": "1"},
        )
    logger.exception("storage error")
    return _error(500, "internal_error", "the request could not be completed; it is safe to retry")


@app.exception_handler(Exception)
def unexpected(error: Exception) -> Response[str]:
    logger.exception("unhandled error")
    return _error(500, "internal_error", "the request could not be completed; it is safe to retry")


@app.not_found
def not_found(error: Exception) -> Response[str]:
    return _error(404, "not_found", f"no route {app.current_event.http_method} {app.current_event.path}")


# --- documentation and administration ---------------------------------------------------------


@app.get("/v1/openapi.json", include_in_schema=False)
def openapi() -> Response[str]:
    schema = app.get_openapi_json_schema(title="Roster API", version="1.0.0")
    return Response(status_code=200, content_type="application/json", body=schema)


@app.post("/v1/admin/workspaces", summary="Create a workspace and its first API key")
def create_workspace(body: CreateWorkspace) -> Response[WorkspaceCreated]:
    workspace_id = body.workspace_id or f"ws-{str(ULID()).lower()}"
    try:
        services.workspaces.create_workspace(workspace_id, body.name)
    except WorkspaceExists:
        raise ApiError(409, "conflict", f"workspace {workspace_id!r} already exists") from None
    created = WorkspaceCreated(workspace_id=workspace_id, api_key=services.workspaces.create_api_key(workspace_id))
    return Response(status_code=201, content_type="application/json", body=created)


@app.post("/v1/admin/workspaces/<workspace_id>/keys", summary="Issue another API key for a workspace")
def create_key(workspace_id: str) -> Response[WorkspaceCreated]:
    if not services.workspaces.workspace_exists(workspace_id):
        raise ApiError(404, "not_found", f"no workspace {workspace_id!r}")
    created = WorkspaceCreated(workspace_id=workspace_id, api_key=services.workspaces.create_api_key(workspace_id))
    return Response(status_code=201, content_type="application/json", body=created)


# --- profiles ---------------------------------------------------------------------------------


@app.post("/v1/<kind>/upsert", summary="Create or update up to 500 records; each resolves to one profile")
def upsert(kind: Kind, body: UpsertRequest) -> UpsertResponse:
    results: list[UpsertResult] = []
    records = []
    for index, record in enumerate(body.records):
        try:
            observed = format_time(record.observed_at) if record.observed_at else None
            records.append(
                (
                    index,
                    to_incoming(
                        kind,
                        record.source,
                        record.object or str(kind),
                        record.fields,
                        record_id=record.id,
                        observed_at=observed,
                    ),
                )
            )
        except ValueProblem as problem:
            where = problem.field if problem.field in ("id", "observed_at") else f"fields.{problem.field}"
            path = f"records[{index}].{where}"
            results.append(
                UpsertResult(index=index, outcome="rejected", error=RecordError(path=path, message=problem.reason))
            )
    resolver = services.resolver(workspace(), kind)
    try:
        resolutions = resolver.upsert([record for _, record in records])
    except ResolutionFailed as failure:
        raise ApiError(409, "conflict", f"{failure}; retry the request") from None
    for (index, _), resolution in zip(records, resolutions, strict=True):
        results.append(UpsertResult(index=index, profile_id=resolution.profile_id, outcome=str(resolution.outcome)))
    return UpsertResponse(results=sorted(results, key=lambda result: result.index))


@app.get("/v1/<kind>/lookup", summary="Find the profile with an e-mail, domain, LinkedIn URL or source record id")
def lookup(
    kind: Kind,
    email: Annotated[str | None, Query(max_length=320)] = None,
    domain: Annotated[str | None, Query(max_length=255)] = None,
    linkedin_url: Annotated[str | None, Query(max_length=500)] = None,
    id: Annotated[str | None, Query(max_length=600, description="`source:object:record id`")] = None,
) -> ProfileDetail:
    given = {
        name: value
        for name, value in (("email", email), ("domain", domain), ("linkedin_url", linkedin_url), ("id", id))
        if value
    }
    if len(given) != 1:
        raise ApiError(400, "bad_request", "give exactly one of email, domain, linkedin_url or id")
    name, value = next(iter(given.items()))
    alias = _alias_for(kind, name, value)
    profile = services.profiles.lookup(workspace(), kind, alias)
    if profile is None:
        raise ApiError(404, "not_found", f"no {kind} profile with {name} {value!r}")
    return _detail(profile, profile.profile_id)


def _alias_for(kind: Kind, name: str, value: str) -> str:
    if name == "email":
        normalized = normalize_email(value)
        if normalized is None or kind is not Kind.PEOPLE:
            raise ApiError(400, "bad_request", f"{value!r} is not an e-mail address of a person")
        return f"email:{normalized}"
    if name == "domain":
        domain = registrable_domain(value)
        if domain is None or kind is not Kind.COMPANIES:
            raise ApiError(400, "bad_request", f"{value!r} is not a company domain")
        return f"domain:{domain}"
    if name == "linkedin_url":
        canonical = linkedin_url(value)
        if canonical is None or canonical[1] != ("in" if kind is Kind.PEOPLE else "company"):
            raise ApiError(400, "bad_request", f"{value!r} is not a LinkedIn URL of a {kind} profile")
        return f"linkedin_url:{canonical[0]}"
    source, obj, record_id = [*value.split(":", 2), "", ""][:3]
    if not source or not obj or not record_id:
        raise ApiError(400, "bad_request", "id is `source:object:record id`, e.g. `salesforce:contact:003...`")
    return record_alias(source, obj, record_id)


@app.get("/v1/<kind>", summary="Browse profiles, e.g. the archived ones")
def list_profiles(
    kind: Kind,
    status: Annotated[Status | None, Query()] = None,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ProfileList:
    try:
        page = services.profiles.page(workspace(), kind, status=status, cursor=cursor, limit=limit)
    except ValueError as problem:
        raise ApiError(400, "bad_request", str(problem)) from None
    summaries = [ProfileSummary(profile_id=p.profile_id, status=str(p.status), fields=p.fields) for p in page.profiles]
    return ProfileList(profiles=summaries, cursor=page.cursor)


# --- settings ---------------------------------------------------------------------------------


@app.put("/v1/<kind>/sources/<source>/matching", summary="Import record matching: which aliases a source matches on")
def set_matching(kind: Kind, source: str, body: MatchingSetting) -> dict[str, Any]:
    allowed = set(MATCHABLE[kind])
    wrong = sorted(str(alias) for alias in body.match_on if alias not in allowed)
    if wrong:
        raise ApiError(422, "invalid_request", f"{kind} cannot match on {', '.join(wrong)}")
    obj = body.object or str(kind)
    data = {"source": source, "object": obj, "match_on": sorted(str(alias) for alias in body.match_on)}
    services.workspaces.put_setting(workspace(), matching_setting_name(kind, source, obj), data)
    return data


@app.get("/v1/<kind>/sources/matching", summary="Import record matching settings of every source")
def get_matching(kind: Kind) -> dict[str, Any]:
    settings = services.workspaces.settings_with_prefix(workspace(), f"matching#{kind}#")
    return {"default": sorted(str(alias) for alias in MATCHABLE[kind]), "sources": list(settings.values())}


@app.put("/v1/<kind>/survivorship", summary="Per-field source priority for survivorship")
def set_survivorship(kind: Kind, body: SurvivorshipSetting) -> SurvivorshipSetting:
    services.workspaces.put_setting(workspace(), survivorship_setting_name(kind), body.model_dump())
    return body


@app.get("/v1/<kind>/survivorship", summary="Per-field source priority for survivorship")
def get_survivorship(kind: Kind) -> SurvivorshipSetting:
    data = services.workspaces.get_setting(workspace(), survivorship_setting_name(kind))
    return SurvivorshipSetting(source_priority=data.get("source_priority", {}))


# --- CSV imports ------------------------------------------------------------------------------


@app.post("/v1/<kind>/imports", summary="Start a CSV import: send it inline or PUT it to the upload URL")
def start_import(kind: Kind, body: StartImport) -> Response[ImportStarted]:
    content = None
    if body.content is not None:
        content = body.content.encode()
        if len(content) > MAX_INLINE_CSV_BYTES:
            raise ApiError(413, "too_large", "inline CSV is limited to 5 MB; upload larger files to upload_url")
    job, upload_url = services.imports.start(workspace(), kind, body.source_name, body.filename, content)
    started = ImportStarted(import_id=job["import_id"], status=job["status"], upload_url=upload_url)
    return Response(status_code=201, content_type="application/json", body=started)


@app.get("/v1/<kind>/imports", summary="Recent CSV imports")
def list_imports(kind: Kind) -> list[ImportReport]:
    jobs = services.imports.store.list(workspace())
    return [services.imports.report(workspace(), job["import_id"]) for job in jobs if job["kind"] == kind]


@app.get("/v1/<kind>/imports/<import_id>/preview", summary="Detected columns, first rows and the auto-mapping")
def preview_import(kind: Kind, import_id: str) -> Preview:
    return services.imports.preview(workspace(), _import_of(kind, import_id))


@app.post("/v1/<kind>/imports/<import_id>/confirm", summary="Start importing with a mapping")
def confirm_import(kind: Kind, import_id: str, body: ConfirmImport) -> ImportReport:
    services.imports.confirm(workspace(), _import_of(kind, import_id), body.mapping)
    return services.imports.report(workspace(), import_id)


@app.get("/v1/<kind>/imports/<import_id>", summary="Progress and results of an import, with every rejected row")
def import_report(kind: Kind, import_id: str) -> ImportReport:
    return services.imports.report(workspace(), _import_of(kind, import_id))


def _import_of(kind: Kind, import_id: str) -> str:
    job = services.imports.job(workspace(), import_id)
    if job["kind"] != kind:
        raise ApiError(404, "not_found", f"no {kind} import {import_id!r}")
    return import_id


app.include_router(segment_routes)
app.include_router(salesforce_routes)
app.include_router(enrichment_routes)


# --- one profile (registered last: `<profile_id>` would match the routes above) ---------------


@app.get("/v1/<kind>/<profile_id>", summary="A profile's fields with provenance; merged-away ids resolve")
def get_profile(kind: Kind, profile_id: str) -> ProfileDetail:
    return _detail(_active_profile(kind, profile_id), profile_id)


@app.post("/v1/<kind>/<profile_id>/archive", summary="Move a profile out of every audience, keeping it whole")
def archive(kind: Kind, profile_id: str) -> ProfileDetail:
    return _set_status(kind, profile_id, Status.ARCHIVED)


@app.post("/v1/<kind>/<profile_id>/unarchive", summary="Restore an archived profile")
def unarchive(kind: Kind, profile_id: str) -> ProfileDetail:
    return _set_status(kind, profile_id, Status.ACTIVE)


def _active_profile(kind: Kind, profile_id: str) -> Profile:
    if not re.fullmatch(r"[0-9A-Z]{26}", profile_id):
        raise ApiError(404, "not_found", f"no {kind} profile {profile_id!r}")
    profile = services.profiles.get_active(workspace(), kind, profile_id)
    if profile is None:
        raise ApiError(404, "not_found", f"no {kind} profile {profile_id!r}")
    return profile


def _set_status(kind: Kind, profile_id: str, status: Status) -> ProfileDetail:
    for _ in range(5):
        profile = _active_profile(kind, profile_id)
        if profile.status is status:
            return _detail(profile, profile_id)
        profile.status = status
        try:
            services.profiles.commit(profile)
        except Conflict:
            continue
        return _detail(profile, profile_id)
    raise ApiError(409, "conflict", "the profile kept changing; retry")


def _detail(profile: Profile, requested_id: str) -> ProfileDetail:
    standard = sorted(STANDARD_FIELDS[profile.kind])
    return ProfileDetail(
        profile_id=profile.profile_id,
        kind=profile.kind,
        status=str(profile.status),
        archived=profile.status is Status.ARCHIVED,
        requested_id=requested_id,
        created_at=profile.created_at,
        updated_at=profile.updated_at,
        fields={
            name: FieldDetail(value=value, **profile.provenance[name].to_json())
            for name, value in profile.fields.items()
        },
        filled=[name for name in standard if not is_empty(profile.fields.get(name))],
        empty=[name for name in standard if is_empty(profile.fields.get(name))],
        sources=[
            SourceDetail(source=r.source, object=r.object, id=r.record_id, first_seen=r.first_seen)
            for r in sorted(profile.records.values(), key=lambda r: r.first_seen)
        ],
        merged_from=profile.merged_from,
    )

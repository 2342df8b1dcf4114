"""Segment routes: audiences with nested filters, their members, counts and previews; field catalog."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from roster.api.errors import ApiError, answers
from roster.api.schemas import (
    CreateSegment,
    DeclareField,
    EditSegment,
    FieldCatalogResponse,
    PreviewSegment,
    ProfileList,
    ProfileSummary,
    SegmentCount,
    SegmentDetail,
    SegmentList,
    SegmentPreview,
    SegmentRow,
)
from roster.profiles.fields import FIELD_NAME, STANDARD_FIELDS, FieldType, Kind
from roster.profiles.model import Profile
from roster.profiles.values import ValueProblem
from roster.segments.filters import OPERATORS, catalog_for
from roster.segments.manager import BUILT_IN, BuiltInSegment, KeptSegment, SegmentNotFound
from roster.services import services
from roster.store.segments import Segment
from roster.store.workspaces import declare_custom_fields

router = Router()


def _workspace() -> str:
    return str(router.context["workspace"])


def _key_id() -> str:
    return str(router.context["key_id"])


def _row(segment: Segment) -> SegmentRow:
    return SegmentRow(**_row_fields(segment))


def _row_fields(segment: Segment) -> dict[str, object]:
    return {
        "segment_id": segment.segment_id,
        "name": segment.name,
        "kind": segment.kind,
        "count": max(segment.member_count, 0),
        "created_by": segment.created_by,
        "created_at": segment.created_at,
        "updated_at": segment.updated_at,
        "draft": segment.draft,
        "built_in": segment.segment_id in BUILT_IN,
        "rebuilding": segment.rebuilding,
        "based_on": segment.based_on,
        "kept_by": segment.kept_by,
    }


def _detail(segment: Segment) -> SegmentDetail:
    return SegmentDetail(
        **_row_fields(segment),
        filter=segment.filter,
        relative_dates=segment.relative_dates,
        rebuild_parts=segment.rebuild_parts,
        rebuild_parts_done=len(segment.rebuild_done),
    )


def _summary(profile: Profile) -> ProfileSummary:
    return ProfileSummary(profile_id=profile.profile_id, status=str(profile.status), fields=profile.fields)


def _segment(segment_id: str) -> Segment:
    try:
        return services.segments.get(_workspace(), segment_id)
    except SegmentNotFound:
        raise ApiError(404, "not_found", f"no segment {segment_id!r}") from None


def _not_built_in(segment_id: str) -> None:
    if segment_id in BUILT_IN:
        raise ApiError(409, "built_in", f"{BUILT_IN[segment_id][0]} is built in and cannot be changed")


@router.get(
    "/v1/segments", summary="Segments with their record counts; tabs: mine, others, drafts", responses=answers(200)
)
def list_segments(
    tab: Annotated[Literal["all", "mine", "others", "drafts"], Query()] = "all",
    kind: Annotated[Kind | None, Query()] = None,
) -> SegmentList:
    me = _key_id()
    rows = []
    for segment in services.segments.all(_workspace()):
        if kind is not None and segment.kind is not kind:
            continue
        mine = segment.created_by == me
        shown = {
            "all": True,
            "mine": mine and not segment.draft,
            "others": not mine and not segment.draft,
            "drafts": mine and segment.draft,
        }[tab]
        if shown:
            rows.append(_row(segment))
    return SegmentList(segments=rows)


@router.post(
    "/v1/segments", summary="Create a segment; its members are computed in the background", responses=answers(201, 413)
)
def create_segment(body: CreateSegment) -> Response[SegmentDetail]:
    segment = services.segments.create(
        _workspace(), body.name, body.kind, body.filter, draft=body.draft, created_by=_key_id()
    )
    return Response(status_code=201, content_type="application/json", body=_detail(segment))


@router.post(
    "/v1/segments/preview",
    summary="Count and first records of a filter, without saving it",
    responses=answers(200, 413),
)
def preview_segment(body: PreviewSegment) -> SegmentPreview:
    preview = services.segments.preview(_workspace(), body.kind, body.filter, body.sample_size)
    return SegmentPreview(
        count=preview.count,
        scanned=preview.scanned,
        complete=preview.complete,
        sample=[
            ProfileSummary(profile_id=image.profile_id, status="active", fields=image.fields)
            for image in preview.sample
        ],
    )


@router.get(
    "/v1/segments/<segment_id>", summary="A segment with its filter and rebuild progress", responses=answers(200, 404)
)
def get_segment(segment_id: str) -> SegmentDetail:
    return _detail(_segment(segment_id))


@router.patch(
    "/v1/segments/<segment_id>",
    summary="Rename, change the filter (members are recomputed) or publish",
    responses=answers(200, 404, 409, 413),
)
def edit_segment(segment_id: str, body: EditSegment) -> SegmentDetail:
    _not_built_in(segment_id)
    _segment(segment_id)
    try:
        segment = services.segments.edit(_workspace(), segment_id, name=body.name, tree=body.filter, draft=body.draft)
    except BuiltInSegment:
        raise ApiError(409, "built_in", "built-in audiences cannot be changed") from None
    except KeptSegment as kept:
        raise ApiError(409, "kept", str(kept)) from None
    return _detail(segment)


@router.delete(
    "/v1/segments/<segment_id>",
    summary="Delete a segment and the segments kept on it (their members leave them quietly)",
    responses=answers(204, 404, 409),
)
def delete_segment(segment_id: str) -> Response[None]:
    _not_built_in(segment_id)
    _segment(segment_id)
    try:
        services.segments.delete(_workspace(), segment_id)
    except KeptSegment as kept:
        raise ApiError(409, "kept", str(kept)) from None
    return Response(status_code=204)


@router.get(
    "/v1/segments/<segment_id>/members",
    summary="Members of a segment, a page at a time",
    responses=answers(200, 400, 404),
)
def segment_members(
    segment_id: str,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ProfileList:
    _segment(segment_id)
    try:
        profiles, next_cursor = services.segments.members(_workspace(), segment_id, cursor, limit)
    except ValueError as problem:  # a cursor no page ever gave
        raise ApiError(400, "bad_request", str(problem)) from None
    return ProfileList(profiles=[_summary(profile) for profile in profiles], cursor=next_cursor)


@router.get(
    "/v1/segments/<segment_id>/count",
    summary="How many records are in a segment now (counted exactly)",
    responses=answers(200, 404),
)
def segment_count(segment_id: str) -> SegmentCount:
    segment = _segment(segment_id)
    count = services.segments.exact_count(_workspace(), segment_id)
    return SegmentCount(segment_id=segment_id, count=count, rebuilding=segment.rebuilding)


@router.get(
    "/v1/<kind>/fields", summary="Fields a filter can use, with their types and operators", responses=answers(200)
)
def field_catalog(kind: Kind) -> FieldCatalogResponse:
    custom = services.segments.custom(_workspace())
    catalog = catalog_for(kind, custom)
    fields = dict(catalog.fields)
    fields.update({f"company.{name}": kind_of for name, kind_of in catalog.company.items()})
    return FieldCatalogResponse(
        kind=kind,
        fields=fields,
        custom=dict(custom[kind]),
        related={name: dict(sub) for name, sub in catalog.related.items()},
        operators={kind_of: sorted(ops) for kind_of, ops in OPERATORS.items()},
    )


@router.put(
    "/v1/<kind>/fields/<name>",
    summary="Declare a workspace field (e.g. from a CRM or an enrichment)",
    responses=answers(200, 409, 422),
)
def declare_field(kind: Kind, name: str, body: DeclareField) -> FieldCatalogResponse:
    if not FIELD_NAME.match(name):
        raise ApiError(422, "invalid_request", "field names are lower_snake_case, 1-64 characters")
    if name in STANDARD_FIELDS[kind]:
        raise ApiError(409, "conflict", f"{name!r} is a standard {kind} field of type {STANDARD_FIELDS[kind][name]}")
    if body.type is FieldType.RECORDS:
        raise ApiError(422, "invalid_request", "related-record fields are built in (opportunities, deals)")
    try:
        declare_custom_fields(services.workspaces, _workspace(), kind, {name: body.type})
    except ValueProblem as problem:
        raise ApiError(422, "invalid_request", str(problem)) from None
    return field_catalog(kind)

"""Profile routes: upsert, lookup and browse profiles, and one profile's detail, archive and unarchive."""

from __future__ import annotations

import re
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from roster.api.errors import ApiError, answers
from roster.api.schemas import (
    FieldDetail,
    HistoryList,
    HistoryValue,
    ProfileDetail,
    ProfileList,
    ProfileSummary,
    RecordError,
    SourceDetail,
    UpsertRequest,
    UpsertResponse,
    UpsertResult,
)
from roster.identity.aliases import linkedin_url, normalize_email, record_alias, registrable_domain
from roster.identity.records import to_incoming
from roster.identity.resolver import ResolutionFailed
from roster.profiles.fields import STANDARD_FIELDS, Kind, is_empty
from roster.profiles.model import Profile, Status
from roster.profiles.values import ValueProblem, format_time
from roster.services import services
from roster.store.profiles import Conflict

router = Router()
#: One profile by id, included after every other router: `<profile_id>` would match their routes.
one_profile = Router()


def _workspace() -> str:
    return str(router.context["workspace"])


@router.post(
    "/v1/<kind>/upsert",
    summary="Create or update up to 500 records; each resolves to one profile",
    responses=answers(200, 409, 413),
)
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
            results.append(_rejected(index, problem))
    resolver = services.resolver(_workspace(), kind)
    try:
        resolutions = resolver.upsert([record for _, record in records])
    except ResolutionFailed as failure:
        raise ApiError(409, "conflict", f"{failure}; retry the request") from None
    for (index, _), resolution in zip(records, resolutions, strict=True):
        if resolution.problem is not None:
            results.append(_rejected(index, resolution.problem))
        else:
            results.append(UpsertResult(index=index, profile_id=resolution.profile_id, outcome=str(resolution.outcome)))
    return UpsertResponse(results=sorted(results, key=lambda result: result.index))


def _rejected(index: int, problem: ValueProblem) -> UpsertResult:
    """A record's result naming where it is at fault: `records[i].fields.<field>`, `.id`, or the whole record."""
    if not problem.field:
        path = f"records[{index}]"
    elif problem.field in ("id", "observed_at", "fields"):
        path = f"records[{index}].{problem.field}"
    else:
        path = f"records[{index}].fields.{problem.field}"
    return UpsertResult(index=index, outcome="rejected", error=RecordError(path=path, message=problem.reason))


@router.get(
    "/v1/<kind>/lookup",
    summary="Find the profile with an e-mail, domain, LinkedIn URL or source record id",
    responses=answers(200, 400, 404),
)
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
    profile = services.profiles.lookup(_workspace(), kind, alias)
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


@router.get("/v1/<kind>", summary="Browse profiles, e.g. the archived ones", responses=answers(200, 400))
def list_profiles(
    kind: Kind,
    status: Annotated[Status | None, Query()] = None,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ProfileList:
    try:
        page = services.profiles.page(_workspace(), kind, status=status, cursor=cursor, limit=limit)
    except ValueError as problem:
        raise ApiError(400, "bad_request", str(problem)) from None
    summaries = [ProfileSummary(profile_id=p.profile_id, status=str(p.status), fields=p.fields) for p in page.profiles]
    return ProfileList(profiles=summaries, cursor=page.cursor)


@one_profile.get(
    "/v1/<kind>/<profile_id>",
    summary="A profile's fields with provenance; merged-away ids resolve",
    responses=answers(200, 404),
)
def get_profile(kind: Kind, profile_id: str) -> ProfileDetail:
    return _detail(_active_profile(kind, profile_id), profile_id)


@one_profile.post(
    "/v1/<kind>/<profile_id>/archive",
    summary="Move a profile out of every audience, keeping it whole",
    responses=answers(200, 404, 409, 413),
)
def archive(kind: Kind, profile_id: str) -> ProfileDetail:
    return _set_status(kind, profile_id, Status.ARCHIVED)


@one_profile.post(
    "/v1/<kind>/<profile_id>/unarchive", summary="Restore an archived profile", responses=answers(200, 404, 409, 413)
)
def unarchive(kind: Kind, profile_id: str) -> ProfileDetail:
    return _set_status(kind, profile_id, Status.ACTIVE)


@one_profile.get(
    "/v1/<kind>/<profile_id>/history",
    summary="A profile's older replaced values, a page at a time",
    responses=answers(200, 400, 404),
)
def history(
    kind: Kind,
    profile_id: str,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> HistoryList:
    profile = _active_profile(kind, profile_id)
    try:
        page = services.profiles.history(
            _workspace(), kind, [profile.profile_id, *profile.merged_from], cursor=cursor, limit=limit
        )
    except ValueError as problem:
        raise ApiError(400, "bad_request", str(problem)) from None
    return HistoryList(values=[_history_value(entry["record"], entry) for entry in page.entries], cursor=page.cursor)


def _history_value(record: str, entry: dict[str, Any]) -> HistoryValue:
    return HistoryValue(
        field=entry["field"],
        value=entry["value"],
        source=record.split(":", 1)[0],
        record=record,
        observed_at=entry["observed_at"],
        replaced_at=entry["replaced_at"],
    )


def _active_profile(kind: Kind, profile_id: str) -> Profile:
    if not re.fullmatch(r"[0-9A-Z]{26}", profile_id):
        raise ApiError(404, "not_found", f"no {kind} profile {profile_id!r}")
    profile = services.profiles.get_active(_workspace(), kind, profile_id)
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
        history=sorted(
            (_history_value(key, entry) for key, record in profile.records.items() for entry in record.previous),
            key=lambda value: value.replaced_at,
            reverse=True,
        ),
        older_history=sum(sum(record.moved.values()) for record in profile.records.values()),
    )

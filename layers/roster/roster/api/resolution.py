"""Resolution settings routes: which aliases each source's records match on, and survivorship."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path

from roster.api.errors import ApiError, answers
from roster.api.schemas import MatchingSetting, SurvivorshipSetting
from roster.identity.aliases import MATCHABLE
from roster.identity.records import SOURCE_NAME
from roster.profiles.fields import Kind
from roster.services import services
from roster.store.workspaces import matching_setting_name, survivorship_setting_name

router = Router()


def _workspace() -> str:
    return str(router.context["workspace"])


@router.put(
    "/v1/<kind>/sources/<source>/matching",
    summary="Import record matching: which aliases a source matches on",
    responses=answers(200),
)
def set_matching(
    kind: Kind, source: Annotated[str, Path(pattern=SOURCE_NAME)], body: MatchingSetting
) -> dict[str, Any]:
    allowed = set(MATCHABLE[kind])
    wrong = sorted(str(alias) for alias in body.match_on if alias not in allowed)
    if wrong:
        raise ApiError(422, "invalid_request", f"{kind} cannot match on {', '.join(wrong)}")
    obj = body.object or str(kind)
    data = {"source": source, "object": obj, "match_on": sorted({str(alias) for alias in body.match_on})}
    services.workspaces.put_setting(_workspace(), matching_setting_name(kind, source, obj), data)
    return data


@router.get(
    "/v1/<kind>/sources/matching", summary="Import record matching settings of every source", responses=answers(200)
)
def get_matching(kind: Kind) -> dict[str, Any]:
    settings = services.workspaces.settings_with_prefix(_workspace(), f"matching#{kind}#")
    return {"default": sorted(str(alias) for alias in MATCHABLE[kind]), "sources": list(settings.values())}


@router.put("/v1/<kind>/survivorship", summary="Per-field source priority for survivorship", responses=answers(200))
def set_survivorship(kind: Kind, body: SurvivorshipSetting) -> SurvivorshipSetting:
    services.workspaces.put_setting(_workspace(), survivorship_setting_name(kind), body.model_dump())
    return body


@router.get("/v1/<kind>/survivorship", summary="Per-field source priority for survivorship", responses=answers(200))
def get_survivorship(kind: Kind) -> SurvivorshipSetting:
    data = services.workspaces.get_setting(_workspace(), survivorship_setting_name(kind))
    return SurvivorshipSetting(source_priority=data.get("source_priority", {}))

"""Destination and action routes: configure where records go (secrets to Secrets Manager, never into an answer),
which segment changes send them, backfill the current members (a count first), read and replay deliveries."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from roster.actions.config import Action, ActionEdit, ActionSpec, Destination
from roster.actions.service import Refused
from roster.api.errors import ApiError, answering, answers
from roster.profiles.fields import Kind
from roster.services import services
from roster.store.actions import StoredDelivery

router = Router()

DestinationId = Annotated[str, Path(pattern=r"^dst_[0-9a-f]{16}$")]
ActionId = Annotated[str, Path(pattern=r"^act_[0-9a-f]{16}$")]
DeliveryId = Annotated[str, Path(pattern=r"^dlv_[0-9a-f]{26}$")]
MAX_SECRET = 10_000


class DestinationBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    kind: str = Field(min_length=1, max_length=40, description="webhook, google_ads, meta, linkedin, ...")
    settings: dict[str, Any] = Field(default_factory=dict, description="the kind's settings (a webhook's url)")
    secret: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_SECRET,
        description="the credentials; a webhook's `whsec_` secret is made for you when left out (shown once)",
    )
    requests_per_second: float | None = Field(default=None, gt=0, le=1000, description="the rate budget")
    ca_bundle: str | None = Field(default=None, max_length=1024, description="local stacks only: the emulator's CA")


class DestinationView(BaseModel):
    destination: Destination
    secret: str = Field(description="masked, except once: the secret Roster made when the destination was created")
    pending: int = Field(description="deliveries due or waiting to be retried")


class SecretBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    secret: str | None = Field(default=None, min_length=1, max_length=MAX_SECRET, description="made when left out")
    keep_previous: bool = Field(default=True, description="sign with the old secret too while receivers switch")


class NewSecret(BaseModel):
    secret: str = Field(description="the new secret (shown once when Roster made it, else masked)")


class TestAnswer(BaseModel):
    status: str
    answer: str


class ActionView(BaseModel):
    action: Action
    audience: dict[str, int | None] | None = Field(default=None, description="an ad audience's size and minimum")


class BackfillBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dry_run: bool = Field(default=True, description="only count; send `false` to start sending")


class Backfill(BaseModel):
    members: int = Field(
        description="records in the segment now (with a quality gate: those passing it): what a backfill takes in"
    )
    started: bool


class DeliveryView(BaseModel):
    delivery_id: str
    action_id: str
    destination_id: str
    segment_id: str
    profile_id: str
    transition: str
    occurred_at: str
    status: str
    attempts: int
    due_at: str | None
    sent: dict[str, Any] = Field(description="the fields sent")
    log: list[dict[str, Any]] = Field(description="the latest attempts: when, outcome, the destination's answer")
    created_at: str
    updated_at: str


class DeliveryList(BaseModel):
    deliveries: list[DeliveryView]
    cursor: str | None = None


class ReplayBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: str = Field(default="dead", pattern="^(dead|failed|delivered)$", description="which settled ones")


class Replayed(BaseModel):
    replayed: int


def _workspace() -> str:
    return str(router.context["workspace"])


def _masked(secret: str | None) -> str:
    if not secret:
        return ""
    return " ".join(f"{value[:6]}…{value[-4:]}" if len(value) > 16 else "…" for value in secret.split())


def _destination_view(destination: Destination, made: str | None = None) -> DestinationView:
    workspace = _workspace()
    secret = made or _masked(services.actions.secrets.load(workspace, destination.destination_id))
    pending = services.actions.pending(workspace, destination.destination_id)
    return DestinationView(destination=destination, secret=secret, pending=pending)


def _delivery_view(delivery: StoredDelivery) -> DeliveryView:
    return DeliveryView(
        delivery_id=delivery.delivery_id,
        action_id=delivery.action_id,
        destination_id=delivery.destination_id,
        segment_id=delivery.segment_id,
        profile_id=delivery.profile_id,
        transition=delivery.transition,
        occurred_at=delivery.occurred_at,
        status=delivery.status,
        attempts=delivery.attempts,
        due_at=delivery.due_at,
        sent=delivery.fields,
        log=delivery.log,
        created_at=delivery.created_at,
        updated_at=delivery.updated_at,
    )


# --- destinations -----------------------------------------------------------------------------


@router.post(
    "/v1/destinations", summary="Add a destination (its secret goes to Secrets Manager)", responses=answers(201)
)
def create_destination(body: Annotated[DestinationBody, Body()]) -> Response[DestinationView]:
    with answering(Refused):
        try:
            destination, made = services.actions.create_destination(
                _workspace(),
                body.name,
                body.kind,
                body.settings,
                body.secret,
                body.requests_per_second,
                body.ca_bundle,
            )
        except ValueError as invalid:
            raise Refused(f"settings: {invalid}") from None
    return Response(status_code=201, content_type="application/json", body=_destination_view(destination, made))


@router.get("/v1/destinations", summary="List destinations", responses=answers(200))
def list_destinations() -> list[DestinationView]:
    return [_destination_view(each) for each in services.actions.destinations(_workspace())]


@router.get("/v1/destinations/<destination_id>", summary="A destination", responses=answers(200, 404))
def get_destination(destination_id: DestinationId) -> DestinationView:
    with answering(Refused):
        return _destination_view(services.actions.require_destination(_workspace(), destination_id))


@router.delete(
    "/v1/destinations/<destination_id>", summary="Delete a destination no action uses", responses=answers(204, 404, 409)
)
def delete_destination(destination_id: DestinationId) -> Response[str]:
    with answering(Refused):
        services.actions.delete_destination(_workspace(), destination_id)
    return Response(status_code=204, body="")


@router.post(
    "/v1/destinations/<destination_id>/test",
    summary="Call the destination without sending a record (a webhook gets a signed roster.test event)",
    responses=answers(200, 404, 409),
)
def test_destination(destination_id: DestinationId) -> TestAnswer:
    with answering(Refused):
        outcome = services.actions.test_destination(_workspace(), destination_id)
    return TestAnswer(status=str(outcome.status), answer=outcome.answer)


@router.post(
    "/v1/destinations/<destination_id>/enable",
    summary="Send again to a destination that was disabled (e.g. a webhook that answered 410)",
    responses=answers(200, 404),
)
def enable_destination(destination_id: DestinationId) -> DestinationView:
    with answering(Refused):
        return _destination_view(services.actions.enable_destination(_workspace(), destination_id))


@router.post(
    "/v1/destinations/<destination_id>/secret",
    summary="Rotate the secret; a webhook signs with the old one too until the next rotation",
    responses=answers(200, 404),
)
def rotate_secret(destination_id: DestinationId, body: Annotated[SecretBody, Body()]) -> NewSecret:
    with answering(Refused):
        made = services.actions.rotate_secret(_workspace(), destination_id, body.secret, body.keep_previous)
    return NewSecret(secret=made or _masked(body.secret))


# --- actions ----------------------------------------------------------------------------------


@router.post("/v1/actions", summary="Add an action: segment + trigger + destination", responses=answers(201, 404))
def create_action(body: Annotated[ActionSpec, Body()]) -> Response[ActionView]:
    with answering(Refused):
        action = services.actions.create_action(_workspace(), body, created_by=str(router.context["key_id"]))
    return Response(status_code=201, content_type="application/json", body=ActionView(action=action))


@router.get("/v1/actions", summary="List actions", responses=answers(200))
def list_actions() -> list[ActionView]:
    return [ActionView(action=each) for each in services.actions.actions(_workspace())]


@router.get(
    "/v1/actions/<action_id>",
    summary="An action (and, for an ad audience, its size and the platform's minimum)",
    responses=answers(200, 404, 502),
)
def get_action(action_id: ActionId) -> ActionView:
    workspace = _workspace()
    with answering(Refused):
        action = services.actions.require_action(workspace, action_id)
        try:
            audience = services.actions.audience(workspace, action_id)
        except Exception as failed:  # the platform's answer is shown, not faked
            raise ApiError(502, "destination_failed", f"the audience's size could not be read: {failed}") from None
    shown = None if audience is None else {"size": audience.size, "minimum": audience.minimum}
    return ActionView(action=action, audience=shown)


@router.patch(
    "/v1/actions/<action_id>",
    summary="Rename, turn off (deliveries held) or on (held ones sent), change fields, cooldown or quality gate",
    responses=answers(200, 404, 409),
)
def edit_action(action_id: ActionId, body: Annotated[ActionEdit, Body()]) -> ActionView:
    with answering(Refused):
        action = services.actions.edit_action(_workspace(), action_id, body)
    return ActionView(action=action)


@router.delete("/v1/actions/<action_id>", summary="Delete an action", responses=answers(204, 404))
def delete_action(action_id: ActionId) -> Response[str]:
    with answering(Refused):
        services.actions.delete_action(_workspace(), action_id)
    return Response(status_code=204, body="")


@router.post(
    "/v1/actions/<action_id>/backfill",
    summary="Send the segment's current members: count first (dry_run, the default), then start",
    responses=answers(200, 404),
)
def backfill(action_id: ActionId, body: Annotated[BackfillBody, Body()]) -> Backfill:
    with answering(Refused):
        members = services.actions.backfill(_workspace(), action_id, body.dry_run)
    return Backfill(members=members, started=not body.dry_run)


@router.get(
    "/v1/actions/<action_id>/deliveries",
    summary="An action's deliveries: what was sent, when, the answer",
    responses=answers(200, 404),
)
def list_deliveries(
    action_id: ActionId,
    status: Annotated[
        str | None, Query(pattern="^(pending|blocked|held|delivered|failed|dead|skipped|collapsed)$")
    ] = None,
    cursor: Annotated[str | None, Query(pattern=r"^dlv_[0-9a-f]{26}$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> DeliveryList:
    with answering(Refused):
        page, following = services.actions.deliveries(_workspace(), action_id, status, cursor, limit)
    return DeliveryList(deliveries=[_delivery_view(each) for each in page], cursor=following)


@router.post(
    "/v1/actions/<action_id>/deliveries/replay",
    summary="Replay settled deliveries of one status (the dead letters by default), up to 500 a call",
    responses=answers(200, 404),
)
def replay_all(action_id: ActionId, body: Annotated[ReplayBody, Body()]) -> Replayed:
    with answering(Refused):
        return Replayed(replayed=services.actions.replay_all(_workspace(), action_id, body.status))


@router.post(
    "/v1/actions/<action_id>/deliveries/<delivery_id>/replay",
    summary="Send one settled delivery again",
    responses=answers(200, 404, 409),
)
def replay(action_id: ActionId, delivery_id: DeliveryId) -> DeliveryView:
    with answering(Refused):
        return _delivery_view(services.actions.replay(_workspace(), action_id, delivery_id))


@router.get(
    "/v1/<kind>/<profile_id>/deliveries",
    summary="A record's deliveries across actions, newest first",
    responses=answers(200),
)
def record_deliveries(
    kind: Kind,
    profile_id: Annotated[str, Path(max_length=64)],
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> DeliveryList:
    found = services.actions.record_deliveries(_workspace(), kind, profile_id, limit)
    return DeliveryList(deliveries=[_delivery_view(each) for each in found])

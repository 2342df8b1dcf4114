"""HubSpot routes, mirroring Salesforce's: the connection (a private-app token or OAuth, kept in Secrets Manager and
never in a response), per-object import toggles (contacts, companies, deals), field mappings with a preview, the
schedule, status and history, and "sync now"; export settings for contacts and companies, a dry-run preview,
"export now" and export history."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, ConfigDict, Field, field_validator

from roster.api.crm import Crm, CrmConnection, CrmExport, connection_routes, export_routes, https_url, import_routes
from roster.api.errors import ApiError, answers
from roster.aws import clients
from roster.connectors.hubspot import connection
from roster.connectors.hubspot.budget import BudgetSpent
from roster.connectors.hubspot.connection import (
    API_ERRORS,
    CREDENTIALS,
    NETWORK_ERRORS,
    ConnectionCheck,
    CredentialStore,
    NotConnected,
    OAuthCredentials,
    PrivateAppCredentials,
    RefreshFailed,
)
from roster.connectors.hubspot.describe import OBJECTS, HubSpotObject, PreviewRecord
from roster.connectors.hubspot.export_store import EXPORT_OBJECTS, ExportObject, ExportRun, ExportSettings
from roster.connectors.hubspot.exporter import ExportPreview, ExportStatus
from roster.connectors.hubspot.importer import ApiMath, ObjectStatus, api_math
from roster.connectors.hubspot.store import HubSpotConfig, HubSpotRun
from roster.outbound import OutboundRefused, Unresolvable
from roster.services import services

router = Router()
T = TypeVar("T")
SYSTEM = "hubspot"
MAX_API_MATH_RECORDS = 10**10


class _ConnectionOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ca_bundle: str | None = Field(
        default=None,
        max_length=1024,
        description="Local stacks only: absolute path of a PEM CA bundle to trust (the HubSpot emulator's CA)",
    )

    @field_validator("host", check_fields=False)
    @classmethod
    def _https(cls, value: str) -> str:
        return https_url(value, "https://api.hubapi.com")


class PrivateAppConnection(PrivateAppCredentials, _ConnectionOptions):
    pass


class OAuthConnection(OAuthCredentials, _ConnectionOptions):
    pass


ConnectBody = Annotated[PrivateAppConnection | OAuthConnection, Field(discriminator="method")]


class ConnectionView(BaseModel):
    """A workspace's HubSpot connection as the API shows it: every secret masked."""

    connected: bool
    credentials: dict[str, Any] | None = None
    ca_bundle: str | None = None
    test: ConnectionCheck | None = None


def _credentials() -> CredentialStore:
    return CredentialStore(clients().secrets)


def _talk(action: Callable[[], T]) -> T:
    """Run something that talks to HubSpot; its failures become specific API errors."""
    try:
        return action()
    except NotConnected:
        raise ApiError(409, "not_connected", CRM.not_connected) from None
    except (RefreshFailed, OutboundRefused, Unresolvable, BudgetSpent, *API_ERRORS, *NETWORK_ERRORS) as failure:
        code, reason = connection.explain(failure)
        raise ApiError(502, code, reason) from None


# --- routes: the connection, objects, mappings, syncs and schedule --------------------------------------


CRM = Crm(
    system=SYSTEM,
    label="HubSpot",
    module=__name__,
    objects=OBJECTS,
    object_type=HubSpotObject,
    status_type=ObjectStatus,
    run_type=HubSpotRun,
    config_type=HubSpotConfig,
    preview_type=PreviewRecord,
    field_word="properties",
    mapping_help='HubSpot property → Roster field, or {"field": ..., "export": never|always|fill_blank}',
    window_word="overlap",
    sync=lambda: services.hubspot,
    queue=lambda: services.hubspot_queue,
    credentials=_credentials,
    talk=_talk,
)
connection_routes(
    router,
    CRM,
    CrmConnection(
        body_type=ConnectBody,
        view_type=ConnectionView,
        check_type=ConnectionCheck,
        parse=CREDENTIALS.validate_python,
        test=lambda credentials, bundle, workspace: connection.test_connection(
            credentials, bundle, services.hubspot.budget(workspace)
        ),
        connect_summary="Connect HubSpot (a private-app token or OAuth; kept in Secrets Manager) and test it",
        test_summary="Read one record of each object; says why if it fails (bad token, missing scope, rate limited)",
    ),
)
import_routes(router, CRM)


@router.get(
    "/v1/hubspot/api-math",
    summary="Estimated HubSpot API calls to sync and export N contacts, against the portal's daily allowance",
    responses=answers(200),
)
def get_api_math(records: Annotated[int, Query(ge=0, le=MAX_API_MATH_RECORDS)]) -> ApiMath:
    workspace = str(router.context["workspace"])
    config = services.hubspot.store.config(workspace)
    estimate = api_math(records, config.tier, config.reserve_percent)
    estimate.used_today = services.hubspot.budget(workspace).used_today()
    return estimate


export_routes(
    router,
    CRM,
    CrmExport(
        objects=EXPORT_OBJECTS,
        object_type=ExportObject,
        objects_word="contacts and companies",
        settings_type=ExportSettings,
        status_type=ExportStatus,
        preview_type=ExportPreview,
        run_type=ExportRun,
        service=lambda: services.hubspot_export,
        queue=lambda: services.hubspot_export_queue,
        import_only="{obj} are import-only; export writes {exported}",
        why_write="batch update and upsert, 100 records a call",
    ),
)

"""Salesforce routes: the connection (credentials in Secrets Manager, never in a response), per-object import
sync toggles, field mappings with a preview, the schedule, status and history, "sync now" and API-call math;
export settings, a dry-run preview, "export now" and export history."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import requests
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from simple_salesforce.exceptions import SalesforceError

from roster.api.crm import (
    Crm,
    CrmConnection,
    CrmExport,
    check_bundle,
    connection_routes,
    export_routes,
    https_url,
    import_routes,
)
from roster.api.errors import ApiError, answers
from roster.aws import clients
from roster.connectors.core.trust import save_ca_bundle, verify_for
from roster.connectors.salesforce import connection
from roster.connectors.salesforce.connection import (
    CREDENTIALS,
    AuthorizationRefused,
    ClientCredentials,
    ConnectionCheck,
    CredentialStore,
    JwtCredentials,
    LoginFailed,
    PasswordCredentials,
    SessionCredentials,
    SessionExpired,
    WebServerCredentials,
    finish_authorization,
    start_authorization,
)
from roster.connectors.salesforce.describe import OBJECTS, PreviewRecord, SalesforceObject
from roster.connectors.salesforce.export_store import EXPORT_OBJECTS, ExportObject, ExportRun, ExportSettings
from roster.connectors.salesforce.exporter import ExportPreview, ExportStatus
from roster.connectors.salesforce.importer import ApiMath, ObjectStatus, api_math
from roster.connectors.salesforce.store import SyncConfig, SyncRun
from roster.services import services

router = Router()
T = TypeVar("T")
MAX_API_MATH_RECORDS = 10**10


# --- request and response bodies --------------------------------------------------------------------------


class _ConnectionOptions(BaseModel):
    """What every connection body may add to its credentials."""

    model_config = ConfigDict(extra="forbid")

    ca_bundle: str | None = Field(
        default=None,
        max_length=1024,
        description="Local stacks only: absolute path of a PEM CA bundle to trust (the Salesforce emulator's CA)",
    )

    @field_validator("login_url", "instance_url", "audience", check_fields=False)
    @classmethod
    def _https(cls, value: str | None) -> str | None:
        return None if value is None else https_url(value, "https://login.salesforce.com or your My Domain")


class PasswordConnection(PasswordCredentials, _ConnectionOptions):
    pass


class ClientConnection(ClientCredentials, _ConnectionOptions):
    pass


class SessionConnection(SessionCredentials, _ConnectionOptions):
    pass


class JwtConnection(JwtCredentials, _ConnectionOptions):
    pass


class WebServerConnection(WebServerCredentials, _ConnectionOptions):
    pass


ConnectBody = Annotated[
    PasswordConnection | ClientConnection | SessionConnection | JwtConnection | WebServerConnection,
    Field(discriminator="method"),
]


class AuthorizeBody(_ConnectionOptions):
    """A connected app for the web server flow; its callback URL must be `redirect_uri`."""

    login_url: str = connection.LOGIN_URL
    client_id: str = Field(max_length=500, description="The connected app's consumer key")
    client_secret: SecretStr = Field(description="The connected app's consumer secret (kept in Secrets Manager)")
    redirect_uri: str = Field(max_length=500, description="The connected app's callback URL")


class AuthorizeView(BaseModel):
    authorize_url: str = Field(description="Open it, log in and approve; Salesforce redirects with code and state")
    state: str
    expires_in: int = Field(description="Seconds left to post the code to /v1/salesforce/connection/callback")


class CallbackBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=2000, description="`code` from the callback URL")
    state: str = Field(min_length=1, max_length=200, description="`state` from the callback URL")


class ConnectionView(BaseModel):
    """A workspace's connection as the API shows it: every secret masked."""

    connected: bool
    credentials: dict[str, Any] | None = None
    ca_bundle: str | None = None
    test: ConnectionCheck | None = None


# --- helpers ----------------------------------------------------------------------------------------------


def _workspace() -> str:
    return str(router.context["workspace"])


def _credentials() -> CredentialStore:
    return CredentialStore(clients().secrets)


def _talk(action: Callable[[], T]) -> T:
    """Run something that talks to Salesforce; its failures become specific API errors."""
    try:
        return action()
    except LoginFailed as failure:
        if failure.code == "not_connected":
            raise ApiError(409, "not_connected", CRM.not_connected) from None
        code, reason = connection.explain(failure)
        raise ApiError(502, code, reason) from None
    except (SessionExpired, requests.RequestException, SalesforceError) as failure:
        code, reason = connection.explain(failure)
        raise ApiError(502, code, reason) from None


# --- connection -------------------------------------------------------------------------------------------


@router.post(
    "/v1/salesforce/connection/authorize",
    summary="Start the web server flow: the authorize URL to open (its state is good for one callback)",
    responses=answers(200),
)
def authorize(body: Annotated[AuthorizeBody, Body()]) -> AuthorizeView:
    workspace = _workspace()
    check_bundle(body.ca_bundle)
    url, state, pending = start_authorization(body.login_url, body.client_id, body.client_secret, body.redirect_uri)
    _credentials().save_authorization(workspace, pending)
    save_ca_bundle(services.workspaces, "salesforce", workspace, body.ca_bundle)
    return AuthorizeView(authorize_url=url, state=state, expires_in=connection.AUTHORIZE_SECONDS)


@router.post(
    "/v1/salesforce/connection/callback",
    summary="Finish the web server flow: exchange the code for a refresh token (kept in Secrets Manager) and test",
    responses=answers(200, 409, 502),
)
def callback(body: Annotated[CallbackBody, Body()]) -> ConnectionView:
    workspace = _workspace()
    pending = _credentials().take_authorization(workspace)
    verify = verify_for(services.workspaces, "salesforce", workspace)
    try:
        credentials = _talk(lambda: finish_authorization(pending, body.code, body.state, verify=verify))
    except AuthorizationRefused as refused:
        raise ApiError(409, "authorization_refused", str(refused)) from None
    _credentials().save(workspace, credentials)
    view: ConnectionView = CONNECTION.view(CRM, workspace)
    return view


# --- routes: the connection, objects, mappings, syncs, schedule; API usage ------------------------------


CRM = Crm(
    system="salesforce",
    label="Salesforce",
    module=__name__,
    objects=OBJECTS,
    object_type=SalesforceObject,
    status_type=ObjectStatus,
    run_type=SyncRun,
    config_type=SyncConfig,
    preview_type=PreviewRecord,
    field_word="fields",
    mapping_help='Salesforce field → Roster field, or {"field": ..., "export": never|always|...}',
    window_word="lookback",
    sync=lambda: services.salesforce,
    queue=lambda: services.salesforce_queue,
    credentials=_credentials,
    talk=_talk,
)
CONNECTION = CrmConnection(
    body_type=ConnectBody,
    view_type=ConnectionView,
    check_type=ConnectionCheck,
    parse=CREDENTIALS.validate_python,
    test=lambda credentials, bundle, workspace: connection.test_connection(
        credentials, verify=bundle or True, api_version=clients().settings.salesforce_api_version
    ),
    connect_summary="Connect Salesforce (credentials go to Secrets Manager) and test it",
    test_summary="Log in and read the org's limits; says why if it fails",
)
connection_routes(router, CRM, CONNECTION)
import_routes(router, CRM)


@router.get(
    "/v1/salesforce/api-math",
    summary="Estimated Salesforce API calls to import and export N records",
    responses=answers(200),
)
def get_api_math(records: Annotated[int, Query(ge=0, le=MAX_API_MATH_RECORDS)]) -> ApiMath:
    return api_math(records)


# --- export -----------------------------------------------------------------------------------------------


export_routes(
    router,
    CRM,
    CrmExport(
        objects=EXPORT_OBJECTS,
        object_type=ExportObject,
        objects_word="Accounts and Contacts",
        settings_type=ExportSettings,
        status_type=ExportStatus,
        preview_type=ExportPreview,
        run_type=ExportRun,
        service=lambda: services.salesforce_export,
        queue=lambda: services.export_queue,
        import_only="{obj} is import-only; export writes {exported} (Leads and Opportunities can be written "
        "through a bulk enrichment instead)",
        why_write="Bulk API 2.0 ingest jobs",
    ),
)

"""A CRM's routes, one piece of code for every system (Salesforce, HubSpot): its connection (connect and test,
show, test again, forget), its import (per-object sync toggles, field mappings with a preview, status, history,
"sync now" and the schedule) and its export (settings, a dry-run preview, "export now" and history). Each system
gives its own names, types and services; its models keep their module so the OpenAPI document names them as
before."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Annotated, Any, Protocol, TypeVar

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from pydantic import BaseModel, ConfigDict, Field, create_model

from roster.api.errors import ApiError, answers
from roster.api.schemas import ObjectToggle, PreviewBody, SyncNow
from roster.connectors.core.export import ExportRefused
from roster.connectors.core.mapping import FieldMapping, MappingError
from roster.connectors.core.runs import SyncRefused
from roster.connectors.core.state import Mode, Status
from roster.connectors.core.trust import TrustRefused, ca_bundle, check_ca_bundle, save_ca_bundle
from roster.outbound import OutboundRefused, Unresolvable, check_url
from roster.services import services

F = TypeVar("F", bound=Callable[..., Any])


class ImportSync(Protocol):
    """What the routes use of a system's import service (SalesforceSync, HubSpotSync)."""

    @property
    def store(self) -> Any: ...

    def status(self, workspace: str) -> list[Any]: ...
    def enable(self, workspace: str, obj: Any, enabled: bool = True) -> Any: ...
    def mapping(self, workspace: str, obj: Any) -> Any: ...
    def set_mapping(self, workspace: str, obj: Any, fields: dict[str, str | FieldMapping]) -> Any: ...
    def preview(self, workspace: str, obj: Any, fields: dict[str, str | FieldMapping] | None) -> Any: ...
    def history(self, workspace: str, obj: Any, limit: int) -> list[Any]: ...
    def start(self, workspace: str, obj: Any, mode: Mode | None = None) -> Any: ...


@dataclass(frozen=True)
class Crm:
    """One system's import routes: its words, its types and where its services are."""

    system: str  # path segment, e.g. "hubspot"
    label: str  # the name users know, e.g. "HubSpot"
    module: str  # the system's API module: its models keep their OpenAPI names
    objects: tuple[str, ...]  # the object names as the system spells them
    object_type: Any  # the Literal of object names
    status_type: type[BaseModel]
    run_type: type[BaseModel]
    config_type: type[BaseModel]
    preview_type: type[BaseModel]
    field_word: str  # "fields", "properties"
    mapping_help: str  # how MappingBody.fields reads in this system
    window_word: str  # what the schedule calls how far a sync reaches back
    sync: Callable[[], ImportSync]
    queue: Callable[[], Any]  # the sync queue: send(message)
    credentials: Callable[[], Any]  # the credential store: load, save and delete a workspace's credentials
    talk: Callable[[Callable[[], Any]], Any]  # the system's failures → API errors

    @property
    def not_connected(self) -> str:
        return f"{self.label} is not connected for this workspace: PUT /v1/{self.system}/connection first"

    def connected(self, workspace: str) -> bool:
        return self.credentials().load(workspace) is not None

    def parse_object(self, name: str) -> Any:
        """An object by its name in any case; else a 404 naming the objects there are."""
        by_name = {obj.lower(): obj for obj in self.objects}
        if name.lower() not in by_name:
            raise ApiError(404, "not_found", f"no {self.label} object {name!r}; one of {', '.join(self.objects)}")
        return by_name[name.lower()]

    def call(self, action: Callable[[], Any]) -> Any:
        """Run something that talks to the system: a mapping it refuses is a 422, its failures the system's errors."""
        try:
            return self.talk(action)
        except MappingError as problem:
            raise ApiError(422, "invalid_mapping", str(problem)) from None


def _typed(route: F, **types: Any) -> F:
    """Powertools validates and documents a route by its annotations: a shared route takes the system's types."""
    route.__annotations__.update(types)
    return route


def _model(crm: Crm, name: str, **fields: Any) -> type[BaseModel]:
    return create_model(name, __module__=crm.module, **fields)


def import_routes(router: Router, crm: Crm) -> None:
    """Register a system's import routes on its router."""
    prefix, label = f"/v1/{crm.system}", crm.label
    mapping_body = create_model(
        "MappingBody",
        __module__=crm.module,
        __config__=ConfigDict(extra="forbid"),
        fields=(
            dict[str, str | FieldMapping],
            Field(max_length=500, description=crm.mapping_help),
        ),
    )
    mapping_view = _model(
        crm, "MappingView", object=(crm.object_type, ...), saved=(bool, ...), fields=(dict[str, FieldMapping], ...)
    )
    preview_view = _model(crm, "PreviewView", object=(crm.object_type, ...), records=(list[crm.preview_type], ...))  # type: ignore[name-defined]
    started_view = _model(
        crm, "SyncStarted", object=(crm.object_type, ...), run_id=(str, ...), mode=(Mode, ...), status=(str, "queued")
    )
    status_view = _model(crm, "StatusView", connected=(bool, ...), objects=(list[crm.status_type], ...))  # type: ignore[name-defined]
    history_view = _model(crm, "HistoryView", object=(crm.object_type, ...), runs=(list[crm.run_type], ...))  # type: ignore[name-defined]

    def workspace() -> str:
        return str(router.context["workspace"])

    def status_of(ws: str, obj: Any) -> Any:
        return next(row for row in crm.sync().status(ws) if row.object == obj)

    def status() -> Any:
        ws = workspace()
        return status_view(connected=crm.connected(ws), objects=crm.sync().status(ws))

    router.get(
        f"{prefix}/status",
        summary=f"Every {label} object's toggle, sync state, high-water mark and latest run",
        responses=answers(200),
    )(_typed(status, **{"return": status_view}))

    def get_object(name: str) -> Any:
        return status_of(workspace(), crm.parse_object(name))

    router.get(
        f"{prefix}/objects/<name>",
        summary=f"One {label} object's toggle, sync state and latest run",
        responses=answers(200, 404),
    )(_typed(get_object, **{"return": crm.status_type}))

    def put_object(name: str, body: ObjectToggle) -> Any:
        obj, ws = crm.parse_object(name), workspace()
        crm.sync().enable(ws, obj, body.enabled)
        return status_of(ws, obj)

    router.put(
        f"{prefix}/objects/<name>",
        summary=f"Turn {label} import sync on or off for an object",
        responses=answers(200, 404),
    )(_typed(put_object, **{"return": crm.status_type}))

    def get_mapping(name: str) -> Any:
        obj, ws = crm.parse_object(name), workspace()
        saved = crm.sync().store.mapping(ws, obj)
        mapping = saved or crm.call(lambda: crm.sync().mapping(ws, obj))
        return mapping_view(object=obj, saved=saved is not None, fields=mapping.fields)

    router.get(
        f"{prefix}/objects/<name>/mapping",
        summary=f"The saved {label} mapping, or the automatic one",
        responses=answers(200, 404, 409, 422, 502),
    )(_typed(get_mapping, **{"return": mapping_view}))

    def put_mapping(name: str, body: Any) -> Any:
        obj, ws = crm.parse_object(name), workspace()
        mapping = crm.call(lambda: crm.sync().set_mapping(ws, obj, body.fields))
        return mapping_view(object=obj, saved=True, fields=mapping.fields)

    router.put(
        f"{prefix}/objects/<name>/mapping",
        summary=f"Save a {label} mapping (checked against the object's {crm.field_word})",
        responses=answers(200, 404, 409, 422, 502),
    )(_typed(put_mapping, body=mapping_body, **{"return": mapping_view}))

    def preview_mapping(name: str, body: PreviewBody) -> Any:
        obj, ws = crm.parse_object(name), workspace()
        records = crm.call(lambda: crm.sync().preview(ws, obj, body.fields))
        return preview_view(object=obj, records=records)

    router.post(
        f"{prefix}/objects/<name>/mapping/preview",
        summary=f"Ten {label} records as a mapping would store them",
        responses=answers(200, 404, 409, 422, 502),
    )(_typed(preview_mapping, **{"return": preview_view}))

    def history(name: str, limit: Annotated[int, Query(ge=1, le=100)] = 20) -> Any:
        obj = crm.parse_object(name)
        return history_view(object=obj, runs=crm.sync().history(workspace(), obj, limit))

    router.get(
        f"{prefix}/objects/<name>/history",
        summary=f"A {label} object's sync runs, newest first",
        responses=answers(200, 404),
    )(_typed(history, **{"return": history_view}))

    def sync_now(name: str, body: SyncNow) -> Any:
        obj, ws = crm.parse_object(name), workspace()
        if not crm.connected(ws):
            raise ApiError(409, "not_connected", crm.not_connected)
        try:
            message = crm.sync().start(ws, obj, body.mode)
        except SyncRefused:
            raise ApiError(409, "sync_off", f"import sync is off for {obj}: PUT {prefix}/objects/{obj}") from None
        if message is None:
            state = crm.sync().store.state(ws, obj)
            if state.status is Status.PARKED:  # on the day's API allowance: it resumes from its checkpoint
                raise ApiError(409, "parked", f"the {obj} sync is parked and resumes by itself: {state.error}")
            raise ApiError(409, "already_running", f"a {obj} sync is already running; see {prefix}/status")
        crm.queue().send(message)
        started = started_view(object=obj, run_id=message.run_id, mode=message.mode)
        return Response(status_code=202, content_type="application/json", body=started)

    router.post(
        f"{prefix}/objects/<name>/sync",
        summary=f"Sync a {label} object now (full or incremental)",
        responses=answers(202, 404, 409),
    )(_typed(sync_now, **{"return": Response[started_view]}))  # type: ignore[valid-type]

    def get_schedule() -> Any:
        return crm.sync().store.config(workspace())

    router.get(
        f"{prefix}/schedule",
        summary=f"How often {label}'s incremental and full syncs run, and their {crm.window_word}",
        responses=answers(200),
    )(_typed(get_schedule, **{"return": crm.config_type}))

    def put_schedule(body: Any) -> Any:
        crm.sync().store.put_config(workspace(), body)
        return body

    router.put(
        f"{prefix}/schedule",
        summary=f"Change how often {label}'s incremental and full syncs run",
        responses=answers(200),
    )(_typed(put_schedule, body=crm.config_type, **{"return": crm.config_type}))


@dataclass(frozen=True)
class CrmConnection:
    """How a system connects: its connection bodies, views and credential store."""

    body_type: Any  # the discriminated union of connection bodies (credentials and ca_bundle)
    view_type: type[BaseModel]  # the connection as the API shows it (secrets masked), with `test`
    check_type: type[BaseModel]
    parse: Callable[[dict[str, Any]], Any]  # the credentials in a connection body
    test: Callable[[Any, str | None, str], Any]  # (credentials, CA bundle, workspace) → the connection check
    connect_summary: str
    test_summary: str

    def view(self, crm: Crm, workspace: str) -> Any:
        """The workspace's connection (every secret masked), freshly tested."""
        credentials = crm.credentials().load(workspace)
        if credentials is None:
            return self.view_type(connected=False)
        bundle = ca_bundle(services.workspaces, crm.system, workspace)
        return self.view_type(
            connected=True,
            credentials=credentials.redacted(),
            ca_bundle=bundle,
            test=self.test(credentials, bundle, workspace),
        )


def check_bundle(path: str | None) -> None:
    """A CA bundle to trust must be a readable PEM file (local stacks only): else a 422 saying why."""
    if path is not None:
        try:
            check_ca_bundle(path)
        except TrustRefused as refused:
            raise ApiError(422, "invalid_request", str(refused)) from None


def https_url(value: str, example: str) -> str:
    """A connection body's URL must be https and may not point inside (refused before anything connects)."""
    if not value.startswith("https://") or len(value) > 500 or any(c.isspace() for c in value):
        raise ValueError(f"must be an https:// URL, e.g. {example}")
    try:
        check_url(value)
    except OutboundRefused as refused:
        raise ValueError(str(refused)) from None
    except Unresolvable:
        pass  # a name that does not resolve yet fails the connection test instead
    return value


def connection_routes(router: Router, crm: Crm, conn: CrmConnection) -> None:
    """Register a system's connection routes: connect and test, show, test again, forget."""
    path = f"/v1/{crm.system}/connection"

    def workspace() -> str:
        return str(router.context["workspace"])

    def put_connection(body: Any) -> Any:
        ws = workspace()
        check_bundle(body.ca_bundle)
        crm.credentials().save(ws, conn.parse(body.model_dump(exclude={"ca_bundle"})))
        save_ca_bundle(services.workspaces, crm.system, ws, body.ca_bundle)
        return conn.view(crm, ws)

    router.put(path, summary=conn.connect_summary, responses=answers(200, 422))(
        _typed(put_connection, body=Annotated[conn.body_type, Body()], **{"return": conn.view_type})
    )

    def get_connection() -> Any:
        return conn.view(crm, workspace())

    router.get(path, summary="The connection (secrets masked) and a fresh connection test", responses=answers(200))(
        _typed(get_connection, **{"return": conn.view_type})
    )

    def check_connection() -> Any:
        view = conn.view(crm, workspace())
        if view.test is None:
            raise ApiError(404, "not_connected", crm.not_connected)
        return view.test

    router.post(f"{path}/test", summary=conn.test_summary, responses=answers(200, 404))(
        _typed(check_connection, **{"return": conn.check_type})
    )

    def delete_connection() -> Response[None]:
        ws = workspace()
        crm.credentials().delete(ws)
        save_ca_bundle(services.workspaces, crm.system, ws, None)
        return Response(status_code=204)

    router.delete(path, summary="Forget the credentials (scheduled syncs stop connecting)", responses=answers(204))(
        delete_connection
    )


@dataclass(frozen=True)
class CrmExport:
    """How a system's export is shown: its object and model types and its service."""

    objects: Collection[str]  # the objects export writes
    object_type: Any  # their Literal
    objects_word: str  # e.g. "Accounts and Contacts"
    settings_type: type[BaseModel]
    status_type: type[BaseModel]
    preview_type: type[BaseModel]
    run_type: type[BaseModel]
    service: Callable[[], Any]  # the export loop: status, configure, preview, start, history
    queue: Callable[[], Any]  # the export queue: send(message)
    import_only: str  # why an object is not exported: a template of {obj} and {exported}
    why_write: str  # what "export now" says it writes with

    def parse_object(self, crm: Crm, name: str) -> Any:
        """An object export writes; else a 404 (unknown) or a 422 (import-only)."""
        obj = crm.parse_object(name)
        if obj not in self.objects:
            raise ApiError(422, "import_only", self.import_only.format(obj=obj, exported=" and ".join(self.objects)))
        return obj


def export_routes(router: Router, crm: Crm, exp: CrmExport) -> None:
    """Register a system's export routes: settings per object, a dry-run preview, "export now" and history."""
    prefix, label = f"/v1/{crm.system}/export", crm.label
    now_body = _model(
        crm,
        "ExportNow",
        __config__=ConfigDict(extra="forbid"),
        full=(
            bool | None,
            Field(
                default=None,
                description="Consider every linked record, not only profiles changed since the last export",
            ),
        ),
    )
    started_view = _model(
        crm, "ExportStarted", object=(exp.object_type, ...), run_id=(str, ...), status=(str, "queued")
    )
    history_view = _model(crm, "ExportHistory", object=(exp.object_type, ...), runs=(list[exp.run_type], ...))  # type: ignore[name-defined]

    def workspace() -> str:
        return str(router.context["workspace"])

    def talk(action: Callable[[], Any]) -> Any:
        try:
            return crm.call(action)
        except ExportRefused as refused:
            raise ApiError(409, "export_refused", str(refused)) from None

    def status_of(ws: str, obj: Any) -> Any:
        return next(row for row in exp.service().status(ws) if row.object == obj)

    def export_status() -> Any:
        return exp.service().status(workspace())

    router.get(
        prefix, summary=f"Export sync settings, state and latest run of {exp.objects_word}", responses=answers(200)
    )(_typed(export_status, **{"return": list[exp.status_type]}))  # type: ignore[name-defined]

    def get_export(name: str) -> Any:
        return status_of(workspace(), exp.parse_object(crm, name))

    router.get(
        f"{prefix}/<name>",
        summary="One object's export settings, state and latest run",
        responses=answers(200, 404, 422),
    )(_typed(get_export, **{"return": exp.status_type}))

    def put_export(name: str, body: Any) -> Any:
        obj, ws = exp.parse_object(crm, name), workspace()
        talk(lambda: exp.service().configure(ws, obj, body))
        return status_of(ws, obj)

    router.put(
        f"{prefix}/<name>",
        summary="Turn export sync (and creating new records) on or off",
        responses=answers(200, 404, 409, 422, 502),
    )(_typed(put_export, body=exp.settings_type, **{"return": exp.status_type}))

    def preview_export(name: str, limit: Annotated[int, Query(ge=1, le=500)] = 50) -> Any:
        obj, ws = exp.parse_object(crm, name), workspace()
        return talk(lambda: exp.service().preview(ws, obj, limit))

    router.post(
        f"{prefix}/<name>/preview",
        summary=f"Dry run: which {label} records and fields the next export would write, old → new, and the rule",
        responses=answers(200, 404, 409, 422, 502),
    )(_typed(preview_export, **{"return": exp.preview_type}))

    def export_now(name: str, body: Any) -> Any:
        obj, ws = exp.parse_object(crm, name), workspace()
        if not crm.connected(ws):
            raise ApiError(409, "not_connected", crm.not_connected)
        message = talk(lambda: exp.service().start(ws, obj, body.full))
        if message is None:
            raise ApiError(409, "already_running", f"a {obj} export is already running; see {prefix}")
        exp.queue().send(message)
        started = started_view(object=obj, run_id=message.run_id)
        return Response(status_code=202, content_type="application/json", body=started)

    router.post(
        f"{prefix}/<name>/run",
        summary=f"Export an object to {label} now ({exp.why_write})",
        responses=answers(202, 404, 409, 422, 502),
    )(_typed(export_now, body=now_body, **{"return": Response[started_view]}))  # type: ignore[valid-type]

    def export_history(name: str, limit: Annotated[int, Query(ge=1, le=100)] = 20) -> Any:
        obj = exp.parse_object(crm, name)
        return history_view(object=obj, runs=exp.service().history(workspace(), obj, limit))

    router.get(
        f"{prefix}/<name>/history",
        summary="An object's export runs (with refused records), newest first",
        responses=answers(200, 404, 422),
    )(_typed(export_history, **{"return": history_view}))

"""The HubSpot import sync: scheduler, worker and continuation on the connector core's run loop.

A full run lists the object (`GET /crm/v3/objects/{object}`, 100 records a page by id, each with its associated
company named in the page, no associations call), resuming from the list's cursor committed. An incremental run
reads through CRM search the records whose modified date (`lastmodifieddate` for contacts, `hs_lastmodifieddate`
otherwise) is at or after the mark minus an overlap (10 minutes by default), 200 a page, sorted by `hs_object_id`
ascending, each page a new search from the last id committed (`hs_object_id > last`): a keyset, so no query ever
pages past HubSpot's 10,000-result cap, however many records share one modified time (a bulk edit gives
thousands the same one), and records sharing the mark's time, or that search indexed late, are read again rather
than missed. Its cost follows what changed, not the portal's size (search has its own, lower limit, which is why
full runs list instead). The mark is the time the run started, and moves only when the run has read to its end.

Each page is resolved and committed with the run's checkpoint (the cursor or last id, the counts) and the object's
state at the versions read, so a second worker holding the run stops (Stale) and a redelivered message resumes
after the last committed page: nothing is counted twice or skipped. Searched contacts and deals read their
associated company (associations v4, one call per 100); contacts then read the companies' domain and name (one
batch read per 100). After the records, full runs list every archived record (`archived=true`, 100 a page) and
unlink it; incrementals do so once a day (HubSpot cannot list archived records by time, so every listing reads
them all), unlinking those archived since the previous listing. A worker near its deadline returns its message
to be queued again; failures that retrying later may fix park the run (the message goes to the dead-letter
queue; a run parked on the day's API allowance resumes from its checkpoint when the day turns), others fail it
with the reason.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from hubspot import HubSpot
from hubspot.crm.associations.v4 import BatchInputPublicFetchAssociationsBatchRequest
from hubspot.crm.objects import BatchReadInputSimplePublicObjectId, Filter, FilterGroup, PublicObjectSearchRequest
from pydantic import BaseModel

from roster.connectors.core.mapping import FieldMapping
from roster.connectors.core.runs import ImportLoop, PageFailed, RunWorker, fields_added_since_full
from roster.connectors.core.state import Mode, Status
from roster.connectors.hubspot.budget import TIERS, Budget, Tier, daily_share
from roster.connectors.hubspot.connection import Connection, explain, properties, transient
from roster.connectors.hubspot.describe import (
    MERGED,
    MODIFIED,
    OBJECTS,
    PREVIEW_RECORDS,
    HubSpotObject,
    ObjectMapping,
    PreviewRecord,
    apply_mapping,
    auto_map,
    stamp,
    validate_mapping,
)
from roster.connectors.hubspot.records import Page, PageContext, Row, archive, archive_deals, process
from roster.connectors.hubspot.store import HubSpotRun, HubSpotState, HubSpotStore
from roster.identity.resolver import Resolver
from roster.profiles.fields import Kind
from roster.profiles.values import format_time

PAGE_RECORDS = 200  # HubSpot search's largest page
BATCH = 100  # inputs per batch read (records and associations)
LIST_PAGE = ARCHIVED_PAGE = 100  # the list API's largest page
ARCHIVED_EVERY_MS = 24 * 3600 * 1000  # incrementals list archived records once a day (full runs always)
MAX_PROBLEMS = 20
WAITS_FOR_TOMORROW = ("daily_budget", "daily_limit")  # a run parked on these resumes when the day turns


class SyncMessage(BaseModel):
    """One unit of sync work on the queue: a run to start or continue (its checkpoint is in the run)."""

    workspace: str
    object: HubSpotObject
    mode: Mode
    run_id: str


class ObjectStatus(BaseModel):
    """What the API shows of one object: its toggle, state, mark and latest run (never credentials)."""

    object: HubSpotObject
    enabled: bool
    status: Status
    watermark: int | None
    last_full_sync: str | None
    error: str | None
    last_run: HubSpotRun | None


class ApiMath(BaseModel):
    """Estimated HubSpot API calls for `records` contacts (the costliest object: each page also reads its
    contacts' companies), against the day's allowance Roster may use on a tier."""

    records: int
    tier: Tier
    daily_allowance: int  # HubSpot's, for the tier
    daily_share: int  # what Roster may use of it: the allowance less the reserve
    full_calls: int  # list pages of 100, a company read a page, one archived page (mapping saved)
    incremental_calls: int  # `records` changed: searches of 200 (and one to see the end), associations, companies
    export_calls: int  # batch writes of 100
    full_percent_of_share: float
    used_today: int | None = None  # calls Roster spent today on this portal (when asked of a workspace)


def api_math(records: int, tier: Tier = "starter", reserve_percent: int = 20) -> ApiMath:
    pages = max(1, math.ceil(records / LIST_PAGE))
    full = pages + math.ceil(records / BATCH) + 1
    incremental = records // PAGE_RECORDS + 1 + 2 * math.ceil(records / BATCH)
    share = daily_share(TIERS[tier], reserve_percent)
    return ApiMath(
        records=records,
        tier=tier,
        daily_allowance=TIERS[tier].daily,
        daily_share=share,
        full_calls=full,
        incremental_calls=incremental,
        export_calls=math.ceil(records / BATCH),
        full_percent_of_share=round(100 * full / share, 2),
    )


def _chunks(ids: list[str]) -> list[list[str]]:
    return [ids[start : start + BATCH] for start in range(0, len(ids), BATCH)]


def _associations(obj: HubSpotObject, request: Any, client: HubSpot) -> Any:
    return client.crm.associations.v4.batch_api.get_page(obj, "companies", request)


def _companies(read: Any, client: HubSpot) -> Any:
    return client.crm.objects.batch_api.read("companies", read)


def _company(result: Any) -> str | None:
    """The first company a listed record is associated with (the list's `associations`), if any."""
    linked = (result.associations or {}).get("companies")
    ids = sorted((str(each.id) for each in (linked.results if linked else []) or []), key=int)
    return ids[0] if ids else None


def _read_properties(mapping: ObjectMapping) -> list[str]:
    return sorted({"hs_object_id", MODIFIED[mapping.object], MERGED, *mapping.fields})


@dataclass
class HubSpotSync(ImportLoop[HubSpotRun, HubSpotState, SyncMessage]):
    """The connector's operations; handlers inject the store, resolvers and a way to connect a workspace."""

    store: HubSpotStore
    resolver: Callable[[str, Kind], Resolver]
    connect: Callable[[str], Connection]
    page_records: int = PAGE_RECORDS

    # -- configuration ------------------------------------------------------------------------------------

    def mapping(self, workspace: str, obj: HubSpotObject) -> ObjectMapping:
        """The saved mapping, or the automatic one from the object's properties (one API call)."""
        return self.store.mapping(workspace, obj) or auto_map(obj, properties(self.connect(workspace), obj))

    def set_mapping(self, workspace: str, obj: HubSpotObject, fields: dict[str, str | FieldMapping]) -> ObjectMapping:
        """Check a manual mapping against the object's properties and save it (MappingError names the bad one)."""
        mapping = validate_mapping(obj, fields, properties(self.connect(workspace), obj))
        before = self.store.mapping(workspace, obj)
        changed = before is None or set(mapping.fields) - set(before.fields)
        mapping.fields_added_at = format_time(self.clock()) if changed else before.fields_added_at if before else None
        self.store.put_mapping(workspace, mapping)
        return mapping

    def preview(
        self, workspace: str, obj: HubSpotObject, fields: dict[str, str | FieldMapping] | None = None
    ) -> list[PreviewRecord]:
        """Ten recently changed records as a mapping (the given one, else the current one) would store them."""
        connection = self.connect(workspace)
        if fields is None:
            mapping = self.store.mapping(workspace, obj) or auto_map(obj, properties(connection, obj))
        else:
            mapping = validate_mapping(obj, fields, properties(connection, obj))
        request = PublicObjectSearchRequest(
            limit=PREVIEW_RECORDS,
            sorts=[{"propertyName": MODIFIED[obj], "direction": "DESCENDING"}],
            properties=_read_properties(mapping),
            filter_groups=[],
        )
        answer = connection(lambda client: client.crm.objects.search_api.do_search(obj, request), search=True)
        records = []
        for result in answer.results:
            values, problems = apply_mapping(mapping, {**(result.properties or {}), "id": result.id})
            records.append(PreviewRecord(id=str(result.id), fields=values, problems=problems))
        return records

    def budget(self, workspace: str) -> Budget:
        """The portal's API budget (its tier, reserve and time zone from the config), on this sync's clock."""
        config = self.store.config(workspace)
        return Budget(
            workspace,
            TIERS[config.tier],
            config.reserve_percent,
            config.time_zone,
            now=lambda: self.clock().timestamp(),
            sleep=self.sleep,
        )

    def status(self, workspace: str) -> list[ObjectStatus]:
        states = {state.object: state for state in self.store.states(workspace)}
        return [
            self.view(ObjectStatus, states.get(obj) or HubSpotState(workspace=workspace, object=obj)) for obj in OBJECTS
        ]

    # -- runs ---------------------------------------------------------------------------------------------

    def new_run(self, run_id: str, workspace: str, obj: HubSpotObject, mode: Mode, started_at: str) -> HubSpotRun:
        return HubSpotRun(run_id=run_id, workspace=workspace, object=obj, mode=mode, started_at=started_at)

    def start(self, workspace: str, obj: HubSpotObject, mode: Mode | None = None) -> SyncMessage | None:
        """Begin a run (see ImportLoop.start); but a run parked on the day's API allowance resumes from its
        checkpoint instead, once the portal's day has turned (None until then), so a sync larger than a day's
        share finishes over several days rather than starting over."""
        state = self.store.state(workspace, obj)
        parked = self.last_run(state) if state.enabled and state.status is Status.PARKED else None
        if parked is not None and parked.error_code in WAITS_FOR_TOMORROW:
            return None if self.budget(workspace).spent_today() else self.message(parked, parked.mode)
        return super().start(workspace, obj, mode)

    def message(self, run: HubSpotRun, mode: Mode) -> SyncMessage:
        return SyncMessage(workspace=run.workspace, object=run.object, mode=mode, run_id=run.run_id)

    def worker(
        self, run: HubSpotRun, state: HubSpotState, message: SyncMessage, remaining: Callable[[], float]
    ) -> _Worker:
        return _Worker(loop=self, run=run, state=state, message=message, remaining=remaining)


@dataclass(kw_only=True)
class _Worker(RunWorker[HubSpotRun, HubSpotState, SyncMessage]):
    """One invocation's work on an import run."""

    loop: HubSpotSync
    hubspot: Connection | None = None
    mapping: ObjectMapping | None = None

    @property
    def obj(self) -> HubSpotObject:
        return self.run.object

    def go(self) -> SyncMessage | None:
        if self.resume_parked():
            self.commit(with_state=True)
        self.hubspot = self.connection = self.loop.connect(self.run.workspace)
        self.mapping = self._mapping()
        if self.run.until is None and fields_added_since_full(self.mapping.fields_added_at, self.state.last_full_sync):
            self.run.mode = Mode.FULL  # what export compares against must hold the newly mapped properties
        if self.run.until is None:
            self._plan()
        while self.run.phase == "records":
            if self.near_deadline():
                return self._continue()
            self._read_page()
        while self.run.phase == "archived":
            if self.near_deadline():
                return self._continue()
            self._read_archived()
        self._finish()
        return None

    def _call(self, action: Callable[[HubSpot], Any], *, search: bool = False) -> Any:
        assert self.hubspot is not None
        return self.hubspot(action, search=search)

    def _mapping(self) -> ObjectMapping:
        saved = self.loop.store.mapping(self.run.workspace, self.obj)
        if saved is not None:
            return saved
        assert self.hubspot is not None
        mapping = auto_map(self.obj, properties(self.hubspot, self.obj))
        self.loop.store.put_mapping(self.run.workspace, mapping)
        return mapping

    def _plan(self) -> None:
        now = self.loop.clock()
        self.run.until = int(now.timestamp() * 1000)
        overlap = int(timedelta(minutes=self.loop.store.config(self.run.workspace).overlap_minutes).total_seconds())
        if self.run.mode is Mode.INCREMENTAL and self.state.watermark is not None:
            self.run.since = self.state.watermark - overlap * 1000
        mark = self.state.archived_mark
        if self.run.mode is Mode.FULL or mark is None:
            self.run.lists_archived, self.run.archived_since = True, None
        else:
            self.run.lists_archived = self.run.until - mark >= ARCHIVED_EVERY_MS
            self.run.archived_since = mark - overlap * 1000
        self.commit()

    def _search(self) -> tuple[list[Row], bool]:
        """Incremental: the next page of the keyset, records modified since the mark after the last id committed."""
        assert self.mapping is not None
        filters = [Filter(property_name="hs_object_id", operator="GT", value=str(self.run.last_id))]
        if self.run.since is not None:
            filters.append(Filter(property_name=MODIFIED[self.obj], operator="GTE", value=str(self.run.since)))
        request = PublicObjectSearchRequest(
            filter_groups=[FilterGroup(filters=filters)],
            sorts=[{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
            properties=_read_properties(self.mapping),
            limit=self.loop.page_records,
        )
        answer = self._call(lambda client: client.crm.objects.search_api.do_search(self.obj, request), search=True)
        rows: list[Row] = [{**(result.properties or {}), "id": str(result.id)} for result in answer.results]
        return rows, len(rows) < self.loop.page_records

    def _list(self) -> tuple[Page, str | None]:
        """Full: the next page of the object's list (by id, from the cursor committed), each record with its
        associated company (the list names them, so no associations call), and the following page's cursor."""
        assert self.mapping is not None
        after, properties = self.run.list_after, _read_properties(self.mapping)
        associations = None if self.obj == "companies" else ["companies"]
        answer = self._call(
            lambda client: client.crm.objects.basic_api.get_page(
                self.obj,
                limit=min(self.loop.page_records, LIST_PAGE),
                after=after,
                properties=properties,
                associations=associations,
            )
        )
        following = answer.paging.next.after if answer.paging and answer.paging.next else None
        rows: list[Row] = [{**(result.properties or {}), "id": str(result.id)} for result in answer.results]
        company_of = {str(result.id): company for result in answer.results if (company := _company(result))}
        return Page(rows, company_of), following

    def _context(self) -> PageContext:
        assert self.mapping is not None
        return PageContext(self.run.workspace, self.mapping, lambda kind: self.loop.resolver(self.run.workspace, kind))

    def _read_page(self) -> None:
        following = None
        if self.run.mode is Mode.FULL:
            listed, following = self._list()
            done = following is None
        else:
            rows, done = self._search()
            listed = self._associated(Page(rows))
        page, rows = self._with_companies(listed), listed.rows
        if rows:
            counts, problems = process(self._context(), page)
            self.run.counts = self.run.counts.add(counts)
            self.run.problems = [*self.run.problems, *problems][:MAX_PROBLEMS]
            self.run.last_id = max(self.run.last_id, *(int(row["id"]) for row in rows))
        self.run.list_after = following  # only now: a failure before this commit reads the page again
        if done:
            self.run.phase = "archived" if self.run.lists_archived else "done"
        self.commit(with_state=True)

    def _associated(self, page: Page) -> Page:
        """A searched page with each contact's or deal's associated company (associations v4, 100 a call)."""
        if self.obj == "companies":
            return page
        for chunk in _chunks([str(row["id"]) for row in page.rows]):
            request = BatchInputPublicFetchAssociationsBatchRequest(inputs=[{"id": each} for each in chunk])
            answer = self._call(partial(_associations, self.obj, request))
            for result in answer.results or []:
                targets = sorted((target.to_object_id for target in result.to or []), key=int)
                if targets:
                    page.company_of[str(result._from.id)] = str(targets[0])
        return page

    def _with_companies(self, page: Page) -> Page:
        """Contacts: the domain and name of their companies (one batch read of 100 a call)."""
        if self.obj == "contacts" and page.company_of:
            for chunk in _chunks(sorted(set(page.company_of.values()))):
                read = BatchReadInputSimplePublicObjectId(
                    inputs=[{"id": each} for each in chunk], properties=["domain", "name"], properties_with_history=[]
                )
                companies = self._call(partial(_companies, read))
                page.companies |= {str(company.id): company.properties or {} for company in companies.results}
        return page

    def _read_archived(self) -> None:
        """One page of archived records: unlink those archived since the run's start point (deals: take them
        off their company's list)."""
        after = self.run.archived_after
        associations = ["companies"] if self.obj == "deals" else None
        answer = self._call(
            lambda client: client.crm.objects.basic_api.get_page(
                self.obj,
                limit=ARCHIVED_PAGE,
                after=after,
                archived=True,
                properties=["hs_object_id"],
                associations=associations,
            )
        )
        since = None if self.run.archived_since is None else stamp(str(self.run.archived_since))
        archived = [
            result
            for result in answer.results
            if since is None or result.archived_at is None or format_time(result.archived_at) >= since
        ]
        if archived and self.obj == "deals":
            company_of = {str(result.id): company for result in archived if (company := _company(result))}
            at = format_time(self.loop.clock())
            self.run.counts.deleted += archive_deals(self._context(), company_of, at)
        elif archived:
            self.run.counts.deleted += archive(self._context(), [str(result.id) for result in archived])
        following = answer.paging.next.after if answer.paging and answer.paging.next else None
        self.run.archived_after = following
        if following is None:
            self.run.phase = "done"
        self.commit(with_state=True)

    def _finish(self) -> None:
        self.run.status, self.run.finished_at = Status.SUCCEEDED, format_time(self.loop.clock())
        self.state.status, self.state.error = Status.IDLE, None
        self.state.watermark = self.run.until
        if self.run.lists_archived:
            self.state.archived_mark = self.run.until
        if self.run.mode is Mode.FULL:
            self.state.last_full_sync = self.run.started_at
        self.commit(with_state=True)

    def _continue(self) -> SyncMessage:
        self.commit(with_state=True)
        return self.message

    def stop(self, error: Exception) -> PageFailed[SyncMessage]:
        """Record why the run stopped (parked when retrying later may help): the PageFailed to raise."""
        code, reason = explain(error)
        parked = transient(error)
        self.halt(code, reason, parked)
        return PageFailed(self.message, code, reason, parked)

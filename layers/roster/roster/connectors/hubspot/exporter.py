"""The HubSpot export sync on the connector core's export loop (`core/export.py`): write enriched properties and
segment membership back to contacts and companies.

What is HubSpot's here: writes go out through the CRM v3 batch API, 100 records a call, on the same connection
(and so the same retries and rate budget) as the import. Linked records are updated by id (`batch/update`);
new records are created with `batch/upsert` on a unique property (`idProperty`): contacts by e-mail, companies
by a unique property holding the Roster id (or `domain` where the portal keeps it unique), so a retried call
never creates a duplicate. A created contact is associated with its company's record when Roster knows it. A
207 answer applies the records HubSpot took; each refused record is kept in the run's history with HubSpot's
reason and the properties at fault, and is tried again by the next export. A record HubSpot merged into another
stays linked to its profile (nothing lost) but is never written: a write to a merged-away id would land on the
merge's survivor past that record's own rules (checked with one batch read, only for profiles holding several).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from hubspot import HubSpot
from hubspot.crm.associations.v4 import (
    BatchInputPublicDefaultAssociationMultiPost,
    PublicDefaultAssociationMultiPost,
    PublicObjectId,
)
from hubspot.crm.objects import (
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputUpsert,
    BatchReadInputSimplePublicObjectId,
    SimplePublicObjectBatchInput,
    SimplePublicObjectBatchInputUpsert,
)
from pydantic import BaseModel

from roster.connectors.core.export import ExportLoop, ExportRefused, ExportWorker, Phase, Sender
from roster.connectors.core.export import ExportMessage as CoreMessage
from roster.connectors.core.mapping import MappingError
from roster.connectors.core.planner import ObjectRules, PlannedWrite, linked_records
from roster.connectors.core.runs import RefreshFailed
from roster.connectors.core.state import Status
from roster.connectors.hubspot.connection import Connection, explain, properties, transient
from roster.connectors.hubspot.describe import SOURCE, ObjectMapping, write_value
from roster.connectors.hubspot.export_store import (
    EXPORT_OBJECTS,
    ExportObject,
    ExportRun,
    ExportSettings,
    ExportState,
    ExportStore,
    Rejection,
)
from roster.profiles.model import IncomingRecord, Profile

BATCH = 100  # records per batch call (HubSpot's limit)
BUFFER = 1_000  # planned writes sent before the checkpoint is committed
#: A contact created for a person is associated with their company's record.
RULES: dict[ExportObject, ObjectRules] = {
    "companies": ObjectRules(SOURCE, "companies"),
    "contacts": ObjectRules(SOURCE, "contacts", company_object="companies"),
}
#: The profile field holding the value of a natural unique property (any other holds the Roster id).
NATURAL_KEYS = {"email": "email", "domain": "domain"}


class ExportMessage(CoreMessage):
    """One unit of HubSpot export work: run (or continue) one object's export run."""

    object: ExportObject


class PropertyChange(BaseModel):
    property: str
    field: str
    old: Any
    new: Any
    rule: str
    segment: str | None = None


class WriteView(BaseModel):
    """One record a preview says would be written: create or update, and each property old → new with its rule."""

    profile_id: str
    hubspot_id: str | None
    action: str
    changes: list[PropertyChange]
    company_id: str | None = None  # a contact to create: the company record it will be associated with


class ExportPreview(BaseModel):
    """What the next export would write, up to a limit (nothing is written)."""

    object: ExportObject
    full: bool
    considered: int
    writes: list[WriteView]
    more: bool


class ExportStatus(BaseModel):
    object: ExportObject
    settings: ExportSettings
    status: Status
    mark: str | None
    error: str | None
    last_run: ExportRun | None


def _chunks(items: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(items), BATCH):
        yield items[start : start + BATCH]


@dataclass
class HubSpotExport(ExportLoop[ExportRun, ExportState, ExportMessage]):
    """The export's operations; handlers inject the stores and the import side (`core.export.Import`)."""

    store: ExportStore
    max_records: int = BUFFER

    objects = EXPORT_OBJECTS
    rules = RULES
    run_type = ExportRun
    message_type = ExportMessage
    status_type = ExportStatus
    preview_type = ExportPreview

    def check_create(self, workspace: str, obj: ExportObject, settings: ExportSettings) -> None:
        name = settings.key_property(obj)
        found = next((prop for prop in properties(self.sync.connect(workspace), obj) if prop["name"] == name), None)
        if found is None or not found.get("has_unique_value", found.get("hasUniqueValue")):
            what = "does not exist" if found is None else "is not unique (hasUniqueValue)"
            raise ExportRefused(
                f"create_new upserts {obj} on {name}, which {what} in this portal: so a retried export never "
                f"creates a duplicate, name a unique property with id_property (create a unique text property "
                f"such as roster_id in HubSpot for the Roster id)"
            )

    def write_view(self, write: PlannedWrite) -> WriteView:
        return WriteView(
            profile_id=write.profile_id,
            hubspot_id=write.salesforce_id,
            action="update" if write.salesforce_id else "create",
            changes=[
                PropertyChange(
                    property=change.salesforce_field,
                    field=change.field,
                    old=change.old,
                    new=change.new,
                    rule=change.rule,
                    segment=change.segment,
                )
                for change in write.changes
            ],
            company_id=write.account_id,
        )

    def sender(self, worker: ExportWorker[ExportRun, ExportState, ExportMessage], mapping: ObjectMapping) -> _Sender:
        assert isinstance(worker.connection, Connection)
        return _Sender(worker, mapping, hubspot=worker.connection)

    def rejection(
        self, write: PlannedWrite, record_id: str | None, code: str, message: str, fields: list[str]
    ) -> Rejection:
        return Rejection(profile_id=write.profile_id, hubspot_id=record_id, code=code, message=message, fields=fields)

    def classify(self, error: Exception) -> tuple[str, str, bool]:
        if isinstance(error, RefreshFailed):
            return "import_failed", str(error), True
        if isinstance(error, MappingError | ExportRefused):
            return "bad_configuration", str(error), False
        code, reason = explain(error)
        return code, reason, transient(error)


def _update(obj: str, inputs: list[SimplePublicObjectBatchInput], client: HubSpot) -> Any:
    return client.crm.objects.batch_api.update(obj, BatchInputSimplePublicObjectBatchInput(inputs=inputs))


def _upsert(obj: str, inputs: list[SimplePublicObjectBatchInputUpsert], client: HubSpot) -> Any:
    return client.crm.objects.batch_api.upsert(obj, BatchInputSimplePublicObjectBatchInputUpsert(inputs=inputs))


def _live(obj: str, ids: list[str], client: HubSpot) -> Any:
    read = BatchReadInputSimplePublicObjectId(
        inputs=[{"id": each} for each in ids], properties=["hs_object_id"], properties_with_history=[]
    )
    return client.crm.objects.batch_api.read(obj, read)


def _associate(pairs: list[tuple[str, str]], client: HubSpot) -> Any:
    inputs = [
        PublicDefaultAssociationMultiPost(_from=PublicObjectId(id=contact), to=PublicObjectId(id=company))
        for contact, company in pairs
    ]
    request = BatchInputPublicDefaultAssociationMultiPost(inputs=inputs)
    return client.crm.associations.v4.batch_api.create_default("contacts", "companies", request)


@dataclass(frozen=True)
class _Refusal:
    code: str
    message: str
    fields: list[str]


def _refusals(answer: Any) -> dict[str, _Refusal]:
    """A batch answer's errors by the id (or unique value) each names: HubSpot's category, message, properties."""
    refused: dict[str, _Refusal] = {}
    for error in getattr(answer, "errors", None) or []:
        details = error.errors or []
        fields = sorted({name for detail in details for name in (detail.context or {}).get("propertyName") or []})
        message = "; ".join(detail.message for detail in details if detail.message) or error.message
        for key in (error.context or {}).get("ids") or []:
            refused[str(key).lower()] = _Refusal(error.category or "ERROR", message or "", fields)
    return refused


@dataclass
class _Sender(Sender[ExportRun, ExportState, ExportMessage]):
    """Planned writes sent in batch calls of 100, and what HubSpot's answers (200 or 207) mean."""

    hubspot: Connection | None = None
    keys: dict[str, str] = field(default_factory=dict)  # profile id → the value its record would be upserted on
    several: set[str] = field(default_factory=set)  # profiles linked to more than one record of the object

    @property
    def obj(self) -> ExportObject:
        return self.worker.run.object

    @property
    def id_property(self) -> str:
        settings = self.worker.state.settings
        assert isinstance(settings, ExportSettings)
        return settings.key_property(self.obj)

    def add(self, profiles: list[Profile], *, skip_considered: bool = False) -> None:
        """Plan a page, remembering what sending it needs of the profiles: the unique value of each one to
        create, and which ones hold several records of the object."""
        planned = len(self.creates)
        super().add(profiles, skip_considered=skip_considered)
        created = {write.profile_id for write, _ in self.creates[planned:]}
        natural = NATURAL_KEYS.get(self.id_property)
        for profile in profiles:
            if len(linked_records(profile, SOURCE, self.obj)) > 1:
                self.several.add(profile.profile_id)
            if profile.profile_id in created:
                value = profile.fields.get(natural) if natural else profile.profile_id
                if value:
                    self.keys[profile.profile_id] = str(value)

    def flush(self, phase: Phase, cursor: str | None) -> None:
        super().flush(phase, cursor)
        self.keys.clear()  # what was planned is sent: a run's memory stays flat
        self.several.clear()

    def _call(self, action: Any, *, batch: bool = True) -> Any:
        """One API call on the import's connection (its retries and rate budget); `batch`: a write."""
        assert self.hubspot is not None
        if batch:
            self.worker.run.batches += 1
        return self.hubspot(action)

    def _properties(self, write: PlannedWrite) -> dict[str, str]:
        fields = self.fields
        return {
            change.salesforce_field: write_value(fields[change.salesforce_field].sf_type, change.new)
            for change in write.changes
        }

    def _merged_away(self, writes: list[PlannedWrite]) -> set[str]:
        """Of the records of profiles linked to several, those HubSpot merged into another: a read of a merged-away
        id answers with the merge's survivor. Writing there would reach the survivor past its own rules."""
        ids = sorted(
            {write.salesforce_id for write in writes if write.salesforce_id and write.profile_id in self.several}
        )
        gone: set[str] = set()
        for chunk in _chunks(ids):
            answer = self._call(partial(_live, self.obj, chunk), batch=False)
            gone |= set(chunk) - {str(result.id) for result in answer.results or []}
        return gone

    def send_updates(self, writes: list[PlannedWrite]) -> None:
        gone = self._merged_away(writes)
        self.counts.unchanged += len(gone)  # the survivor's own record carries the profile's writes
        by_id = {
            write.salesforce_id: write for write in writes if write.salesforce_id and write.salesforce_id not in gone
        }
        for chunk in _chunks(sorted(by_id)):
            inputs = [SimplePublicObjectBatchInput(id=key, properties=self._properties(by_id[key])) for key in chunk]
            answer = self._call(partial(_update, self.obj, inputs))
            observed = self.observed()
            done = {str(result.id) for result in answer.results or []}
            refused = _refusals(answer)
            accepted = [self.accepted(by_id[key], key, observed) for key in chunk if key in done]
            for key in chunk:
                if key not in done:
                    why = refused.get(key.lower(), _Refusal("UNKNOWN", "HubSpot did not say", []))
                    self.reject(by_id[key], key, why.code, why.message, why.fields)
            self.remember(accepted, {})

    def send_creates(self, creates: list[tuple[PlannedWrite, str]]) -> None:
        id_property = self.id_property
        by_key: dict[str, tuple[PlannedWrite, str]] = {}
        for write, alias in creates:
            key = self.keys.get(write.profile_id)
            if key is None:
                self.reject(write, None, "NO_UNIQUE_VALUE", f"the profile has no {id_property} to create it by", [])
            else:
                by_key[key.lower()] = (write, alias)
        associations: list[tuple[str, str]] = []
        for chunk in _chunks(sorted(by_key)):
            inputs = [
                SimplePublicObjectBatchInputUpsert(
                    id=self.keys[by_key[key][0].profile_id],
                    id_property=id_property,
                    properties=self._properties(by_key[key][0]),
                )
                for key in chunk
            ]
            answer = self._call(partial(_upsert, self.obj, inputs))
            observed = self.observed()
            accepted: list[IncomingRecord] = []
            links: dict[str, list[str]] = {}
            done: set[str] = set()
            for result in answer.results or []:
                key = str((result.properties or {}).get(id_property) or "").lower()
                if key not in by_key:
                    continue
                write, alias = by_key[key]
                record = self.accepted(write, str(result.id), observed, created=bool(result.new))
                accepted.append(record)
                links[record.key] = [alias]
                done.add(key)
                if write.account_id:
                    associations.append((str(result.id), write.account_id))
            refused = _refusals(answer)
            for key in chunk:
                if key not in done:
                    why = refused.get(key, _Refusal("UNKNOWN", "HubSpot did not say", []))
                    self.reject(by_key[key][0], None, why.code, why.message, why.fields)
            self.remember(accepted, links)
        for pairs in _chunks(associations):
            self._call(partial(_associate, pairs))

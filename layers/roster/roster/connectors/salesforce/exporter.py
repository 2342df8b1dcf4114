"""The Salesforce export sync on the connector core's export loop (`core/export.py`): write enriched fields and
segment membership back to Accounts and Contacts.

What is Salesforce's here: rows go out in Bulk API 2.0 ingest jobs of up to 10,000 records (`ingest.py`),
updates by Id and creates as upserts on an External ID field holding the Roster id (so a retried job never
duplicates); a Contact created for a person belongs to their company's Account, and a person who is a Lead
already is not created again as a Contact.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from roster.connectors.core.export import (
    ExportFailed,
    ExportLoop,
    ExportRefused,
    ExportWorker,
    Sender,
)
from roster.connectors.core.export import ExportMessage as CoreMessage
from roster.connectors.core.mapping import MappingError
from roster.connectors.core.planner import ObjectRules, PlannedWrite, WriteView, view
from roster.connectors.core.runs import RefreshFailed
from roster.connectors.core.state import Status
from roster.connectors.salesforce.connection import Calls, Connection, explain, transient
from roster.connectors.salesforce.describe import SOURCE, ObjectMapping, describe
from roster.connectors.salesforce.export_store import (
    EXPORT_OBJECTS,
    ExportObject,
    ExportRun,
    ExportSettings,
    ExportState,
    ExportStore,
    Rejection,
)
from roster.connectors.salesforce.ingest import (
    ACCOUNT_COLUMN,
    MAX_JOB_RECORDS,
    MAX_UPLOAD_BYTES,
    IngestFailed,
    IngestJobs,
    IngestReport,
    row_of,
)
from roster.profiles.model import IncomingRecord

__all__ = ["ExportFailed", "ExportRefused"]

#: Per object: a Contact created for a person belongs to their company's Account, and a person who is a Lead
#: already is not created again as a Contact.
RULES: dict[ExportObject, ObjectRules] = {
    "Account": ObjectRules(SOURCE, "Account"),
    "Contact": ObjectRules(SOURCE, "Contact", company_object="Account", already=("Lead",)),
}


class ExportMessage(CoreMessage):
    """One unit of export work: run (or continue) one object's export run."""

    object: ExportObject


class ExportPreview(BaseModel):
    """What the next export would write, up to a limit."""

    object: ExportObject
    full: bool
    considered: int
    writes: list[WriteView]
    more: bool  # the preview stopped at its limit; the export would write more


class ExportStatus(BaseModel):
    object: ExportObject
    settings: ExportSettings
    status: Status
    mark: str | None
    error: str | None
    last_run: ExportRun | None


@dataclass
class SalesforceExport(ExportLoop[ExportRun, ExportState, ExportMessage]):
    """The export's operations; handlers inject the stores and the import side (`core.export.Import`)."""

    store: ExportStore
    max_records: int = MAX_JOB_RECORDS
    max_bytes: int = MAX_UPLOAD_BYTES

    objects = EXPORT_OBJECTS
    rules = RULES
    run_type = ExportRun
    message_type = ExportMessage
    status_type = ExportStatus
    preview_type = ExportPreview

    def check_create(self, workspace: str, obj: ExportObject, settings: ExportSettings) -> None:
        name = settings.external_id_field
        described = describe(self.sync.connect(workspace).sf, obj)
        spec = next((each for each in described.get("fields", []) if each.get("name") == name), None)
        if spec is None or not spec.get("externalId"):
            raise ExportRefused(
                f"create_new needs {obj}.{name} to be an External ID field holding the Roster id (so a retried "
                "export never creates a duplicate); add it in Salesforce or name another with external_id_field"
            )

    def write_view(self, write: PlannedWrite) -> WriteView:
        return view(write)

    def sender(self, worker: ExportWorker[ExportRun, ExportState, ExportMessage], mapping: ObjectMapping) -> _Sender:
        assert isinstance(worker.connection, Connection)
        return _Sender(worker, mapping, calls=Calls(worker.connection, self.attempts, self.wait, self.sleep))

    def rejection(
        self, write: PlannedWrite, record_id: str | None, code: str, message: str, fields: list[str]
    ) -> Rejection:
        return Rejection(
            profile_id=write.profile_id, salesforce_id=record_id, code=code, message=message, fields=fields
        )

    def classify(self, error: Exception) -> tuple[str, str, bool]:
        if isinstance(error, RefreshFailed):
            return "import_failed", str(error), True
        if isinstance(error, IngestFailed):
            return "bulk_job_failed", str(error), True
        if isinstance(error, MappingError | ExportRefused):
            return "bad_configuration", str(error), False
        code, reason = explain(error)
        return code, reason, transient(error)


@dataclass
class _Sender(Sender[ExportRun, ExportState, ExportMessage]):
    """Planned writes sent in ingest jobs of up to `max_records`, and what their results mean."""

    calls: Calls | None = None

    @property
    def export(self) -> SalesforceExport:
        assert isinstance(self.worker.loop, SalesforceExport)
        return self.worker.loop

    def _jobs(self, operation: str, columns: list[str], external_id: str | None = None) -> IngestJobs:
        export = self.export
        assert self.calls is not None
        return IngestJobs(
            self.calls,
            self.worker.run.object,
            "update" if operation == "update" else "upsert",
            columns,
            external_id_field=external_id,
            max_records=export.max_records,
            max_bytes=export.max_bytes,
            poll_seconds=export.poll_seconds,
            sleep=export.sleep,
            attempts=export.attempts,
        )

    def send_updates(self, writes: list[PlannedWrite]) -> None:
        fields = self.fields
        by_id = {write.salesforce_id: write for write in writes if write.salesforce_id}
        jobs = self._jobs("update", ["Id", *fields])
        report = jobs.send(row_of(write, fields, "Id", key) for key, write in by_id.items())
        self._account(report)
        accepted: list[IncomingRecord] = []
        observed = self.observed()
        for result in report.results:
            write = by_id.get(result.key)
            if write is None:
                continue
            if result.status == "succeeded":
                accepted.append(self.accepted(write, result.key, observed))
            else:
                self.reject(write, result.salesforce_id or result.key, result.error_code, result.message, result.fields)
        self.remember(accepted, {})

    def send_creates(self, creates: list[tuple[PlannedWrite, str]]) -> None:
        fields = self.fields
        external = self.worker.state.settings.external_id_field
        by_key = {write.profile_id: (write, alias) for write, alias in creates}
        account = [ACCOUNT_COLUMN] if any(write.account_id for write, _ in creates) else []
        jobs = self._jobs("upsert", [external, *fields, *account], external)
        report = jobs.send(row_of(write, fields, external, key) for key, (write, _) in by_key.items())
        self._account(report)
        accepted: list[IncomingRecord] = []
        links: dict[str, list[str]] = {}
        observed = self.observed()
        for result in report.results:
            if result.key not in by_key:
                continue
            write, alias = by_key[result.key]
            if result.status == "succeeded" and result.salesforce_id:
                record = self.accepted(write, result.salesforce_id, observed, created=True)
                accepted.append(record)
                links[record.key] = [alias]
            else:
                self.reject(write, result.salesforce_id, result.error_code, result.message, result.fields)
        self.remember(accepted, links)

    def _account(self, report: IngestReport) -> None:
        self.worker.run.jobs += len(report.job_ids)
        self.worker.run.csv_bytes += report.csv_bytes

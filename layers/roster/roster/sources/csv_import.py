"""CSV import jobs: upload, preview with an automatic mapping, confirm, then split and ingest.

The file is read once, as a stream, by the splitter, which writes batches of mapped rows to S3
and queues one small message per batch (ids and keys, never rows). Ingest workers resolve each
batch and store its counts once per batch, so a redelivered message changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field
from ulid import ULID

from roster.identity.records import to_incoming
from roster.identity.resolver import Resolution, ResolutionFailed, Resolver
from roster.profiles.fields import FIELD_NAME, Kind
from roster.profiles.limits import stored_size
from roster.profiles.model import IncomingRecord, Outcome
from roster.profiles.values import ValueProblem, utc_now
from roster.sources.csv_file import (
    RECORD_ID,
    SAMPLE_BYTES,
    BadRow,
    CsvProblem,
    Dialect,
    Row,
    auto_mapping,
    detect_dialect,
    read_rows,
)
from roster.store.imports import ImportStore

BATCH_ROWS = 1000
PREVIEW_ROWS = 10
MAX_ERRORS_KEPT = 1000
MAX_ERROR_BYTES = 100 * 1024  # of the errors kept with one batch's result (an item, at most 400 KB)
UPLOAD_URL_SECONDS = 3600
#: Deliveries of one ingest batch before SQS moves it to the dead-letter queue (the ingest queue's
#: `maxReceiveCount` in template.yaml; a test checks they agree). The last one never fails for one row.
INGEST_ATTEMPTS = 5
#: The outcomes of rows that were stored (a rejected row is counted in `rows_rejected`, with its error).
STORED = [outcome for outcome in Outcome if outcome is not Outcome.REJECTED]


class ImportStatus(StrEnum):
    AWAITING_UPLOAD = "awaiting_upload"
    UPLOADED = "uploaded"
    QUEUED = "queued"
    SPLITTING = "splitting"
    IMPORTING = "importing"
    COMPLETED = "completed"
    FAILED = "failed"


class ImportProblem(Exception):
    """A request about an import that cannot be done, with the reason for the user."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class RowError(BaseModel):
    line: int
    field: str | None = None
    reason: str


class ImportMessage(BaseModel):
    """Queued to the splitter when a user confirms an import."""

    workspace: str
    import_id: str


class IngestMessage(BaseModel):
    """Queued to the ingest workers, one per batch of rows."""

    workspace: str
    import_id: str
    batch: int
    key: str


class Preview(BaseModel):
    encoding: str
    delimiter: str
    columns: list[str]
    rows: list[dict[str, str]]
    mapping: dict[str, str | None]


class ImportReport(BaseModel):
    """What a user sees of an import while and after it runs."""

    import_id: str
    kind: Kind
    source_name: str
    filename: str
    status: ImportStatus
    created_at: str
    rows_read: int = 0
    rows_rejected: int = 0
    batches_total: int | None = None
    batches_done: int = 0
    outcomes: dict[str, int] = Field(default_factory=dict)
    errors: list[RowError] = Field(default_factory=list)
    failure: str | None = None


@dataclass
class CsvImports:
    """Import jobs of all workspaces, over the deployment's bucket and queues."""

    store: ImportStore
    s3: Any
    bucket: str
    send_import: Callable[[BaseModel], None]  # queues a confirmed import for splitting
    send_ingest: Callable[[BaseModel], None]  # queues a batch of rows for resolving

    def start(
        self, workspace: str, kind: Kind, source_name: str, filename: str, content: bytes | None
    ) -> tuple[dict[str, Any], str | None]:
        """A new import; returns its job and, when no content came inline, a URL to PUT the file to."""
        import_id = str(ULID())
        key = f"uploads/{workspace}/{import_id}.csv"
        job: dict[str, Any] = {
            "import_id": import_id,
            "kind": str(kind),
            "source_name": source_name,
            "filename": filename,
            "status": ImportStatus.AWAITING_UPLOAD,
            "key": key,
            "created_at": utc_now(),
        }
        upload_url = None
        if content is None:
            upload_url = self.s3.generate_presigned_url(
                "put_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=UPLOAD_URL_SECONDS
            )
        else:
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=content)
            job["status"] = ImportStatus.UPLOADED
        self.store.put(workspace, import_id, job)
        return job, upload_url

    def job(self, workspace: str, import_id: str) -> dict[str, Any]:
        job = self.store.get(workspace, import_id)
        if job is None:
            raise ImportProblem(f"no import {import_id!r} in this workspace", 404)
        return job

    def preview(self, workspace: str, import_id: str) -> Preview:
        """The detected format, the first rows and the automatic mapping of columns to fields; reads only."""
        return self._inspect(workspace, import_id)[1]

    def _inspect(self, workspace: str, import_id: str) -> tuple[Dialect, Preview]:
        job = self.job(workspace, import_id)
        try:
            head = self.s3.get_object(Bucket=self.bucket, Key=job["key"], Range=f"bytes=0-{SAMPLE_BYTES - 1}")
        except self.s3.exceptions.NoSuchKey:
            raise ImportProblem("the file has not been uploaded yet", 409) from None
        except self.s3.exceptions.ClientError as error:
            if error.response.get("Error", {}).get("Code") == "InvalidRange":  # an empty file
                raise ImportProblem("the file is empty", 422) from None
            raise
        sample = head["Body"].read()
        dialect = detect_dialect(sample)
        body = self.s3.get_object(Bucket=self.bucket, Key=job["key"])["Body"]
        try:
            columns, rows = read_rows(body, dialect)
        except CsvProblem as problem:
            body.close()
            raise ImportProblem(str(problem), 422) from None
        if not columns:
            raise ImportProblem("the file is empty", 422)
        first: list[dict[str, str]] = []
        for row in rows:
            if isinstance(row, Row):
                first.append(row.values)
            if len(first) == PREVIEW_ROWS:
                break
        body.close()
        mapping = auto_mapping(Kind(job["kind"]), columns)
        return dialect, Preview(
            encoding=dialect.encoding, delimiter=dialect.delimiter, columns=columns, rows=first, mapping=mapping
        )

    def confirm(self, workspace: str, import_id: str, mapping: dict[str, str | None] | None) -> dict[str, Any]:
        """Start importing with the given mapping (or the automatic one)."""
        job = self.job(workspace, import_id)
        if job["status"] not in (ImportStatus.AWAITING_UPLOAD, ImportStatus.UPLOADED):
            raise ImportProblem(f"the import is already {job['status']}", 409)
        dialect, preview = self._inspect(workspace, import_id)
        chosen = preview.mapping if mapping is None else mapping
        unknown = sorted(set(chosen) - set(preview.columns))
        if unknown:
            raise ImportProblem(f"mapping names columns the file does not have: {', '.join(unknown)}", 422)
        targets = [field for field in chosen.values() if field]
        for field in targets:
            if field != RECORD_ID and not FIELD_NAME.match(field):
                raise ImportProblem(f"mapping target {field!r} is not a valid field name", 422)
        if len(targets) != len(set(targets)):
            raise ImportProblem("two columns are mapped to the same field", 422)
        job = self.store.update(
            workspace,
            import_id,
            {"status": ImportStatus.QUEUED, "dialect": dialect.__dict__, "mapping": chosen, "observed_at": utc_now()},
        )
        self.send_import(ImportMessage(workspace=workspace, import_id=import_id))
        return job

    def split(self, message: ImportMessage, batch_rows: int = BATCH_ROWS) -> int:
        """Stream the file into batches of mapped rows on S3, one ingest message each."""
        job = self.job(message.workspace, message.import_id)
        if job["status"] not in (ImportStatus.QUEUED, ImportStatus.SPLITTING):
            return int(job.get("batches_total") or 0)  # a redelivered message: already split
        self.store.update(message.workspace, message.import_id, {"status": ImportStatus.SPLITTING})
        body = self.s3.get_object(Bucket=self.bucket, Key=job["key"])["Body"]
        try:
            _, rows = read_rows(body, Dialect(**job["dialect"]))
        except CsvProblem as problem:  # the preview refuses such a file first; the file may have changed since
            body.close()
            self.store.update(
                message.workspace, message.import_id, {"status": ImportStatus.FAILED, "failure": str(problem)}
            )
            return 0
        mapping: dict[str, str | None] = job["mapping"]
        errors: list[dict[str, Any]] = []
        rows_read = rejected = batches = 0
        for batch in _batches(rows, batch_rows):
            lines = []
            for row in batch:
                rows_read += 1
                if isinstance(row, BadRow):
                    rejected += 1
                    if len(errors) < MAX_ERRORS_KEPT:
                        errors.append(RowError(line=row.line, reason=row.reason).model_dump())
                    continue
                # an empty cell says nothing (it does not clear what another row of the file said)
                mapped = {
                    mapping[column]: value
                    for column, value in row.values.items()
                    if mapping.get(column) and value.strip()
                }
                lines.append(json.dumps({"line": row.line, "values": mapped}, ensure_ascii=False))
            if not lines:
                continue
            key = f"imports/{message.workspace}/{message.import_id}/batch-{batches:07d}.jsonl"
            self.s3.put_object(Bucket=self.bucket, Key=key, Body="\n".join(lines).encode())
            self.send_ingest(
                IngestMessage(workspace=message.workspace, import_id=message.import_id, batch=batches, key=key)
            )
            batches += 1
        body.close()
        self.store.update(
            message.workspace,
            message.import_id,
            {
                "status": ImportStatus.IMPORTING if batches else ImportStatus.COMPLETED,
                "rows_read": rows_read,
                "parse_rejected": rejected,
                "parse_errors": errors,
                "batches_total": batches,
            },
        )
        return batches

    def ingest(self, message: IngestMessage, resolver: Resolver, *, last_attempt: bool = False) -> dict[str, Any]:
        """Resolve one batch of rows into profiles; bad rows are reported, the rest import. A row that keeps
        losing races with concurrent writers fails the batch (its message comes back), except on the last
        attempt, where it is reported like a bad row so the import still finishes."""
        job = self.job(message.workspace, message.import_id)
        kind = Kind(job["kind"])
        lines = self.s3.get_object(Bucket=self.bucket, Key=message.key)["Body"].read().decode().splitlines()
        records: list[IncomingRecord] = []
        record_lines: list[int] = []
        errors: list[dict[str, Any]] = []
        for text in lines:
            row = json.loads(text)
            values = dict(row["values"])
            record_id = values.pop(RECORD_ID, None) or None
            try:
                records.append(
                    to_incoming(
                        kind, job["source_name"], str(kind), values, record_id=record_id, observed_at=job["observed_at"]
                    )
                )
                record_lines.append(row["line"])
            except ValueProblem as problem:
                errors.append(_row_error(row["line"], problem))
        outcomes = {str(outcome): 0 for outcome in STORED}
        for line, resolution in zip(record_lines, _resolve(resolver, records, last_attempt), strict=True):
            if resolution.problem is not None:  # too large to store: reported like any bad row
                errors.append(_row_error(line, resolution.problem))
            else:
                outcomes[str(resolution.outcome)] += 1
        result = {"batch": message.batch, "rows": len(lines), "rejected": len(errors), "outcomes": outcomes}
        result["errors"] = _first_errors(errors)
        self.store.record_batch(message.workspace, message.import_id, message.batch, result)
        return result

    def report(self, workspace: str, import_id: str) -> ImportReport:
        job = self.job(workspace, import_id)
        outcomes = {str(outcome): 0 for outcome in STORED}
        errors = [RowError(**error) for error in job.get("parse_errors", [])]
        rejected = int(job.get("parse_rejected", 0))
        done = 0
        for batch in self.store.batches(workspace, import_id):
            done += 1
            rejected += int(batch["rejected"])
            for name, count in batch["outcomes"].items():
                outcomes[name] = outcomes.get(name, 0) + int(count)
            errors.extend(RowError(**error) for error in batch["errors"][: max(0, MAX_ERRORS_KEPT - len(errors))])
        status = ImportStatus(job["status"])
        total = job.get("batches_total")
        if status is ImportStatus.IMPORTING and total is not None and done >= int(total):
            status = ImportStatus.COMPLETED
        return ImportReport(
            import_id=import_id,
            kind=Kind(job["kind"]),
            source_name=job["source_name"],
            filename=job["filename"],
            status=status,
            created_at=job["created_at"],
            rows_read=int(job.get("rows_read", 0)),
            rows_rejected=rejected,
            batches_total=total,
            batches_done=done,
            outcomes=outcomes,
            errors=sorted(errors, key=lambda error: error.line),
            failure=job.get("failure"),
        )


def _first_errors(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The errors a batch keeps to report (every rejected row is counted): the first that fit its item."""
    kept: list[dict[str, Any]] = []
    size = 0
    for error in errors[:MAX_ERRORS_KEPT]:
        size += stored_size(error)
        if size > MAX_ERROR_BYTES:
            break
        kept.append(error)
    return kept


def _resolve(resolver: Resolver, records: list[IncomingRecord], last_attempt: bool) -> list[Resolution]:
    try:
        return resolver.upsert(records)
    except ResolutionFailed:
        if not last_attempt:
            raise
    return [_resolve_alone(resolver, record) for record in records]  # idempotent: resolved ones come back unchanged


def _resolve_alone(resolver: Resolver, record: IncomingRecord) -> Resolution:
    try:
        (resolution,) = resolver.upsert([record])
    except ResolutionFailed as failed:
        reason = f"{failed} after {INGEST_ATTEMPTS} attempts; import this row again"
        return Resolution(None, Outcome.REJECTED, ValueProblem("", reason))
    return resolution


def _row_error(line: int, problem: ValueProblem) -> dict[str, Any]:
    return RowError(line=line, field=problem.field or None, reason=problem.reason).model_dump()


def _batches(rows: Iterator[Row | BadRow], size: int) -> Iterator[list[Row | BadRow]]:
    batch: list[Row | BadRow] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch

"""Bulk API 2.0 jobs: query jobs that page a snapshot as CSV, ingest jobs that apply a CSV row by row.

A query runs when its job is created, so its pages are a stable snapshot whatever is written meanwhile; the job
then reports `UploadComplete`, `InProgress` for a few status polls, and `JobComplete`. What Salesforce refuses in
a Bulk query (`OFFSET`, aggregates) is refused when the job is created. `ORDER BY` or `LIMIT` on a large object
turns PK chunking off: the job takes more polls and, past a size, fails with the query timeout (`Chunking`).
An ingest job processes its data when the client marks it `UploadComplete`; each row succeeds or fails on its
own, as in Salesforce, and the three result files echo the uploaded columns, parsed by header.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import itertools
from dataclasses import dataclass, field
from typing import Any, Literal

from roster_dev.emulators.salesforce.errors import SalesforceError
from roster_dev.emulators.salesforce.org import SalesforceOrg
from roster_dev.emulators.salesforce.schema import COMPOUND_TYPES, make_id
from roster_dev.emulators.salesforce.soql import QueryResult, parse

JobState = Literal["Open", "UploadComplete", "InProgress", "JobComplete", "Failed", "Aborted"]
DELIMITERS = {"COMMA": ",", "TAB": "\t", "PIPE": "|", "SEMICOLON": ";", "CARET": "^", "BACKQUOTE": "`"}
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
INGEST_OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete")
QUERY_OPERATIONS = ("query", "queryAll")
DEFAULT_PAGE = 50_000
TERMINAL: tuple[JobState, ...] = ("JobComplete", "Failed", "Aborted")
INJECTED_FAILURE = (
    "UNKNOWN_EXCEPTION: An unexpected error occurred. Please include this ErrorId if you contact support: "
    "1893402017-1234 (-1283950210)"
)

#: A Bulk query job's failure when the query outruns Salesforce's query time limit (the QUERY_TIMEOUT code and the
#: message real orgs give for it, in the "Failed to process query" form of Bulk query failures).
QUERY_TIMEOUT = "Failed to process query: QUERY_TIMEOUT: Your query request was running for too long."
#: Bulk API 2.0 refuses OFFSET (documented; the wording follows its other "… not supported in Bulk V2 Query" refusals).
OFFSET_REFUSED = "OFFSET not supported in Bulk V2 Query"


@dataclass(frozen=True)
class Chunking:
    """PK chunking, as Salesforce documents it for Bulk API 2.0 queries: a query over an object of more than
    `large_records` records is split by primary key unless it has ORDER BY or LIMIT, which turn chunking off.
    Such a query then takes `unchunked_polls` more status polls, and over `timeout_records` it fails with
    QUERY_TIMEOUT. The thresholds count the object's records (the recycle bin too for queryAll)."""

    large_records: int = 10_000
    unchunked_polls: int = 5
    timeout_records: int = 50_000


# One sequence per process keeps job ids unique across emulators.
_job_numbers = itertools.count(1)


def _job_id() -> str:
    return make_id("750", next(_job_numbers))


def encode_locator(offset: int) -> str:
    """Salesforce's locators are base64 of the next offset; clients must treat them as opaque."""
    return base64.b64encode(str(offset).encode()).decode().rstrip("=")


def decode_locator(locator: str) -> int:
    """The offset behind a locator, or `INVALID_LOCATOR`."""
    try:
        padded = locator + "=" * (-len(locator) % 4)
        return int(base64.b64decode(padded, validate=True).decode())
    except (ValueError, binascii.Error):
        raise SalesforceError("INVALIDLOCATOR", f"Invalid locator: {locator}") from None


def _options(body: dict[str, Any]) -> tuple[str, str]:
    delimiter = str(body.get("columnDelimiter") or "COMMA")
    line_ending = str(body.get("lineEnding") or "LF")
    if delimiter not in DELIMITERS:
        raise SalesforceError("INVALIDJOB", f"Invalid column delimiter: {delimiter}")
    if line_ending not in LINE_ENDINGS:
        raise SalesforceError("INVALIDJOB", f"Invalid line ending: {line_ending}")
    if str(body.get("contentType") or "CSV") != "CSV":
        raise SalesforceError("INVALIDJOB", "Only CSV content is supported")
    return delimiter, line_ending


@dataclass
class _Job:
    id: str
    operation: str
    object: str
    created: str
    created_by: str
    api_version: str
    column_delimiter: str
    line_ending: str
    state: JobState
    polls_left: int = 0
    fail: bool = False
    error_message: str | None = None

    def _common(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "id": self.id,
            "operation": self.operation,
            "object": self.object,
            "createdById": self.created_by,
            "createdDate": self.created,
            "systemModstamp": self.created,
            "state": self.state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(self.api_version),
            "lineEnding": self.line_ending,
            "columnDelimiter": self.column_delimiter,
        }
        if self.state == "Failed" and self.error_message:
            info["errorMessage"] = self.error_message
        return info

    def _writer(self, buffer: io.StringIO) -> Any:
        return csv.writer(
            buffer,
            delimiter=DELIMITERS[self.column_delimiter],
            lineterminator=LINE_ENDINGS[self.line_ending],
            quoting=csv.QUOTE_ALL,
        )

    def advance(self) -> None:
        """One status poll: `InProgress` for the job's remaining polls, then `JobComplete` or `Failed`."""
        if self.state not in {"UploadComplete", "InProgress"}:
            return
        if self.polls_left > 0:
            self.polls_left -= 1
            self.state = "InProgress"
        elif self.fail:
            self.state = "Failed"
            self.error_message = self.error_message or INJECTED_FAILURE
        else:
            self.state = "JobComplete"

    def abort(self) -> None:
        """Abort a job that has not finished."""
        if self.state in TERMINAL:
            raise SalesforceError("INVALIDJOBSTATE", f"Job {self.id} is already {self.state}", status=409)
        self.state = "Aborted"


@dataclass
class QueryJob(_Job):
    """A Bulk API 2.0 query job over a snapshot taken at creation."""

    query: str = ""
    result: QueryResult | None = None

    @classmethod
    def create(
        cls, org: SalesforceOrg, body: dict[str, Any], api_version: str, chunking: Chunking | None = None
    ) -> QueryJob:
        """Validate the request and run the query (errors are the same 400s the REST query gives, and what Bulk
        queries refuse); a query that turns PK chunking off on a large object gets slow and may time out."""
        operation = str(body.get("operation") or "")
        if operation not in QUERY_OPERATIONS:
            raise SalesforceError("INVALIDJOB", f"Invalid operation for a query job: {operation}")
        query = str(body.get("query") or "")
        if not query:
            raise SalesforceError("INVALIDJOB", "A query is required")
        delimiter, line_ending = _options(body)
        include_deleted = operation == "queryAll"
        result = org.run_query(query, include_deleted=include_deleted)
        parsed = parse(query)
        if parsed.offset is not None:
            raise SalesforceError("API_ERROR", OFFSET_REFUSED)
        if result.count:
            raise SalesforceError("INVALIDJOB", "Aggregate queries are not supported by Bulk API 2.0")
        if any(path.leaf.type in COMPOUND_TYPES for path in result.paths):
            raise SalesforceError("FUNCTIONALITY_NOT_ENABLED", "Selecting compound data not supported in Bulk Query")
        chunking = chunking or Chunking()
        polls, timeout = 0, None
        if parsed.order or parsed.limit is not None:
            scanned = org.count(result.obj.name, include_deleted=include_deleted)
            if scanned > chunking.large_records:
                polls = chunking.unchunked_polls
            if scanned > chunking.timeout_records:
                timeout = QUERY_TIMEOUT
        return cls(
            id=_job_id(),
            operation=operation,
            object=result.obj.name,
            created=org.now(),
            created_by=org.api_user_id,
            api_version=api_version,
            column_delimiter=delimiter,
            line_ending=line_ending,
            state="UploadComplete",
            polls_left=polls,
            fail=timeout is not None,
            error_message=timeout,
            query=query,
            result=result,
        )

    def info(self) -> dict[str, Any]:
        """Job info as `GET jobs/query/{id}` returns it."""
        processed = len(self.result.rows) if self.result and self.state == "JobComplete" else 0
        return {
            **self._common(),
            "jobType": "V2Query",
            "numberRecordsProcessed": processed,
            "retries": 0,
            "totalProcessingTime": 0,
            "isPkChunkingSupported": True,
        }

    def page(self, locator: str | None, max_records: int | None) -> tuple[str, int, str]:
        """`(csv, number of records, next locator or "null")` for one results request."""
        if self.state != "JobComplete" or self.result is None:
            raise SalesforceError("INVALIDJOBSTATE", f"Job {self.id} is {self.state}, not JobComplete")
        start = decode_locator(locator) if locator else 0
        size = max_records if max_records and max_records > 0 else DEFAULT_PAGE
        rows = self.result.rows[start : start + size]
        buffer = io.StringIO()
        writer = self._writer(buffer)
        writer.writerow(self.result.columns)
        writer.writerows(self.result.csv_values(row) for row in rows)
        following = start + len(rows)
        return buffer.getvalue(), len(rows), encode_locator(following) if following < len(self.result.rows) else "null"


@dataclass
class IngestJob(_Job):
    """A Bulk API 2.0 ingest job: CSV in, one result row per input row out."""

    external_id_field: str | None = None
    data: list[bytes] = field(default_factory=list)
    header: list[str] = field(default_factory=list)
    successful: list[list[str]] = field(default_factory=list)
    failed: list[list[str]] = field(default_factory=list)
    unprocessed: list[list[str]] = field(default_factory=list)

    @classmethod
    def create(cls, org: SalesforceOrg, body: dict[str, Any], api_version: str) -> IngestJob:
        """Validate the job request; the data comes in later uploads."""
        operation = str(body.get("operation") or "")
        if operation not in INGEST_OPERATIONS:
            raise SalesforceError("INVALIDJOB", f"Invalid operation for an ingest job: {operation}")
        obj = org.object_def(str(body.get("object") or ""))
        if obj is None:
            raise SalesforceError("INVALIDJOB", f"Unable to find object: {body.get('object')}")
        delimiter, line_ending = _options(body)
        external = body.get("externalIdFieldName")
        if operation == "upsert":
            spec = obj.field(str(external or ""))
            if spec is None or not (spec.external_id or spec.type == "id"):
                raise SalesforceError(
                    "INVALIDJOB", f"InvalidJob : The field {external} is not an External ID field on {obj.name}"
                )
            external = spec.name
        return cls(
            id=_job_id(),
            operation=operation,
            object=obj.name,
            created=org.now(),
            created_by=org.api_user_id,
            api_version=api_version,
            column_delimiter=delimiter,
            line_ending=line_ending,
            state="Open",
            external_id_field=str(external) if operation == "upsert" else None,
        )

    @property
    def processed(self) -> int:
        """Records processed so far, successfully or not."""
        return len(self.successful) + len(self.failed)

    def info(self, *, created: bool = False) -> dict[str, Any]:
        """Job info as `GET jobs/ingest/{id}` returns it (and `contentUrl` when just created)."""
        info = self._common()
        if self.external_id_field:
            info["externalIdFieldName"] = self.external_id_field
        if created or self.state == "Open":
            info["contentUrl"] = f"services/data/v{self.api_version}/jobs/ingest/{self.id}/batches"
        info.update(
            jobType="V2Ingest",
            numberRecordsProcessed=self.processed,
            numberRecordsFailed=len(self.failed),
            retries=0,
            totalProcessingTime=0,
            apiActiveProcessingTime=0,
            apexProcessingTime=0,
        )
        return info

    def abort(self) -> None:
        """Abort; rows never processed are reported as unprocessed."""
        was_open = self.state == "Open"
        super().abort()
        if was_open:
            self.unprocessed = self._parse()

    def upload(self, body: bytes) -> None:
        """Accept CSV data while the job is open."""
        if self.state != "Open":
            raise SalesforceError(
                "INVALIDJOBSTATE", f"Job {self.id} is {self.state}; data can only be added while Open"
            )
        self.data.append(body)

    def close(self, org: SalesforceOrg) -> None:
        """`UploadComplete`: process every row now; the state then moves on as the client polls."""
        if self.state != "Open":
            raise SalesforceError("INVALIDJOBSTATE", f"Job {self.id} is {self.state}, not Open", status=409)
        self.state = "UploadComplete"
        rows = self._parse()
        if self.fail:
            self.unprocessed = rows
            return
        try:
            columns = self._check_header(org)
        except SalesforceError as error:
            self.fail = True
            self.error_message = error.message
            self.unprocessed = rows
            return
        self._process(org, columns, rows)

    def _parse(self) -> list[list[str]]:
        text = b"".join(self.data).decode("utf-8-sig")
        if not text.strip():
            return []
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=DELIMITERS[self.column_delimiter])
        self.header = [name.strip() for name in next(reader)]
        return [row for row in reader if row]

    def _check_header(self, org: SalesforceOrg) -> list[tuple[str, str, str | None]]:
        """Each column as `(column, field, lookup external id or None)`; unknown columns fail the whole job."""
        obj = org.object_def(self.object)
        assert obj is not None
        if self.operation in {"delete", "hardDelete"} and [name.lower() for name in self.header] != ["id"]:
            raise SalesforceError("INVALIDBATCH", "InvalidBatch : Delete operations accept only an Id column")
        columns: list[tuple[str, str, str | None]] = []
        for name in self.header:
            if "." in name:
                relationship, _, external = name.partition(".")
                reference = obj.relationship(relationship)
                targets = [org.object_def(target) for target in reference.reference_to] if reference else []
                target = targets[0] if len(targets) == 1 else None
                spec = target.field(external) if target else None
                if reference is None or spec is None or not (spec.external_id or spec.id_lookup):
                    raise SalesforceError("INVALIDBATCH", f"InvalidBatch : Field name not found : {name}")
                columns.append((name, reference.name, spec.name))
                continue
            spec = obj.field(name)
            if spec is None:
                raise SalesforceError("INVALIDBATCH", f"InvalidBatch : Field name not found : {name}")
            columns.append((name, spec.name, None))
        return columns

    def _values(self, org: SalesforceOrg, columns: list[tuple[str, str, str | None]], row: list[str]) -> dict[str, Any]:
        """CSV cells as field values: empty leaves a field alone, `#N/A` clears it, lookups resolve by external id."""
        obj = org.object_def(self.object)
        assert obj is not None
        values: dict[str, Any] = {}
        for (column, name, external), cell in zip(columns, row, strict=True):
            if cell == "":
                continue
            if cell == "#N/A":
                values[name] = None
                continue
            if external is not None:
                reference = obj.field(name)
                assert reference is not None
                matches = org.find_by_external_id(reference.reference_to[0], external, cell)
                if len(matches) != 1:
                    raise SalesforceError(
                        "INVALID_FIELD",
                        f"Foreign key external ID: {cell} not found for field {external} in entity "
                        f"{reference.reference_to[0]}"
                        if not matches
                        else f"More than one record found for {column}: {cell}",
                        fields=[name],
                    )
                values[name] = matches[0]
                continue
            values[name] = cell
        return values

    def _process(self, org: SalesforceOrg, columns: list[tuple[str, str, str | None]], rows: list[list[str]]) -> None:
        key_column = None
        if self.operation == "upsert":
            key_column = next(
                (index for index, (_, name, _) in enumerate(columns) if name == self.external_id_field), None
            )
        seen: dict[str, int] = {}
        if key_column is not None:
            for row in rows:
                if len(row) == len(columns) and row[key_column].strip():
                    key = row[key_column].strip().lower()
                    seen[key] = seen.get(key, 0) + 1
        for row in rows:
            record_id = ""
            try:
                if len(row) != len(columns):
                    raise SalesforceError("INVALID_ROW", f"Row has {len(row)} columns, the header has {len(columns)}")
                values = self._values(org, columns, row)
                record_id, created = self._apply(org, values, row, key_column, seen)
                self.successful.append([record_id, "true" if created else "false", *row])
            except SalesforceError as error:
                self.failed.append([record_id, error.bulk_text(), *row])

    def _apply(
        self,
        org: SalesforceOrg,
        values: dict[str, Any],
        row: list[str],
        key_column: int | None,
        seen: dict[str, int],
    ) -> tuple[str, bool]:
        record_id = str(values.pop("Id", "") or "")
        if self.operation == "insert":
            return org.create(self.object, values), True
        if self.operation == "upsert":
            assert self.external_id_field is not None
            if self.external_id_field == "Id":
                if not record_id:
                    return org.create(self.object, values), True
                org.update(self.object, record_id, values)
                return record_id, False
            key = row[key_column].strip() if key_column is not None else ""
            if not key:
                raise SalesforceError(
                    "MISSING_ARGUMENT", f"{self.external_id_field} not specified", fields=[self.external_id_field]
                )
            if seen.get(key.lower(), 0) > 1:
                raise SalesforceError(
                    "DUPLICATE_EXTERNAL_ID",
                    f"Duplicate external id specified: {key}",
                    fields=[self.external_id_field],
                )
            return org.upsert(self.object, self.external_id_field, key, values)
        if not record_id:
            raise SalesforceError("MISSING_ARGUMENT", f"Id not specified in an {self.operation} call", fields=["Id"])
        if self.operation == "update":
            org.update(self.object, record_id, values)
        else:
            org.delete(self.object, record_id)
        return record_id, False

    def results(self, kind: Literal["successful", "failed", "unprocessed"]) -> str:
        """One of the three result files, quoted like Salesforce's."""
        buffer = io.StringIO()
        writer = self._writer(buffer)
        if kind == "successful":
            writer.writerow(["sf__Id", "sf__Created", *self.header])
            writer.writerows(self.successful)
        elif kind == "failed":
            writer.writerow(["sf__Id", "sf__Error", *self.header])
            writer.writerows(self.failed)
        else:
            if self.header:
                writer.writerow(self.header)
            writer.writerows(self.unprocessed)
        return buffer.getvalue()


def job_list(jobs: list[dict[str, Any]]) -> dict[str, Any]:
    """`GET jobs/query` and `GET jobs/ingest`."""
    return {"done": True, "records": jobs, "nextRecordsUrl": None}

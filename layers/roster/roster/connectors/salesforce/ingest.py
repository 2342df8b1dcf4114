"""Bulk API 2.0 ingest for the export sync: Roster values written back to Salesforce by update or upsert jobs.

A planned write becomes a CSV row (`row_of`, `cell`).

Rows stream into CSV parts of at most `max_records` rows and `max_bytes` bytes (header included), each spooled
to a temporary file, so memory holds one part whatever the number of rows. A part is one job: create it, one
upload, `UploadComplete`, poll to a final state, then read the successful and failed results, matched back to
the rows by their key cell (results come in any order; the key is `Id`, or the external id of an upsert).
A job that ends Failed or Aborted keeps what it reported; the rows it left without a result go again in a new
job, up to `attempts` jobs per part, and then IngestFailed. Every call goes through `Calls`, so network errors,
5xx, REQUEST_LIMIT_EXCEEDED and an expired session are retried; update and upsert are idempotent, so a row
sent twice is written once.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
import tempfile
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from typing import IO, Any, Literal
from urllib.parse import urljoin

from simple_salesforce.bulk2 import Operation
from simple_salesforce.exceptions import SalesforceBulkV2LoadError
from simple_salesforce.util import exception_handler

from roster.connectors.core.mapping import FieldMapping
from roster.connectors.core.planner import PlannedWrite
from roster.connectors.salesforce.connection import TIMEOUT_SECONDS, Calls, Connection

MAX_JOB_RECORDS = 10_000  # one Salesforce batch per job: "about one batch per 10,000 records"
CLEAR = "#N/A"  # an empty cell leaves a field alone, #N/A clears it
ACCOUNT_COLUMN = "AccountId"
MAX_UPLOAD_BYTES = 100 * 1024 * 1024  # raw CSV per job (Salesforce: 150 MB after base64)
SPOOL_BYTES = 8 * 1024 * 1024  # a part (or a results file) past this size moves from memory to disk
TERMINAL = ("JobComplete", "Failed", "Aborted")
IngestOperation = Literal["update", "upsert"]
ResultKind = Literal["successfulResults", "failedResults"]

_NAME = r"[A-Za-z]\w*(?:\.[A-Za-z]\w*)*"  # a field, or a relationship path such as Account.Roster_Id__c
_FIELD_LIST = re.compile(rf"{_NAME}(?:\s*[,;]\s*{_NAME})*")


@dataclass(frozen=True)
class IngestResult:
    """What Salesforce did with one row."""

    key: str  # the row's key cell: its Id (update) or its external id value (upsert)
    status: Literal["succeeded", "failed", "unprocessed"]
    salesforce_id: str | None  # sf__Id ('' → None)
    created: bool  # sf__Created == "true"
    error_code: str | None  # failed: e.g. "FIELD_CUSTOM_VALIDATION_EXCEPTION"
    message: str | None  # failed: Salesforce's message
    fields: tuple[str, ...]  # failed: the fields Salesforce named


@dataclass
class IngestReport:
    """One `send`: its jobs, the rows and bytes sent, and one result per row."""

    job_ids: list[str]
    records: int  # rows sent
    csv_bytes: int  # bytes uploaded: each job's data once, re-created jobs included
    results: list[IngestResult]


class IngestFailed(Exception):
    """A job kept failing on Salesforce's side after retries (its id, state and errorMessage in the text).

    `report` is everything done until then: the rows the last job left over are there as `unprocessed`; the rows
    after that part were never read from the caller's iterable."""

    def __init__(self, job_id: str, state: str, error_message: str, unprocessed: int, report: IngestReport) -> None:
        super().__init__(
            f"Bulk ingest job {job_id} ended {state}: {error_message or 'no error message'} "
            f"({unprocessed} rows without a result after {len(report.job_ids)} jobs)"
        )
        self.job_id = job_id
        self.state = state
        self.error_message = error_message
        self.report = report


def _parse_error(text: str) -> tuple[str | None, str | None, tuple[str, ...]]:
    """(code, message, fields) of an `sf__Error` cell, `CODE:message:Field1,Field2 --`.

    Salesforce also sends `CODE:message --` and messages holding colons, so the part after the last colon only
    counts as fields when it is a list of names (or empty); otherwise it stays in the message."""
    body = text.strip().removesuffix("--").rstrip()
    code, colon, rest = body.partition(":")
    if not colon:
        return None, body or None, ()
    message, colon, tail = rest.rpartition(":")
    fields: tuple[str, ...] = ()
    if colon and (not tail.strip() or _FIELD_LIST.fullmatch(tail.strip())):
        fields = tuple(name.strip() for name in re.split(r"[,;]", tail) if name.strip())
    else:
        message = rest
    return code.strip() or None, message.strip() or None, fields


class _Part:
    """One job's CSV in a spooled file, with each row's key and byte range (to re-send some of its rows)."""

    def __init__(self, header: bytes) -> None:
        self.file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - closed by owner
        self.file.write(header)
        self.size = len(header)
        self.rows: list[tuple[str, int, int]] = []

    def add(self, key: str, line: bytes) -> None:
        self.file.write(line)
        self.rows.append((key, self.size, self.size + len(line)))
        self.size += len(line)

    def only(self, header: bytes, wanted: Counter[str]) -> _Part:
        """A new part with the rows whose key is wanted, as many times as wanted."""
        left = Counter(wanted)
        rest = _Part(header)
        for key, start, end in self.rows:
            if left[key] > 0:
                left[key] -= 1
                self.file.seek(start)
                rest.add(key, self.file.read(end - start))
        return rest

    def close(self) -> None:
        self.file.close()


class _Body:
    """A part as an upload body: `requests` sends a Content-Length for its `len` and streams its `read`.

    Given the file itself, `requests` would call `fileno()`, which moves a SpooledTemporaryFile to disk."""

    def __init__(self, part: _Part) -> None:
        part.file.seek(0)  # a retried upload sends the whole part again
        self.part = part

    def __len__(self) -> int:
        return self.part.size

    def read(self, amount: int = -1) -> bytes:
        return self.part.file.read(amount)


def _upload(content_url: str, part: _Part, connection: Connection) -> None:
    """PUT the part to the job's contentUrl; errors are raised as simple-salesforce's, so `Calls` classifies them."""
    url = urljoin(f"https://{connection.sf.sf_instance}/", content_url)
    headers = {"Content-Type": "text/csv", "Authorization": f"Bearer {connection.sf.session_id}"}
    response = connection.http.put(url, data=_Body(part), headers=headers, timeout=TIMEOUT_SECONDS)
    if response.status_code >= 300:
        exception_handler(response)  # 401 expired session, 403 request limit, 5xx general error, ...
    if response.status_code != 201:
        raise SalesforceBulkV2LoadError(f"uploading job data answered HTTP {response.status_code}, not 201")


class IngestJobs:
    """Sends rows to one object in Bulk API 2.0 ingest jobs: an update by Id, or an upsert by an external id."""

    def __init__(
        self,
        calls: Calls,
        obj: str,
        operation: IngestOperation,
        columns: Sequence[str],
        *,
        external_id_field: str | None = None,
        max_records: int = MAX_JOB_RECORDS,
        max_bytes: int = MAX_UPLOAD_BYTES,
        poll_seconds: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
        attempts: int = 4,
    ) -> None:
        if operation == "upsert" and not external_id_field:
            raise ValueError("an upsert needs external_id_field")
        if operation == "update" and external_id_field:
            raise ValueError("an update matches records by Id; external_id_field is for upserts")
        key = external_id_field or "Id"
        if key not in columns:
            raise ValueError(f"the columns must include the key column {key}")
        if max_records < 1 or attempts < 1:
            raise ValueError("max_records and attempts must be at least 1")
        self.calls = calls
        self.obj = obj
        self.operation = Operation(operation)
        self.columns = list(columns)
        self._known = frozenset(columns)
        self.key = key
        self.external_id_field = external_id_field
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.poll_seconds = poll_seconds
        self.sleep = sleep
        self.attempts = attempts
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="\n")
        self.header = self._line(self.columns)
        if len(self.header) >= max_bytes:
            raise ValueError(f"max_bytes ({max_bytes}) leaves no room for a row after the header")

    def send(self, rows: Iterable[Mapping[str, str]]) -> IngestReport:
        """Write the rows, a job per part, reading them lazily; raises IngestFailed when a part's jobs keep failing.

        A column missing from a row is sent empty (Salesforce leaves the field alone; `#N/A` clears it); a row with
        a column outside `columns` raises ValueError, since dropping it would lose a write silently."""
        report = IngestReport(job_ids=[], records=0, csv_bytes=0, results=[])
        part = _Part(self.header)
        try:
            for row in rows:
                line = self._row(row)
                if len(self.header) + len(line) > self.max_bytes:
                    raise ValueError(f"a row of {len(line)} bytes does not fit in max_bytes ({self.max_bytes})")
                if len(part.rows) == self.max_records or part.size + len(line) > self.max_bytes:
                    self._send_part(part, report)
                    part.close()
                    part = _Part(self.header)
                part.add(row.get(self.key, ""), line)
            if part.rows:
                self._send_part(part, report)
        finally:
            part.close()
        return report

    def _line(self, cells: Iterable[str]) -> bytes:
        self._buffer.seek(0)
        self._buffer.truncate()
        self._writer.writerow(cells)
        return self._buffer.getvalue().encode("utf-8")

    def _row(self, row: Mapping[str, str]) -> bytes:
        unknown = row.keys() - self._known
        if unknown:
            raise ValueError(f"row has columns that are not in the header: {sorted(unknown)}")
        return self._line(row.get(column, "") for column in self.columns)

    def _send_part(self, part: _Part, report: IngestReport) -> None:
        """Send one part until every row has a result; a new job carries only the rows the last one left over."""
        report.records += len(part.rows)
        answered: defaultdict[str, deque[IngestResult]] = defaultdict(deque)
        pending = Counter(key for key, _, _ in part.rows)
        current = part
        try:
            for attempt in range(1, self.attempts + 1):
                job_id, info = self._run_job(current, report)
                for result in self._results(job_id):
                    answered[result.key].append(result)
                    pending[result.key] -= 1
                pending = +pending  # keep the keys still owed a result
                if not pending:
                    break
                if attempt == self.attempts:
                    report.results.extend(_in_order(part, answered))
                    state, error = str(info["state"]), str(info.get("errorMessage") or "")
                    raise IngestFailed(job_id, state, error, pending.total(), report)
                if current is not part:
                    current.close()
                current = part.only(self.header, pending)
        finally:
            if current is not part:
                current.close()
        report.results.extend(_in_order(part, answered))

    def _run_job(self, part: _Part, report: IngestReport) -> tuple[str, dict[str, Any]]:
        """Create a job, upload the part, mark it UploadComplete and poll it to a final state: (job id, its info)."""
        job = self.calls(
            lambda connection: connection.bulk(self.obj).create_job(
                self.operation, external_id_field=self.external_id_field
            )
        )
        job_id = str(job["id"])
        report.job_ids.append(job_id)
        self.calls(partial(_upload, str(job["contentUrl"]), part))
        report.csv_bytes += part.size
        self.calls(lambda connection: connection.bulk(self.obj).close_job(job_id))
        while True:
            self.sleep(self.poll_seconds)
            info: dict[str, Any] = self.calls(lambda connection: connection.bulk(self.obj).get_job(job_id, False))
            if info["state"] in TERMINAL:
                return job_id, info

    def _results(self, job_id: str) -> list[IngestResult]:
        """The job's successful and failed results (the rows with neither were left unprocessed)."""
        successful = self.calls(partial(self._read_results, job_id, "successfulResults"))
        failed = self.calls(partial(self._read_results, job_id, "failedResults"))
        return successful + failed

    def _read_results(self, job_id: str, kind: ResultKind, connection: Connection) -> list[IngestResult]:
        """One result file, spooled and parsed by header (columns come in any order).

        Not `get_ingest_results`: its `response.text` decodes a `text/csv` answer without a charset as Latin-1
        (mangling non-ASCII keys and messages), and it holds a whole file, as large as a part, in memory."""
        url = f"{connection.sf.bulk2_url}ingest/{job_id}/{kind}"
        headers = {"Accept": "text/csv", "Authorization": f"Bearer {connection.sf.session_id}"}
        with (
            connection.http.get(url, headers=headers, stream=True, timeout=TIMEOUT_SECONDS) as response,
            tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool,
        ):
            if response.status_code >= 300:
                exception_handler(response)
            for chunk in response.iter_content(1 << 16):
                spool.write(chunk)
            spool.seek(0)
            records = csv.DictReader(line.decode("utf-8") for line in spool)
            return [self._result(kind, record) for record in records]

    def _result(self, kind: ResultKind, record: Mapping[str, str | None]) -> IngestResult:
        key, salesforce_id = record.get(self.key) or "", record.get("sf__Id") or None
        if kind == "failedResults":
            code, message, fields = _parse_error(record.get("sf__Error") or "")
            return IngestResult(key, "failed", salesforce_id, False, code, message, fields)
        created = (record.get("sf__Created") or "").lower() == "true"
        return IngestResult(key, "succeeded", salesforce_id, created, None, None, ())


def _in_order(part: _Part, answered: defaultdict[str, deque[IngestResult]]) -> list[IngestResult]:
    """The part's results in row order; a row without one is unprocessed. A result for a key never sent (only a
    misbehaving server makes one) is still reported, after the rows."""
    ordered: list[IngestResult] = []
    for key, _, _ in part.rows:
        queue = answered.get(key)
        ordered.append(queue.popleft() if queue else IngestResult(key, "unprocessed", None, False, None, None, ()))
    ordered.extend(itertools.chain.from_iterable(answered.values()))
    return ordered


def cell(sf_type: str, value: Any) -> str:
    """A Roster value as Bulk API CSV text for a field of `sf_type` (None clears the field)."""
    if value is None:
        return CLEAR
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and sf_type in ("int", "long"):
        return str(int(value))
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return ";".join(str(item) for item in value)  # multi-select picklists
    return str(value)


def row_of(write: PlannedWrite, fields: Mapping[str, FieldMapping], key_column: str, key: str) -> dict[str, str]:
    """The CSV row of a planned write: its key and one cell per changed field (other columns stay empty)."""
    row = {key_column: key}
    for change in write.changes:
        row[change.salesforce_field] = cell(fields[change.salesforce_field].sf_type, change.new)
    if write.account_id:
        row[ACCOUNT_COLUMN] = write.account_id
    return row

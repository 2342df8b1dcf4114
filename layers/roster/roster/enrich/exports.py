"""A run's archived rows (one S3 object per batch, written by the workers) as CSV a spreadsheet opens safely."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from roster.enrich.definitions import EnrichmentDefinition
from roster.enrich.runs import RecordOutcome, rows_prefix, stored_run
from roster.sources.csv_file import SpreadsheetWriter
from roster.store.enrichments import EnrichmentStore


@dataclass
class RunExports:
    """Exports of archived runs, read from the deployment's bucket."""

    store: EnrichmentStore
    s3: Any
    bucket: str

    def as_csv(self, workspace: str, run_id: str) -> Iterator[str]:
        """The run's rows as CSV text, a chunk per batch (records re-queued by a resume appear once,
        with their latest outcome)."""
        run = stored_run(self.store, workspace, run_id)
        definition = EnrichmentDefinition.model_validate(run.data["definition"])
        columns = list(definition.targets().values())
        out = io.StringIO()
        writer = SpreadsheetWriter(out)
        writer.writerow(["profile_id", "outcome", "reason", "credits", "quality_failed", *columns])
        for key in self._row_files(workspace, run_id):
            body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read().decode()
            for row in map(json.loads, body.splitlines()):
                if row["outcome"] == RecordOutcome.SKIPPED_BUDGET and row["round"] < run.round:
                    continue
                values = [_cell(row["values"].get(column)) for column in columns]
                writer.writerow(
                    [
                        row["profile_id"],
                        row["outcome"],
                        row["reason"] or "",
                        row["credits"],
                        ";".join(row["quality_failed"]),
                        *values,
                    ]
                )
            yield out.getvalue()
            out.seek(0)
            out.truncate()
        if out.tell():
            yield out.getvalue()

    def _row_files(self, workspace: str, run_id: str) -> Iterator[str]:
        request = {"Bucket": self.bucket, "Prefix": rows_prefix(workspace, run_id)}
        while True:
            page = self.s3.list_objects_v2(**request)
            yield from (item["Key"] for item in page.get("Contents", []))
            if not page.get("IsTruncated"):
                return
            request["ContinuationToken"] = page["NextContinuationToken"]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)

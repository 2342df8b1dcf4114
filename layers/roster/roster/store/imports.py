"""Import jobs: one item per job, and one per committed batch under the job's own key, so that
counting is idempotent and listing jobs never reads their batches."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError

from roster.profiles.values import utc_now
from roster.store import jobs
from roster.store.jobs import JobItem


class ImportStore:
    def put(self, workspace: str, import_id: str, data: dict[str, Any]) -> None:
        key = jobs.import_job(workspace, import_id)
        JobItem(*key, data=data, created_at=data.get("created_at") or utc_now()).save()

    def get(self, workspace: str, import_id: str) -> dict[str, Any] | None:
        try:
            return dict(JobItem.get(*jobs.import_job(workspace, import_id), consistent_read=True).data)
        except DoesNotExist:
            return None

    def update(self, workspace: str, import_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Change some fields of a job (the job is written by one function at a time)."""
        item = JobItem.get(*jobs.import_job(workspace, import_id), consistent_read=True)
        item.data = {**item.data, **changes}
        item.save()
        return dict(item.data)

    def record_batch(self, workspace: str, import_id: str, batch: int, result: dict[str, Any]) -> bool:
        """Store a batch's result once; False when a redelivery already stored it."""
        try:
            JobItem(*jobs.import_batch(workspace, import_id, batch), data=result, created_at=utc_now()).save(
                condition=JobItem.sk.does_not_exist()
            )
        except PutError as error:
            if error.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def batches(self, workspace: str, import_id: str) -> Iterator[dict[str, Any]]:
        for item in JobItem.query(jobs.import_batches(workspace, import_id), consistent_read=True):
            yield dict(item.data)

    def list(self, workspace: str, limit: int = 50) -> list[dict[str, Any]]:
        items = JobItem.query(workspace, JobItem.sk.startswith(jobs.IMPORT_JOBS), scan_index_forward=False, limit=limit)
        return [dict(item.data) for item in items]

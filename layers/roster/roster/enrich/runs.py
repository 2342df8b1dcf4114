"""Enrichment runs: a dispatcher fans an audience out in batches, workers enrich them under a budget.

The dispatcher merges the audiences' member lists (see roster.enrich.audiences), writes batches of
ids to S3 and queues one small message per batch, checkpointing after each so a redelivered
dispatch goes on where it stopped. Workers (roster.enrich.worker) enrich the batches; a run's
report adds up what they stored. A run stopped by its budget resumes with the records it skipped.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, TypeAdapter
from ulid import ULID

from roster.enrich.audiences import Audiences, Member
from roster.enrich.budget import to_credits
from roster.enrich.definitions import MAX_RECORDS_PER_BATCH, EnrichmentDefinition, RunProblem
from roster.enrich.saved import Definitions
from roster.store.enrichments import EnrichmentStore, StoredRun


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    STOPPED_BY_BUDGET = "stopped_by_budget"
    FAILED = "failed"


class RecordOutcome(StrEnum):
    ENRICHED = "enriched"
    QUALITY_FAILED = "quality_failed"  # answered, but failed the quality gate of one of its audiences
    NOT_FOUND = "not_found"
    ERROR = "error"  # not charged
    SKIPPED_RECENT = "skipped_recent"
    SKIPPED_BUDGET = "skipped_budget"
    SKIPPED_INACTIVE = "skipped_inactive"  # archived or merged away since the run started


class Trigger(StrEnum):
    MANUAL = "manual"
    SCHEDULED = "scheduled"
    CONTINUOUS = "continuous"


class DispatchRun(BaseModel):
    """Read a run's audiences into batches (sent again by itself to continue a long dispatch)."""

    type: Literal["dispatch"] = "dispatch"
    workspace: str
    run_id: str


class EnrichBatch(BaseModel):
    """Enrich one batch of a run; `key` is the S3 object with its profile ids."""

    type: Literal["batch"] = "batch"
    workspace: str
    run_id: str
    batch: int
    round: int
    key: str


EnrichWork = Annotated[DispatchRun | EnrichBatch, Field(discriminator="type")]
WORK: TypeAdapter[EnrichWork] = TypeAdapter(EnrichWork)


class Run(BaseModel):
    run_id: str
    enrichment_id: str
    status: RunStatus
    trigger: Trigger
    force: bool
    round: int  # resumes so far
    created_at: str
    started_at: str | None
    batches_total: int | None
    batches_done: int
    outcomes: dict[RecordOutcome, int]
    credits_spent: float
    failure: str | None = None


class BatchResult(BaseModel):
    batch: int
    round: int
    outcomes: dict[RecordOutcome, int]
    credits_spent: float
    skipped_budget: list[Member]


def batch_key(workspace: str, run_id: str, batch: int) -> str:
    """The S3 object with a batch's profile ids (and the audiences each came from)."""
    return f"enrichment-batches/{workspace}/{run_id}/batch-{batch:07d}.jsonl"


def rows_prefix(workspace: str, run_id: str) -> str:
    """Where a run's answered rows are archived, one object per batch (exported as CSV)."""
    return f"enrichment-runs/{workspace}/{run_id}/rows/"


def _chunks(members: Iterable[Member], size: int) -> Iterator[list[Member]]:
    iterator = iter(members)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def run_id_at(moment: datetime, salt: str) -> str:
    """A run id for work that may be retried (a schedule firing, a flush): the same moment and salt
    give the same id, so a retry finds the run it already created."""
    stamp = int(moment.timestamp() * 1000).to_bytes(6, "big")
    return str(ULID.from_bytes(stamp + hashlib.sha256(salt.encode()).digest()[:10]))


def stored_run(store: EnrichmentStore, workspace: str, run_id: str) -> StoredRun:
    """The run as stored; a 404 problem when the workspace has no such run."""
    run = store.get_run(workspace, run_id)
    if run is None:
        raise RunProblem(f"no enrichment run {run_id!r} in this workspace", 404)
    return run


@dataclass
class Runs:
    """Starting, dispatching, reporting, resuming and failing runs, over the deployment's bucket and queue."""

    store: EnrichmentStore
    definitions: Definitions
    audiences: Audiences
    s3: Any
    bucket: str
    send: Callable[[BaseModel], None]
    max_batch: int = MAX_RECORDS_PER_BATCH  # records per batch at most (the providers' batch sizes may lower it)

    def start(
        self,
        workspace: str,
        enrichment_id: str,
        *,
        force: bool = False,
        trigger: Trigger = Trigger.MANUAL,
        run_id: str | None = None,
    ) -> Run:
        """A new run over the definition's audiences as they are now; the dispatcher reads them."""
        definition = self.definitions.get(workspace, enrichment_id)
        run_id = run_id or str(ULID())
        self._create_run(workspace, run_id, definition, force=force, trigger=trigger)
        self.send(DispatchRun(workspace=workspace, run_id=run_id))
        return self.get(workspace, run_id)

    def start_members(
        self, workspace: str, definition: EnrichmentDefinition, members: Sequence[Member], run_id: str, trigger: Trigger
    ) -> Run:
        """A run over given members (continuous intake), batched at once; retrying it with the same id
        and members writes the same batches again, which workers then find done."""
        self._create_run(workspace, run_id, definition, force=False, trigger=trigger)
        total = self._write_batches(workspace, run_id, 0, 0, self._batch_size(definition), members)
        self.store.finish_dispatch(workspace, run_id, total)
        return self.get(workspace, run_id)

    def _create_run(
        self, workspace: str, run_id: str, definition: EnrichmentDefinition, *, force: bool, trigger: Trigger
    ) -> None:
        data = {"definition": definition.model_dump(mode="json"), "force": force, "trigger": str(trigger)}
        self.store.create_run(workspace, run_id, definition.enrichment_id, data)

    def dispatch(self, message: DispatchRun, should_stop: Callable[[], bool] = lambda: False) -> int:
        """Write the run's batches and queue them; returns how many were written so far. When
        `should_stop` says time is short, queues itself to go on from the last checkpoint."""
        run = stored_run(self.store, message.workspace, message.run_id)
        if run.batches_total is not None:
            return run.batches_total  # a redelivered message: dispatched already
        definition = EnrichmentDefinition.model_validate(run.data["definition"])
        batch = run.dispatched
        if batch:  # the last checkpointed batch may not have been queued before a crash
            self._queue_batch(message.workspace, message.run_id, batch - 1, 0)
        members = self.audiences.members(message.workspace, definition, after=run.dispatch_cursor)
        for chunk in _chunks(members, self._batch_size(definition)):
            if should_stop():
                self.send(message)
                return batch
            self._put_batch(message.workspace, message.run_id, batch, chunk)
            self.store.checkpoint_dispatch(message.workspace, message.run_id, chunk[-1].profile_id, batch + 1)
            self._queue_batch(message.workspace, message.run_id, batch, 0)
            batch += 1
        self.store.finish_dispatch(message.workspace, message.run_id, batch)
        return batch

    def _batch_size(self, definition: EnrichmentDefinition) -> int:
        return min(self.max_batch, definition.records_per_batch())

    def _put_batch(self, workspace: str, run_id: str, batch: int, members: Sequence[Member]) -> None:
        lines = (json.dumps({"id": member.profile_id, "a": list(member.audiences)}) for member in members)
        self.s3.put_object(Bucket=self.bucket, Key=batch_key(workspace, run_id, batch), Body="\n".join(lines).encode())

    def _queue_batch(self, workspace: str, run_id: str, batch: int, round_: int) -> None:
        key = batch_key(workspace, run_id, batch)
        self.send(EnrichBatch(workspace=workspace, run_id=run_id, batch=batch, round=round_, key=key))

    def _write_batches(
        self, workspace: str, run_id: str, round_: int, first: int, size: int, members: Iterable[Member]
    ) -> int:
        """Write and queue batches numbered from `first`; returns the number after the last one."""
        batch = first
        for chunk in _chunks(members, size):
            self._put_batch(workspace, run_id, batch, chunk)
            self._queue_batch(workspace, run_id, batch, round_)
            batch += 1
        return batch

    def get(self, workspace: str, run_id: str) -> Run:
        return _report(stored_run(self.store, workspace, run_id))

    def recent(self, workspace: str, enrichment_id: str | None = None, limit: int = 50) -> list[Run]:
        """Runs of one enrichment, or of all, newest first."""
        return [_report(run) for run in self.store.runs(workspace, enrichment_id, limit)]

    def resume(self, workspace: str, run_id: str) -> Run:
        """Re-queue the records a run skipped for budget (after the cap was raised); nothing else."""
        run = stored_run(self.store, workspace, run_id)
        if _status(run) is not RunStatus.STOPPED_BY_BUDGET:
            raise RunProblem(f"only a run stopped by its budget can resume; this one is {_status(run)}", 409)
        definition = EnrichmentDefinition.model_validate(run.data["definition"])
        skipped = sorted(
            Member(member["profile_id"], tuple(member["audiences"]))
            for _, round_, result in self.store.batch_results(workspace, run_id)
            if round_ == run.round and result is not None
            for member in result["skipped_budget"]
        )
        first = int(run.batches_total or 0)
        total = self._write_batches(workspace, run_id, run.round + 1, first, self._batch_size(definition), skipped)
        self.store.start_round(run, len(skipped), total)  # False: a concurrent resume did the same
        return self.get(workspace, run_id)

    def fail(self, workspace: str, run_id: str, reason: str) -> None:
        """Mark a run failed (its dispatch or a batch ended in the dead-letter queue)."""
        self.store.fail_run(workspace, run_id, reason)

    def quality_failed(self, workspace: str, enrichment_id: str, audience: str, profile_ids: Iterable[str]) -> set[str]:
        """The profiles whose last answer from this enrichment failed the audience's quality gate
        (actions skip them)."""
        markers = self.store.markers(workspace, enrichment_id, profile_ids)
        return {pid for pid, marker in markers.items() if audience in marker.quality_failed}


def _status(run: StoredRun) -> RunStatus:
    if run.failure:
        return RunStatus.FAILED
    if run.batches_total is None or run.batches_done < run.batches_total:
        return RunStatus.RUNNING if run.started_at else RunStatus.QUEUED
    return RunStatus.STOPPED_BY_BUDGET if run.counts["skipped_budget"] else RunStatus.COMPLETED


def _report(run: StoredRun) -> Run:
    return Run(
        run_id=run.run_id,
        enrichment_id=run.enrichment_id,
        status=_status(run),
        trigger=Trigger(run.data["trigger"]),
        force=bool(run.data["force"]),
        round=run.round,
        created_at=run.created_at,
        started_at=run.started_at,
        batches_total=run.batches_total,
        batches_done=run.batches_done,
        outcomes={RecordOutcome(name): count for name, count in run.counts.items()},
        credits_spent=to_credits(run.credits),
        failure=run.failure,
    )

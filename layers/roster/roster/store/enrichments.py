"""Enrichment definitions, budgets, runs, batches, per-record markers and pending continuous work,
all on the jobs table (their keys are listed in `roster.store.jobs`).

A definition's credit budget is three numbers (millicredits): `cap`, `spent` and `remaining` (= cap -
spent). Reserving is one conditional atomic ADD on `remaining`, so the cap holds with any number of
concurrent workers and no arithmetic in conditions. A batch's claim (who works on it, until when, which
records it reserved credits for) is claimed and reserved in one transaction and finished and counted in
another, so a redelivered batch never charges or counts twice.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import DeleteError, DoesNotExist, PutError, TransactWriteError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from roster.config import settings
from roster.profiles.values import utc_now
from roster.store import jobs
from roster.store.jobs import BatchItem, DefinitionItem, IndexItem, MarkerItem, PendingItem, RunItem

CONDITION_FAILED = "ConditionalCheckFailedException"
CANCELED = "TransactionCanceledException"
MAX_CLAIM_ATTEMPTS = 200

#: The run counters, one per record outcome (see roster.enrich.runs.RecordOutcome).
OUTCOME_COUNTERS = (
    "enriched",
    "quality_failed",
    "not_found",
    "error",
    "skipped_recent",
    "skipped_budget",
    "skipped_inactive",
)


class BatchBusy(Exception):
    """Another worker holds this batch's lease: let the message come back later."""


class BudgetConflict(Exception):
    """The budget changed while it was being edited: read it again."""


@dataclass(frozen=True)
class Budget:
    """A definition's credit budget, in millicredits."""

    cap: int
    spent: int
    remaining: int


@dataclass(frozen=True)
class StoredDefinition:
    workspace: str
    data: dict[str, Any]
    created_at: str
    budget: Budget
    last_scheduled_at: str | None


@dataclass(frozen=True)
class StoredRun:
    workspace: str
    run_id: str
    enrichment_id: str
    data: dict[str, Any]
    created_at: str
    started_at: str | None
    failure: str | None
    round: int
    dispatch_cursor: str | None
    dispatched: int
    batches_total: int | None
    batches_done: int
    credits: int
    counts: dict[str, int]


@dataclass(frozen=True)
class Claim:
    """The right to work on a batch until `lease_until`, and the records whose credits are reserved."""

    token: str
    charged: list[str]
    reserved: int
    done: dict[str, Any] | None = None  # the stored result when the batch was already finished


@dataclass(frozen=True)
class Marker:
    enriched_at: str
    run_id: str
    quality_failed: list[str]


@dataclass(frozen=True)
class Pending:
    profile_id: str
    segment_id: str


def _canceled_by(error: TransactWriteError, index: int) -> bool:
    """Whether the transaction item at `index` is the one whose condition failed."""
    reasons = error.cancellation_reasons
    reason = reasons[index] if index < len(reasons) else None
    return reason is not None and reason.code == "ConditionalCheckFailed"


def _to_run(item: RunItem) -> StoredRun:
    return StoredRun(
        workspace=item.pk,
        run_id=jobs.enrichment_run_id(item.sk),
        enrichment_id=item.enrichment_id,
        data=dict(item.data),
        created_at=item.created_at,
        started_at=item.started_at,
        failure=item.failure,
        round=int(item.round),
        dispatch_cursor=item.dispatch_cursor,
        dispatched=int(item.dispatched),
        batches_total=None if item.batches_total is None else int(item.batches_total),
        batches_done=int(item.batches_done),
        credits=int(item.credits),
        counts={name: int(getattr(item, name)) for name in OUTCOME_COUNTERS},
    )


def _to_definition(item: DefinitionItem) -> StoredDefinition:
    return StoredDefinition(
        workspace=item.pk,
        data=dict(item.data),
        created_at=item.created_at,
        budget=Budget(int(item.cap), int(item.spent), int(item.remaining)),
        last_scheduled_at=item.last_scheduled_at,
    )


class EnrichmentStore:
    def __init__(self) -> None:
        self._connection = Connection(region=settings().region)

    # --- definitions and budgets ----------------------------------------------------------------

    def create_definition(self, workspace: str, enrichment_id: str, data: dict[str, Any], cap: int) -> None:
        """Store a new definition with a fresh budget; raises KeyError when the id is taken."""
        key = jobs.enrichment_definition(workspace, enrichment_id)
        item = DefinitionItem(*key, data=data, created_at=utc_now(), cap=cap, remaining=cap)
        try:
            item.save(condition=DefinitionItem.sk.does_not_exist())
        except PutError as error:
            if error.cause_response_code == CONDITION_FAILED:
                raise KeyError(enrichment_id) from error
            raise

    def update_definition(self, workspace: str, enrichment_id: str, data: dict[str, Any]) -> None:
        """Replace a definition's settings; its budget counters are left to `set_cap` and the workers."""
        DefinitionItem(*jobs.enrichment_definition(workspace, enrichment_id)).update(
            actions=[DefinitionItem.data.set(data)], condition=DefinitionItem.sk.exists()
        )

    def get_definition(self, workspace: str, enrichment_id: str) -> StoredDefinition | None:
        try:
            return _to_definition(
                DefinitionItem.get(*jobs.enrichment_definition(workspace, enrichment_id), consistent_read=True)
            )
        except DoesNotExist:
            return None

    def definitions(self, workspace: str) -> list[StoredDefinition]:
        items = DefinitionItem.query(
            workspace, DefinitionItem.sk.startswith(jobs.ENRICHMENT_DEFINITIONS), consistent_read=True
        )
        return [_to_definition(item) for item in items]

    def delete_definition(self, workspace: str, enrichment_id: str) -> None:
        DefinitionItem(*jobs.enrichment_definition(workspace, enrichment_id)).delete()
        self.set_scheduled(workspace, enrichment_id, scheduled=False)

    def set_cap(self, workspace: str, enrichment_id: str, old_cap: int, new_cap: int) -> Budget:
        """Move the cap from `old_cap`; `remaining` moves by the same amount in the same atomic write,
        so reservations made meanwhile are kept. Raises BudgetConflict when the cap is no longer `old_cap`."""
        try:
            item = DefinitionItem(*jobs.enrichment_definition(workspace, enrichment_id))
            item.update(
                actions=[DefinitionItem.cap.set(new_cap), DefinitionItem.remaining.add(new_cap - old_cap)],
                condition=DefinitionItem.cap == old_cap,
            )
        except UpdateError as error:
            if error.cause_response_code == CONDITION_FAILED:
                raise BudgetConflict(enrichment_id) from error
            raise
        return Budget(int(item.cap), int(item.spent), int(item.remaining))

    def mark_scheduled(self, workspace: str, enrichment_id: str, previous: str | None, fired_at: str) -> bool:
        """Record that the schedule fired at `fired_at`; False when another scheduler already did."""
        condition = (
            DefinitionItem.last_scheduled_at.does_not_exist()
            if previous is None
            else DefinitionItem.last_scheduled_at == previous
        )
        try:
            DefinitionItem(*jobs.enrichment_definition(workspace, enrichment_id)).update(
                actions=[DefinitionItem.last_scheduled_at.set(fired_at)], condition=condition
            )
        except UpdateError as error:
            if error.cause_response_code == CONDITION_FAILED:
                return False
            raise
        return True

    def set_scheduled(self, workspace: str, enrichment_id: str, *, scheduled: bool) -> None:
        key = jobs.listing(jobs.ENRICHMENT_SCHEDULED, workspace, enrichment_id)
        item = IndexItem(*key, workspace=workspace, enrichment_id=enrichment_id)
        if scheduled:
            item.save()
        else:
            item.delete()

    def scheduled(self) -> Iterator[tuple[str, str]]:
        """(workspace, enrichment id) of every definition with a schedule."""
        for item in IndexItem.query(jobs.ENRICHMENT_SCHEDULED):
            yield item.workspace, item.enrichment_id

    # --- runs -----------------------------------------------------------------------------------

    def create_run(self, workspace: str, run_id: str, enrichment_id: str, data: dict[str, Any]) -> bool:
        """Store a new run; False when a run with this id exists (a retried scheduler or flush)."""
        key = jobs.enrichment_run(workspace, run_id)
        item = RunItem(*key, enrichment_id=enrichment_id, data=data, created_at=utc_now())
        try:
            item.save(condition=RunItem.sk.does_not_exist())
        except PutError as error:
            if error.cause_response_code == CONDITION_FAILED:
                return False
            raise
        return True

    def get_run(self, workspace: str, run_id: str) -> StoredRun | None:
        try:
            return _to_run(RunItem.get(*jobs.enrichment_run(workspace, run_id), consistent_read=True))
        except DoesNotExist:
            return None

    def runs(self, workspace: str, enrichment_id: str | None = None, limit: int = 50) -> list[StoredRun]:
        """The newest runs first (run ids are ULIDs), of one enrichment or all."""
        condition = RunItem.enrichment_id == enrichment_id if enrichment_id else None
        items = RunItem.query(
            workspace,
            RunItem.sk.startswith(jobs.ENRICHMENT_RUNS),
            filter_condition=condition,
            scan_index_forward=False,
            limit=limit,
        )
        return [_to_run(item) for item in items]

    def checkpoint_dispatch(self, workspace: str, run_id: str, cursor: str, dispatched: int) -> None:
        RunItem(*jobs.enrichment_run(workspace, run_id)).update(
            actions=[RunItem.dispatch_cursor.set(cursor), RunItem.dispatched.set(dispatched)]
        )

    def finish_dispatch(self, workspace: str, run_id: str, batches_total: int) -> None:
        RunItem(*jobs.enrichment_run(workspace, run_id)).update(actions=[RunItem.batches_total.set(batches_total)])

    def fail_run(self, workspace: str, run_id: str, reason: str) -> None:
        RunItem(*jobs.enrichment_run(workspace, run_id)).update(actions=[RunItem.failure.set(reason)])

    def start_round(self, run: StoredRun, requeued: int, batches_total: int) -> bool:
        """Open the next round of a stopped run once its batches are queued: its `requeued` budget-skipped
        records leave the count and `batches_total` grows. False when another resume did it first."""
        try:
            RunItem(*jobs.enrichment_run(run.workspace, run.run_id)).update(
                actions=[
                    RunItem.round.set(run.round + 1),
                    RunItem.skipped_budget.add(-requeued),
                    RunItem.batches_total.set(batches_total),
                ],
                condition=RunItem.round == run.round,
            )
        except UpdateError as error:
            if error.cause_response_code == CONDITION_FAILED:
                return False
            raise
        return True

    # --- batches --------------------------------------------------------------------------------

    def batch_results(self, workspace: str, run_id: str) -> Iterator[tuple[int, int, dict[str, Any] | None]]:
        """(batch, round, result or None while unfinished) of every claimed batch of a run."""
        for item in BatchItem.query(jobs.enrichment_batches(workspace, run_id), consistent_read=True):
            yield jobs.batch_number(item.sk), int(item.round), item.result

    def claim_batch(
        self,
        workspace: str,
        run_id: str,
        batch: int,
        round_: int,
        enrichment_id: str,
        candidates: Sequence[str],
        cost: int,
        lease_seconds: float,
    ) -> Claim:
        """Claim a batch and reserve `cost` millicredits for as many `candidates` as the budget allows,
        in order, in one transaction. A batch claimed before is taken over (its reservation kept) once
        its lease expired, and a finished one answers its result; raises BatchBusy while leased."""
        key = jobs.enrichment_batch(workspace, run_id, batch)
        budget_key = jobs.enrichment_definition(workspace, enrichment_id)
        for attempt in range(MAX_CLAIM_ATTEMPTS):
            token, now = uuid.uuid4().hex, time.time()
            try:
                existing: BatchItem | None = BatchItem.get(*key, consistent_read=True)
            except DoesNotExist:
                existing = None
            if existing is not None:
                if existing.state == "done":
                    return Claim(existing.owner, list(existing.charged), int(existing.reserved), dict(existing.result))
                if existing.lease_until > now:
                    raise BatchBusy(f"batch {batch} of run {run_id} is being processed")
                try:
                    existing.update(
                        actions=[BatchItem.owner.set(token), BatchItem.lease_until.set(now + lease_seconds)],
                        condition=(BatchItem.owner == existing.owner) & (BatchItem.state == "claimed"),
                    )
                except UpdateError as error:
                    if error.cause_response_code != CONDITION_FAILED:
                        raise
                    continue
                return Claim(token, list(existing.charged), int(existing.reserved))
            take = len(candidates)
            if cost > 0:
                remaining = int(DefinitionItem.get(*budget_key, consistent_read=True).remaining)
                take = max(0, min(take, remaining // cost))
            amount = take * cost
            item = BatchItem(
                *key,
                round=round_,
                state="claimed",
                owner=token,
                lease_until=now + lease_seconds,
                charged=list(candidates[:take]),
                reserved=amount,
                created_at=utc_now(),
            )
            try:
                with TransactWrite(connection=self._connection) as transaction:
                    transaction.save(item, condition=BatchItem.sk.does_not_exist())
                    transaction.update(
                        RunItem(*jobs.enrichment_run(workspace, run_id)),
                        actions=[RunItem.started_at.set(RunItem.started_at | item.created_at)],
                    )
                    if amount:
                        transaction.update(
                            DefinitionItem(*budget_key),
                            actions=[DefinitionItem.remaining.add(-amount), DefinitionItem.spent.add(amount)],
                            condition=DefinitionItem.remaining >= amount,
                        )
            except TransactWriteError as error:
                if error.cause_response_code != CANCELED:
                    raise
                if not _canceled_by(error, 0):  # the budget moved under us: back off a little, read it again
                    time.sleep(random.uniform(0, 0.002 * min(attempt + 1, 20)))
                continue
            return Claim(token, item.charged, amount)
        raise BatchBusy(f"batch {batch} of run {run_id} kept losing races for the budget")

    def finish_batch(
        self,
        workspace: str,
        run_id: str,
        batch: int,
        enrichment_id: str,
        claim: Claim,
        result: dict[str, Any],
        counts: dict[str, int],
        refund: int,
    ) -> bool:
        """Store a batch's result, add its counts and net credits to the run and give back `refund`
        millicredits to the budget, all at once; False when this worker lost its lease meanwhile."""
        counters: list[Action] = [getattr(RunItem, name).add(counts[name]) for name in OUTCOME_COUNTERS]
        try:
            with TransactWrite(connection=self._connection) as transaction:
                transaction.update(
                    BatchItem(*jobs.enrichment_batch(workspace, run_id, batch)),
                    actions=[BatchItem.state.set("done"), BatchItem.result.set(result)],
                    condition=(BatchItem.owner == claim.token) & (BatchItem.state == "claimed"),
                )
                transaction.update(
                    RunItem(*jobs.enrichment_run(workspace, run_id)),
                    actions=[*counters, RunItem.batches_done.add(1), RunItem.credits.add(claim.reserved - refund)],
                )
                if refund:
                    transaction.update(
                        DefinitionItem(*jobs.enrichment_definition(workspace, enrichment_id)),
                        actions=[DefinitionItem.remaining.add(refund), DefinitionItem.spent.add(-refund)],
                    )
        except TransactWriteError as error:
            if error.cause_response_code == CANCELED and _canceled_by(error, 0):
                return False
            raise
        return True

    # --- markers: when a profile was last enriched, and its failed quality gates ----------------

    def markers(self, workspace: str, enrichment_id: str, profile_ids: Iterable[str]) -> dict[str, Marker]:
        keys = [jobs.enrichment_marker(workspace, enrichment_id, pid) for pid in set(profile_ids)]
        if not keys:
            return {}
        return {
            item.sk: Marker(item.enriched_at, item.run_id, list(item.quality_failed or []))
            for item in MarkerItem.batch_get(keys, consistent_read=True)
        }

    def put_markers(self, workspace: str, enrichment_id: str, markers: dict[str, Marker]) -> None:
        with MarkerItem.batch_write() as batch:
            for profile_id, marker in markers.items():
                batch.save(
                    MarkerItem(
                        *jobs.enrichment_marker(workspace, enrichment_id, profile_id),
                        enriched_at=marker.enriched_at,
                        run_id=marker.run_id,
                        quality_failed=marker.quality_failed or None,
                    )
                )

    # --- pending continuous work ----------------------------------------------------------------

    def add_pending(self, workspace: str, enrichment_id: str, entries: Iterable[tuple[str, str, str]]) -> None:
        """Queue (profile, segment, entered at) entries; the same entry twice is one item."""
        unique = {(profile_id, segment_id): entered_at for profile_id, segment_id, entered_at in entries}
        with PendingItem.batch_write() as batch:
            for (profile_id, segment_id), entered_at in unique.items():
                batch.save(
                    PendingItem(
                        *jobs.enrichment_pending_entry(workspace, enrichment_id, profile_id, segment_id),
                        profile_id=profile_id,
                        segment_id=segment_id,
                        entered_at=entered_at,
                    )
                )
        IndexItem(*jobs.listing(jobs.ENRICHMENT_PENDING, workspace, enrichment_id)).update(
            actions=[
                IndexItem.workspace.set(workspace),
                IndexItem.enrichment_id.set(enrichment_id),
                IndexItem.last_intake.set(utc_now()),
            ]
        )

    def pending_definitions(self) -> Iterator[tuple[str, str, str | None]]:
        """(workspace, enrichment id, last intake) of every definition with pending work."""
        for item in IndexItem.query(jobs.ENRICHMENT_PENDING, consistent_read=True):
            yield item.workspace, item.enrichment_id, item.last_intake

    def pending(self, workspace: str, enrichment_id: str) -> list[Pending]:
        """Pending entries in profile id order (an entry per segment a profile entered)."""
        items = PendingItem.query(jobs.enrichment_pending(workspace, enrichment_id), consistent_read=True)
        return [Pending(item.profile_id, item.segment_id) for item in items]

    def drop_pending(
        self, workspace: str, enrichment_id: str, entries: Iterable[Pending], last_intake: str | None
    ) -> None:
        """Delete flushed entries, then the index item unless an intake came after `last_intake`."""
        with PendingItem.batch_write() as batch:
            for entry in entries:
                batch.delete(
                    PendingItem(
                        *jobs.enrichment_pending_entry(workspace, enrichment_id, entry.profile_id, entry.segment_id)
                    )
                )
        condition: Condition = (
            IndexItem.last_intake.does_not_exist() if last_intake is None else IndexItem.last_intake == last_intake
        )
        try:
            IndexItem(*jobs.listing(jobs.ENRICHMENT_PENDING, workspace, enrichment_id)).delete(condition=condition)
        except DeleteError as error:
            if error.cause_response_code != CONDITION_FAILED:
                raise

"""Enrichment runs: a dispatcher fans an audience out in batches, workers enrich them under a budget.

The dispatcher merges the audiences' member lists (each in profile id order, so duplicates across
audiences meet and are dropped without holding the audience in memory), writes batches of ids to
S3 and queues one small message per batch, checkpointing after each so a redelivered dispatch goes
on where it stopped. A worker claims its batch and reserves credits for its records in one
transaction, runs the providers, writes answers to the profiles as the source record
`enrichment:<id>:<profile>` (so provenance names the enrichment and the values are on the profile
for every segment), marks when each profile was answered, archives the rows in S3 and adds its
counts in a second transaction. A redelivered message finds the batch claimed or done, so nothing
is enriched, charged or counted twice.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import heapq
import io
import itertools
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, TypeAdapter
from ulid import ULID

from roster.enrich.budget import CostPreview, cost_per_record, cost_preview, provider_costs, to_credits, to_millis
from roster.enrich.definitions import (
    MAX_RECORDS_PER_BATCH,
    DefinitionProblem,
    EnrichmentDefinition,
    build_providers,
    check_definition,
    workspace_secrets,
)
from roster.enrich.providers import Provider, ResultStatus
from roster.profiles.fields import FieldType, Kind
from roster.profiles.model import IncomingRecord, Profile, Status, apply_record
from roster.profiles.values import ValueProblem, coerce_fields, format_time
from roster.segments.compiler import CompiledFilter, compile_filter
from roster.segments.filters import catalog_for
from roster.segments.manager import BUILT_IN as BUILT_IN_AUDIENCES
from roster.store.enrichments import BudgetConflict, Claim, EnrichmentStore, Marker, StoredRun
from roster.store.profiles import Conflict, ProfileStore
from roster.store.segments import SegmentStore
from roster.store.workspaces import CUSTOM_FIELDS_SETTING, WorkspaceStore, custom_fields, survivorship_setting_name

SOURCE = "enrichment"
TEST_ROWS = 10
PAGE = 1000  # audience members read per request
MAX_WRITE_ATTEMPTS = 8


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


class RunProblem(Exception):
    """A request about an enrichment or run that cannot be done, with the reason for the user."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


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


@dataclass(frozen=True, order=True)
class Member:
    """A profile a run covers, and the audiences it came from (their quality gates apply)."""

    profile_id: str
    audiences: tuple[str, ...]


class BudgetReport(BaseModel):
    budget_credits: float
    spent_credits: float
    remaining_credits: float


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


class FieldWrite(BaseModel):
    field: str
    old: Any
    new: Any


class TestRow(BaseModel):
    profile_id: str
    status: ResultStatus
    reason: str | None
    outputs: dict[str, Any]  # by mapped field name
    writes: list[FieldWrite]  # exactly what a run would change on the profile (empty when mapping is off)
    quality_failed: list[str]


class TestRun(BaseModel):
    rows: list[TestRow]
    credits_per_record: float
    new_fields: dict[str, FieldType]  # custom fields saving the definition would create


@dataclass
class Answer:
    """What the providers said about one record, combined."""

    status: ResultStatus
    values: dict[str, Any]  # by provider output name
    answered: set[str]  # outputs of providers that answered (found or not): a missing one is cleared
    reasons: list[str]
    refund: int  # millicredits of providers that failed on it


def ask_providers(
    providers: Sequence[Provider], costs: Sequence[int], records: Sequence[Mapping[str, Any]]
) -> list[Answer]:
    """Run each provider over the records in turn; a provider reads the outputs of those before it."""
    answers = [Answer(ResultStatus.NOT_FOUND, {}, set(), [], 0) for _ in records]
    for provider, cost in zip(providers, costs, strict=True):
        inputs = [{**record, **answer.values} for record, answer in zip(records, answers, strict=True)]
        results = []
        for start in range(0, len(inputs), provider.batch_size):
            results.extend(provider.enrich(inputs[start : start + provider.batch_size]))
        for answer, result in zip(answers, results, strict=True):
            if result.reason:
                answer.reasons.append(f"{provider.name}: {result.reason}")
            if result.status is ResultStatus.ERROR:
                answer.refund += cost
                continue
            answer.answered |= set(provider.outputs)
            answer.values.update(result.values)
    for answer in answers:
        if answer.values:
            answer.status = ResultStatus.FOUND
        elif not answer.answered:
            answer.status = ResultStatus.ERROR
    return answers


def answer_fields(definition: EnrichmentDefinition, answer: Answer) -> tuple[dict[str, Any], list[str]]:
    """The answer as canonical profile values under their mapped names (None clears an old answer),
    and the reasons of values that could not be stored."""
    fields: dict[str, Any] = {}
    problems: list[str] = []
    for output, target in definition.targets().items():
        if output not in answer.answered:
            continue
        try:
            fields.update(coerce_fields(definition.kind, {target: answer.values.get(output)}))
        except ValueProblem as problem:
            problems.append(str(problem))
    return fields, problems


def apply_answer(
    profile: Profile, record: IncomingRecord, source_priority: Mapping[str, Sequence[str]]
) -> tuple[bool, list[FieldWrite]]:
    """Bring the enrichment's source record on the profile up to date; whether anything changed, and
    how the profile's visible fields change (after survivorship)."""
    before = dict(profile.fields)
    if not apply_record(profile, record):
        return False, []
    profile.refresh(source_priority)
    names = sorted(set(before) | set(profile.fields))
    return True, [
        FieldWrite(field=name, old=before.get(name), new=profile.fields.get(name))
        for name in names
        if before.get(name) != profile.fields.get(name)
    ]


def _batch_key(workspace: str, run_id: str, batch: int) -> str:
    return f"enrichment-batches/{workspace}/{run_id}/batch-{batch:07d}.jsonl"


def _rows_prefix(workspace: str, run_id: str) -> str:
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


@dataclass
class Enrichments:
    """Enrichment definitions, runs and budgets of every workspace, over the deployment's bucket and queue."""

    store: EnrichmentStore
    profiles: ProfileStore
    segments: SegmentStore
    workspaces: WorkspaceStore
    s3: Any
    bucket: str
    send: Callable[[BaseModel], None]
    secrets: Callable[[str], str]
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    lease_seconds: float = 900.0  # a worker's timeout: after it, a redelivered batch may be taken over
    max_batch: int = MAX_RECORDS_PER_BATCH  # records per batch at most (the providers' batch sizes may lower it)

    # --- definitions ----------------------------------------------------------------------------

    def check(
        self, workspace: str, definition: EnrichmentDefinition
    ) -> tuple[EnrichmentDefinition, dict[str, FieldType]]:
        """The definition checked against the workspace's segments and fields, and the fields it creates."""
        for audience in definition.audiences:
            if audience in BUILT_IN_AUDIENCES:
                kind = BUILT_IN_AUDIENCES[audience][1]
            else:
                segment = self.segments.get(workspace, audience)
                if segment is None:
                    raise RunProblem(f"audiences: no segment {audience!r} in this workspace", 422)
                kind = segment.kind
            if kind is not definition.kind:
                raise RunProblem(
                    f"audiences: {audience!r} holds {kind}, the enrichment enriches {definition.kind}", 422
                )
        try:
            return check_definition(definition, custom_fields(self.workspaces, workspace))
        except DefinitionProblem as problem:
            raise RunProblem(str(problem), 422) from None

    def save(self, workspace: str, definition: EnrichmentDefinition, *, create: bool) -> EnrichmentDefinition:
        """Create or replace a definition, creating the custom fields its mapping names."""
        checked, created = self.check(workspace, definition)
        existing = self.store.get_definition(workspace, checked.enrichment_id)
        if create and existing is not None:
            raise RunProblem(f"an enrichment {checked.enrichment_id!r} exists already", 409)
        if not create and existing is None:
            raise RunProblem(f"no enrichment {checked.enrichment_id!r} in this workspace", 404)
        if created:
            declared = self.workspaces.get_setting(workspace, CUSTOM_FIELDS_SETTING)
            declared.setdefault(str(checked.kind), {}).update({name: str(kind) for name, kind in created.items()})
            self.workspaces.put_setting(workspace, CUSTOM_FIELDS_SETTING, declared)
        data = checked.model_dump(mode="json")
        if existing is None:
            self.store.create_definition(workspace, checked.enrichment_id, data, to_millis(checked.budget_credits))
        else:
            self.store.update_definition(workspace, checked.enrichment_id, data)
            self.set_budget(workspace, checked.enrichment_id, checked.budget_credits)
        self.store.set_scheduled(workspace, checked.enrichment_id, scheduled=checked.schedule is not None)
        return checked

    def definition(self, workspace: str, enrichment_id: str) -> EnrichmentDefinition:
        stored = self.store.get_definition(workspace, enrichment_id)
        if stored is None:
            raise RunProblem(f"no enrichment {enrichment_id!r} in this workspace", 404)
        return EnrichmentDefinition.model_validate(stored.data)

    def definitions(self, workspace: str) -> list[EnrichmentDefinition]:
        return [EnrichmentDefinition.model_validate(stored.data) for stored in self.store.definitions(workspace)]

    def delete(self, workspace: str, enrichment_id: str) -> None:
        self.definition(workspace, enrichment_id)
        self.store.delete_definition(workspace, enrichment_id)

    # --- budget ---------------------------------------------------------------------------------

    def budget(self, workspace: str, enrichment_id: str) -> BudgetReport:
        stored = self.store.get_definition(workspace, enrichment_id)
        if stored is None:
            raise RunProblem(f"no enrichment {enrichment_id!r} in this workspace", 404)
        budget = stored.budget
        return BudgetReport(
            budget_credits=to_credits(budget.cap),
            spent_credits=to_credits(budget.spent),
            remaining_credits=to_credits(budget.remaining),
        )

    def set_budget(self, workspace: str, enrichment_id: str, credits: float) -> BudgetReport:
        """Raise (or lower) the cap; spending already reserved stays counted."""
        while True:
            stored = self.store.get_definition(workspace, enrichment_id)
            if stored is None:
                raise RunProblem(f"no enrichment {enrichment_id!r} in this workspace", 404)
            try:
                self.store.set_cap(workspace, enrichment_id, stored.budget.cap, to_millis(credits))
            except BudgetConflict:
                continue
            if stored.data.get("budget_credits") != credits:
                self.store.update_definition(workspace, enrichment_id, {**stored.data, "budget_credits": credits})
            return self.budget(workspace, enrichment_id)

    def preview_cost(self, workspace: str, enrichment_id: str) -> CostPreview:
        """Records in the audiences (deduplicated) x cost per record, against what is left of the budget."""
        definition = self.definition(workspace, enrichment_id)
        stored = self.store.get_definition(workspace, enrichment_id)
        members = sum(1 for _ in self.audience_members(workspace, definition))
        return cost_preview(definition, members, stored.budget.remaining if stored else None)

    # --- runs -----------------------------------------------------------------------------------

    def start_run(
        self,
        workspace: str,
        enrichment_id: str,
        *,
        force: bool = False,
        trigger: Trigger = Trigger.MANUAL,
        run_id: str | None = None,
    ) -> Run:
        """A new run over the definition's audiences as they are now; the dispatcher reads them."""
        definition = self.definition(workspace, enrichment_id)
        run_id = run_id or str(ULID())
        self._create_run(workspace, run_id, definition, force=force, trigger=trigger)
        self.send(DispatchRun(workspace=workspace, run_id=run_id))
        return self.run(workspace, run_id)

    def start_members_run(
        self, workspace: str, definition: EnrichmentDefinition, members: Sequence[Member], run_id: str, trigger: Trigger
    ) -> Run:
        """A run over given members (continuous intake), batched at once; retrying it with the same id
        and members writes the same batches again, which workers then find done."""
        self._create_run(workspace, run_id, definition, force=False, trigger=trigger)
        total = self._write_batches(workspace, run_id, 0, 0, self._batch_size(definition), members)
        self.store.finish_dispatch(workspace, run_id, total)
        return self.run(workspace, run_id)

    def _create_run(
        self, workspace: str, run_id: str, definition: EnrichmentDefinition, *, force: bool, trigger: Trigger
    ) -> None:
        data = {"definition": definition.model_dump(mode="json"), "force": force, "trigger": str(trigger)}
        self.store.create_run(workspace, run_id, definition.enrichment_id, data)

    def handle(self, work: EnrichWork, should_stop: Callable[[], bool] = lambda: False) -> BatchResult | None:
        """Do one queued piece of work (what the worker function calls for each SQS message)."""
        if isinstance(work, DispatchRun):
            self.dispatch(work, should_stop)
            return None
        return self.process_batch(work)

    def dispatch(self, message: DispatchRun, should_stop: Callable[[], bool] = lambda: False) -> int:
        """Write the run's batches and queue them; returns how many were written so far. When
        `should_stop` says time is short, queues itself to go on from the last checkpoint."""
        run = self._stored(message.workspace, message.run_id)
        if run.batches_total is not None:
            return run.batches_total  # a redelivered message: dispatched already
        definition = EnrichmentDefinition.model_validate(run.data["definition"])
        batch = run.dispatched
        if batch:  # the last checkpointed batch may not have been queued before a crash
            self._queue_batch(message.workspace, message.run_id, batch - 1, 0)
        members = self.audience_members(message.workspace, definition, after=run.dispatch_cursor)
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

    def audience_members(
        self, workspace: str, definition: EnrichmentDefinition, after: str | None = None
    ) -> Iterator[Member]:
        """Members of all the definition's audiences in profile id order, each once, after `after`."""
        streams = [
            ((profile_id, audience) for profile_id in self._audience_ids(workspace, definition.kind, audience, after))
            for audience in definition.audiences
        ]
        for profile_id, pairs in itertools.groupby(heapq.merge(*streams), key=lambda pair: pair[0]):
            yield Member(profile_id, tuple(sorted({audience for _, audience in pairs})))

    def _audience_ids(self, workspace: str, kind: Kind, audience: str, after: str | None) -> Iterator[str]:
        if audience in BUILT_IN_AUDIENCES:
            yield from self.profiles.active_ids(workspace, kind, after)
            return
        cursor = after
        while True:
            ids, cursor = self.segments.members(workspace, audience, cursor, PAGE)
            yield from ids
            if cursor is None:
                return

    def _batch_size(self, definition: EnrichmentDefinition) -> int:
        return min(self.max_batch, definition.records_per_batch())

    def _put_batch(self, workspace: str, run_id: str, batch: int, members: Sequence[Member]) -> None:
        lines = (json.dumps({"id": member.profile_id, "a": list(member.audiences)}) for member in members)
        self.s3.put_object(Bucket=self.bucket, Key=_batch_key(workspace, run_id, batch), Body="\n".join(lines).encode())

    def _queue_batch(self, workspace: str, run_id: str, batch: int, round_: int) -> None:
        key = _batch_key(workspace, run_id, batch)
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

    # --- the worker -----------------------------------------------------------------------------

    def process_batch(self, message: EnrichBatch) -> BatchResult:
        """Enrich one batch; a redelivered message returns the stored result and changes nothing.

        Raises BatchBusy while another worker holds the batch (the message comes back later).
        """
        workspace, run_id = message.workspace, message.run_id
        run = self._stored(workspace, run_id)
        definition = EnrichmentDefinition.model_validate(run.data["definition"])
        eid, kind = definition.enrichment_id, definition.kind
        body = self.s3.get_object(Bucket=self.bucket, Key=message.key)["Body"].read().decode()
        members = [Member(row["id"], tuple(row["a"])) for row in map(json.loads, body.splitlines())]
        ids = [member.profile_id for member in members]
        found = self.profiles.get_many(workspace, kind, ids)
        active = {pid: profile for pid, profile in found.items() if profile.status is Status.ACTIVE}
        now = self.clock()
        markers = {} if run.data["force"] else self.store.markers(workspace, eid, ids)
        outcomes: dict[str, RecordOutcome] = {}
        eligible: list[str] = []
        for pid in ids:
            if pid not in active:
                outcomes[pid] = RecordOutcome.SKIPPED_INACTIVE
            elif self._recent(markers.get(pid), definition, run_id, now):
                outcomes[pid] = RecordOutcome.SKIPPED_RECENT
            else:
                eligible.append(pid)
        claim = self.store.claim_batch(
            workspace,
            run_id,
            message.batch,
            message.round,
            eid,
            eligible,
            cost_per_record(definition),
            self.lease_seconds,
        )
        if claim.done is not None:
            return BatchResult.model_validate(claim.done)
        charged = set(claim.charged)
        to_ask = [pid for pid in claim.charged if pid in active]  # one archived since the claim is refunded
        refund = cost_per_record(definition) * (len(charged) - len(to_ask))
        for pid in eligible:
            if pid not in charged:
                outcomes[pid] = RecordOutcome.SKIPPED_BUDGET
        for pid in charged - set(to_ask):
            outcomes[pid] = RecordOutcome.SKIPPED_INACTIVE
        rows: dict[str, dict[str, Any]] = {}
        if to_ask:
            refund += self._enrich(
                workspace, definition, run_id, now, members, [active[pid] for pid in to_ask], outcomes, rows
            )
        return self._finish(message, definition, claim, members, outcomes, rows, refund)

    def _enrich(
        self,
        workspace: str,
        definition: EnrichmentDefinition,
        run_id: str,
        now: datetime,
        members: Sequence[Member],
        profiles: Sequence[Profile],
        outcomes: dict[str, RecordOutcome],
        rows: dict[str, dict[str, Any]],
    ) -> int:
        """Ask the providers about the profiles, write and judge their answers; returns the refund."""
        audiences = {member.profile_id: member.audiences for member in members}
        providers = build_providers(definition, workspace_secrets(workspace, self.secrets))
        answers = ask_providers(providers, provider_costs(definition), [profile.fields for profile in profiles])
        priority = self._priority(workspace, definition.kind)
        gates = self._gates(workspace, definition, {}, now)
        observed = format_time(now)
        judged: list[tuple[Profile, Answer, dict[str, Any], list[str]]] = []
        for profile, answer in zip(profiles, answers, strict=True):
            fields, problems = answer_fields(definition, answer)
            if answer.status is not ResultStatus.ERROR and definition.mapping.enabled and fields:
                record = IncomingRecord(SOURCE, definition.enrichment_id, profile.profile_id, observed, fields)
                profile = self._write(profile, record, priority)
            judged.append((profile, answer, fields, problems))
        companies = self._companies(workspace, gates, [profile for profile, *_ in judged])
        markers: dict[str, Marker] = {}
        refund = 0
        for profile, answer, fields, problems in judged:
            pid = profile.profile_id
            refund += answer.refund
            failed: list[str] = []
            if answer.status is ResultStatus.ERROR:
                outcomes[pid] = RecordOutcome.ERROR
            else:
                view = profile.fields if definition.mapping.enabled else {**profile.fields, **fields}
                company = companies.get(str(profile.fields.get("company_domain")), {})
                failed = [a for a in audiences[pid] if a in gates and not gates[a].matches(view, company)]
                markers[pid] = Marker(observed, run_id, failed)
                if answer.status is ResultStatus.NOT_FOUND:
                    outcomes[pid] = RecordOutcome.NOT_FOUND
                else:
                    outcomes[pid] = RecordOutcome.QUALITY_FAILED if failed else RecordOutcome.ENRICHED
            rows[pid] = {
                "reason": "; ".join([*answer.reasons, *problems]) or None,
                "values": {name: value for name, value in fields.items() if value is not None},
                "quality_failed": failed,
                "credits": to_credits(cost_per_record(definition) - answer.refund),
            }
        self.store.put_markers(workspace, definition.enrichment_id, markers)
        return refund

    def _write(self, profile: Profile, record: IncomingRecord, priority: Mapping[str, Sequence[str]]) -> Profile:
        """Commit the answer to the profile, re-reading it when another writer got there first."""
        for _ in range(MAX_WRITE_ATTEMPTS):
            changed, _writes = apply_answer(profile, record, priority)
            if not changed:
                return profile
            try:
                self.profiles.commit(profile)
                return profile
            except Conflict:
                fresh = self.profiles.get(profile.workspace, profile.kind, profile.profile_id)
                if fresh is None or fresh.status is not Status.ACTIVE:
                    return profile  # merged or archived meanwhile: the answer is in the run's rows
                profile = fresh
        raise Conflict(f"profile {profile.profile_id} kept changing under the enrichment")

    def _finish(
        self,
        message: EnrichBatch,
        definition: EnrichmentDefinition,
        claim: Claim,
        members: Sequence[Member],
        outcomes: Mapping[str, RecordOutcome],
        rows: Mapping[str, dict[str, Any]],
        refund: int,
    ) -> BatchResult:
        """Archive the batch's rows, then store its result and counts once."""
        lines = []
        for member in members:
            outcome = outcomes[member.profile_id]
            row = {
                "reason": None,
                "values": {},
                "quality_failed": [],
                "credits": 0.0,
                **rows.get(member.profile_id, {}),
            }
            lines.append(
                json.dumps({"profile_id": member.profile_id, "outcome": outcome, "round": message.round, **row})
            )
        key = f"{_rows_prefix(message.workspace, message.run_id)}batch-{message.batch:07d}.jsonl"
        self.s3.put_object(Bucket=self.bucket, Key=key, Body="\n".join(lines).encode())
        counts = {str(outcome): 0 for outcome in RecordOutcome}
        for outcome in outcomes.values():
            counts[outcome] += 1
        result = BatchResult(
            batch=message.batch,
            round=message.round,
            outcomes={RecordOutcome(name): count for name, count in counts.items()},
            credits_spent=to_credits(claim.reserved - refund),
            skipped_budget=[m for m in members if outcomes[m.profile_id] is RecordOutcome.SKIPPED_BUDGET],
        )
        stored = self.store.finish_batch(
            message.workspace,
            message.run_id,
            message.batch,
            definition.enrichment_id,
            claim,
            result.model_dump(mode="json"),
            counts,
            refund,
        )
        if not stored:
            raise Conflict(f"batch {message.batch} of run {message.run_id} was taken over by another worker")
        return result

    def _recent(self, marker: Marker | None, definition: EnrichmentDefinition, run_id: str, now: datetime) -> bool:
        """Answered by this enrichment within its refresh window, by another run (this run's own
        markers are from an earlier attempt at the same batch)."""
        if marker is None or definition.refresh_days == 0 or marker.run_id == run_id:
            return False
        return marker.enriched_at >= format_time(now - timedelta(days=definition.refresh_days))

    def _priority(self, workspace: str, kind: Kind) -> dict[str, list[str]]:
        setting = self.workspaces.get_setting(workspace, survivorship_setting_name(kind))
        return dict(setting.get("source_priority", {}))

    def _gates(
        self, workspace: str, definition: EnrichmentDefinition, created: Mapping[str, FieldType], now: datetime
    ) -> dict[str, CompiledFilter]:
        if not definition.quality_gates:
            return {}
        custom = custom_fields(self.workspaces, workspace)
        targets = {target: definition.outputs()[output] for output, target in definition.targets().items()}
        custom[definition.kind] = {**targets, **custom[definition.kind], **created}
        catalog = catalog_for(definition.kind, custom)
        return {
            audience: compile_filter(gate, catalog, now.date()) for audience, gate in definition.quality_gates.items()
        }

    def _companies(
        self, workspace: str, gates: Mapping[str, CompiledFilter], profiles: Sequence[Profile]
    ) -> dict[str, Mapping[str, Any]]:
        """Company fields by domain, read once per batch, when a gate reads them."""
        if not any(gate.reads_company for gate in gates.values()):
            return {}
        domains = {domain for p in profiles if isinstance(domain := p.fields.get("company_domain"), str)}
        return {
            domain: company.fields for domain, company in self.profiles.companies_by_domain(workspace, domains).items()
        }

    # --- reports, resume and archived runs ------------------------------------------------------

    def _stored(self, workspace: str, run_id: str) -> StoredRun:
        run = self.store.get_run(workspace, run_id)
        if run is None:
            raise RunProblem(f"no enrichment run {run_id!r} in this workspace", 404)
        return run

    def run(self, workspace: str, run_id: str) -> Run:
        return _report(self._stored(workspace, run_id))

    def runs(self, workspace: str, enrichment_id: str | None = None, limit: int = 50) -> list[Run]:
        return [_report(run) for run in self.store.runs(workspace, enrichment_id, limit)]

    def resume(self, workspace: str, run_id: str) -> Run:
        """Re-queue the records a run skipped for budget (after the cap was raised); nothing else."""
        run = self._stored(workspace, run_id)
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
        return self.run(workspace, run_id)

    def fail(self, workspace: str, run_id: str, reason: str) -> None:
        """Mark a run failed (its dispatch or a batch ended in the dead-letter queue)."""
        self.store.fail_run(workspace, run_id, reason)

    def export_csv(self, workspace: str, run_id: str) -> Iterator[str]:
        """The run's rows as CSV text, a chunk per batch (records re-queued by a resume appear once,
        with their latest outcome)."""
        run = self._stored(workspace, run_id)
        definition = EnrichmentDefinition.model_validate(run.data["definition"])
        columns = list(definition.targets().values())
        out = io.StringIO()
        writer = csv.writer(out)
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
        request = {"Bucket": self.bucket, "Prefix": _rows_prefix(workspace, run_id)}
        while True:
            page = self.s3.list_objects_v2(**request)
            yield from (item["Key"] for item in page.get("Contents", []))
            if not page.get("IsTruncated"):
                return
            request["ContinuationToken"] = page["NextContinuationToken"]

    # --- test on 10 rows ------------------------------------------------------------------------

    def test_run(
        self, workspace: str, definition: EnrichmentDefinition, profile_ids: Sequence[str] | None = None
    ) -> TestRun:
        """Run the providers on up to 10 records and show what a run would write; writes and charges nothing.

        Without `profile_ids` the first members of the audiences are used; given ones are judged by
        every audience's quality gate.
        """
        checked, created = self.check(workspace, definition)
        if profile_ids is None:
            members = list(itertools.islice(self.audience_members(workspace, checked), TEST_ROWS))
        else:
            members = [Member(pid, tuple(checked.audiences)) for pid in profile_ids[:TEST_ROWS]]
        found = self.profiles.get_many(workspace, checked.kind, [member.profile_id for member in members])
        chosen = [(m, found[m.profile_id]) for m in members if m.profile_id in found]
        providers = build_providers(checked, workspace_secrets(workspace, self.secrets))
        answers = ask_providers(providers, provider_costs(checked), [profile.fields for _, profile in chosen])
        now = self.clock()
        priority = self._priority(workspace, checked.kind)
        gates = self._gates(workspace, checked, created, now)
        companies = self._companies(workspace, gates, [profile for _, profile in chosen])
        rows = []
        for (member, profile), answer in zip(chosen, answers, strict=True):
            fields, problems = answer_fields(checked, answer)
            view = copy.deepcopy(profile)
            writes: list[FieldWrite] = []
            if checked.mapping.enabled and answer.status is not ResultStatus.ERROR:
                record = IncomingRecord(SOURCE, checked.enrichment_id, profile.profile_id, format_time(now), fields)
                _, writes = apply_answer(view, record, priority)
            judged = view.fields if checked.mapping.enabled else {**view.fields, **fields}
            company = companies.get(str(profile.fields.get("company_domain")), {})
            failed = [a for a in member.audiences if a in gates and not gates[a].matches(judged, company)]
            rows.append(
                TestRow(
                    profile_id=profile.profile_id,
                    status=answer.status,
                    reason="; ".join([*answer.reasons, *problems]) or None,
                    outputs={name: value for name, value in fields.items() if value is not None},
                    writes=writes,
                    quality_failed=failed if answer.status is not ResultStatus.ERROR else [],
                )
            )
        return TestRun(rows=rows, credits_per_record=to_credits(cost_per_record(checked)), new_fields=created)

    # --- quality gates, for actions -------------------------------------------------------------

    def quality_failed(self, workspace: str, enrichment_id: str, audience: str, profile_ids: Iterable[str]) -> set[str]:
        """The profiles whose last answer from this enrichment failed the audience's quality gate
        (actions skip them)."""
        markers = self.store.markers(workspace, enrichment_id, profile_ids)
        return {pid for pid, marker in markers.items() if audience in marker.quality_failed}


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


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

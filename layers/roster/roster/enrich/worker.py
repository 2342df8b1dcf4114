"""The enrichment worker: enriches one batch of a run under the credit budget.

A worker claims its batch and reserves credits for its records in one transaction, runs the
providers, writes answers to the profiles as the source record `enrichment:<id>:<profile>` (so
provenance names the enrichment and the values are on the profile for every segment), marks when
each profile was answered, archives the rows in S3 and adds its counts in a second transaction. A
redelivered message finds the batch claimed or done, so nothing is enriched, charged or counted twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from roster.enrich.answers import (
    Answer,
    answer_fields,
    apply_answer,
    ask,
    company_fields,
    quality_gates,
    source_priority,
)
from roster.enrich.audiences import Member
from roster.enrich.budget import cost_per_record, to_credits
from roster.enrich.definitions import EnrichmentDefinition
from roster.enrich.providers import ResultStatus
from roster.enrich.runs import (
    BatchResult,
    DispatchRun,
    EnrichBatch,
    EnrichWork,
    RecordOutcome,
    Runs,
    rows_prefix,
    stored_run,
)
from roster.eventbus import Event
from roster.profiles.model import IncomingRecord, Profile, Status
from roster.profiles.values import format_time
from roster.signals.fired import fired
from roster.signals.kinds import SignalType
from roster.signals.provider import still_newer
from roster.store.enrichments import Claim, EnrichmentStore, Marker
from roster.store.profiles import Conflict, ProfileStore, ProfileTooLarge
from roster.store.workspaces import WorkspaceStore

MAX_WRITE_ATTEMPTS = 8


@dataclass
class Worker:
    """Does the enrichment queue's work: a run's dispatch (through `runs`) or one batch."""

    runs: Runs
    store: EnrichmentStore
    profiles: ProfileStore
    workspaces: WorkspaceStore
    s3: Any
    bucket: str
    secrets: Callable[[str], str]
    clock: Callable[[], datetime]
    lease_seconds: float = 900.0  # a worker's timeout: after it, a redelivered batch may be taken over
    publish: Callable[[Sequence[Event]], None] = lambda events: None  # `signal.fired` events go here

    def handle(self, work: EnrichWork, should_stop: Callable[[], bool] = lambda: False) -> BatchResult | None:
        """Do one queued piece of work (what the worker function calls for each SQS message)."""
        if isinstance(work, DispatchRun):
            self.runs.dispatch(work, should_stop)
            return None
        return self.process_batch(work)

    def process_batch(self, message: EnrichBatch) -> BatchResult:
        """Enrich one batch; a redelivered message returns the stored result and changes nothing.

        Raises BatchBusy while another worker holds the batch (the message comes back later).
        """
        workspace, run_id = message.workspace, message.run_id
        run = stored_run(self.store, workspace, run_id)
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
        answers = ask(definition, workspace, self.secrets, profiles)
        priority = source_priority(self.workspaces, workspace, definition.kind)
        gates = quality_gates(self.workspaces, workspace, definition, {}, now)
        observed = format_time(now)
        judged: list[tuple[Profile, Answer, dict[str, Any], list[str]]] = []
        events: list[Event] = []
        signal = definition.signal
        for profile, answer in zip(profiles, answers, strict=True):
            fields, problems = answer_fields(definition, answer)
            if answer.status is not ResultStatus.ERROR and definition.mapping.enabled and fields:
                record = IncomingRecord(
                    definition.source, definition.enrichment_id, profile.profile_id, observed, fields
                )
                wanted = _always if signal is None else partial(_newer_event, signal.signal, fields)
                profile, refused, changed = self._write(profile, record, priority, wanted)
                problems = [*problems, *refused]
                if signal is not None and changed and answer.status is ResultStatus.FOUND:
                    events.append(
                        fired(
                            workspace,
                            definition.enrichment_id,
                            signal.signal,
                            definition.kind,
                            profile.profile_id,
                            fields,
                            run_id,
                        )
                    )
            judged.append((profile, answer, fields, problems))
        # published once the batch's writes are done: a retried batch finds its events written and fires none
        self.publish(events)
        companies = company_fields(self.profiles, workspace, gates, [profile for profile, *_ in judged])
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

    def _write(
        self,
        profile: Profile,
        record: IncomingRecord,
        priority: Mapping[str, Sequence[str]],
        wanted: Callable[[Profile], bool],
    ) -> tuple[Profile, list[str], bool]:
        """Commit the answer to the profile, re-reading it when another writer got there first (and dropping it
        when the profile as read no longer `wanted` it); the profile as stored, why the answer was refused when
        the profile cannot hold it (it stays in the run's rows), and whether it was written."""
        for _ in range(MAX_WRITE_ATTEMPTS):
            if not wanted(profile):
                return profile, [], False
            changed, _writes = apply_answer(profile, record, priority)
            if not changed:
                return profile, [], False
            try:
                self.profiles.commit(profile)
                return profile, [], True
            except ProfileTooLarge as too_large:
                stored = self.profiles.get(profile.workspace, profile.kind, profile.profile_id)
                return stored or profile, [f"not written: {too_large}"], False
            except Conflict:
                fresh = self.profiles.get(profile.workspace, profile.kind, profile.profile_id)
                if fresh is None or fresh.status is not Status.ACTIVE:
                    return profile, [], False  # merged or archived meanwhile: the answer is in the run's rows
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
        key = f"{rows_prefix(message.workspace, message.run_id)}batch-{message.batch:07d}.jsonl"
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


def _always(profile: Profile) -> bool:
    return True


def _newer_event(signal: SignalType, values: Mapping[str, Any], profile: Profile) -> bool:
    """A signal's event is written only while it is newer than the profile's (another run may have won)."""
    return still_newer(signal, values, profile.fields)

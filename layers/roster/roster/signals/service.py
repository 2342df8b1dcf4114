"""Signals as a user sets them up: a type, audiences, a look-back for the first run, a recurrence, a data
provider and a credit budget. Saved as an enrichment (same id) so the enrichment machinery runs, charges,
caps, resumes, schedules and tests it; each audience gets a companion segment (its filters plus "this
signal fired within N days"), and the listing adds audiences, last run, hits and credits.
"""

from __future__ import annotations

import calendar
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from ulid import ULID

from roster.enrich.budget import CostPreview, cost_preview
from roster.enrich.definitions import AUDIENCE_ID, ENRICHMENT_ID, EnrichmentDefinition, RunProblem, Schedule
from roster.enrich.providers import HttpProviderConfig
from roster.enrich.runs import RecordOutcome, Run
from roster.enrich.service import Enrichments
from roster.enrich.trials import TestRun
from roster.profiles.fields import Kind
from roster.segments.filters import Group
from roster.segments.manager import SegmentManager, SegmentNotFound
from roster.signals.kinds import KIND, LABEL, SignalType, date_field, details_field, value_field
from roster.signals.spec import SignalSpec
from roster.store.profiles import ProfileStore
from roster.store.workspaces import WorkspaceStore

SETTING_PREFIX = "signal#"  # workspace setting per signal: its companion segments
RECENT_RUNS = 200  # runs counted for a signal's hits
#: Path words under /v1/signals that cannot be signal ids.
RESERVED_IDS = frozenset({"preview", "test", "records"})


def _new_id() -> str:
    return f"sig-{str(ULID()).lower()}"


class SignalSettings(BaseModel):
    """What a user chooses when adding a signal."""

    model_config = ConfigDict(extra="forbid")

    signal_id: str = Field(default_factory=_new_id, pattern=ENRICHMENT_ID)
    signal: SignalType
    name: str | None = Field(default=None, min_length=1, max_length=200, description="Default: the type's label")
    audiences: list[Annotated[str, Field(pattern=AUDIENCE_ID)]] = Field(min_length=1, max_length=20)
    lookback_months: Literal[3, 6, 12] = Field(default=3, description="The first run reports events this recent")
    recurrence: Literal["daily", "weekly", "monthly"] | None = Field(default="weekly", description="None: run by hand")
    provider: HttpProviderConfig | None = Field(
        default=None, description="The data provider (an `events` output of type records); none: Roster's history"
    )
    use_history: bool = Field(default=True, description="Job changes: a changed company domain in Roster counts")
    budget_credits: float = Field(default=0.0, ge=0, le=1e12)
    refresh_days: int = Field(default=0, ge=0, le=3650, description="Skip records checked this many days ago")
    companion_days: int = Field(default=30, ge=1, le=3650, description="Companion segments: fired within N days")

    @model_validator(mode="after")
    def _has_a_source(self) -> Self:
        if self.provider is None and not (self.signal is SignalType.JOB_CHANGE and self.use_history):
            raise ValueError(f"a {self.signal} signal needs a data provider (`provider`)")
        return self


class SignalDetail(BaseModel):
    signal_id: str
    name: str
    signal: SignalType
    kind: Kind
    audiences: list[str]
    companions: dict[str, str]  # audience -> companion segment id
    lookback_months: int
    since: date  # events before it are never reported
    recurrence: str | None
    provider: str | None
    fields: list[str]
    budget_credits: float
    spent_credits: float
    remaining_credits: float
    last_run: Run | None
    hits: int  # records on which a run wrote a new event
    records_checked: int


class SignalList(BaseModel):
    signals: list[SignalDetail]


class SignalEvent(BaseModel):
    value: Any
    event_date: Any
    details: Any
    observed_at: str | None


class SignalHistoryEntry(BaseModel):
    field: str
    value: Any
    observed_at: str
    replaced_at: str


class RecordSignal(BaseModel):
    signal_id: str
    signal: SignalType | None
    latest: SignalEvent
    history: list[SignalHistoryEntry]  # superseded values still on the profile, oldest first
    older_in_history_items: int  # further ones: GET /v1/{kind}/{id}/history


class RecordSignals(BaseModel):
    profile_id: str
    summary: list[str]
    signals: list[RecordSignal]


def months_before(day: date, months: int) -> date:
    """The same day `months` calendar months earlier (the month's last day when it is shorter)."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


@dataclass
class Signals:
    enrichments: Enrichments
    segments: SegmentManager
    workspaces: WorkspaceStore
    profiles: ProfileStore
    clock: Callable[[], datetime]

    def definition(self, settings: SignalSettings, since: date | None = None) -> EnrichmentDefinition:
        """The enrichment the signal runs as; the look-back starts today unless `since` is given."""
        start = since or months_before(self.clock().date(), settings.lookback_months)
        try:
            spec = SignalSpec(
                signal=settings.signal,
                since=start,
                lookback_months=settings.lookback_months,
                source=settings.provider,
                use_history=settings.use_history,
            )
            return EnrichmentDefinition(
                enrichment_id=settings.signal_id,
                name=settings.name or LABEL[settings.signal],
                kind=KIND[settings.signal],
                providers=[spec],
                audiences=settings.audiences,
                budget_credits=settings.budget_credits,
                refresh_days=settings.refresh_days,
                schedule=Schedule(every=settings.recurrence) if settings.recurrence else None,
            )
        except ValueError as problem:
            raise RunProblem(str(problem), 422) from None

    def preview(self, workspace: str, settings: SignalSettings) -> CostPreview:
        """Before saving: records in the audiences x credits per record, against the budget."""
        definition, _ = self.enrichments.definitions.check(workspace, self.definition(settings))
        members = sum(1 for _ in self.enrichments.budgets.audiences.members(workspace, definition))
        return cost_preview(definition, members)

    def test(self, workspace: str, settings: SignalSettings, profile_ids: list[str] | None = None) -> TestRun:
        """Before saving: the signal on 10 records of its audiences; writes and charges nothing."""
        return self.enrichments.trials.run(workspace, self.definition(settings), profile_ids)

    def create(self, workspace: str, settings: SignalSettings, created_by: str) -> SignalDetail:
        """Save the signal and its companion segments (the first run starts by hand or on its recurrence)."""
        if self.enrichments.store.get_definition(workspace, settings.signal_id) is not None:
            raise RunProblem(f"a signal or enrichment {settings.signal_id!r} exists already", 409)
        definition = self.enrichments.definitions.save(workspace, self.definition(settings), create=True)
        companions = {
            audience: self._companion(workspace, definition, audience, settings.companion_days, created_by)
            for audience in definition.audiences
        }
        self.workspaces.put_setting(
            workspace,
            SETTING_PREFIX + definition.enrichment_id,
            {"companions": companions, "days": settings.companion_days},
        )
        return self.get(workspace, definition.enrichment_id)

    def _companion(
        self, workspace: str, definition: EnrichmentDefinition, audience: str, days: int, created_by: str
    ) -> str:
        """A segment kept on the audience: its filters (as they are edited) plus "this signal fired within `days`
        days", named after both."""
        spec = definition.signal
        assert spec is not None
        original = self.segments.get(workspace, audience)
        fired = {"field": date_field(spec.signal), "op": "within_last_days", "value": days}
        segment = self.segments.create_kept(
            workspace,
            audience,
            Group.model_validate({"match": "all", "conditions": [fired]}),
            name=f"{original.name} + {definition.name} (last {days} days)",
            kept_by=f"signal {definition.enrichment_id} ({definition.name})",
            created_by=created_by,
        )
        return segment.segment_id

    def get(self, workspace: str, signal_id: str) -> SignalDetail:
        definition = self.enrichments.definitions.get(workspace, signal_id)
        if definition.signal is None:
            raise RunProblem(f"no signal {signal_id!r} in this workspace ({signal_id!r} is an enrichment)", 404)
        return self._detail(workspace, definition)

    def all(self, workspace: str) -> list[SignalDetail]:
        return [self._detail(workspace, d) for d in self.enrichments.definitions.all(workspace) if d.signal is not None]

    def _detail(self, workspace: str, definition: EnrichmentDefinition) -> SignalDetail:
        spec = definition.signal
        assert spec is not None
        setting = self.workspaces.get_setting(workspace, SETTING_PREFIX + definition.enrichment_id)
        runs = self.enrichments.runs.recent(workspace, definition.enrichment_id, RECENT_RUNS)
        budget = self.enrichments.budgets.report(workspace, definition.enrichment_id)
        checked = (RecordOutcome.ENRICHED, RecordOutcome.QUALITY_FAILED, RecordOutcome.NOT_FOUND)
        return SignalDetail(
            signal_id=definition.enrichment_id,
            name=definition.name,
            signal=spec.signal,
            kind=definition.kind,
            audiences=definition.audiences,
            companions=dict(setting.get("companions", {})),
            lookback_months=spec.lookback_months,
            since=spec.since,
            recurrence=definition.schedule.every if definition.schedule else None,
            provider=spec.source.name if spec.source else None,
            fields=list(spec.outputs()),
            budget_credits=budget.budget_credits,
            spent_credits=budget.spent_credits,
            remaining_credits=budget.remaining_credits,
            last_run=runs[0] if runs else None,
            hits=sum(run.outcomes.get(RecordOutcome.ENRICHED, 0) for run in runs),
            records_checked=sum(run.outcomes.get(outcome, 0) for run in runs for outcome in checked),
        )

    def delete(self, workspace: str, signal_id: str) -> None:
        """Delete the signal; the events it wrote stay on the records and its companion segments stay, as
        segments of their own (no longer following their audiences)."""
        detail = self.get(workspace, signal_id)
        for companion in detail.companions.values():
            with contextlib.suppress(SegmentNotFound):  # gone with its audience
                self.segments.release(workspace, companion)
        self.enrichments.definitions.delete(workspace, signal_id)
        self.workspaces.put_setting(workspace, SETTING_PREFIX + signal_id, {})

    def start(self, workspace: str, signal_id: str) -> Run:
        self.get(workspace, signal_id)
        return self.enrichments.runs.start(workspace, signal_id)

    def record(self, workspace: str, kind: Kind, profile_id: str) -> RecordSignals | None:
        """Every signal's latest event on a record, with the earlier ones still on the profile."""
        profile = self.profiles.get(workspace, kind, profile_id)
        if profile is None:
            return None
        signals = []
        for key in sorted(profile.records):
            record = profile.records[key]
            if record.source != "signal":
                continue
            signal = next((s for s in SignalType if value_field(s) in record.values), None)
            names = (value_field(signal), date_field(signal), details_field(signal)) if signal else ()
            latest = SignalEvent(
                value=record.values.get(names[0]) if names else None,
                event_date=record.values.get(names[1]) if names else None,
                details=record.values.get(names[2]) if names else None,
                observed_at=record.observed.get(names[1]) if names else None,
            )
            signals.append(
                RecordSignal(
                    signal_id=record.object,
                    signal=signal,
                    latest=latest,
                    history=[SignalHistoryEntry.model_validate(entry) for entry in record.previous],
                    older_in_history_items=sum(record.moved.values()),
                )
            )
        return RecordSignals(
            profile_id=profile.profile_id, summary=list(profile.fields.get("signal_summary") or []), signals=signals
        )

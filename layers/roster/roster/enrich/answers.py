"""Providers' answers: asked in order, combined per record, mapped to profile fields, written through
survivorship and judged by the audiences' quality gates (the same way for runs and for tests)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from roster.enrich.budget import provider_costs
from roster.enrich.definitions import EnrichmentDefinition, build_providers, workspace_secrets
from roster.enrich.providers import Provider, ResultStatus
from roster.profiles.fields import FieldType, Kind
from roster.profiles.model import IncomingRecord, Profile, apply_record, field_history
from roster.profiles.values import ValueProblem, coerce_fields
from roster.segments.compiler import CompiledFilter, compile_filter
from roster.segments.filters import catalog_for
from roster.signals.provider import history_input
from roster.store.profiles import ProfileStore
from roster.store.workspaces import WorkspaceStore, custom_fields, survivorship_setting_name


class FieldWrite(BaseModel):
    field: str
    old: Any
    new: Any


@dataclass
class Answer:
    """What the providers said about one record, combined."""

    status: ResultStatus
    values: dict[str, Any]  # by provider output name
    answered: set[str]  # outputs of providers that answered (found or not): a missing one is cleared
    reasons: list[str]
    refund: int  # millicredits of providers that failed on it
    heard: bool = False  # some provider answered (found or not) rather than failed


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
            answer.heard = True
            if result.status is ResultStatus.FOUND or provider.clears_when_not_found:
                answer.answered |= set(provider.outputs)
            answer.values.update(result.values)
    for answer in answers:
        if answer.values:
            answer.status = ResultStatus.FOUND
        elif not answer.heard:
            answer.status = ResultStatus.ERROR
    return answers


def ask(
    definition: EnrichmentDefinition,
    workspace: str,
    secrets: Callable[[str], str],
    profiles: Sequence[Profile],
) -> list[Answer]:
    """The definition's providers asked about the profiles, reading only the workspace's own secrets.

    A provider gets a record's fields, plus the history of the fields it reads history of (signals)."""
    providers = build_providers(definition, workspace_secrets(workspace, secrets))
    history = definition.history_fields()
    records = [
        {**profile.fields, **{history_input(name): field_history(profile, name) for name in history}}
        for profile in profiles
    ]
    return ask_providers(providers, provider_costs(definition), records)


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


def source_priority(workspaces: WorkspaceStore, workspace: str, kind: Kind) -> dict[str, list[str]]:
    """The workspace's survivorship setting: which source wins each field."""
    setting = workspaces.get_setting(workspace, survivorship_setting_name(kind))
    return dict(setting.get("source_priority", {}))


def quality_gates(
    workspaces: WorkspaceStore,
    workspace: str,
    definition: EnrichmentDefinition,
    created: Mapping[str, FieldType],
    now: datetime,
) -> dict[str, CompiledFilter]:
    """The definition's quality gates by audience, compiled against the fields it writes."""
    if not definition.quality_gates:
        return {}
    custom = custom_fields(workspaces, workspace)
    targets = {target: definition.outputs()[output] for output, target in definition.targets().items()}
    custom[definition.kind] = {**targets, **custom[definition.kind], **created}
    catalog = catalog_for(definition.kind, custom)
    return {audience: compile_filter(gate, catalog, now.date()) for audience, gate in definition.quality_gates.items()}


def company_fields(
    profiles: ProfileStore, workspace: str, gates: Mapping[str, CompiledFilter], people: Sequence[Profile]
) -> dict[str, Mapping[str, Any]]:
    """Company fields by domain, read once per batch, when a gate reads them."""
    if not any(gate.reads_company for gate in gates.values()):
        return {}
    domains = {domain for p in people if isinstance(domain := p.fields.get("company_domain"), str)}
    return {domain: company.fields for domain, company in profiles.companies_by_domain(workspace, domains).items()}

"""Testing a definition on 10 records: the providers run and the answers show what a run would write,
but nothing is written or charged."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from roster.enrich.answers import (
    FieldWrite,
    answer_fields,
    apply_answer,
    ask,
    company_fields,
    quality_gates,
    source_priority,
)
from roster.enrich.audiences import Audiences, Member
from roster.enrich.budget import cost_per_record, to_credits
from roster.enrich.definitions import EnrichmentDefinition
from roster.enrich.providers import ResultStatus
from roster.enrich.saved import Definitions
from roster.profiles.fields import FieldType
from roster.profiles.model import IncomingRecord
from roster.profiles.values import format_time
from roster.store.profiles import ProfileStore
from roster.store.workspaces import WorkspaceStore

TEST_ROWS = 10


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
class Trials:
    """Test runs of a definition, saved or not."""

    definitions: Definitions
    audiences: Audiences
    profiles: ProfileStore
    workspaces: WorkspaceStore
    secrets: Callable[[str], str]
    clock: Callable[[], datetime]

    def run(
        self, workspace: str, definition: EnrichmentDefinition, profile_ids: Sequence[str] | None = None
    ) -> TestRun:
        """Run the providers on up to 10 records and show what a run would write; writes and charges nothing.

        Without `profile_ids` the first members of the audiences are used; given ones are judged by
        every audience's quality gate.
        """
        checked, created = self.definitions.check(workspace, definition)
        if profile_ids is None:
            members = list(itertools.islice(self.audiences.members(workspace, checked), TEST_ROWS))
        else:
            members = [Member(pid, tuple(checked.audiences)) for pid in profile_ids[:TEST_ROWS]]
        found = self.profiles.get_many(workspace, checked.kind, [member.profile_id for member in members])
        chosen = [(m, found[m.profile_id]) for m in members if m.profile_id in found]
        answers = ask(checked, workspace, self.secrets, [profile for _, profile in chosen])
        now = self.clock()
        priority = source_priority(self.workspaces, workspace, checked.kind)
        gates = quality_gates(self.workspaces, workspace, checked, created, now)
        companies = company_fields(self.profiles, workspace, gates, [profile for _, profile in chosen])
        rows = []
        for (member, profile), answer in zip(chosen, answers, strict=True):
            fields, problems = answer_fields(checked, answer)
            view = copy.deepcopy(profile)
            writes: list[FieldWrite] = []
            if checked.mapping.enabled and answer.status is not ResultStatus.ERROR:
                record = IncomingRecord(
                    checked.source, checked.enrichment_id, profile.profile_id, format_time(now), fields
                )
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

"""Credits: exact arithmetic, what a run would cost before it starts, and each enrichment's cap.

Budgets are counted in whole millicredits, so thousands of concurrent atomic additions in DynamoDB
never drift the way floats would; a provider's price is rounded up to the next millicredit, so
rounding can only make a run stop earlier, never spend past its cap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from pydantic import BaseModel

from roster.enrich.audiences import Audiences
from roster.enrich.definitions import EnrichmentDefinition, stored_definition
from roster.store.enrichments import BudgetConflict, EnrichmentStore

MILLI = 1000


def to_millis(credits: float) -> int:
    return math.ceil(Decimal(str(credits)) * MILLI)


def to_credits(millis: int) -> float:
    return millis / MILLI


def provider_costs(definition: EnrichmentDefinition) -> list[int]:
    """Millicredits each provider charges per record, in provider order."""
    return [to_millis(spec.credits) for spec in definition.providers]


def cost_per_record(definition: EnrichmentDefinition) -> int:
    """Millicredits reserved for a record before its providers are called."""
    return sum(provider_costs(definition))


class CostPreview(BaseModel):
    records: int
    credits_per_record: float
    credits: float  # records x credits per record, before records skipped as recently enriched
    budget_credits: float
    remaining_credits: float
    records_within_budget: int


def cost_preview(definition: EnrichmentDefinition, n_records: int, remaining_millis: int | None = None) -> CostPreview:
    """What enriching `n_records` would cost, and how many of them the remaining budget covers."""
    cost = cost_per_record(definition)
    remaining = to_millis(definition.budget_credits) if remaining_millis is None else remaining_millis
    covered = n_records if cost == 0 else max(0, min(n_records, remaining // cost))
    return CostPreview(
        records=n_records,
        credits_per_record=to_credits(cost),
        credits=to_credits(cost * n_records),
        budget_credits=definition.budget_credits,
        remaining_credits=to_credits(remaining),
        records_within_budget=covered,
    )


class BudgetReport(BaseModel):
    budget_credits: float
    spent_credits: float
    remaining_credits: float


@dataclass
class Budgets:
    """Each enrichment's credit cap and spending (reserved by workers in the store, atomically)."""

    store: EnrichmentStore
    audiences: Audiences

    def report(self, workspace: str, enrichment_id: str) -> BudgetReport:
        budget = stored_definition(self.store, workspace, enrichment_id).budget
        return BudgetReport(
            budget_credits=to_credits(budget.cap),
            spent_credits=to_credits(budget.spent),
            remaining_credits=to_credits(budget.remaining),
        )

    def set(self, workspace: str, enrichment_id: str, credits: float) -> BudgetReport:
        """Raise (or lower) the cap; spending already reserved stays counted."""
        while True:
            stored = stored_definition(self.store, workspace, enrichment_id)
            try:
                self.store.set_cap(workspace, enrichment_id, stored.budget.cap, to_millis(credits))
            except BudgetConflict:
                continue
            if stored.data.get("budget_credits") != credits:
                self.store.update_definition(workspace, enrichment_id, {**stored.data, "budget_credits": credits})
            return self.report(workspace, enrichment_id)

    def preview_cost(self, workspace: str, enrichment_id: str) -> CostPreview:
        """Records in the audiences (deduplicated) x cost per record, against what is left of the budget."""
        stored = stored_definition(self.store, workspace, enrichment_id)
        definition = EnrichmentDefinition.model_validate(stored.data)
        members = sum(1 for _ in self.audiences.members(workspace, definition))
        return cost_preview(definition, members, stored.budget.remaining)

"""Credits: exact arithmetic, and what a run would cost before it starts.

Budgets are counted in whole millicredits, so thousands of concurrent atomic additions in DynamoDB
never drift the way floats would; a provider's price is rounded up to the next millicredit, so
rounding can only make a run stop earlier, never spend past its cap.
"""

from __future__ import annotations

import math
from decimal import Decimal

from pydantic import BaseModel

from roster.enrich.definitions import EnrichmentDefinition

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

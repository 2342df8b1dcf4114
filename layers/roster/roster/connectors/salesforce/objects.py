"""What each Salesforce object becomes in Roster, one batch of Bulk API rows at a time.

- Contacts and Leads are people, Accounts companies; each record is its own source record
  (`salesforce:Contact:003...`). A Contact names its Account's company by `company_domain` (from the Account's
  Website) and `company_name`. A converted Lead names its Contact's record alias, so the two merge.
- Opportunities become one source record per account, `salesforce:AccountOpportunities:<account id>`, linked
  to the Account's alias: the `opportunities` list (merged by opportunity id, so a batch of changes keeps the
  others) and its roll-ups. A separate record, not the Account's own, because a source record's fields are
  replaced by each write and the Account and Opportunity syncs run independently.
- Tasks and Events add to `salesforce:Activities:<who or what id>` on the person (Contact/Lead) or company
  (Account) they name: `activity_count` and `last_activity_date`, over the `salesforce_activity_ids` kept in
  the same record (`date|id`, so a re-read activity is never counted twice).
- A deleted record (IsDeleted from `queryAll`, or the deleted-records list) is unlinked (see links.unlink);
  a deleted opportunity or activity leaves its roll-up.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from roster.connectors.core.links import most_recent_that_fit, rewrite_rollups, unlink, upsert_linked
from roster.connectors.core.state import RunCounts
from roster.connectors.salesforce.describe import (
    COMPOUND_TYPES,
    SOURCE,
    SPECS,
    ObjectMapping,
    SalesforceObject,
    apply_mapping,
)
from roster.identity.aliases import record_alias, registrable_domain
from roster.identity.resolver import Resolver
from roster.profiles.fields import Kind
from roster.profiles.model import IncomingRecord, Outcome
from roster.profiles.values import ValueProblem, coerce_value, parse_time

Row = Mapping[str, str]
MAX_ACTIVITIES = 1000  # per person or company; beyond it the oldest leave the count (profile items stay small)
MAX_PROBLEMS = 20

#: The fields each object's query reads whatever the mapping says (the sync's own needs).
QUERY_FIELDS: dict[SalesforceObject, tuple[str, ...]] = {
    "Account": (),
    "Contact": ("AccountId", "Account.Name", "Account.Website"),
    "Lead": ("IsConverted", "ConvertedContactId"),
    "Opportunity": ("AccountId",),
    "Task": ("WhoId", "WhatId"),
    "Event": ("WhoId", "WhatId"),
}
#: Key prefixes of the records an activity can name, and what they are in Roster.
TARGETS = {"003": (Kind.PEOPLE, "Contact"), "00Q": (Kind.PEOPLE, "Lead"), "001": (Kind.COMPANIES, "Account")}


@dataclass
class BatchContext:
    workspace: str
    mapping: ObjectMapping
    resolver: Callable[[Kind], Resolver]  # a fresh resolver per batch keeps memory flat


def query_fields(mapping: ObjectMapping) -> list[str]:
    """The Bulk query's fields: the sync's own and the mapped ones, never a compound field (Bulk API refuses them;
    a mapping saved before that rule may still hold one)."""
    mapped = [name for name, field in mapping.fields.items() if field.sf_type not in COMPOUND_TYPES]
    return list(dict.fromkeys(["Id", "SystemModstamp", "IsDeleted", *QUERY_FIELDS[mapping.object], *mapped]))


def is_deleted(row: Row) -> bool:
    return row.get("IsDeleted", "").lower() == "true"


def _observed(row: Row) -> str:
    return parse_time(row["SystemModstamp"])


def process(context: BatchContext, rows: list[Row]) -> tuple[RunCounts, list[str]]:
    """Apply one batch; its counts and the problems of values that were dropped."""
    obj = context.mapping.object
    if obj == "Opportunity":
        return _opportunities(context, rows)
    if obj in ("Task", "Event"):
        return _activities(context, rows), []
    return _entities(context, rows)


def _count(counts: RunCounts, outcome: Outcome, times: int = 1) -> None:
    setattr(counts, str(outcome), getattr(counts, str(outcome)) + times)


def _entities(context: BatchContext, rows: list[Row]) -> tuple[RunCounts, list[str]]:
    obj = context.mapping.object
    kind = SPECS[obj].kind
    assert kind is not None
    resolver = context.resolver(kind)
    counts = RunCounts()
    problems: list[str] = []
    records: list[IncomingRecord] = []
    links: dict[str, list[str]] = {}
    for row in rows:
        if is_deleted(row):
            counts.deleted += unlink(resolver, SOURCE, obj, row["Id"])
            continue
        values, dropped = apply_mapping(context.mapping, row)
        counts.dropped_values += len(dropped)
        problems.extend(dropped)
        if obj == "Contact":
            _company_of_contact(row, values)
        record = IncomingRecord(SOURCE, obj, row["Id"], _observed(row), values)
        if obj == "Lead" and row.get("IsConverted", "").lower() == "true" and row.get("ConvertedContactId"):
            links[record.key] = [record_alias(SOURCE, "Contact", row["ConvertedContactId"])]
        records.append(record)
    for record, resolution in zip(records, upsert_linked(resolver, records, links), strict=True):
        _count(counts, resolution.outcome)
        if resolution.problem is not None:
            problems.append(f"{obj} {record.record_id}: {resolution.problem}")
    return counts, problems


def _company_of_contact(row: Row, values: dict[str, Any]) -> None:
    """Link a Contact to its Account's company, unless the mapping already fills these fields."""
    if "company_domain" not in values:
        domain = registrable_domain(row.get("Account.Website") or "")
        values["company_domain"] = domain
    if "company_name" not in values:
        values["company_name"] = row.get("Account.Name") or None


def _aggregate(
    context: BatchContext,
    kind: Kind,
    obj: str,
    targets: Mapping[str, tuple[str, list[Row]]],
    build: Callable[[dict[str, Any], list[Row]], dict[str, Any]],
) -> dict[str, Outcome]:
    """Rewrite one roll-up record per target (see links.rewrite_rollups); the scheduler never runs Task and Event
    together, so one sync writes a roll-up at a time."""
    observed = lambda rows: max(_observed(row) for row in rows)  # noqa: E731
    return rewrite_rollups(context.resolver(kind), SOURCE, obj, targets, observed, build)


def _opportunities(context: BatchContext, rows: list[Row]) -> tuple[RunCounts, list[str]]:
    counts = RunCounts()
    problems: list[str] = []
    by_account: dict[str, tuple[str, list[Row]]] = {}
    for row in rows:
        if row.get("AccountId"):
            by_account.setdefault(row["AccountId"], ("Account", []))[1].append(row)
        else:
            counts.skipped += 1  # an opportunity without an account has no company to attach to

    def build(held: dict[str, Any], batch: list[Row]) -> dict[str, Any]:
        deals = {deal["id"]: deal for deal in held.get("opportunities") or []}
        for row in batch:
            if is_deleted(row):
                counts.deleted += deals.pop(row["Id"], None) is not None
                continue
            values, dropped = apply_mapping(context.mapping, row)
            deal = {name: value for name, value in {**values, "id": row["Id"]}.items() if value is not None}
            try:
                deals[row["Id"]] = coerce_value(Kind.COMPANIES, "opportunities", [deal])[0]
            except ValueProblem as problem:
                dropped.append(f"Opportunity {row['Id']}: {problem}")
            counts.dropped_values += len(dropped)
            problems.extend(dropped)
        listed = sorted(deals.values(), key=lambda deal: (str(deal.get("close_date", "")), deal["id"]), reverse=True)
        listed = most_recent_that_fit(listed)
        return {
            "opportunities": listed,
            "opportunity_count": len(listed),
            "open_pipeline": sum(deal.get("amount", 0) for deal in listed if not deal.get("is_closed")),
            "won_amount": sum(deal.get("amount", 0) for deal in listed if deal.get("is_won")),
        }

    outcomes = _aggregate(context, Kind.COMPANIES, "AccountOpportunities", by_account, build)
    for account, (_, batch) in by_account.items():
        _count(counts, outcomes[account], sum(not is_deleted(row) for row in batch))
    return counts, problems


def _activities(context: BatchContext, rows: list[Row]) -> RunCounts:
    counts = RunCounts()
    date_field = next((sf for sf, field in context.mapping.fields.items() if field.field == "activity_date"), None)
    per_kind: dict[Kind, dict[str, tuple[str, list[Row]]]] = defaultdict(dict)
    for row in rows:
        named = [row.get("WhoId", ""), row.get("WhatId", "")]
        hits = [(TARGETS[target[:3]], target) for target in named if target and target[:3] in TARGETS]
        for (kind, of), target in hits:
            per_kind[kind].setdefault(target, (of, []))[1].append(row)
        if not hits:
            counts.skipped += 1

    def build(held: dict[str, Any], batch: list[Row]) -> dict[str, Any]:
        entries = {entry.rpartition("|")[2]: entry for entry in held.get("salesforce_activity_ids") or []}
        for row in batch:
            if is_deleted(row):
                entries.pop(row["Id"], None)
            else:
                day = (row.get(date_field or "") or "")[:10]
                entries[row["Id"]] = f"{day}|{row['Id']}"
        kept = sorted(entries.values())[-MAX_ACTIVITIES:]
        days = [entry.partition("|")[0] for entry in kept if not entry.startswith("|")]
        return {
            "salesforce_activity_ids": kept,
            "activity_count": len(kept),
            "last_activity_date": max(days) if days else None,
        }

    outcomes: dict[str, Outcome] = {}  # per activity: the outcome of the first roll-up it is in
    for kind, targets in per_kind.items():
        by_target = _aggregate(context, kind, "Activities", targets, build)
        for target, (_, batch) in targets.items():
            for row in batch:
                outcomes.setdefault(row["Id"], by_target[target])
    for row in rows:
        if row["Id"] in outcomes:
            if is_deleted(row):
                counts.deleted += 1
            else:
                _count(counts, outcomes[row["Id"]])
    return counts

"""What a page of HubSpot records becomes in Roster.

- Contacts are people and companies companies, each record its own source record (`hubspot:contacts:101`). A
  contact names its associated company's `company_domain` and `company_name` (unless the mapping fills them).
- A merge's survivor lists the merged-away ids in `hs_merged_object_ids`: the survivor's record names their record
  aliases, so identity merges the two profiles (whichever was imported first).
- Deals become one roll-up record per company, `hubspot:CompanyDeals:<company id>`, linked to the company's alias:
  its `deals` list (merged by deal id, newest close date first), filterable as `company.deals`. A deal without a
  company has nothing to attach to and is skipped.
- An archived contact or company is unlinked from its profile (`links.unlink`: the profile keeps its other
  sources, or is archived itself, reversibly); an archived deal leaves its company's `deals`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from roster.connectors.core.links import most_recent_that_fit, rewrite_rollups, stored_values, unlink, upsert_linked
from roster.connectors.core.state import RunCounts
from roster.connectors.hubspot.describe import (
    MERGED,
    MODIFIED,
    SOURCE,
    SPECS,
    HubSpotObject,
    ObjectMapping,
    apply_mapping,
    stamp,
)
from roster.identity.aliases import record_alias, registrable_domain
from roster.identity.resolver import Resolver
from roster.profiles.fields import Kind
from roster.profiles.model import IncomingRecord, Outcome
from roster.profiles.values import ValueProblem, coerce_value

Row = Mapping[str, Any]  # a record's properties and its `id`
DEALS = "CompanyDeals"


@dataclass
class Page:
    """One page of records and what the sync looked up for it: each record's company (contacts and deals) and,
    for contacts, those companies' domain and name."""

    rows: list[Row]
    company_of: dict[str, str] = field(default_factory=dict)
    companies: dict[str, Row] = field(default_factory=dict)


@dataclass
class PageContext:
    workspace: str
    mapping: ObjectMapping
    resolver: Callable[[Kind], Resolver]


def observed(row: Row, obj: HubSpotObject) -> str:
    return stamp(str(row.get(MODIFIED[obj]) or row.get("hs_lastmodifieddate") or row.get("createdate") or "0"))


def _count(counts: RunCounts, outcome: Outcome, times: int = 1) -> None:
    setattr(counts, str(outcome), getattr(counts, str(outcome)) + times)


def process(context: PageContext, page: Page) -> tuple[RunCounts, list[str]]:
    """Apply one page; its counts and the problems of values that were dropped."""
    if context.mapping.object == "deals":
        return _deals(context, page)
    return _entities(context, page)


def _entities(context: PageContext, page: Page) -> tuple[RunCounts, list[str]]:
    obj = context.mapping.object
    kind = SPECS[obj].kind
    assert kind is not None
    counts, problems = RunCounts(read=len(page.rows)), []
    records: list[IncomingRecord] = []
    links: dict[str, list[str]] = {}
    for row in page.rows:
        values, dropped = apply_mapping(context.mapping, row)
        counts.dropped_values += len(dropped)
        problems.extend(dropped)
        if obj == "contacts":
            company = page.companies.get(page.company_of.get(str(row["id"]), ""), {})
            if "company_domain" not in values:
                values["company_domain"] = registrable_domain(str(company.get("domain") or "")) or None
            if "company_name" not in values:
                values["company_name"] = company.get("name") or None
        record = IncomingRecord(SOURCE, obj, str(row["id"]), observed(row, obj), values)
        merged = [each.strip() for each in str(row.get(MERGED) or "").split(";") if each.strip()]
        if merged:
            links[record.key] = [record_alias(SOURCE, obj, each) for each in merged]
        records.append(record)
    resolutions = upsert_linked(context.resolver(kind), records, links)
    for record, resolution in zip(records, resolutions, strict=True):
        _count(counts, resolution.outcome)
        if resolution.problem is not None:
            problems.append(f"{obj} {record.record_id}: {resolution.problem}")
    return counts, problems


def _deals(context: PageContext, page: Page) -> tuple[RunCounts, list[str]]:
    counts, problems = RunCounts(read=len(page.rows)), []
    by_company: dict[str, tuple[str, list[Row]]] = {}
    for row in page.rows:
        company = page.company_of.get(str(row["id"]))
        if company:
            by_company.setdefault(company, ("companies", []))[1].append(row)
        else:
            counts.skipped += 1  # a deal without a company has nothing to attach to

    def build(held: dict[str, Any], rows: list[Row]) -> dict[str, Any]:
        deals = {deal["id"]: deal for deal in held.get("deals") or []}
        for row in rows:
            values, dropped = apply_mapping(context.mapping, row)
            deal = {name: value for name, value in {**values, "id": str(row["id"])}.items() if value is not None}
            try:
                deals[str(row["id"])] = coerce_value(Kind.COMPANIES, "deals", [deal])[0]
            except ValueProblem as problem:
                dropped.append(f"deals {row['id']}: {problem}")
            counts.dropped_values += len(dropped)
            problems.extend(dropped)
        listed = sorted(deals.values(), key=lambda deal: (str(deal.get("close_date", "")), deal["id"]), reverse=True)
        return {"deals": most_recent_that_fit(listed)}

    outcomes = rewrite_rollups(
        context.resolver(Kind.COMPANIES),
        SOURCE,
        DEALS,
        by_company,
        lambda rows: max(observed(row, "deals") for row in rows),
        build,
    )
    for company, (_, rows) in by_company.items():
        _count(counts, outcomes[company], len(rows))
    return counts, problems


def archive(context: PageContext, record_ids: list[str]) -> int:
    """Unlink archived contacts or companies from their profiles; how many links were removed."""
    kind = SPECS[context.mapping.object].kind
    if kind is None:
        return 0
    resolver = context.resolver(kind)
    return sum(unlink(resolver, SOURCE, context.mapping.object, record_id) for record_id in record_ids)


def archive_deals(context: PageContext, company_of: Mapping[str, str], at: str) -> int:
    """Take archived deals (deal id → its company) off their companies' `deals`; how many were listed there.
    Only roll-ups that list one of them are rewritten, so an archived deal never creates a company."""
    resolver = context.resolver(Kind.COMPANIES)
    wanted = {
        f"{SOURCE}:{DEALS}:{company}": record_alias(SOURCE, "companies", company) for company in company_of.values()
    }
    held = stored_values(resolver.store, resolver.workspace, Kind.COMPANIES, wanted)
    listed = {key: {deal["id"] for deal in values.get("deals") or []} for key, values in held.items()}
    targets: dict[str, tuple[str, list[str]]] = {}
    for deal, company in company_of.items():
        if deal in listed.get(f"{SOURCE}:{DEALS}:{company}", set()):
            targets.setdefault(company, ("companies", []))[1].append(deal)
    if not targets:
        return 0

    def build(current: dict[str, Any], gone: list[str]) -> dict[str, Any]:
        return {"deals": [deal for deal in current.get("deals") or [] if deal["id"] not in gone]}

    rewrite_rollups(resolver, SOURCE, DEALS, targets, lambda _: at, build)
    return sum(len(deals) for _, deals in targets.values())

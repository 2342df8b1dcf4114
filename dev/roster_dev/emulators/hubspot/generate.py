"""A seeded, realistic portal: the data a Roster HubSpot import meets.

Companies (some without a domain, some sharing one), contacts linked to their company (the primary association
and `associatedcompanyid`), deals on companies with stage, amount, close date, owner, type and pipeline, custom
properties, duplicates (the same person under a second e-mail address), and many records sharing one modified
time, as after an import. Given a Salesforce emulator org, a share of its contacts appear here too, with the
same names and e-mail addresses in other spellings, so one person can reach Roster from both CRMs. Same seed and
clock reading give the same portal; records are inserted directly (no validation), so 100,000 take seconds.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta
from typing import Any

from roster_dev.emulators.hubspot.portal import HubSpotPortal
from roster_dev.emulators.hubspot.schema import DEAL_STAGES, INDUSTRIES, LIFECYCLE, PropertyDef, iso
from roster_dev.emulators.salesforce.generate import CITIES, FIRST, LAST, SUFFIXES, TITLES, TLDS, WORDS
from roster_dev.emulators.salesforce.org import Clock, SalesforceOrg

#: Custom properties a generated portal carries (not HubSpot-defined, so writable and archivable).
CUSTOM_PROPERTIES: dict[str, tuple[PropertyDef, ...]] = {
    "contacts": (
        PropertyDef("customer_tier", "Customer tier", "enumeration", ("gold", "silver", "bronze")),
        PropertyDef("loyalty_points", "Loyalty points", "number"),
        PropertyDef("newsletter_opt_in", "Newsletter opt-in", "bool"),
    ),
    "companies": (PropertyDef("account_region", "Account region", "enumeration", ("emea", "amer", "apac")),),
    "deals": (PropertyDef("renewal_date", "Renewal date", "date", group="dealinformation"),),
}


def first_of(row: dict[str, Any]) -> str:
    return str(row.get("FirstName") or "")


def generate_portal(
    seed: int = 2026,
    *,
    contacts: int = 1000,
    companies: int = 200,
    deals: int | None = None,
    clock: Clock | None = None,
    salesforce: SalesforceOrg | None = None,
    salesforce_share: float = 0.3,
    duplicate_share: float = 0.05,
) -> HubSpotPortal:
    """A realistic portal for a seed. Deals default to 1.5 per company; all times lie before the clock's now."""
    portal = HubSpotPortal(clock=clock)
    for object_type, definitions in CUSTOM_PROPERTIES.items():
        for definition in definitions:
            portal.add_property(object_type, replace(definition))
    rng = random.Random(seed)
    now = portal.clock().replace(microsecond=0)
    load_times = [now - timedelta(days=rng.randrange(1, 400), seconds=rng.randrange(86_400)) for _ in range(5)]

    def moment() -> Any:
        if rng.random() < 0.4:  # an import: many records share one modified time
            return rng.choice(load_times)
        return now - timedelta(seconds=rng.randrange(3_600, 2 * 365 * 86_400))

    company_rows: list[dict[str, str]] = []
    domains: list[str] = []
    for index in range(companies):
        name = f"{rng.choice(WORDS)} {rng.choice(WORDS)} {rng.choice(SUFFIXES)}"
        domain = f"{name.split()[0].lower()}{name.split()[1].lower()}{index}.{rng.choice(TLDS)}"
        city, country = rng.choice(CITIES)
        row = {
            "name": name,
            "industry": rng.choice(INDUSTRIES),
            "city": city,
            "country": country,
            "numberofemployees": str(rng.choice([5, 12, 40, 120, 480, 2_000, 12_000])),
            "annualrevenue": str(rng.randrange(1, 500) * 100_000),
            "hubspot_owner_id": rng.choice(portal.owners),
            "account_region": "emea" if country in {"Germany", "France", "United Kingdom"} else "amer",
        }
        if rng.random() > 0.08:  # some companies have no domain
            row["domain"] = domain
            row["website"] = f"https://www.{domain}"
        domains.append(row.get("domain", ""))
        company_rows.append(row)
    company_records = [portal.add("companies", row, at=moment()) for row in company_rows]

    by_domain = {domain: record for domain, record in zip(domains, company_records, strict=True) if domain}
    people: list[dict[str, str]] = []
    seen: set[str] = set()  # HubSpot keeps one contact per e-mail address, whatever its case
    if salesforce is not None:
        for sf in salesforce.records("Contact"):
            email = str(sf.get("Email") or "").strip()
            if email and email.lower() not in seen and rng.random() < salesforce_share:
                seen.add(email.lower())
                people.append(
                    {
                        # as a form fills it in: names sometimes in lower case, another (or no) job title
                        "firstname": str(sf.get("FirstName") or "").lower() if rng.random() < 0.2 else first_of(sf),
                        "lastname": str(sf.get("LastName") or ""),
                        "email": email.lower(),  # HubSpot stores e-mail addresses in lower case
                        "jobtitle": rng.choice(TITLES) or "" if rng.random() < 0.3 else str(sf.get("Title") or ""),
                    }
                )
            if len(people) >= contacts:
                break
    while len(people) < contacts:
        first, last = rng.choice(FIRST), rng.choice(LAST)
        company_index = rng.randrange(max(1, companies)) if companies else -1
        domain = domains[company_index] if company_index >= 0 and domains[company_index] else "example.com"
        email = f"{first.lower()}.{last.lower()}{rng.randrange(10_000)}@{domain}"
        if email in seen:
            continue
        seen.add(email)
        people.append({"firstname": first, "lastname": last, "email": email, "jobtitle": rng.choice(TITLES) or ""})
        if rng.random() < duplicate_share and len(people) < contacts:  # the same person with a personal address
            personal = f"{first.lower()}{last.lower()}{rng.randrange(100)}@gmail.com"
            if personal not in seen:
                seen.add(personal)
                people.append({"firstname": first, "lastname": last, "email": personal, "jobtitle": ""})

    for person in people[:contacts]:
        city, country = rng.choice(CITIES)
        values = {key: value for key, value in person.items() if value}
        values |= {
            "city": city,
            "country": country,
            "lifecyclestage": rng.choice(LIFECYCLE),
            "hubspot_owner_id": rng.choice(portal.owners),
            "customer_tier": rng.choice(("gold", "silver", "bronze")),
            "loyalty_points": str(rng.randrange(0, 5_000)),
        }
        if rng.random() < 0.5:
            values["phone"] = f"+1 555 {rng.randrange(100, 999)} {rng.randrange(1000, 9999)}"
        record = portal.add("contacts", values, at=moment())
        same_domain = by_domain.get(values["email"].rpartition("@")[2].lower())
        if same_domain is not None or (company_records and rng.random() < 0.3):
            company = same_domain or rng.choice(company_records)
            portal.associate("contacts", record.id, "companies", company.id, primary=True)

    deals = round(companies * 1.5) if deals is None else deals
    for index in range(deals if company_records else 0):
        company = rng.choice(company_records)
        stage = rng.choice(DEAL_STAGES)
        closes = now + timedelta(days=rng.randrange(-300, 200))
        values = {
            "dealname": f"{company.properties['name']} - {rng.choice(['Renewal', 'Expansion', 'New'])} {index}",
            "amount": str(rng.randrange(5, 500) * 100),
            "closedate": iso(closes.replace(hour=0, minute=0, second=0)),
            "dealstage": stage,
            "pipeline": "default",
            "dealtype": rng.choice(("newbusiness", "existingbusiness")),
            "hubspot_owner_id": rng.choice(portal.owners),
        }
        if rng.random() < 0.3:
            values["renewal_date"] = (closes + timedelta(days=365)).date().isoformat()
        deal = portal.add("deals", values, at=moment())
        portal.associate("deals", deal.id, "companies", company.id, primary=True)
    return portal

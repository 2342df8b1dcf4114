"""A seeded, realistic org: the messy data a Roster connector meets in a real Salesforce.

Accounts with websites in every spelling, contacts with and without LinkedIn URLs, leads that were converted,
leads that duplicate contacts by e-mail (other case, stray spaces) or by LinkedIn URL (other spelling),
opportunities in open and closed stages, tasks and events, and many records sharing one `SystemModstamp`
second, as after a data load. Same seed and same clock reading give the same org. Rows are built directly
in the stored layout, so 100,000 contacts take a couple of seconds.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from roster_dev.emulators.salesforce.org import Clock, SalesforceOrg
from roster_dev.emulators.salesforce.schema import (
    ACCOUNT_TYPES,
    INDUSTRIES,
    LEAD_SOURCES,
    OPPORTUNITY_TYPES,
    PRIORITIES,
    PRODUCT_INTERESTS,
    STAGES,
    ObjectDef,
    format_datetime,
)
from roster_dev.emulators.salesforce.soql import Row

FIRST = """Ada Alan Alice Amir Anna Ben Bianca Carla Carlos Chen Chloe Dana Daniel David Diego Elena Emma Eva Farid
Fatima Felix Grace Hana Hugo Ivan Isabel Jonas Julia Kai Karin Kenji Lara Leo Lina Lucas Marco Maria Mateo Mei Mia
Nadia Noah Nora Olga Omar Oscar Paula Pedro Priya Raj Rosa Ruth Sam Sara Sofia Tariq Tom Uma Vera Victor Wei Yara
Yusuf Zoe""".split()
LAST = """Adams Baker Brown Costa Dubois Evans Fischer Garcia Gonzalez Hughes Ivanova Jensen Johnson Kim Kowalski Lee
Lopez Martin Meyer Moreau Nakamura Nguyen Novak Okafor Olsen Patel Perez Quinn Rossi Schmidt Silva Smith Tanaka
Taylor Turner Umar Varga Wagner Walker Weber Williams Xu Yamada Young Zhang""".split()
WORDS = """Acme Apex Atlas Blue Bright Cedar Cloud Core Crest Delta Echo Ember Falcon Flux Granite Harbor Helix Iron
Juno Kite Lumen Maple Meridian Nova Orbit Pine Pioneer Quantum Ridge Sage Signal Summit Terra Union Vertex Vista
Zephyr""".split()
SUFFIXES = ["Labs", "Systems", "Analytics", "Software", "Health", "Logistics", "Capital", "Robotics", "Group", "Inc."]
TLDS = ["com", "com", "com", "io", "co", "ai", "de", "co.uk", "fr"]
TITLES = [
    "CEO",
    "CTO",
    "CFO",
    "VP of Sales",
    "VP Marketing",
    "Head of Marketing",
    "Head of Growth",
    "Senior Software Engineer",
    "Data Engineer",
    "RevOps Manager",
    "Sales Operations Manager",
    "Account Executive",
    "SDR",
    "Director of Operations",
    "Product Manager",
    "IT Director",
    None,
]
DEPARTMENTS = ["Sales", "Marketing", "Engineering", "Operations", "Finance", "IT", None]
CITIES = [
    ("Berlin", "Germany"),
    ("Munich", "Germany"),
    ("London", "United Kingdom"),
    ("Paris", "France"),
    ("New York", "United States"),
    ("San Francisco", "United States"),
    ("Austin", "United States"),
    ("Toronto", "Canada"),
    ("Sydney", "Australia"),
    ("Singapore", "Singapore"),
]
# city -> (state, postal code, latitude, longitude) for the address fields
PLACES: dict[str, tuple[str | None, str, float, float]] = {
    "Berlin": ("Berlin", "10115", 52.520008, 13.404954),
    "Munich": ("Bavaria", "80331", 48.137154, 11.576124),
    "London": ("England", "EC1A 1BB", 51.507351, -0.127758),
    "Paris": ("Île-de-France", "75001", 48.856613, 2.352222),
    "New York": ("NY", "10001", 40.712776, -74.005974),
    "San Francisco": ("CA", "94105", 37.774929, -122.419418),
    "Austin": ("TX", "78701", 30.267153, -97.743057),
    "Toronto": ("ON", "M5H 2N2", 43.653225, -79.383186),
    "Sydney": ("NSW", "2000", -33.868820, 151.209290),
    "Singapore": (None, "018956", 1.352083, 103.819839),
}
STREETS = ["Main Street", "Market Street", "Harbour Road", "Station Road", "High Street", "Park Avenue", "King Street"]
PRODUCTS = ["Platform", "Cloud", "Education", "Analytics", "Renewal", "Expansion", "Pilot", "Enterprise"]
TASK_SUBJECTS = ["Call", "Email: Intro", "Follow up", "Send proposal", "Demo prep", "Check in", "Send contract"]
EVENT_SUBJECTS = ["Meeting", "Demo", "Discovery call", "QBR", "Lunch", "Onsite workshop"]
REPS = [("Alex", "Morgan"), ("Jordan", "Lee"), ("Sam", "Rivera"), ("Taylor", "Chen"), ("Casey", "Novak")]
OPEN_LEAD_STATUSES = ["Open - Not Contacted", "Working - Contacted", "Closed - Not Converted"]


class _Rows:
    """Builds rows in an object's stored layout from keyword values (unknown names are a bug, so they raise)."""

    def __init__(self, schema: ObjectDef) -> None:
        self.position = {spec.name: index for index, spec in enumerate(schema.fields)}
        self.template: list[Any] = [spec.default for spec in schema.fields]

    def make(self, record_id: str, created: str, modified: str, stamp: str, owner: str, **values: Any) -> Row:
        row = self.template.copy()
        position = self.position
        row[0] = record_id
        row[1] = False
        row[position["CreatedDate"]] = created
        row[position["CreatedById"]] = owner
        row[position["LastModifiedDate"]] = modified
        row[position["LastModifiedById"]] = owner
        row[position["SystemModstamp"]] = stamp
        if "OwnerId" in position:
            row[position["OwnerId"]] = owner
        for name, value in values.items():
            row[position[name]] = value
        return tuple(row)


def _address(rng: random.Random, prefix: str, city: str, country: str) -> dict[str, Any]:
    """The components of a geocoded address in `city` (the compound field is computed from them)."""
    state, postal, latitude, longitude = PLACES[city]
    number, street = rng.randint(1, 400), rng.choice(STREETS)
    accuracy = rng.choice(["Address", "Address", "Street", "Zip"])
    jitter = 0.0 if accuracy == "Zip" else rng.uniform(-0.05, 0.05)
    return {
        f"{prefix}Street": f"{number} {street}" if accuracy != "Zip" else None,
        f"{prefix}City": city,
        f"{prefix}State": state,
        f"{prefix}PostalCode": postal,
        f"{prefix}Country": country,
        f"{prefix}Latitude": round(latitude + jitter, 6),
        f"{prefix}Longitude": round(longitude + jitter, 6),
        f"{prefix}GeocodeAccuracy": accuracy,
    }


def add_roster_fields(org: SalesforceOrg) -> None:
    """The fields Roster writes back: `Roster_Id__c`, an external id, on Account, Contact and Lead."""
    for obj in ("Account", "Contact", "Lead"):
        org.add_custom_field(obj, "Roster_Id__c", "string", label="Roster ID", external_id=True, unique=True, length=64)


def generate_org(
    seed: int = 2026,
    accounts: int = 200,
    contacts: int = 1000,
    leads: int = 400,
    *,
    opportunities: int | None = None,
    tasks: int | None = None,
    events: int | None = None,
    clock: Clock | None = None,
    roster_fields: bool = False,
    converted_share: float = 0.15,
    duplicate_share: float = 0.15,
) -> SalesforceOrg:
    """A realistic org for a seed. Defaults: 2.5 opportunities per account, a task per two contacts, an event per
    four. All timestamps lie before the clock's now; about 40% of records share a handful of data-load seconds."""
    org = SalesforceOrg(clock)
    for obj in ("Contact", "Lead"):
        org.add_custom_field(obj, "LinkedIn_URL__c", "url", label="LinkedIn URL")
    if roster_fields:
        add_roster_fields(org)
    rng = random.Random(seed)
    extra = random.Random(seed * 7919 + 1)  # the fields added since: a second stream keeps the first one's org
    now = org.clock().replace(microsecond=0)
    opportunities = round(accounts * 2.5) if opportunities is None else opportunities
    tasks = contacts // 2 if tasks is None else tasks
    events = contacts // 4 if events is None else events

    created_pool = sorted(
        {format_datetime(now - timedelta(seconds=rng.randrange(86_400, 3 * 365 * 86_400))) for _ in range(5000)}
    )
    load_seconds = [format_datetime(now - timedelta(seconds=rng.randrange(3600, 20 * 86_400))) for _ in range(6)]
    recent_pool = [format_datetime(now - timedelta(seconds=rng.randrange(60, 30 * 86_400))) for _ in range(2000)]

    def stamps() -> tuple[str, str, str]:
        """(CreatedDate, LastModifiedDate, SystemModstamp): loads touch only the modstamp sometimes."""
        created = rng.choice(created_pool)
        roll = rng.random()
        if roll < 0.4:
            stamp = max(created, rng.choice(load_seconds))
            return created, (stamp if roll < 0.3 else created), stamp
        if roll < 0.7:
            return created, created, created
        modified = max(created, rng.choice(recent_pool))
        return created, modified, modified

    users = org.object_def("User")
    assert users is not None
    user_ids = org.reserve_ids("User", len(REPS))
    user_rows = _Rows(users)
    org.load_rows(
        "User",
        [
            user_rows.make(
                user_id,
                *stamps(),
                org.api_user_id,
                Username=f"{first}.{last}@roster-demo.test".lower(),
                FirstName=first,
                LastName=last,
                Name=f"{first} {last}",
                Email=f"{first}.{last}@roster-demo.test".lower(),
                Title="Account Executive",
                IsActive=True,
            )
            for user_id, (first, last) in zip(user_ids, REPS, strict=True)
        ],
    )

    # Accounts ------------------------------------------------------------------------------------------
    account_def = org.object_def("Account")
    assert account_def is not None
    account_rows = _Rows(account_def)
    account_ids = org.reserve_ids("Account", accounts)
    account_info: list[tuple[str, str, str, str, str]] = []  # name, domain, owner, city, country
    domains: set[str] = set()
    rows: list[Row] = []
    for index, account_id in enumerate(account_ids):
        word, other = rng.choice(WORDS), rng.choice(WORDS)
        name = (
            f"{word} {rng.choice(SUFFIXES)}" if rng.random() < 0.6 else f"{word}{other.lower()} {rng.choice(SUFFIXES)}"
        )
        slug = name.split()[0].lower()
        domain = f"{slug}.{rng.choice(TLDS)}"
        if domain in domains:
            domain = f"{slug}{index}.{rng.choice(TLDS)}"
        domains.add(domain)
        website = rng.choice([f"https://www.{domain}", f"www.{domain}", f"http://{domain}/", domain, None])
        employees = rng.choice([5, 12, 25, 60, 140, 320, 800, 2500, 12000, None])
        city, country = rng.choice(CITIES)
        owner = rng.choice(user_ids)
        account_info.append((name, domain, owner, city, country))
        created, modified, stamp = stamps()
        rows.append(
            account_rows.make(
                account_id,
                created,
                modified,
                stamp,
                owner,
                Name=name,
                Type=rng.choice(ACCOUNT_TYPES),
                Industry=rng.choice(INDUSTRIES) if rng.random() < 0.85 else None,
                Website=website,
                Phone=f"+1 {rng.randint(200, 989)} 555 {rng.randint(1000, 9999)}" if rng.random() < 0.7 else None,
                NumberOfEmployees=employees,
                AnnualRevenue=float(employees * rng.choice([80_000, 120_000, 200_000])) if employees else None,
                Description=f"{name} in {city}." if extra.random() < 0.5 else None,
                ERP_Account_Id__c=f"ERP-{index + 1:06d}" if extra.random() < 0.8 else None,
                **(billing := _address(extra, "Billing", city, country)),
                **(
                    _address(extra, "Shipping", city, country)
                    if extra.random() < 0.3
                    else {f"Shipping{key[7:]}": value for key, value in billing.items()}
                ),
                Headquarters__Latitude__s=billing["BillingLatitude"],
                Headquarters__Longitude__s=billing["BillingLongitude"],
            )
        )
    org.load_rows("Account", rows)

    # Contacts ------------------------------------------------------------------------------------------
    contact_def = org.object_def("Contact")
    assert contact_def is not None
    contact_rows = _Rows(contact_def)
    contact_ids = org.reserve_ids("Contact", contacts)
    emails: set[str] = set()
    people: list[tuple[str, str, str | None, str | None, int]] = []  # first, last, email, linkedin, account index
    rows = []
    for index, contact_id in enumerate(contact_ids):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        account = rng.randrange(accounts) if accounts and rng.random() < 0.95 else -1
        domain = account_info[account][1] if account >= 0 else rng.choice(["gmail.com", "outlook.com", "yahoo.com"])
        local = rng.choice([f"{first}.{last}", f"{first[0]}{last}", first, f"{first}_{last}"]).lower()
        email = f"{local}@{domain}"
        if email in emails:
            email = f"{local}{index}@{domain}"
        emails.add(email)
        linkedin = None
        if rng.random() < 0.65:
            handle = f"{first}-{last}-{index:x}".lower()
            linkedin = rng.choice(
                [
                    f"https://www.linkedin.com/in/{handle}",
                    f"https://www.linkedin.com/in/{handle}/",
                    f"linkedin.com/in/{handle}",
                ]
            )
        stored_email = email if rng.random() < 0.97 else None
        people.append((first, last, stored_email, linkedin, account))
        city, country = (account_info[account][3], account_info[account][4]) if account >= 0 else rng.choice(CITIES)
        created, modified, stamp = stamps()
        rows.append(
            contact_rows.make(
                contact_id,
                created,
                modified,
                stamp,
                account_info[account][2] if account >= 0 else rng.choice(user_ids),
                FirstName=first,
                LastName=last,
                Name=f"{first} {last}",
                Email=stored_email,
                Title=rng.choice(TITLES),
                Phone=f"+1 {rng.randint(200, 989)} 555 {rng.randint(1000, 9999)}" if rng.random() < 0.5 else None,
                Department=rng.choice(DEPARTMENTS),
                AccountId=account_ids[account] if account >= 0 else None,
                LeadSource=rng.choice(LEAD_SOURCES) if rng.random() < 0.7 else None,
                HasOptedOutOfEmail=rng.random() < 0.05,
                LinkedIn_URL__c=linkedin,
                **_address(extra, "Mailing", city, country),
                **(_address(extra, "Other", *extra.choice(CITIES)) if extra.random() < 0.1 else {}),
                Product_Interest__c=";".join(extra.sample(PRODUCT_INTERESTS, extra.randint(1, 3)))
                if extra.random() < 0.4
                else None,
                Best_Time_To_Call__c=f"{extra.randint(8, 17):02d}:{extra.choice([0, 15, 30, 45]):02d}:00.000Z"
                if extra.random() < 0.3
                else None,
            )
        )
    org.load_rows("Contact", rows)

    # Leads ---------------------------------------------------------------------------------------------
    lead_def = org.object_def("Lead")
    assert lead_def is not None
    lead_rows = _Rows(lead_def)
    lead_ids = org.reserve_ids("Lead", leads)
    rows = []
    for index, lead_id in enumerate(lead_ids):
        roll = rng.random()
        created, modified, stamp = stamps()
        values: dict[str, Any] = {
            "Status": rng.choice(OPEN_LEAD_STATUSES),
            "LeadSource": rng.choice(LEAD_SOURCES),
            "Title": rng.choice(TITLES),
        }
        owner = rng.choice(user_ids)
        if contacts and roll < converted_share + duplicate_share:
            contact = rng.randrange(contacts)
            first, last, known_email, linkedin, account = people[contact]
            company = account_info[account][0] if account >= 0 else f"{last} Consulting"
            values.update(FirstName=first, LastName=last, Company=company, LinkedIn_URL__c=linkedin)
            if roll < converted_share:
                values.update(
                    Email=known_email,
                    IsConverted=True,
                    Status="Closed - Converted",
                    ConvertedContactId=contact_ids[contact],
                    ConvertedAccountId=account_ids[account] if account >= 0 else None,
                    ConvertedDate=created[:10],
                )
            elif linkedin and (known_email is None or rng.random() < 0.35):
                # Same person by LinkedIn, personal e-mail, URL spelled differently.
                handle = linkedin.rstrip("/").rsplit("/", 1)[-1]
                values.update(
                    Email=f"{first}{last}{index}@gmail.com".lower(),
                    LinkedIn_URL__c=rng.choice(
                        [
                            f"http://linkedin.com/in/{handle}/",
                            f"https://linkedin.com/in/{handle}",
                            f"www.linkedin.com/in/{handle}",
                        ]
                    ),
                )
            elif known_email is not None:
                # Same person by e-mail, typed differently.
                local, _, domain = known_email.partition("@")
                values["Email"] = rng.choice(
                    [
                        known_email.upper(),
                        f" {known_email}",
                        f"{known_email} ",
                        f"{local.title()}@{domain}",
                        f"{local}@{domain.upper()}",
                    ]
                )
        else:
            first, last = rng.choice(FIRST), rng.choice(LAST)
            if accounts and rng.random() < 0.3:
                name, domain, _, city, country = account_info[rng.randrange(accounts)]
            else:
                name = f"{rng.choice(WORDS)} {rng.choice(SUFFIXES)}"
                domain = f"{name.split()[0].lower()}-{index}.{rng.choice(TLDS)}"
                city, country = rng.choice(CITIES)
            values.update(
                FirstName=first,
                LastName=last,
                Company=name,
                Email=f"{first}.{last}@{domain}".lower() if rng.random() < 0.9 else None,
                Website=domain,
                **_address(extra, "", city, country),
                Industry=rng.choice(INDUSTRIES) if rng.random() < 0.6 else None,
                NumberOfEmployees=rng.choice([10, 50, 200, 1000, None]),
            )
            if rng.random() < 0.5:
                values["LinkedIn_URL__c"] = f"https://www.linkedin.com/in/{first}-{last}-l{index:x}".lower()
        values["Name"] = f"{values['FirstName']} {values['LastName']}"
        rows.append(lead_rows.make(lead_id, created, modified, stamp, owner, **values))
    org.load_rows("Lead", rows)

    # Opportunities -------------------------------------------------------------------------------------
    opportunity_def = org.object_def("Opportunity")
    assert opportunity_def is not None
    opportunity_rows = _Rows(opportunity_def)
    opportunity_ids = org.reserve_ids("Opportunity", opportunities if accounts else 0)
    opportunity_accounts: list[int] = []
    open_stages = [stage for stage in STAGES if not stage[2]]
    rows = []
    for opportunity_id in opportunity_ids:
        account = rng.randrange(accounts)
        opportunity_accounts.append(account)
        roll = rng.random()
        stage = STAGES[8] if roll < 0.25 else STAGES[9] if roll < 0.45 else rng.choice(open_stages)
        name, _, owner, _, _ = account_info[account]
        created, modified, stamp = stamps()
        offset = rng.randrange(1, 200)
        close = (now - timedelta(days=offset)) if stage[2] else (now + timedelta(days=offset))
        rows.append(
            opportunity_rows.make(
                opportunity_id,
                created,
                modified,
                stamp,
                owner,
                Name=f"{name} - {rng.choice(PRODUCTS)}",
                AccountId=account_ids[account],
                StageName=stage[0],
                Amount=float(rng.choice([5, 12, 25, 40, 75, 120, 250]) * 1000),
                Probability=float(stage[1]),
                CloseDate=close.date().isoformat(),
                Type=rng.choice(OPPORTUNITY_TYPES),
                LeadSource=rng.choice(LEAD_SOURCES),
                IsClosed=stage[2],
                IsWon=stage[3],
            )
        )
    org.load_rows("Opportunity", rows)

    # Activities ----------------------------------------------------------------------------------------
    def who_what() -> tuple[str | None, str | None]:
        if leads and (not contacts or rng.random() < 0.3):
            return lead_ids[rng.randrange(leads)], None
        if not contacts:
            return None, None
        contact = rng.randrange(contacts)
        account = people[contact][4]
        what = account_ids[account] if account >= 0 else None
        if opportunity_ids and rng.random() < 0.3:
            what = opportunity_ids[rng.randrange(len(opportunity_ids))]
        return contact_ids[contact], what

    task_def = org.object_def("Task")
    assert task_def is not None
    task_rows = _Rows(task_def)
    rows = []
    for task_id in org.reserve_ids("Task", tasks):
        who, what = who_what()
        day = now + timedelta(days=rng.randrange(-300, 30))
        rows.append(
            task_rows.make(
                task_id,
                *stamps(),
                rng.choice(user_ids),
                Subject=rng.choice(TASK_SUBJECTS),
                Status="Completed" if day < now and rng.random() < 0.8 else rng.choice(["Not Started", "In Progress"]),
                Priority=rng.choice(PRIORITIES),
                TaskSubtype=rng.choice(["Task", "Email", "Call"]),
                ActivityDate=day.date().isoformat(),
                WhoId=who,
                WhatId=what,
            )
        )
    org.load_rows("Task", rows)

    event_def = org.object_def("Event")
    assert event_def is not None
    event_rows = _Rows(event_def)
    rows = []
    for event_id in org.reserve_ids("Event", events):
        who, what = who_what()
        start = (now + timedelta(days=rng.randrange(-300, 30))).replace(minute=0, second=0) + timedelta(
            hours=rng.randrange(-4, 5)
        )
        duration = rng.choice([15, 30, 45, 60, 90])
        rows.append(
            event_rows.make(
                event_id,
                *stamps(),
                rng.choice(user_ids),
                Subject=rng.choice(EVENT_SUBJECTS),
                StartDateTime=format_datetime(start),
                EndDateTime=format_datetime(start + timedelta(minutes=duration)),
                ActivityDate=start.date().isoformat(),
                DurationInMinutes=duration,
                Location=rng.choice(["Zoom", "Google Meet", "Customer office", None]),
                WhoId=who,
                WhatId=what,
            )
        )
    org.load_rows("Event", rows)
    return org

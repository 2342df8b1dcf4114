"""The demo's sample CSV: people as a trade-show export has them, duplicates and mistakes included.

Deterministic for a seed, so the shipped file can be checked against this generator.
"""

from __future__ import annotations

import csv
import io
import random

FIRST = """Ada Alan Anna Ben Carla Chen Dana David Elena Emma Farid Grace Hana Ivan Jonas Julia Kai Karin Leo Lina
Marco Maria Mei Nadia Noah Olga Omar Paula Priya Raj Rosa Sam Sara Tariq Tom Uma Vera Wei Yusuf Zoe""".split()
LAST = """Adams Baker Costa Dubois Evans Fischer Garcia Hughes Ivanova Jensen Kim Lopez Martin Nakamura Novak
Okafor Patel Quinn Rossi Schmidt Silva Tanaka Turner Umar Varga Wagner Weber Xu Yamada Zhang""".split()
COMPANY_WORDS = """Acme Apex Blue Bright Cedar Cloud Core Delta Echo Ember Flux Granite Harbor Helix Iron Juno
Kite Lumen Maple Nova Orbit Pine Quantum Ridge Sage Summit Terra Union Vertex Zephyr""".split()
COMPANY_SUFFIX = ["Labs", "Systems", "Analytics", "Software", "Health", "Logistics", "Capital", "Robotics"]
TLDS = ["com", "io", "co", "ai", "de", "co.uk", "fr"]
TITLES = [
    "CEO",
    "CTO",
    "VP of Sales",
    "Head of Marketing",
    "Senior Software Engineer",
    "Data Engineer",
    "RevOps Manager",
    "Account Executive",
    "Director of Operations",
    "Product Manager",
]
CITIES = [("Berlin", "DE"), ("London", "GB"), ("Paris", "FR"), ("New York", "US"), ("Austin", "US"), ("Toronto", "CA")]
HEADER = ["Registrant ID", "Email", "First Name", "Last Name", "Title", "Company", "LinkedIn", "City", "Country"]


def sample_people_csv(seed: int = 2026, people: int = 4200) -> str:
    """About 5,000 rows: 4,200 people, then rows that repeat them the ways real exports do."""
    rng = random.Random(seed)
    companies = []
    for index in range(320):
        name = f"{rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_SUFFIX)}"
        domain = f"{name.split()[0].lower()}{name.split()[1].lower()}{index}.{rng.choice(TLDS)}"
        companies.append((name, domain))
    persons = []
    for index in range(people):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        company, domain = rng.choice(companies)
        slug = f"{first}-{last}-{index:04x}".lower()
        city, country = rng.choice(CITIES)
        persons.append(
            {
                "Email": f"{first}.{last}{index}@{domain}".lower(),
                "First Name": first,
                "Last Name": last,
                "Title": rng.choice(TITLES),
                "Company": company,
                "LinkedIn": f"https://www.linkedin.com/in/{slug}/",
                "City": city,
                "Country": country,
            }
        )
    rows: list[list[str]] = []

    def add(person: dict[str, str], **changes: str) -> None:
        values = {**person, **changes}
        rows.append([f"R{len(rows) + 1:05d}", *(values[column] for column in HEADER[1:])])

    for person in persons:
        add(person)
    for person in rng.sample(persons, 350):  # same e-mail, different case and stray spaces
        add(person, Email=f"  {person['Email'].title()} ", LinkedIn="")
    for person in rng.sample(persons, 250):  # same LinkedIn URL written differently, personal e-mail
        slug = person["LinkedIn"].rstrip("/").rsplit("/", 1)[1]
        personal = f"{person['First Name']}.{person['Last Name']}.{rng.randrange(99)}@gmail.com".lower()
        add(person, LinkedIn=f"linkedin.com/in/{slug.upper()}", Email=personal)
    for person in rng.sample(persons, 120):  # a role mailbox shared by a team: never used to match
        add(person, Email=f"info@{person['Email'].split('@')[1]}", LinkedIn="")
    bridged = []
    for index in range(150):  # the same person twice with nothing in common, then a record with both
        first, last = rng.choice(FIRST), rng.choice(LAST)
        company, domain = rng.choice(companies)
        person = {
            "Email": f"{first[0]}{last}.b{index}@{domain}".lower(),
            "First Name": first,
            "Last Name": last,
            "Title": rng.choice(TITLES),
            "Company": company,
            "LinkedIn": f"https://linkedin.com/in/{first}{last}-b{index}".lower(),
            "City": "",
            "Country": "",
        }
        add(person, LinkedIn="")
        add(person, Email="", Title="")
        bridged.append(person)
    for person in bridged:
        add(person, LinkedIn=person["LinkedIn"].replace("https://", "http://www.") + "/")
    for index in range(12):  # typos an export carries
        add(rng.choice(persons), Email=f"broken{index}@@example")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    for index in range(6):  # rows with a stray extra column
        out.write(f"X{index:04d},extra{index}@acme.com,Extra,Row,CEO,Acme,,Paris,FR,oops\n")
    return out.getvalue()

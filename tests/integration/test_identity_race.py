"""Many writers at once (as many Lambdas would be) never create two profiles for one alias."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor

from ulid import ULID

from roster.identity.resolver import Resolver
from roster.profiles.fields import Kind
from roster.profiles.model import IncomingRecord, Outcome
from roster.store.profiles import ProfileStore
from roster_dev.local.stack import LocalStack
from tests.integration.test_identity_invariants import check_one_profile_per_alias, expected_groups, groups_of

WORKERS = 12


def people(count: int) -> list[IncomingRecord]:
    """Records that collide on purpose: shared e-mails, shared LinkedIn URLs and bridges."""
    chooser = random.Random(7)
    records = []
    for index in range(count):
        fields: dict[str, object] = {"job_title": chooser.choice(["CEO", "VP Sales", "Engineer"])}
        person = chooser.randrange(15)
        if chooser.random() < 0.7:
            fields["email"] = f"p{person}@acme.com"
        if chooser.random() < 0.5 or "email" not in fields:
            fields["linkedin_url"] = f"https://linkedin.com/in/p{(person + chooser.randrange(2)) % 15}"
        records.append(IncomingRecord(f"src{index % 3}", "people", f"r{index}", "2024-01-01T00:00:00.000000Z", fields))
    return records


def test_concurrent_writers_converge_to_one_profile_per_identity(stack: LocalStack) -> None:
    workspace = f"race-{ULID()}".lower()
    records = people(120)
    slices = [records[i::WORKERS] for i in range(WORKERS)]
    # every worker also re-sends a few records of another worker, so identical records race too
    work = [chunk + slices[(i + 1) % WORKERS][:3] for i, chunk in enumerate(slices)]

    def run(chunk: list[IncomingRecord]) -> list[Outcome]:
        resolver = Resolver(ProfileStore(), workspace, Kind.PEOPLE)
        return [resolver.upsert([record])[0].outcome for record in chunk]

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        outcomes = [outcome for result in pool.map(run, work) for outcome in result]

    assert Outcome.MERGED in outcomes or Outcome.UPDATED in outcomes
    check_one_profile_per_alias(workspace, records)
    assert groups_of(workspace) == expected_groups(records)

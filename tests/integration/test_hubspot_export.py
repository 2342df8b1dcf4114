"""The HubSpot export end to end: profiles in moto DynamoDB, the import and export syncs on the connector core,
hubspot-api-client against the emulator over HTTPS.

Each rule (never / always / fill blank), segment membership written to a property and cleared on exit, creating
records by upsert (contacts by e-mail, companies by a unique Roster-id property, no duplicate on a second run),
a 207 answer whose refused record is kept with HubSpot's reason and written by the next export, a preview that
writes nothing, export rules refused on calculated and read-only properties, and incremental runs that send
nothing for records with nothing new.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ulid import ULID

from roster import aws
from roster.connectors.core.export import ExportRefused
from roster.connectors.core.mapping import ExportRule, FieldMapping, MappingError
from roster.connectors.core.state import Status
from roster.connectors.hubspot.export_store import ExportObject, ExportRun, ExportSettings, ExportStore
from roster.connectors.hubspot.exporter import HubSpotExport
from roster.connectors.hubspot.importer import HubSpotSync
from roster.connectors.hubspot.store import HubSpotStore
from roster.identity.aliases import record_alias
from roster.identity.resolver import resolver_for
from roster.profiles.fields import Kind
from roster.profiles.model import IncomingRecord, Profile
from roster.profiles.values import utc_now
from roster.segments.events import MembershipEvent
from roster.store.profiles import ProfileStore
from roster.store.segments import SegmentStore
from roster.store.workspaces import WorkspaceStore
from roster_dev.emulators.hubspot import HubSpotEmulator, ManualClock, generate_portal
from roster_dev.emulators.hubspot.portal import Record
from roster_dev.emulators.hubspot.schema import PropertyDef
from roster_dev.local.stack import LocalStack
from tests.integration.test_hubspot_sync import make_sync
from tests.runs import run_to_end

START = datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC)


@pytest.fixture
def hs() -> Iterator[HubSpotEmulator]:
    portal = generate_portal(7, contacts=30, companies=6, deals=0, clock=ManualClock(START), duplicate_share=0.0)
    portal.add_property("contacts", PropertyDef("icp_member", "ICP member", "bool"))
    portal.add_property("contacts", PropertyDef("roster_tier", "Tier", "enumeration", ("tier1", "tier2")))
    portal.add_property("companies", PropertyDef("roster_id", "Roster id", has_unique_value=True))
    with HubSpotEmulator(portal) as fresh:
        yield fresh


@pytest.fixture
def export(hs: HubSpotEmulator, stack: LocalStack) -> HubSpotExport:
    aws.clients()
    return HubSpotExport(ExportStore(), make_sync(hs, HubSpotStore()), ProfileStore(), SegmentStore())


def importer(export: HubSpotExport) -> HubSpotSync:
    assert isinstance(export.sync, HubSpotSync)
    return export.sync


MAPPING: dict[str, str | FieldMapping] = {
    "email": "email",
    "firstname": "first_name",
    "lastname": FieldMapping(field="last_name", export=ExportRule.FILL_BLANK),
    "jobtitle": FieldMapping(field="job_title", export=ExportRule.ALWAYS),
    "phone": FieldMapping(field="phone", export=ExportRule.FILL_BLANK),
    "city": FieldMapping(field="city", export=ExportRule.NEVER),
}


def setup_workspace(
    export: HubSpotExport,
    mapping: dict[str, str | FieldMapping] | None = None,
    obj: ExportObject = "contacts",
    settings: ExportSettings | None = None,
) -> str:
    """A workspace with the object's import on, the mapping saved, and export sync on."""
    workspace = f"hx-{str(ULID()).lower()}"
    importer(export).enable(workspace, obj)
    importer(export).set_mapping(workspace, obj, mapping or MAPPING)
    export.configure(workspace, obj, settings or ExportSettings(enabled=True))
    return workspace


def run_export(export: HubSpotExport, workspace: str, obj: ExportObject = "contacts") -> ExportRun:
    return run_to_end(export, export.start(workspace, obj))


def with_email(hs: HubSpotEmulator) -> list[Record]:
    return [record for record in hs.portal.live("contacts") if record.properties.get("email")]


def held(hs: HubSpotEmulator, obj: str, record_id: int | str) -> dict[str, str]:
    """A record's properties as HubSpot holds them now."""
    return hs.portal.get(obj, record_id).properties


def enrich(workspace: str, email: str, **values: Any) -> None:
    """What an enrichment (a newer source than the CRM) says about a person."""
    resolver = resolver_for(ProfileStore(), WorkspaceStore(), workspace, Kind.PEOPLE)
    resolver.upsert([IncomingRecord("enrichment", "people", email, utc_now(), {"email": email, **values})])


def person(workspace: str, contact_id: int | str) -> Profile:
    found = ProfileStore().lookup(workspace, Kind.PEOPLE, record_alias("hubspot", "contacts", str(contact_id)))
    assert found is not None
    return found


def test_rules_write_only_what_they_allow_a_preview_writes_nothing_and_unchanged_records_are_not_resent(
    hs: HubSpotEmulator, export: HubSpotExport
) -> None:
    rows = with_email(hs)
    blank_phone, kept_phone, titled = rows[0], rows[1], rows[2]
    hs.portal.update("contacts", blank_phone.id, {"phone": ""})
    hs.portal.update("contacts", kept_phone.id, {"phone": "+1 415 555 0100", "city": "Paris"})
    workspace = setup_workspace(export)
    first = run_export(export, workspace)  # the import runs first: nothing differs yet
    assert first.status is Status.SUCCEEDED and first.full
    assert first.counts.updated == 0 and first.batches == 0
    assert first.counts.unchanged == len(hs.portal.live("contacts"))

    enrich(workspace, blank_phone.properties["email"], phone="+14155550199")
    enrich(workspace, kept_phone.properties["email"], phone="+14155550123", city="Lyon")
    enrich(workspace, titled.properties["email"], job_title="VP Revenue Operations")
    before = dict(hs.calls_by_kind)
    preview = export.preview(workspace, "contacts")
    planned = {write.hubspot_id: {change.property: change for change in write.changes} for write in preview.writes}
    assert set(planned) == {str(blank_phone.id), str(titled.id)}
    phone = planned[str(blank_phone.id)]["phone"]
    assert (phone.rule, phone.old, phone.new) == ("fill_blank", None, "+14155550199")
    title = planned[str(titled.id)]["jobtitle"]
    assert (title.rule, title.new) == ("always", "VP Revenue Operations")
    assert not preview.full and not preview.more
    assert hs.calls_by_kind == before  # a preview reads Roster only: no call, nothing written
    assert not held(hs, "contacts", blank_phone.id).get("phone")

    second = run_export(export, workspace)
    assert second.status is Status.SUCCEEDED and not second.full
    assert second.counts.updated == 2 and second.counts.rejected == 0 and second.batches == 1
    assert second.api_calls >= 1
    assert held(hs, "contacts", blank_phone.id)["phone"] == "+14155550199"  # fill blank: it was blank
    kept = held(hs, "contacts", kept_phone.id)
    assert kept["phone"] == "+1 415 555 0100"  # fill blank never overwrites a value
    assert kept["city"] == "Paris"  # never write: never sent
    assert held(hs, "contacts", titled.id)["jobtitle"] == "VP Revenue Operations"  # always

    third = run_export(export, workspace)  # nothing new: the refresh import reads our writes back
    assert third.status is Status.SUCCEEDED
    assert third.counts.updated == third.counts.created == 0 and third.batches == 0
    assert hs.calls_by_kind["batch_update"] == before.get("batch_update", 0) + 1

    now = datetime.now(UTC)  # every 24 hours by default
    assert (workspace, "contacts") not in export.due(now)
    assert (workspace, "contacts") in export.due(now + timedelta(hours=24))


def test_segment_membership_is_written_to_a_property_and_cleared_on_exit(
    hs: HubSpotEmulator, export: HubSpotExport
) -> None:
    segment = f"seg-{str(ULID()).lower()}"
    mapping = {
        **MAPPING,
        "icp_member": FieldMapping(field="icp_member", segment=segment),
        "roster_tier": FieldMapping(field="roster_tier", segment=segment, member_value="tier1"),
    }
    workspace = setup_workspace(export, mapping)
    run_export(export, workspace)
    rows = with_email(hs)[:3]
    members = [person(workspace, row.id).profile_id for row in rows]

    def changes(ids: list[str]) -> list[MembershipEvent]:
        return [
            MembershipEvent(workspace=workspace, segment_id=segment, kind=Kind.PEOPLE, profile_id=pid, time=utc_now())
            for pid in ids
        ]

    for profile_id in members:
        export.segments.enter(workspace, segment, Kind.PEOPLE, profile_id)
    assert export.note_membership_changes(changes(members)) == 3
    entered = run_export(export, workspace)
    assert entered.counts.updated == 3 and entered.counts.rejected == 0
    for row in rows:
        assert held(hs, "contacts", row.id)["icp_member"] == "true"
        assert held(hs, "contacts", row.id)["roster_tier"] == "tier1"

    export.segments.exit(workspace, segment, members[0])
    export.note_membership_changes(changes(members[:1]))
    exited = run_export(export, workspace)
    assert exited.counts.updated == 1
    assert held(hs, "contacts", rows[0].id)["icp_member"] == "false"
    assert not held(hs, "contacts", rows[0].id).get("roster_tier")
    assert held(hs, "contacts", rows[1].id)["roster_tier"] == "tier1"


def test_create_new_upserts_contacts_by_email_and_companies_by_roster_id_without_duplicates(
    hs: HubSpotEmulator, export: HubSpotExport
) -> None:
    workspace = setup_workspace(export, settings=ExportSettings(enabled=True, create_new=True))
    with pytest.raises(ExportRefused, match=r"domain.*not unique"):
        export.configure(workspace, "companies", ExportSettings(enabled=True, create_new=True, id_property="domain"))
    importer(export).enable(workspace, "companies")
    importer(export).set_mapping(
        workspace, "companies", {"name": FieldMapping(field="name", export=ExportRule.FILL_BLANK), "domain": "domain"}
    )
    export.configure(workspace, "companies", ExportSettings(enabled=True, create_new=True))
    run_export(export, workspace, "companies")
    run_export(export, workspace)

    companies = resolver_for(ProfileStore(), WorkspaceStore(), workspace, Kind.COMPANIES)
    companies.upsert([IncomingRecord("csv", "companies", "n1", utc_now(), {"domain": "newco.io", "name": "Newco"})])
    enrich(workspace, "ada@newco.io", first_name="Ada", job_title="CTO", company_domain="newco.io")

    made = run_export(export, workspace, "companies")
    assert made.counts.created == 1 and made.counts.rejected == 0
    company = next(r for r in hs.portal.live("companies") if r.properties.get("roster_id"))
    assert company.properties["name"] == "Newco"
    company_profile = ProfileStore().lookup(
        workspace, Kind.COMPANIES, record_alias("hubspot", "companies", str(company.id))
    )
    assert company_profile is not None and company.properties["roster_id"] == company_profile.profile_id

    created = run_export(export, workspace)
    assert created.counts.created == 1 and created.counts.rejected == 0
    contact = [r for r in hs.portal.live("contacts") if r.properties.get("email") == "ada@newco.io"]
    assert len(contact) == 1 and contact[0].properties["jobtitle"] == "CTO"
    assert person(workspace, contact[0].id).fields.get("email") == "ada@newco.io"  # linked to its profile
    assert company.id in hs.portal.associations("contacts", contact[0].id, "companies")

    again = run_export(export, workspace)  # linked now: nothing to create, nothing to change
    assert again.counts.created == 0 and again.batches == 0
    assert len([r for r in hs.portal.live("contacts") if r.properties.get("email") == "ada@newco.io"]) == 1
    assert len([r for r in hs.portal.live("companies") if r.properties.get("roster_id")]) == 1


def test_a_207_keeps_the_refused_record_with_its_reason_and_the_next_export_writes_it(
    hs: HubSpotEmulator, export: HubSpotExport
) -> None:
    mapping = {**MAPPING, "customer_tier": FieldMapping(field="customer_tier", export=ExportRule.ALWAYS)}
    workspace = setup_workspace(export, mapping)
    run_export(export, workspace)
    good, bad = with_email(hs)[:2]
    tier = next(tier for tier in ("gold", "silver") if tier != good.properties.get("customer_tier"))
    enrich(workspace, good.properties["email"], customer_tier=tier)
    enrich(workspace, bad.properties["email"], customer_tier="platinum")

    partial = run_export(export, workspace)
    assert partial.status is Status.SUCCEEDED
    assert partial.counts.updated == 1 and partial.counts.rejected == 1 and partial.batches == 1
    assert held(hs, "contacts", good.id)["customer_tier"] == tier
    [refused] = partial.rejections
    assert refused.hubspot_id == str(bad.id) and refused.profile_id == person(workspace, bad.id).profile_id
    assert refused.code == "VALIDATION_ERROR" and refused.fields == ["customer_tier"]
    assert "platinum" in refused.message

    hs.portal.properties["contacts"]["customer_tier"].options += ("platinum",)  # fixed in HubSpot
    retried = run_export(export, workspace)  # nothing changed in Roster: the refused record is retried
    assert retried.counts.updated == 1 and retried.counts.rejected == 0
    assert held(hs, "contacts", bad.id)["customer_tier"] == "platinum"
    assert run_export(export, workspace).counts.updated == 0  # and not again


def test_export_rules_on_calculated_or_read_only_properties_are_refused_with_the_reason(
    hs: HubSpotEmulator, export: HubSpotExport
) -> None:
    sync, workspace = importer(export), f"hx-{str(ULID()).lower()}"
    with pytest.raises(MappingError, match=r"contacts\.hs_email_domain is calculated"):
        sync.set_mapping(workspace, "contacts", {"hs_email_domain": FieldMapping(field="x", export=ExportRule.ALWAYS)})
    with pytest.raises(MappingError, match=r"hs_email_optout is read-only"):
        sync.set_mapping(
            workspace, "contacts", {"hs_email_optout": FieldMapping(field="y", export=ExportRule.FILL_BLANK)}
        )
    with pytest.raises(MappingError, match="deals are import-only"):
        sync.set_mapping(workspace, "deals", {"amount": FieldMapping(field="amount", export=ExportRule.ALWAYS)})
    with pytest.raises(MappingError, match="not one of its options"):
        sync.set_mapping(
            workspace, "contacts", {"roster_tier": FieldMapping(field="t", segment="s", member_value="tier9")}
        )
    assert sync.store.mapping(workspace, "contacts") is None  # nothing saved
    # importing such a property stays possible
    saved = sync.set_mapping(workspace, "contacts", {"hs_email_domain": "email_domain"})
    assert saved.fields["hs_email_domain"].export is ExportRule.NEVER


def test_records_hubspot_merged_away_are_never_written(hs: HubSpotEmulator, export: HubSpotExport) -> None:
    portal = hs.portal
    first = portal.create("contacts", {"email": "ada@merge-example.org", "firstname": "Ada", "phone": ""})
    second = portal.create("contacts", {"email": "ada.l@merge-example.org", "phone": "+1 212 555 0100"})
    workspace = setup_workspace(export)
    run_export(export, workspace)
    clock = portal.clock
    assert isinstance(clock, ManualClock)
    clock.advance(60)
    survivor = portal.merge("contacts", second.id, first.id)  # HubSpot keeps the primary's phone
    clock.advance(20 * 60)
    enrich(workspace, "ada@merge-example.org", phone="+14155550111", job_title="Analyst")
    run = run_export(export, workspace)  # the refresh import follows the merge: one profile, three records
    profile = person(workspace, survivor.id)
    assert {f"hubspot:contacts:{i}" for i in (first.id, second.id, survivor.id)} <= set(profile.records)
    assert run.status is Status.SUCCEEDED and run.counts.rejected == 0
    assert run.counts.updated == 1  # the survivor only (its job title); the merged-away records are skipped
    after = held(hs, "contacts", survivor.id)
    assert after["jobtitle"] == "Analyst"
    assert after["phone"] == "+1 212 555 0100"  # fill blank: the survivor's phone is kept

"""What an export writes: per linked CRM record, the fields the rules allow and that would change.

The comparison is against the CRM value last seen: the CRM record's snapshot inside the profile, which
the import keeps (and refreshes just before an export). Values on both sides are canonical (the import reads
CRM values through the same coercion as every source), so a mere formatting difference never causes a
write. Rules (DESIGN.md, invariant 6):

- *never write*: never sent, whatever the values;
- *always write*: sent when Roster has a value and it differs from the CRM's (Roster never blanks a CRM field);
- *fill blank only*: sent only when the CRM field is blank and Roster has a value;
- a segment's field: set while the profile is a member (checkbox true, or the member value), cleared otherwise.

A record with nothing to change is not sent at all. A new record (create-new) gets every field whose rule is
not *never* and that Roster has a value for, plus the Roster id in the external-id field. `ExportPlanner` reads
the profiles an export considers (changed since the last export, plus the pending ones: membership changes and
records the CRM refused last time) and plans them a page at a time; the adapter sends what it plans.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

from pydantic import BaseModel

from roster.connectors.core.mapping import ExportRule, FieldMapping
from roster.connectors.core.state import ExportCounts
from roster.identity.aliases import record_alias
from roster.profiles.fields import Kind
from roster.profiles.model import Profile, SourceRecord
from roster.profiles.model import Status as ProfileStatus
from roster.store.profiles import ProfileStore
from roster.store.segments import SegmentStore

Why = Literal["always", "fill_blank", "segment"]
BOOLEAN_TYPES = frozenset({"boolean", "bool"})  # a checkbox: Salesforce's and HubSpot's names for it


@dataclass(frozen=True)
class FieldChange:
    salesforce_field: str
    field: str
    old: Any
    new: Any
    rule: Why
    segment: str | None = None


@dataclass(frozen=True)
class PlannedWrite:
    """One record to send: an update of a linked record, or (no salesforce_id) a record to create."""

    profile_id: str
    salesforce_id: str | None
    changes: tuple[FieldChange, ...]
    account_id: str | None = None  # a person to create: the CRM company record of their company, when linked

    def values(self) -> dict[str, Any]:
        """The Roster values written, as the CRM record's snapshot should hold them afterwards."""
        return {change.field: change.new for change in self.changes}


def linked_records(profile: Profile, source: str, obj: str) -> list[SourceRecord]:
    """The profile's records of one CRM object (a person can be two Contacts that Roster merged)."""
    return [
        record for key, record in sorted(profile.records.items()) if record.source == source and record.object == obj
    ]


def _member_value(field: FieldMapping, member: bool) -> Any:
    if field.sf_type in BOOLEAN_TYPES:
        return member
    return field.member_value if member else None


def _blank(value: Any) -> bool:
    return value is None or value == "" or value == []


def _change(name: str, field: FieldMapping, wanted: Any, old: Any, members: Collection[str]) -> FieldChange | None:
    if field.segment is not None:
        new = _member_value(field, field.segment in members)
        seen = bool(old) if field.sf_type in BOOLEAN_TYPES else (None if _blank(old) else old)
        return FieldChange(name, field.field, seen, new, "segment", field.segment) if new != seen else None
    if _blank(wanted):
        return None
    if field.export is ExportRule.ALWAYS and wanted != old:
        return FieldChange(name, field.field, old, wanted, "always")
    if field.export is ExportRule.FILL_BLANK and _blank(old):
        return FieldChange(name, field.field, old, wanted, "fill_blank")
    return None


def plan_update(
    profile: Profile, record: SourceRecord, fields: Mapping[str, FieldMapping], members: Collection[str]
) -> PlannedWrite | None:
    """What to write to one linked record, or None when nothing would change."""
    changes = [
        change
        for name, field in fields.items()
        if (change := _change(name, field, profile.fields.get(field.field), record.values.get(field.field), members))
    ]
    return PlannedWrite(profile.profile_id, record.record_id, tuple(changes)) if changes else None


def plan_create(
    profile: Profile, fields: Mapping[str, FieldMapping], members: Collection[str], account_id: str | None = None
) -> PlannedWrite:
    """A new record for a profile the CRM does not have yet (blank on the CRM side)."""
    changes = [
        change
        for name, field in fields.items()
        if (change := _change(name, field, profile.fields.get(field.field), None, members)) and change.new is not None
    ]
    return PlannedWrite(profile.profile_id, None, tuple(changes), account_id)


class ChangeView(BaseModel):
    salesforce_field: str
    field: str
    old: Any
    new: Any
    rule: str
    segment: str | None = None


class WriteView(BaseModel):
    """One record a preview says would be written: create or update, and each field old → new with its rule."""

    profile_id: str
    salesforce_id: str | None
    action: str
    changes: list[ChangeView]
    account_id: str | None = None  # a person to create: the company record it will belong to


def view(write: PlannedWrite) -> WriteView:
    return WriteView(
        profile_id=write.profile_id,
        salesforce_id=write.salesforce_id,
        action="update" if write.salesforce_id else "create",
        changes=[ChangeView(**asdict(change)) for change in write.changes],
        account_id=write.account_id,
    )


class CreateScope(Protocol):
    """Which profiles without a record get one: none unless on; with a segment, only its members."""

    @property
    def create_new(self) -> bool: ...
    @property
    def create_segment(self) -> str | None: ...


@dataclass(frozen=True)
class ObjectRules:
    """What the planner must know of one CRM object: its source, and for people, their company's object (a
    created record belongs to it) and the objects whose record means the person is there already."""

    source: str
    obj: str
    company_object: str | None = None
    already: tuple[str, ...] = ()


@dataclass
class Plan:
    """The records planned from some profiles: updates of linked records and records to create."""

    updates: list[PlannedWrite] = field(default_factory=list)
    creates: list[tuple[PlannedWrite, str]] = field(default_factory=list)  # with an alias the profile holds
    counts: ExportCounts = field(default_factory=ExportCounts)
    profile_ids: set[str] = field(default_factory=set)


@dataclass
class ExportPlanner:
    """Plans exports from the profiles and segment memberships of a workspace."""

    profiles: ProfileStore
    segments: SegmentStore
    page_profiles: int

    def candidates(
        self, workspace: str, kind: Kind, since: str | None, pending: Callable[[], Iterable[tuple[str, str]]]
    ) -> Iterator[list[Profile]]:
        """The profiles an export considers, a page at a time, from the start (no `since`: every active one)."""
        cursor: str | None = None
        while True:
            page = self.profiles.page(
                workspace,
                kind,
                status=ProfileStatus.ACTIVE,
                changed_since=since,
                cursor=cursor,
                limit=self.page_profiles,
            )
            yield page.profiles
            if page.cursor is None:
                break
            cursor = page.cursor
        if since is not None:
            yield from self.pending_pages(workspace, kind, pending())

    def pending_pages(self, workspace: str, kind: Kind, pending: Iterable[tuple[str, str]]) -> Iterator[list[Profile]]:
        """The active profiles of pending (profile id, noted at) entries, a page at a time."""
        ids: list[str] = []
        for profile_id, _ in pending:
            ids.append(profile_id)
            if len(ids) == self.page_profiles:
                yield self._active(workspace, kind, ids)
                ids = []
        if ids:
            yield self._active(workspace, kind, ids)

    def _active(self, workspace: str, kind: Kind, ids: list[str]) -> list[Profile]:
        found = self.profiles.get_many(workspace, kind, ids)
        return [found[pid] for pid in ids if pid in found and found[pid].status is ProfileStatus.ACTIVE]

    def plan(
        self,
        workspace: str,
        rules: ObjectRules,
        scope: CreateScope,
        fields: Mapping[str, FieldMapping],
        profiles: list[Profile],
        skip: set[str] | None = None,
    ) -> Plan:
        plan = Plan()
        profiles = [profile for profile in profiles if not skip or profile.profile_id not in skip]
        ids = [profile.profile_id for profile in profiles]
        wanted = {each.segment for each in fields.values() if each.segment}
        if scope.create_new and scope.create_segment:
            wanted.add(scope.create_segment)
        members = {segment: self.segments.members_among(workspace, segment, ids) for segment in sorted(wanted)}
        new: list[tuple[Profile, set[str]]] = []
        for profile in profiles:
            plan.counts.considered += 1
            plan.profile_ids.add(profile.profile_id)
            of_profile = {segment for segment, inside in members.items() if profile.profile_id in inside}
            records = linked_records(profile, rules.source, rules.obj)
            for record in records:
                write = plan_update(profile, record, fields, of_profile)
                if write is None:
                    plan.counts.unchanged += 1
                else:
                    plan.updates.append(write)
            if not records and _creates(rules, scope, profile, of_profile):
                new.append((profile, of_profile))
        companies = self._companies(workspace, rules, [profile for profile, _ in new])
        for profile, of_profile in new:
            held = profile.records[min(profile.records)]  # any record the profile holds names it
            alias = record_alias(held.source, held.object, held.record_id)
            company = companies.get(str(profile.fields.get("company_domain")))
            plan.creates.append((plan_create(profile, fields, of_profile, company), alias))
        return plan

    def _companies(self, workspace: str, rules: ObjectRules, people: list[Profile]) -> dict[str, str]:
        """Company domain → the CRM record of that company, so a created person is not left orphaned."""
        if rules.company_object is None:
            return {}
        company_object = rules.company_object
        domains = {str(domain) for person in people if (domain := person.fields.get("company_domain"))}
        companies = self.profiles.companies_by_domain(workspace, domains) if domains else {}
        linked = {
            domain: linked_records(company, rules.source, company_object) for domain, company in companies.items()
        }
        return {domain: records[0].record_id for domain, records in linked.items() if records}


def _creates(rules: ObjectRules, scope: CreateScope, profile: Profile, members: set[str]) -> bool:
    """Whether create-new applies: on, in scope, and not already in the CRM as another object (a Lead, say)."""
    if not scope.create_new or not profile.records:
        return False
    if scope.create_segment is not None and scope.create_segment not in members:
        return False
    return not any(linked_records(profile, rules.source, obj) for obj in rules.already)

"""Keeping segment membership current: on profile changes, on company changes, and by rebuild.

Every path ends in the same settle step: compare whether a profile matches each segment under
consideration with whether it is in it now, and write only the differences. A profile change
only re-checks the segments whose filters read a field that changed, so most changes cost no
reads at all; archived and merged-away profiles leave every segment.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, TypeAdapter

from roster.profiles.fields import Kind
from roster.profiles.model import Profile, Status
from roster.segments.compiler import CompiledFilter, compile_filter
from roster.segments.filters import COMPANY_PREFIX, Group, catalog_for
from roster.store.profiles import ProfileImage, ProfileStore
from roster.store.segments import Segment, SegmentStore
from roster.store.workspaces import WorkspaceStore, custom_fields

Fields = Mapping[str, Any]
GROUP = TypeAdapter(Group)
CHUNK = 100  # profiles per membership read in a rebuild (one BatchGetItem)


class RecheckCompany(BaseModel):
    """Re-check the people of these company domains against segments that read company fields."""

    type: Literal["company"] = "company"
    workspace: str
    domains: list[str]


class RebuildPart(BaseModel):
    """Recompute one slice (a shard of the workspace's profiles) of a segment's membership."""

    type: Literal["rebuild"] = "rebuild"
    workspace: str
    segment_id: str
    run: str
    part: int
    parts: int
    calendar: bool = False  # the daily run of a segment with relative dates: its entries are news, not a re-save


class DropSegment(BaseModel):
    """Remove every membership of a deleted segment."""

    type: Literal["drop"] = "drop"
    workspace: str
    segment_id: str


SegmentWork = Annotated[RecheckCompany | RebuildPart | DropSegment, Field(discriminator="type")]


@dataclass(frozen=True)
class ProfileChange:
    """A profile before and after a change; `None` when it was or is not active."""

    workspace: str
    kind: Kind
    profile_id: str
    old: Fields | None
    new: Fields | None


@dataclass
class Tally:
    entered: int = 0
    exited: int = 0
    evaluated: int = 0
    skipped: int = 0
    fanned_out: int = 0

    def add(self, other: Tally) -> None:
        for name in ("entered", "exited", "evaluated", "skipped", "fanned_out"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(frozen=True)
class LiveSegment:
    segment_id: str
    kind: Kind
    filter: CompiledFilter


def today() -> date:
    return datetime.now(UTC).date()


def compile_segment(segment: Segment, custom: Mapping[Kind, Mapping[str, Any]], on: date) -> CompiledFilter:
    tree = GROUP.validate_python(segment.filter)
    return compile_filter(tree, catalog_for(segment.kind, custom), on)


@dataclass
class MembershipEngine:
    segments: SegmentStore
    profiles: ProfileStore
    workspaces: WorkspaceStore
    send: Callable[[BaseModel], None]  # puts work on the segment queue
    clock: Callable[[], date] = today
    _compiled: dict[tuple[str, str, str, date], CompiledFilter] = field(default_factory=dict)

    def live_segments(self, workspace: str) -> list[LiveSegment]:
        """The workspace's saved, non-draft segments, each compiled once per edit and per day."""
        on = self.clock()
        custom = custom_fields(self.workspaces, workspace)
        live = []
        for segment in self.segments.in_workspace(workspace):
            if segment.draft:
                continue
            key = (workspace, segment.segment_id, segment.updated_at, on)
            if key not in self._compiled:
                self._compiled[key] = compile_segment(segment, custom, on)
            live.append(LiveSegment(segment.segment_id, segment.kind, self._compiled[key]))
        return live

    # --- profile changes (the profiles table's stream) ---------------------------------------

    def apply_changes(self, changes: Sequence[ProfileChange]) -> Tally:
        tally = Tally()
        by_workspace: dict[str, list[ProfileChange]] = {}
        for change in changes:
            by_workspace.setdefault(change.workspace, []).append(change)
        for workspace, batch in by_workspace.items():
            tally.add(self._apply_workspace(workspace, batch))
        return tally

    def _apply_workspace(self, workspace: str, changes: list[ProfileChange]) -> Tally:
        tally = Tally()
        live = self.live_segments(workspace)
        work: list[tuple[ProfileChange, list[LiveSegment]]] = []
        domains: set[str] = set()
        for change in changes:
            candidates = candidates_for(change, live)
            if change.kind is Kind.COMPANIES:
                recheck = _company_domains_to_recheck(change, live)
                if recheck:
                    self.send(RecheckCompany(workspace=workspace, domains=sorted(recheck)))
                    tally.fanned_out += 1
            if change.new is not None and not candidates:
                tally.skipped += 1
                continue
            work.append((change, candidates))
            if change.new is not None and any(s.filter.reads_company for s in candidates):
                domain = change.new.get("company_domain")
                if isinstance(domain, str):
                    domains.add(domain)
        companies = self._company_fields(workspace, domains)
        present = self.segments.memberships(  # the batch's candidate memberships, read at once
            workspace,
            ((s.segment_id, change.profile_id) for change, candidates in work if change.new for s in candidates),
        )
        for change, candidates in work:
            if change.old is None and change.new is None:
                continue  # changed while archived or merged away: it is in no segment
            if change.new is None:  # archived, merged away or deleted: leave every segment
                current = self.segments.segments_of(workspace, change.kind, change.profile_id)
                tally.add(self._settle(workspace, change.kind, change.profile_id, set(), current))
                continue
            company = companies.get(str(change.new.get("company_domain")), {})
            wanted = {s.segment_id for s in candidates if s.filter.matches(change.new, company)}
            tally.evaluated += len(candidates)
            considered = {s.segment_id for s in candidates if (s.segment_id, change.profile_id) in present}
            tally.add(self._settle(workspace, change.kind, change.profile_id, wanted, considered))
        return tally

    def _company_fields(self, workspace: str, domains: Iterable[str]) -> dict[str, Fields]:
        wanted = set(domains)
        if not wanted:
            return {}
        return {
            domain: profile.fields for domain, profile in self.profiles.companies_by_domain(workspace, wanted).items()
        }

    def _settle(self, workspace: str, kind: Kind, profile_id: str, wanted: set[str], current: set[str]) -> Tally:
        tally = Tally()
        for segment_id in sorted(wanted - current):
            tally.entered += self.segments.enter(workspace, segment_id, kind, profile_id)
        for segment_id in sorted(current - wanted):
            tally.exited += self.segments.exit(workspace, segment_id, profile_id)
        return tally

    # --- company changes fanned out to their people (the segment queue) ----------------------

    def recheck_company(self, work: RecheckCompany) -> Tally:
        tally = Tally()
        readers = [s for s in self.live_segments(work.workspace) if s.kind is Kind.PEOPLE and s.filter.reads_company]
        if not readers:
            return tally
        companies = self._company_fields(work.workspace, work.domains)
        for domain in work.domains:
            ids = list(self.profiles.people_at(work.workspace, domain))
            for start in range(0, len(ids), CHUNK):
                people = self.profiles.get_many(work.workspace, Kind.PEOPLE, ids[start : start + CHUNK])
                present = self.segments.memberships(
                    work.workspace, ((s.segment_id, person_id) for person_id in people for s in readers)
                )
                for person in people.values():
                    company = companies.get(str(person.fields.get("company_domain")), {})
                    tally.add(self._settle_profile(person, readers, company, present))
        return tally

    def _settle_profile(
        self, profile: Profile, segments: list[LiveSegment], company: Fields, present: set[tuple[str, str]]
    ) -> Tally:
        active = profile.status is Status.ACTIVE
        wanted = {s.segment_id for s in segments if active and s.filter.matches(profile.fields, company)}
        considered = {s.segment_id for s in segments if (s.segment_id, profile.profile_id) in present}
        tally = self._settle(profile.workspace, profile.kind, profile.profile_id, wanted, considered)
        tally.evaluated += len(segments)
        return tally

    # --- rebuilds and deletes (the segment queue) --------------------------------------------

    def rebuild_part(self, work: RebuildPart) -> Tally:
        """Recompute one slice of a segment's membership and apply only the difference."""
        tally = Tally()
        segment = self.segments.get(work.workspace, work.segment_id)
        if segment is None or segment.draft or segment.rebuild_run != work.run:
            return tally  # deleted, back to draft, or superseded by a newer edit
        compiled = compile_segment(segment, custom_fields(self.workspaces, work.workspace), self.clock())
        run = None if work.calendar else work.run  # what the entries name: a filter saved, not the calendar
        chunk: list[ProfileImage] = []
        for profile in self.profiles.shard_images(work.workspace, segment.kind, work.part):
            chunk.append(profile)
            if len(chunk) == CHUNK:
                tally.add(self._rebuild_chunk(segment, compiled, chunk, run))
                chunk = []
        if chunk:
            tally.add(self._rebuild_chunk(segment, compiled, chunk, run))
        self.segments.finish_part(work.workspace, work.segment_id, work.run, work.part)
        return tally

    def _rebuild_chunk(
        self, segment: Segment, compiled: CompiledFilter, chunk: list[ProfileImage], run: str | None
    ) -> Tally:
        companies: dict[str, Fields] = {}
        if compiled.reads_company:
            domains = {
                str(p.fields["company_domain"]) for p in chunk if isinstance(p.fields.get("company_domain"), str)
            }
            companies = self._company_fields(segment.workspace, domains)
        wanted = {
            p.profile_id
            for p in chunk
            if p.active and compiled.matches(p.fields, companies.get(str(p.fields.get("company_domain")), {}))
        }
        current = self.segments.members_among(segment.workspace, segment.segment_id, (p.profile_id for p in chunk))
        tally = Tally(evaluated=len(chunk))
        for profile_id in sorted(wanted - current):
            tally.entered += self.segments.enter(segment.workspace, segment.segment_id, segment.kind, profile_id, run)
        for profile_id in sorted(current - wanted):
            tally.exited += self.segments.exit(segment.workspace, segment.segment_id, profile_id)
        return tally

    def drop(self, work: DropSegment) -> Tally:
        tally = Tally()
        for profile_id in list(self.segments.all_members(work.workspace, work.segment_id)):
            tally.exited += self.segments.exit(work.workspace, work.segment_id, profile_id)
        return tally

    def handle(self, work: SegmentWork) -> Tally:
        if isinstance(work, RecheckCompany):
            return self.recheck_company(work)
        if isinstance(work, RebuildPart):
            return self.rebuild_part(work)
        return self.drop(work)


def changed_fields(old: Fields | None, new: Fields | None) -> set[str] | None:
    """The fields whose value differs; None when the profile appeared or disappeared (all may move)."""
    if old is None or new is None:
        return None
    return {name for name in old.keys() | new.keys() if old.get(name) != new.get(name)}


def candidates_for(change: ProfileChange, live: list[LiveSegment]) -> list[LiveSegment]:
    """Segments whose membership of this profile can have changed."""
    mine = [s for s in live if s.kind is change.kind]
    changed = changed_fields(change.old, change.new)
    if changed is None:
        return mine
    company_moved = "company_domain" in changed
    return [s for s in mine if s.filter.fields & changed or (company_moved and s.filter.reads_company)]


def _company_domains_to_recheck(change: ProfileChange, live: list[LiveSegment]) -> set[str]:
    """Domains whose people must be re-checked because people segments read what changed."""
    readers = [s for s in live if s.kind is Kind.PEOPLE and s.filter.reads_company]
    if not readers:
        return set()
    changed = changed_fields(change.old, change.new)
    if changed is not None:
        moved = {COMPANY_PREFIX + name for name in changed}
        if not any(s.filter.fields & moved for s in readers) and "domain" not in changed:
            return set()
    return {d for d in ((change.old or {}).get("domain"), (change.new or {}).get("domain")) if isinstance(d, str)}


def change_from_images(old: ProfileImage | None, new: ProfileImage | None) -> ProfileChange | None:
    """A stream record's before and after as a change; None when neither side is a profile."""
    either = new or old
    if either is None:
        return None
    return ProfileChange(
        workspace=either.workspace,
        kind=either.kind,
        profile_id=either.profile_id,
        old=old.fields if old is not None and old.active else None,
        new=new.fields if new is not None and new.active else None,
    )

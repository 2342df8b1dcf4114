"""Creating, editing and deleting segments, previews, and starting rebuilds.

Saving a live segment (or editing its filter) starts a rebuild run: one message per shard of the
workspace's profiles (a parallel scan of just that workspace), each recomputing its slice and
applying only the difference. The built-in
audiences "All People" and "All Companies" are every active profile of their kind.

A kept segment is another segment's filter AND a filter of its own, kept by something (an action's quality gate:
those who may be sent): it follows every edit of the segment it is based on, goes when that segment goes, and is
neither edited nor deleted by hand.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from ulid import ULID

from roster.profiles.fields import FieldType, Kind
from roster.profiles.model import Profile, Status
from roster.segments.compiler import CompiledFilter, compile_filter
from roster.segments.filters import FilterProblem, Group, catalog_for, check_filter, uses_relative_dates
from roster.segments.membership import DropSegment, RebuildPart, today
from roster.store.profiles import SHARDS, ProfileImage, ProfileStore
from roster.store.segments import Segment, SegmentStore
from roster.store.workspaces import WorkspaceStore, custom_fields

BUILT_IN = {"all-people": ("All People", Kind.PEOPLE), "all-companies": ("All Companies", Kind.COMPANIES)}
PREVIEW_SECONDS = 20.0  # API Gateway answers within 29 s


class SegmentNotFound(LookupError):
    pass


class BuiltInSegment(ValueError):
    """The built-in audiences cannot be edited or deleted."""


class KeptSegment(ValueError):
    """A kept segment's filter and life follow its base segment and its keeper, not edits by hand."""


def _new_id() -> str:
    return f"seg-{str(ULID()).lower()}"


def _kept_message(segment: Segment) -> str:
    return (
        f"segment {segment.segment_id} is kept by {segment.kept_by}: it follows segment {segment.based_on}; "
        f"change that segment, or the {segment.kept_by}"
    )


@dataclass
class Preview:
    count: int
    scanned: int
    complete: bool
    sample: list[ProfileImage] = field(default_factory=list)


@dataclass
class SegmentManager:
    segments: SegmentStore
    profiles: ProfileStore
    workspaces: WorkspaceStore
    send: Callable[[BaseModel], None]
    rebuild_parts: int = SHARDS  # one rebuild message per shard of the workspace's profiles

    def custom(self, workspace: str) -> dict[Kind, dict[str, FieldType]]:
        return custom_fields(self.workspaces, workspace)

    def check(self, workspace: str, kind: Kind, tree: Group) -> Group:
        """The filter with canonical values; raises FilterProblem with the offending node's path."""
        return check_filter(tree, catalog_for(kind, self.custom(workspace)))

    def create(self, workspace: str, name: str, kind: Kind, tree: Group, *, draft: bool, created_by: str) -> Segment:
        checked = self.check(workspace, kind, tree)
        segment = Segment(
            workspace=workspace,
            segment_id=_new_id(),
            name=name,
            kind=kind,
            filter=checked.model_dump(mode="json"),
            created_by=created_by,
            draft=draft,
            relative_dates=uses_relative_dates(checked),
        )
        self.segments.save(segment)
        if not draft:
            self.rebuild(segment)
        return segment

    def create_kept(
        self, workspace: str, based_on: str, adds: Group, *, name: str, kept_by: str, created_by: str
    ) -> Segment:
        """A segment of `based_on`'s members that also match `adds`; raises FilterProblem when the two together
        are not a filter (too deep, too large)."""
        base = self.get(workspace, based_on)
        segment = Segment(
            workspace=workspace,
            segment_id=_new_id(),
            name=name[:200],
            kind=base.kind,
            filter={},
            created_by=created_by,
            based_on=based_on,
            adds=adds.model_dump(mode="json"),
            kept_by=kept_by,
        )
        self._follow(segment, base)
        self.segments.save(segment)
        if not segment.draft:
            self.rebuild(segment)
        return segment

    def _follow(self, kept: Segment, base: Segment) -> None:
        """Give a kept segment its base's filter (and draft state) AND its own."""
        tree = Group.model_validate({"match": "all", "conditions": [base.filter, kept.adds]})
        try:
            checked = self.check(kept.workspace, kept.kind, tree)
        except FilterProblem as problem:
            raise FilterProblem(
                "filter", f"with the filter of {kept.name!r} ({kept.kept_by}) added it is not a filter: {problem}"
            ) from None
        kept.filter = checked.model_dump(mode="json")
        kept.relative_dates = uses_relative_dates(checked)
        kept.draft = base.draft

    def change_kept(self, workspace: str, segment_id: str, adds: Group) -> Segment:
        """Its keeper changed the filter it adds: recompute it (raises FilterProblem as `create_kept`)."""
        segment = self.get(workspace, segment_id)
        segment.adds = adds.model_dump(mode="json")
        self._follow(segment, self.get(workspace, str(segment.based_on)))
        self.segments.save(segment)
        self._recompute(segment)
        return segment

    def release(self, workspace: str, segment_id: str) -> None:
        """Its keeper is gone but it stays: a segment of its own from now on, with the filter it has."""
        segment = self.get(workspace, segment_id)
        segment.based_on = segment.adds = segment.kept_by = None
        self.segments.save(segment)

    def _kept_on(self, workspace: str, segment_id: str) -> list[Segment]:
        return [each for each in self.segments.in_workspace(workspace) if each.based_on == segment_id]

    def get(self, workspace: str, segment_id: str) -> Segment:
        if segment_id in BUILT_IN:
            return self.built_in(workspace, segment_id)
        segment = self.segments.get(workspace, segment_id)
        if segment is None:
            raise SegmentNotFound(segment_id)
        return segment

    def built_in(self, workspace: str, segment_id: str) -> Segment:
        name, kind = BUILT_IN[segment_id]
        count = self.profiles.count_active(workspace, kind)
        return Segment(workspace, segment_id, name, kind, Group().model_dump(mode="json"), "roster", member_count=count)

    def all(self, workspace: str) -> list[Segment]:
        return [self.built_in(workspace, segment_id) for segment_id in BUILT_IN] + sorted(
            self.segments.in_workspace(workspace), key=lambda s: s.created_at
        )

    def edit(
        self,
        workspace: str,
        segment_id: str,
        *,
        name: str | None = None,
        tree: Group | None = None,
        draft: bool | None = None,
    ) -> Segment:
        if segment_id in BUILT_IN:
            raise BuiltInSegment(segment_id)
        segment = self.get(workspace, segment_id)
        if segment.kept_by and (tree is not None or draft is not None):
            raise KeptSegment(_kept_message(segment))
        membership_moves = False
        if tree is not None:
            checked = self.check(workspace, segment.kind, tree)
            membership_moves = checked.model_dump(mode="json") != segment.filter
            segment.filter = checked.model_dump(mode="json")
            segment.relative_dates = uses_relative_dates(checked)
        if draft is not None:
            membership_moves = membership_moves or draft != segment.draft
            segment.draft = draft
        if name is not None:
            segment.name = name
        followers = self._kept_on(workspace, segment_id) if membership_moves else []
        for follower in followers:  # each checked before anything is saved
            self._follow(follower, segment)
        for moved in (segment, *followers):
            self.segments.save(moved)
            if membership_moves:
                self._recompute(moved)
        return segment

    def _recompute(self, segment: Segment) -> None:
        if segment.draft:
            self.send(DropSegment(workspace=segment.workspace, segment_id=segment.segment_id))
        else:
            self.rebuild(segment)

    def delete(self, workspace: str, segment_id: str, *, by_keeper: bool = False) -> None:
        """Delete a segment and the segments kept on it (their members leave them)."""
        if segment_id in BUILT_IN:
            raise BuiltInSegment(segment_id)
        segment = self.get(workspace, segment_id)
        if segment.kept_by and not by_keeper:
            raise KeptSegment(_kept_message(segment))
        for gone in (segment, *self._kept_on(workspace, segment_id)):
            self.segments.delete(workspace, gone.segment_id)
            self.send(DropSegment(workspace=workspace, segment_id=gone.segment_id))

    def rebuild(self, segment: Segment, *, calendar: bool = False) -> str:
        """Start a rebuild run: one message per shard, read in parallel by the segment workers (`calendar`: the
        daily run of relative dates, whose entries are news like a record's change)."""
        run = str(ULID())
        self.segments.start_rebuild(segment, run, self.rebuild_parts)
        for part in range(self.rebuild_parts):
            self.send(
                RebuildPart(
                    workspace=segment.workspace,
                    segment_id=segment.segment_id,
                    run=run,
                    part=part,
                    parts=self.rebuild_parts,
                    calendar=calendar,
                )
            )
        return run

    def rebuild_relative(self) -> int:
        """The daily run: segments with relative dates (`within the last N days`) move with the calendar."""
        started = 0
        for segment in self.segments.with_relative_dates():
            self.rebuild(segment, calendar=True)
            started += 1
        return started

    def members(
        self, workspace: str, segment_id: str, cursor: str | None, limit: int
    ) -> tuple[list[Profile], str | None]:
        segment = self.get(workspace, segment_id)
        if segment_id in BUILT_IN:
            page = self.profiles.page(workspace, segment.kind, status=Status.ACTIVE, cursor=cursor, limit=limit)
            return page.profiles, page.cursor
        ids, next_cursor = self.segments.members(workspace, segment_id, cursor, limit)
        found = self.profiles.get_many(workspace, segment.kind, ids)
        return [found[pid] for pid in ids if pid in found], next_cursor

    def preview(self, workspace: str, kind: Kind, tree: Group, sample_size: int = 10) -> Preview:
        """Count and first records of a filter without saving it (stops after PREVIEW_SECONDS)."""
        compiled = compile_filter(self.check(workspace, kind, tree), catalog_for(kind, self.custom(workspace)), today())
        deadline = time.monotonic() + PREVIEW_SECONDS
        result = Preview(count=0, scanned=0, complete=True)
        companies: dict[str, Mapping[str, Any]] = {}
        for profile in self._active(workspace, kind):
            if time.monotonic() > deadline:
                result.complete = False
                break
            result.scanned += 1
            if compiled.matches(profile.fields, self._company_of(workspace, profile, compiled, companies)):
                result.count += 1
                if len(result.sample) < sample_size:
                    result.sample.append(profile)
        return result

    def _company_of(
        self, workspace: str, profile: ProfileImage, compiled: CompiledFilter, cache: dict[str, Mapping[str, Any]]
    ) -> Mapping[str, Any]:
        domain = profile.fields.get("company_domain")
        if not compiled.reads_company or not isinstance(domain, str):
            return {}
        if domain not in cache:
            found = self.profiles.companies_by_domain(workspace, [domain]).get(domain)
            cache[domain] = found.fields if found else {}
        return cache[domain]

    def _active(self, workspace: str, kind: Kind) -> Iterator[ProfileImage]:
        return self.profiles.active_images(workspace, kind)

    def exact_count(self, workspace: str, segment_id: str) -> int:
        """Members counted now (the count on a segment row follows its events within seconds)."""
        segment = self.get(workspace, segment_id)
        if segment_id in BUILT_IN:
            return segment.member_count
        return self.segments.count_members(workspace, segment_id)

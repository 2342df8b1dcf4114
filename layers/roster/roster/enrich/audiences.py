"""The records an enrichment covers: the members of its audiences, merged in profile id order."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator
from dataclasses import dataclass

from roster.enrich.definitions import EnrichmentDefinition
from roster.profiles.fields import Kind
from roster.segments.manager import BUILT_IN as BUILT_IN_AUDIENCES
from roster.store.profiles import ProfileStore
from roster.store.segments import SegmentStore

PAGE = 1000  # audience members read per request


@dataclass(frozen=True, order=True)
class Member:
    """A profile a run covers, and the audiences it came from (their quality gates apply)."""

    profile_id: str
    audiences: tuple[str, ...]


@dataclass
class Audiences:
    """Reads audiences page by page: each member list is in profile id order, so duplicates across
    audiences meet and are dropped without holding an audience in memory."""

    profiles: ProfileStore
    segments: SegmentStore

    def members(self, workspace: str, definition: EnrichmentDefinition, after: str | None = None) -> Iterator[Member]:
        """Members of all the definition's audiences in profile id order, each once, after `after`."""
        streams = [
            ((profile_id, audience) for profile_id in self._audience_ids(workspace, definition.kind, audience, after))
            for audience in definition.audiences
        ]
        for profile_id, pairs in itertools.groupby(heapq.merge(*streams), key=lambda pair: pair[0]):
            yield Member(profile_id, tuple(sorted({audience for _, audience in pairs})))

    def _audience_ids(self, workspace: str, kind: Kind, audience: str, after: str | None) -> Iterator[str]:
        if audience in BUILT_IN_AUDIENCES:
            yield from self.profiles.active_ids(workspace, kind, after)
            return
        cursor = after
        while True:
            ids, cursor = self.segments.members(workspace, audience, cursor, PAGE)
            yield from ids
            if cursor is None:
                return

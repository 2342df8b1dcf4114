"""Identity resolution: which profile each incoming record belongs to, merging when it bridges two.

The records of a batch are resolved one after another against a cache of what the batch already
read, so a batch of N records costs a few batched reads plus one transaction per record that
changes something; a record that changes nothing costs no write at all.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ulid import ULID

from roster.identity.aliases import MATCHABLE, AliasType, matching_aliases, record_alias
from roster.profiles.fields import Kind
from roster.profiles.model import IncomingRecord, Outcome, Profile, Status, absorb, apply_record
from roster.profiles.values import ValueProblem, record_problem, utc_now
from roster.store.profiles import MAX_REDIRECTS, Conflict, ProfileStore, ProfileTooLarge
from roster.store.workspaces import WorkspaceStore, survivorship_setting_name

MAX_ATTEMPTS = 12


class ResolutionFailed(Exception):
    """A record kept losing races; its message is redelivered and tried again later."""


@dataclass(frozen=True)
class Resolution:
    profile_id: str | None  # None when rejected
    outcome: Outcome
    problem: ValueProblem | None = None  # why a record was rejected: too large to store, nothing written


@dataclass
class MatchingRules:
    """Per source and object, which alias types the source matches on (its record id always does).

    Sources not listed match on every alias type their kind allows ("import record matching").
    """

    by_source: Mapping[tuple[str, str], frozenset[AliasType]] = field(default_factory=dict)

    def match_on(self, kind: Kind, source: str, obj: str) -> frozenset[AliasType]:
        return self.by_source.get((source, obj), frozenset(MATCHABLE[kind]))


def aliases_of(kind: Kind, record: IncomingRecord, rules: MatchingRules) -> list[str]:
    """Every alias of one record: its own record id first, then what it matches on."""
    own = record_alias(record.source, record.object, record.record_id)
    return [own, *matching_aliases(kind, record.fields, rules.match_on(kind, record.source, record.object))]


class Resolver:
    """Resolves records of one workspace and kind into profiles."""

    def __init__(
        self,
        store: ProfileStore,
        workspace: str,
        kind: Kind,
        *,
        rules: MatchingRules | None = None,
        source_priority: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.store = store
        self.workspace = workspace
        self.kind = kind
        self.rules = rules or MatchingRules()
        self.source_priority = source_priority or {}
        self._owners: dict[str, str | None] = {}
        self._profiles: dict[str, Profile] = {}

    def upsert(
        self, records: Sequence[IncomingRecord], extra_aliases: Mapping[str, Sequence[str]] | None = None
    ) -> list[Resolution]:
        """Resolve a batch; one Resolution per record, in order. A record too large to store (over MAX_RECORD_BYTES,
        or growing its profile past MAX_PROFILE_BYTES) is rejected with the reason, writing nothing; the rest go on.

        `extra_aliases[record.key]` adds aliases the record must share a profile with (a converted Lead names its
        Contact's record alias): unclaimed, the record claims them; claimed, the profiles merge."""
        extra = extra_aliases or {}
        per_record = [[*aliases_of(self.kind, record, self.rules), *extra.get(record.key, ())] for record in records]
        self._read_aliases({alias for aliases in per_record for alias in aliases})
        return [self._upsert_one(record, aliases) for record, aliases in zip(records, per_record, strict=True)]

    def _upsert_one(self, record: IncomingRecord, aliases: list[str]) -> Resolution:
        problem = record_problem(record.fields)
        if problem is not None:
            return Resolution(None, Outcome.REJECTED, problem)
        for _ in range(MAX_ATTEMPTS):
            try:
                return self._attempt(record, aliases)
            except Conflict:
                self._forget(aliases)
            except ProfileTooLarge as too_large:
                return Resolution(None, Outcome.REJECTED, too_large)
        raise ResolutionFailed(f"record {record.key} kept conflicting with concurrent writers")

    def _attempt(self, record: IncomingRecord, aliases: list[str]) -> Resolution:
        self._read_aliases(alias for alias in aliases if alias not in self._owners)
        owners = {alias: self._owners.get(alias) for alias in aliases}
        targets: dict[str, Profile] = {}
        for owner in {o for o in owners.values() if o}:
            profile = self._active(owner)
            targets[profile.profile_id] = profile
        unclaimed = [alias for alias, owner in owners.items() if owner is None]
        if not targets:
            profile = Profile(self.workspace, self.kind, str(ULID()), created_at=utc_now())
            apply_record(profile, record)
            return self._commit(profile, [], unclaimed, Outcome.CREATED)
        ordered = sorted(targets)  # the oldest profile (smallest ULID) survives: order-independent
        survivor = copy.deepcopy(targets[ordered[0]])
        merged = [copy.deepcopy(targets[pid]) for pid in ordered[1:]]
        for other in merged:
            absorb(survivor, other)
        changed = apply_record(survivor, record)
        if not merged and not changed and not unclaimed:
            return Resolution(survivor.profile_id, Outcome.UNCHANGED)
        return self._commit(survivor, merged, unclaimed, Outcome.MERGED if merged else Outcome.UPDATED)

    def _commit(self, profile: Profile, merged: list[Profile], unclaimed: list[str], outcome: Outcome) -> Resolution:
        profile.refresh(self.source_priority)
        self.store.commit(profile, merged, unclaimed)
        for each in (profile, *merged):
            self._profiles[each.profile_id] = each
        for alias in unclaimed:
            self._owners[alias] = profile.profile_id
        return Resolution(profile.profile_id, outcome)

    def _read_aliases(self, aliases: Iterable[str]) -> None:
        wanted = list(aliases)
        if not wanted:
            return
        owners = self.store.alias_owners(self.workspace, self.kind, wanted)
        for alias in wanted:
            self._owners[alias] = owners.get(alias)
        self._read_profiles({o for o in owners.values() if o not in self._profiles})

    def _read_profiles(self, profile_ids: set[str]) -> None:
        while profile_ids:
            found = self.store.get_many(self.workspace, self.kind, profile_ids)
            self._profiles.update(found)
            profile_ids = {
                p.merged_into
                for p in found.values()
                if p.status is Status.MERGED and p.merged_into and p.merged_into not in self._profiles
            }

    def _active(self, profile_id: str) -> Profile:
        """The live profile an id leads to, following merge redirects."""
        for _ in range(MAX_REDIRECTS):
            if profile_id not in self._profiles:
                self._read_profiles({profile_id})
            profile = self._profiles.get(profile_id)
            if profile is None:
                raise Conflict(f"profile {profile_id} is not readable yet")
            if profile.status is not Status.MERGED or not profile.merged_into:
                return profile
            profile_id = profile.merged_into
        raise Conflict(f"profile {profile_id} redirects too many times")

    def _forget(self, aliases: list[str]) -> None:
        """Drop what a lost race proved stale, so the next attempt reads it again."""
        stale = {self._owners.get(alias) for alias in aliases}
        for alias in aliases:
            self._owners.pop(alias, None)
        for profile_id in list(stale):
            while profile_id and profile_id in self._profiles:
                profile = self._profiles.pop(profile_id)
                profile_id = profile.merged_into


def resolver_for(profiles: ProfileStore, workspaces: WorkspaceStore, workspace: str, kind: Kind) -> Resolver:
    """A resolver with the workspace's matching rules and survivorship settings."""
    by_source: dict[tuple[str, str], frozenset[AliasType]] = {}
    for name, data in workspaces.settings_with_prefix(workspace, f"matching#{kind}#").items():
        _, _, source, obj = name.split("#", 3)
        by_source[(source, obj)] = frozenset(AliasType(value) for value in data.get("match_on", []))
    priority = workspaces.get_setting(workspace, survivorship_setting_name(kind)).get("source_priority", {})
    return Resolver(profiles, workspace, kind, rules=MatchingRules(by_source), source_priority=priority)

"""Identity operations Salesforce needs beyond `Resolver.upsert`: records that name other records they are the
same as, reading a source record back from its profile, and removing a deleted record's link.

A converted Lead names its Contact, and an account's opportunity roll-up names its Account, by the other
record's alias (`record:salesforce:Contact:003...`). The resolver treats that alias like any alias of the
record: unclaimed, the record claims it (so the Contact joins when it arrives); claimed, the two profiles merge.
Either order gives the same profile (DESIGN.md, invariant 2).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from roster.identity.aliases import record_alias
from roster.identity.resolver import Resolution, Resolver
from roster.profiles.fields import Kind
from roster.profiles.model import IncomingRecord, Profile, Status
from roster.store.profiles import MAX_REDIRECTS, Conflict, ProfileStore

SOURCE = "salesforce"
MAX_ATTEMPTS = 12


def upsert_linked(
    resolver: Resolver, records: Sequence[IncomingRecord], links: Mapping[str, Sequence[str]]
) -> list[Resolution]:
    """`Resolver.upsert` where `links[record.key]` adds record aliases the record must share a profile with."""
    return resolver.upsert(records, extra_aliases=links)


def profiles_by_alias(store: ProfileStore, workspace: str, kind: Kind, aliases: Iterable[str]) -> dict[str, Profile]:
    """The live profile each claimed alias leads to (merge redirects followed), in two batched reads."""
    owners = store.alias_owners(workspace, kind, aliases)
    found = store.get_many(workspace, kind, set(owners.values()))
    profiles: dict[str, Profile] = {}
    for alias, owner in owners.items():
        profile = found.get(owner)
        hops = 0
        while profile is not None and profile.status is Status.MERGED and profile.merged_into and hops < MAX_REDIRECTS:
            profile = found.get(profile.merged_into) or store.get(workspace, kind, profile.merged_into)
            hops += 1
        if profile is not None:
            profiles[alias] = profile
    return profiles


def stored_values(
    store: ProfileStore, workspace: str, kind: Kind, wanted: Mapping[str, str]
) -> dict[str, dict[str, Any]]:
    """For `{record key: alias to find it by}`, the values each source record holds now (absent: not stored)."""
    profiles = profiles_by_alias(store, workspace, kind, set(wanted.values()))
    values: dict[str, dict[str, Any]] = {}
    for key, alias in wanted.items():
        profile = profiles.get(alias)
        record = profile.records.get(key) if profile else None
        if record is not None:
            values[key] = dict(record.values)
    return values


def unlink(resolver: Resolver, obj: str, record_id: str, source: str = SOURCE) -> bool:
    """Remove a deleted record (Salesforce's, or `source`'s) from its profile; True if something changed.

    The profile keeps every other source's records. When the deleted record was its only source, the profile is
    archived with the record kept, so the archive can be undone and nothing is lost (invariant 4)."""
    store, key = resolver.store, f"{source}:{obj}:{record_id}"
    alias = record_alias(source, obj, record_id)
    for _ in range(MAX_ATTEMPTS):
        profile = profiles_by_alias(store, resolver.workspace, resolver.kind, [alias]).get(alias)
        if profile is None or key not in profile.records:
            return False
        if len(profile.records) > 1:
            del profile.records[key]
        elif profile.status is Status.ACTIVE:
            profile.status = Status.ARCHIVED
        else:
            return False
        profile.refresh(resolver.source_priority)
        try:
            store.commit(profile)
        except Conflict:
            continue
        return True
    raise Conflict(f"{key} kept conflicting with concurrent writers")

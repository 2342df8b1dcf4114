"""Reading and writing profiles and aliases, with the conditions that keep invariant 1.

Every write that claims an alias or changes a profile is one DynamoDB transaction: alias items
are put only if absent, profiles are written only at the version that was read. A transaction
that loses a race raises `Conflict`, and the caller re-reads and tries again.
"""

from __future__ import annotations

import heapq
import json
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from roster.config import settings
from roster.profiles.fields import Kind
from roster.profiles.limits import HISTORY_KEPT, MAX_KEY_BYTES, MAX_PROFILE_BYTES, readable_size, stored_size
from roster.profiles.model import Profile, Provenance, SourceRecord, Status, move_history
from roster.profiles.values import ValueProblem, utc_now
from roster.store.models import AliasItem, HistoryItem, ProfileItem

MAX_REDIRECTS = 32
HISTORY_PAGE_BYTES = 1024 * 1024  # values of one history page, about (whole history items are returned)


class Conflict(Exception):
    """Another writer changed a profile or claimed an alias first: re-read and retry."""


class ProfileTooLarge(ValueProblem):
    """A profile whose current values alone would not fit in one item: the change is refused, nothing written."""

    def __init__(self, size: int) -> None:
        super().__init__(
            "",
            f"the profile would be {readable_size(size)} stored even with its history moved off; the limit for one "
            f"profile is {readable_size(MAX_PROFILE_BYTES)} (send fewer or shorter values)",
        )
        self.size = size


@dataclass
class HistoryPage:
    """Superseded values moved off a profile: oldest first within a page; pages go from newer to older."""

    entries: list[dict[str, Any]]
    cursor: str | None


@dataclass
class Page:
    profiles: list[Profile]
    cursor: str | None


#: Each workspace's profiles of one kind are spread over this many partition keys, so writes are not
#: confined to one partition and a rebuild reads the shards in parallel (one query each).
SHARDS = 16


def shard_of(profile_id: str) -> int:
    return zlib.crc32(profile_id.encode()) % SHARDS


def _partition(workspace: str, kind: Kind, profile_id: str) -> str:
    return f"{workspace}#{kind}#{shard_of(profile_id)}"


def _shard_partition(workspace: str, kind: Kind, shard: int) -> str:
    return f"{workspace}#{kind}#{shard}"


def alias_key(workspace: str, kind: Kind, alias: str) -> str:
    return f"{workspace}#{kind}#{alias}"


def _history_key(workspace: str, kind: Kind, profile_id: str) -> str:
    return f"{workspace}#{kind}#history#{profile_id}"


def item_size(item: Model) -> int:
    """The bytes DynamoDB counts for an item: every attribute's name and value (strings and numbers as text)."""
    total = 0
    for name, typed in item.serialize().items():
        ((kind, value),) = typed.items()
        total += len(name.encode()) + (len(str(value).encode()) if kind in ("S", "N") else stored_size(value))
    return total


def fit(profile: Profile) -> tuple[ProfileItem, list[list[dict[str, Any]]]]:
    """The item a profile is stored as, and the superseded values moved off it, cut into history items.

    At most HISTORY_KEPT superseded values per source record and field stay on the profile; while the item is
    over MAX_PROFILE_BYTES, fewer stay (down to none). The values move off `profile` itself; when even moving
    them all is not enough it raises ProfileTooLarge, and the caller drops its copy of the profile."""
    moved: list[dict[str, Any]] = []
    for keep in range(HISTORY_KEPT, -1, -1):
        moved.extend(move_history(profile, keep))
        item = _to_item(profile)
        size = item_size(item)
        if size <= MAX_PROFILE_BYTES:
            return item, _chunks(moved)
    raise ProfileTooLarge(size)


def _chunks(entries: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Entries in order, cut into lists that each fit in one history item."""
    chunks: list[list[dict[str, Any]]] = []
    size = MAX_PROFILE_BYTES
    for entry in entries:
        entry_size = stored_size(entry) + 2
        if size + entry_size > MAX_PROFILE_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(entry)
        size += entry_size
    return chunks


def _to_profile(item: ProfileItem) -> Profile:
    return Profile(
        workspace=item.workspace,
        kind=Kind(item.kind),
        profile_id=item.profile_id,
        created_at=item.created_at,
        status=Status(item.status),
        records={key: SourceRecord.from_json(data) for key, data in item.records.items()},
        merged_into=item.merged_into,
        merged_from=list(item.merged_from or []),
        updated_at=item.updated_at,
        fields=dict(item.fields),
        provenance={
            name: Provenance(p["source"], p["record"], p["observed_at"]) for name, p in item.provenance.items()
        },
        history_chunks=int(item.history_chunks or 0),
        version=item.version,
    )


def company_key(profile: Profile) -> str | None:
    """The key that files an active person under their company's domain (the ByCompany index)."""
    domain = profile.fields.get("company_domain")
    if profile.kind is not Kind.PEOPLE or profile.status is not Status.ACTIVE or not isinstance(domain, str):
        return None
    return f"{profile.workspace}#{domain}"


def _to_item(profile: Profile) -> ProfileItem:
    item = ProfileItem(
        _partition(profile.workspace, profile.kind, profile.profile_id),
        profile.profile_id,
        workspace=profile.workspace,
        kind=str(profile.kind),
        status=str(profile.status),
        merged_into=profile.merged_into,
        merged_from=profile.merged_from or None,
        fields=profile.fields,
        provenance={name: p.to_json() for name, p in profile.provenance.items()},
        records={key: record.to_json() for key, record in profile.records.items()},
        created_at=profile.created_at,
        updated_at=profile.updated_at,
        company_key=company_key(profile),
        history_chunks=profile.history_chunks,
    )
    if profile.version is not None:
        item.version = profile.version
    return item


@dataclass(frozen=True)
class ProfileImage:
    """A profile as a stream record shows it (before or after a change)."""

    workspace: str
    kind: Kind
    profile_id: str
    active: bool
    fields: dict[str, Any]


def profile_image(image: Mapping[str, Any] | None) -> ProfileImage | None:
    """Read a deserialized stream image of a profile item (its `fields` attribute holds JSON)."""
    if not image or "fields" not in image:
        return None
    return ProfileImage(
        workspace=str(image["workspace"]),
        kind=Kind(image["kind"]),
        profile_id=str(image["profile_id"]),
        active=image.get("status") == Status.ACTIVE,
        fields=json.loads(image["fields"]),
    )


class ProfileStore:
    """Profiles and aliases of every workspace; callers always name the workspace and kind."""

    def __init__(self) -> None:
        self._connection = Connection(region=settings().region)

    def alias_owners(self, workspace: str, kind: Kind, aliases: Iterable[str]) -> dict[str, str]:
        """The profile id each claimed alias points at (unclaimed aliases are absent)."""
        keys = {alias_key(workspace, kind, alias): alias for alias in aliases}
        wanted = {key: alias for key, alias in keys.items() if len(key.encode()) <= MAX_KEY_BYTES}  # else unclaimable
        owners: dict[str, str] = {}
        if wanted:
            for item in AliasItem.batch_get(list(wanted), consistent_read=True):
                owners[wanted[item.pk]] = item.profile_id
        return owners

    def get_many(self, workspace: str, kind: Kind, profile_ids: Iterable[str]) -> dict[str, Profile]:
        keys = [(_partition(workspace, kind, pid), pid) for pid in set(profile_ids)]
        if not keys:
            return {}
        return {item.profile_id: _to_profile(item) for item in ProfileItem.batch_get(keys, consistent_read=True)}

    def get(self, workspace: str, kind: Kind, profile_id: str) -> Profile | None:
        try:
            return _to_profile(
                ProfileItem.get(_partition(workspace, kind, profile_id), profile_id, consistent_read=True)
            )
        except DoesNotExist:
            return None

    def get_active(self, workspace: str, kind: Kind, profile_id: str) -> Profile | None:
        """A profile, following merge redirects to the survivor."""
        profile = self.get(workspace, kind, profile_id)
        hops = 0
        while profile is not None and profile.status is Status.MERGED and profile.merged_into and hops < MAX_REDIRECTS:
            profile = self.get(workspace, kind, profile.merged_into)
            hops += 1
        return profile

    def lookup(self, workspace: str, kind: Kind, alias: str) -> Profile | None:
        owner = self.alias_owners(workspace, kind, [alias]).get(alias)
        return self.get_active(workspace, kind, owner) if owner else None

    def commit(self, profile: Profile, merged: Iterable[Profile] = (), new_aliases: Iterable[str] = ()) -> None:
        """Write a profile (created when it has no version yet), the profiles merged into it, the aliases it
        newly claims and the history items its older superseded values move to, all or nothing (see `fit`).
        Raises Conflict when a race was lost, ProfileTooLarge (writing nothing) when a profile cannot fit."""
        now = utc_now()
        merged = list(merged)
        items: list[tuple[ProfileItem, bool]] = []
        history: list[HistoryItem] = []
        for each in (profile, *merged):
            each.updated_at = now
            first_chunk = each.history_chunks
            item, chunks = fit(each)
            if chunks:
                each.history_chunks += len(chunks)
                item.history_chunks = each.history_chunks
            history.extend(
                HistoryItem(
                    _history_key(each.workspace, each.kind, each.profile_id),
                    f"{first_chunk + number:08d}",
                    entries=entries,
                    created_at=now,
                )
                for number, entries in enumerate(chunks)
            )
            items.append((item, each.version is None))
        aliases = sorted(set(new_aliases))
        try:
            with TransactWrite(connection=self._connection) as transaction:
                for item, is_new in items:
                    condition = ProfileItem.profile_id.does_not_exist() if is_new else None
                    transaction.save(item, condition=condition)
                for chunk in history:
                    transaction.save(chunk, condition=HistoryItem.pk.does_not_exist())
                for alias in aliases:
                    transaction.save(
                        AliasItem(
                            alias_key(profile.workspace, profile.kind, alias),
                            profile_id=profile.profile_id,
                            created_at=now,
                        ),
                        condition=AliasItem.pk.does_not_exist(),
                    )
        except TransactWriteError as error:
            if error.cause_response_code == "TransactionCanceledException":
                raise Conflict(str(error)) from error
            raise
        for each, (item, _) in zip((profile, *merged), items, strict=True):
            each.version = item.version

    def history(
        self, workspace: str, kind: Kind, profile_ids: list[str], cursor: str | None = None, limit: int = 100
    ) -> HistoryPage:
        """Superseded values moved off these profiles (a profile and those merged into it): whole history items,
        newest first, until about `limit` values or HISTORY_PAGE_BYTES. The cursor (`{index in profile_ids}.{item
        number}`) is opaque to callers."""
        index, _, before = (cursor or "0.").partition(".")
        if not index.isdigit() or int(index) >= max(len(profile_ids), 1) or not (before.isdigit() or before == ""):
            raise ValueError(f"not a history cursor: {cursor!r}")
        entries: list[dict[str, Any]] = []
        size = 0
        last = ""
        for number in range(int(index), len(profile_ids)):
            for item in HistoryItem.query(
                _history_key(workspace, kind, profile_ids[number]),
                range_key_condition=HistoryItem.profile_id < before if before else None,
                scan_index_forward=False,
                page_size=10,
            ):
                if entries and (len(entries) + len(item.entries) > limit or size > HISTORY_PAGE_BYTES):
                    return HistoryPage(entries, last)
                entries = [*item.entries, *entries]  # an older item's values come first
                size += stored_size(item.entries)
                last = f"{number}.{item.profile_id}"
            before = ""
        return HistoryPage(entries, None)

    def page(
        self,
        workspace: str,
        kind: Kind,
        *,
        status: Status | None = None,
        changed_since: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> Page:
        """Profiles of a workspace, optionally of one status or changed after a moment, `limit` at a time: shard
        by shard, in id order within a shard. The cursor (`{shard}.{last id}`) is opaque to callers."""
        condition = ProfileItem.status == str(status) if status else None
        if changed_since is not None:
            changed = ProfileItem.updated_at > changed_since
            condition = changed if condition is None else condition & changed
        shard, _, after = (cursor or "0.").partition(".")
        if not shard.isdigit() or int(shard) >= SHARDS:
            raise ValueError(f"not a profile cursor: {cursor!r}")
        profiles: list[Profile] = []
        for number in range(int(shard), SHARDS):
            result = ProfileItem.query(
                _shard_partition(workspace, kind, number),
                range_key_condition=ProfileItem.profile_id > after if after else None,
                filter_condition=condition,
                limit=limit - len(profiles),
                page_size=max(limit, 500),  # a status filter may skip many profiles per page read
            )
            profiles.extend(_to_profile(item) for item in result)
            if len(profiles) >= limit:
                more = result.last_evaluated_key is not None or number + 1 < SHARDS
                return Page(profiles, f"{number}.{profiles[-1].profile_id}" if more else None)
            after = ""
        return Page(profiles, None)

    def companies_by_domain(self, workspace: str, domains: Iterable[str]) -> dict[str, Profile]:
        """The active company profile of each domain that has one (merge redirects followed)."""
        owners = self.alias_owners(workspace, Kind.COMPANIES, {f"domain:{domain}" for domain in domains})
        found = self.get_many(workspace, Kind.COMPANIES, owners.values())
        companies: dict[str, Profile] = {}
        for alias, owner in owners.items():
            profile = found.get(owner)
            if profile is not None and profile.status is Status.MERGED:
                profile = self.get_active(workspace, Kind.COMPANIES, owner)
            if profile is not None and profile.status is Status.ACTIVE:
                companies[alias.removeprefix("domain:")] = profile
        return companies

    def people_at(self, workspace: str, domain: str) -> Iterator[str]:
        """Ids of the active people whose company domain is `domain`."""
        for item in ProfileItem.by_company.query(f"{workspace}#{domain}"):
            yield item.profile_id

    def shard(self, workspace: str, kind: Kind, shard: int) -> Iterator[Profile]:
        """The profiles of one shard: the slices a parallel rebuild reads, one query each."""
        for item in ProfileItem.query(_shard_partition(workspace, kind, shard), page_size=200):
            yield _to_profile(item)

    def shard_images(self, workspace: str, kind: Kind, shard: int) -> Iterator[ProfileImage]:
        """Just the fields and status of one shard's profiles: what filters read, without the records."""
        for item in ProfileItem.query(
            _shard_partition(workspace, kind, shard),
            attributes_to_get=["profile_id", "status", "fields"],
            page_size=500,
        ):
            yield ProfileImage(workspace, kind, item.profile_id, item.status == Status.ACTIVE, dict(item.fields))

    def active_ids(self, workspace: str, kind: Kind, after: str | None = None) -> Iterator[str]:
        """Ids of the active profiles in id order (the shards merged as they are read), after `after`."""
        shards = [
            (
                item.profile_id
                for item in ProfileItem.query(
                    _shard_partition(workspace, kind, shard),
                    range_key_condition=ProfileItem.profile_id > after if after else None,
                    filter_condition=ProfileItem.status == "active",
                    attributes_to_get=["profile_id"],
                    page_size=1000,
                )
            )
            for shard in range(SHARDS)
        ]
        yield from heapq.merge(*shards)

    def count_active(self, workspace: str, kind: Kind) -> int:
        return sum(
            ProfileItem.count(_shard_partition(workspace, kind, shard), filter_condition=ProfileItem.status == "active")
            for shard in range(SHARDS)
        )

    def active_images(self, workspace: str, kind: Kind) -> Iterator[ProfileImage]:
        for shard in range(SHARDS):
            yield from (image for image in self.shard_images(workspace, kind, shard) if image.active)

    def scan(self, workspace: str, kind: Kind) -> Iterator[Profile]:
        """Every profile of a workspace, active or not, shard by shard (not in id order)."""
        for shard in range(SHARDS):
            yield from self.shard(workspace, kind, shard)

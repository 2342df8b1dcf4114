"""PynamoDB models of the tables in `template.yaml` (the jobs table's are in `roster.store.jobs`); their names
come from the environment."""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    VersionAttribute,
)
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from roster.config import Settings
from roster.store.actions import ActionsTableItem
from roster.store.jobs import JobsItem


class ByCompany(GlobalSecondaryIndex["ProfileItem"]):  # type: ignore[no-untyped-call]
    """People by their company (`{workspace}#{company domain}`): a company change re-checks its people."""

    class Meta:
        index_name = "ByCompany"
        projection = KeysOnlyProjection()

    company_key = UnicodeAttribute(hash_key=True)
    profile_id = UnicodeAttribute(range_key=True)


class ProfilesTableItem(Model):
    """The base of the two models on the profiles table, never stored itself: they share its `Meta`."""

    class Meta:
        table_name = "ProfilesTable"

    pk = UnicodeAttribute(hash_key=True)
    profile_id = UnicodeAttribute(range_key=True)


class ProfileItem(ProfilesTableItem):
    """One profile. `pk` is `{workspace}#{kind}#{shard}`, so a workspace's profiles page by query."""

    company_key = UnicodeAttribute(null=True)
    by_company = ByCompany()
    workspace = UnicodeAttribute()
    kind = UnicodeAttribute()
    status = UnicodeAttribute()
    merged_into = UnicodeAttribute(null=True)
    merged_from = JSONAttribute(null=True)
    fields = JSONAttribute()
    provenance = JSONAttribute()
    records = JSONAttribute()
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    history_chunks = NumberAttribute(default=0)
    version = VersionAttribute()


class HistoryItem(ProfilesTableItem):
    """Superseded values moved off one profile, oldest first: `pk` is `{workspace}#{kind}#history#{profile id}`
    and `profile_id` holds the chunk's number. Kept beside the profiles so a profile and its history are written
    in one transaction by any function that writes profiles; the profiles stream ignores them (no fields)."""

    entries = JSONAttribute()
    created_at = UnicodeAttribute()


class AliasItem(Model):
    """One claimed alias: `{workspace}#{kind}#{alias}` → the profile that owns it (invariant 1)."""

    class Meta:
        table_name = "AliasesTable"

    pk = UnicodeAttribute(hash_key=True)
    profile_id = UnicodeAttribute()
    created_at = UnicodeAttribute()


class WorkspaceItem(Model):
    """Workspaces, hashed API keys and per-workspace settings, keyed by `pk`/`sk`."""

    class Meta:
        table_name = "WorkspacesTable"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    workspace = UnicodeAttribute()
    data = JSONAttribute(null=True)
    created_at = UnicodeAttribute()


class SegmentItem(Model):
    """A segment of a workspace: its filter, who made it, its member count and its rebuild."""

    class Meta:
        table_name = "SegmentsTable"

    workspace = UnicodeAttribute(hash_key=True)
    segment_id = UnicodeAttribute(range_key=True)
    name = UnicodeAttribute()
    kind = UnicodeAttribute()
    filter = JSONAttribute()
    draft = BooleanAttribute(default=False)
    relative_dates = BooleanAttribute(default=False)
    created_by = UnicodeAttribute()
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    member_count = NumberAttribute(default=0)
    rebuild_run = UnicodeAttribute(null=True)
    rebuild_parts = NumberAttribute(default=0)
    rebuild_done = UnicodeSetAttribute(null=True)
    based_on = UnicodeAttribute(null=True)  # a kept segment: the segment whose filter it follows
    adds = JSONAttribute(null=True)  # ... and the filter it adds to it
    kept_by = UnicodeAttribute(null=True)  # ... and what keeps it (e.g. an action's quality gate)


class ByProfile(GlobalSecondaryIndex["MembershipItem"]):  # type: ignore[no-untyped-call]
    """The segments one profile is in, so it can leave all of them when archived or merged away."""

    class Meta:
        index_name = "ByProfile"
        projection = KeysOnlyProjection()

    profile_key = UnicodeAttribute(hash_key=True)
    pk = UnicodeAttribute(range_key=True)


class MembershipItem(Model):
    """One profile in one segment (`pk` = `{workspace}#{segment}`); its stream carries the events."""

    class Meta:
        table_name = "MembershipsTable"

    pk = UnicodeAttribute(hash_key=True)
    profile_id = UnicodeAttribute(range_key=True)
    profile_key = UnicodeAttribute()
    workspace = UnicodeAttribute()
    segment_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    entered_at = UnicodeAttribute()
    run = UnicodeAttribute(null=True)  # the rebuild run that put it; none when a change to the profile did
    by_profile = ByProfile()


class EventMarkItem(Model):
    """A stream record whose segment event is published and counted (`id` = `segment-event#{eventID}`).

    Kept in the idempotency table, whose TTL attribute `expiration` (epoch seconds) removes it later."""

    class Meta:
        table_name = "IdempotencyTable"

    id = UnicodeAttribute(hash_key=True)
    expiration = NumberAttribute()


MODELS: dict[str, type[Model]] = {
    "profiles_table": ProfilesTableItem,
    "aliases_table": AliasItem,
    "workspaces_table": WorkspaceItem,
    "jobs_table": JobsItem,
    "segments_table": SegmentItem,
    "memberships_table": MembershipItem,
    "idempotency_table": EventMarkItem,
    "actions_table": ActionsTableItem,
}


def _point(model: type[Model], settings_attribute: str, settings: Settings) -> None:
    meta: Any = model.Meta
    meta.table_name = getattr(settings, settings_attribute)
    meta.region = settings.region
    for each in _with_subclasses(model):
        each._connection = None  # reconnect with the new settings


def _with_subclasses(model: type[Model]) -> list[type[Model]]:
    """A model and every model derived from it (they share its Meta, but each caches its own connection)."""
    return [model, *(each for child in model.__subclasses__() for each in _with_subclasses(child))]


def configure(settings: Settings) -> None:
    """Point the models at the deployment's tables (names and region come from the template)."""
    for attribute, model in MODELS.items():
        _point(model, attribute, settings)

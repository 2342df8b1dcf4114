"""PynamoDB models of the tables in `template.yaml`; their names come from the environment."""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute, VersionAttribute
from pynamodb.models import Model

from roster.config import Settings


class ProfileItem(Model):
    """One profile. `pk` is `{workspace}#{kind}`, so a workspace's profiles page by query."""

    class Meta:
        table_name = "ProfilesTable"

    pk = UnicodeAttribute(hash_key=True)
    profile_id = UnicodeAttribute(range_key=True)
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
    version = VersionAttribute()


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


class JobItem(Model):
    """Import jobs and the result of each of their batches (`sk` = `import#{id}[#batch#{n}]`)."""

    class Meta:
        table_name = "JobsTable"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    data = JSONAttribute()
    created_at = UnicodeAttribute()
    expires_at = NumberAttribute(null=True)


MODELS: dict[str, type[Model]] = {
    "profiles_table": ProfileItem,
    "aliases_table": AliasItem,
    "workspaces_table": WorkspaceItem,
    "jobs_table": JobItem,
}


def configure(settings: Settings) -> None:
    """Point the models at the deployment's tables (names and region come from the template)."""
    for attribute, model in MODELS.items():
        meta: Any = model.Meta
        meta.table_name = getattr(settings, attribute)
        meta.region = settings.region
        model._connection = None  # reconnect with the new settings

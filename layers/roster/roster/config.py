"""Where a deployment keeps things: read once from the environment the template sets."""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import BaseModel


class Settings(BaseModel):
    """Names of the resources `template.yaml` declares, passed to every function as variables."""

    region: str = "us-east-1"
    profiles_table: str = "ProfilesTable"
    aliases_table: str = "AliasesTable"
    workspaces_table: str = "WorkspacesTable"
    jobs_table: str = "JobsTable"
    segments_table: str = "SegmentsTable"
    memberships_table: str = "MembershipsTable"
    idempotency_table: str = "IdempotencyTable"
    uploads_bucket: str = "UploadsBucket"
    import_queue_url: str = ""
    ingest_queue_url: str = ""
    segment_queue_url: str = ""
    enrich_queue_url: str = ""
    salesforce_queue_url: str = ""
    export_queue_url: str = ""
    event_bus_name: str = "default"
    admin_key_secret: str = "AdminKeySecret"  # noqa: S105 - the name of a secret, not its value

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        values = {name: env[name.upper()] for name in cls.model_fields if name.upper() in env}
        values.setdefault("region", env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1")
        return cls(**values)


@lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings.from_env()

"""Where a deployment keeps things: read once from the environment the template sets, and checked then.

Every name is required (but the few that one function alone reads): a function started without one of them fails
its cold start with the variables it misses, instead of failing later at the first send to an empty queue URL.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field


class MissingSettings(RuntimeError):
    """Environment variables the template sets were not set (or were empty)."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(f"missing environment variables: {', '.join(names)} (template.yaml sets them)")
        self.names = names


class Settings(BaseModel):
    """Names of the resources `template.yaml` declares, passed to every function as variables."""

    model_config = ConfigDict(frozen=True)

    region: str
    profiles_table: str
    aliases_table: str
    workspaces_table: str
    jobs_table: str
    segments_table: str
    memberships_table: str
    idempotency_table: str
    actions_table: str
    uploads_bucket: str
    import_queue_url: str
    ingest_queue_url: str
    segment_queue_url: str
    enrich_queue_url: str
    salesforce_queue_url: str
    hubspot_queue_url: str
    action_delivery_queue_url: str  # FIFO: one message group per destination
    export_queue_url: str
    hubspot_export_queue_url: str
    warehouse_queue_url: str  # DuckDB and Postgres imports (the warehouse layer)
    warehouse_cloud_queue_url: str  # Snowflake and BigQuery imports (the warehouse-cloud layer)
    event_bus_name: str
    admin_key_secret: str
    #: The function the API invokes to test, browse and preview Snowflake and BigQuery (set for the API only).
    warehouse_probe_function: str | None = None
    #: The Salesforce API version Roster speaks (template parameter SalesforceApiVersion, "68.0" by default).
    salesforce_api_version: str = Field(pattern=r"^\d{2,3}\.0$")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The settings in `env` (the process environment by default); raises MissingSettings naming
        every variable that is missing or empty. The region falls back to the one Lambda sets."""
        env = os.environ if env is None else env
        values = {name: env.get(name.upper(), "") for name in cls.model_fields}
        values["region"] = values["region"] or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
        missing = [name.upper() for name, value in values.items() if not value and cls.model_fields[name].is_required()]
        if missing:
            raise MissingSettings(missing)
        return cls(**{name: value for name, value in values.items() if value})


@lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings.from_env()

"""Settings are checked once, at cold start: a missing variable is named, not found at the first send."""

from __future__ import annotations

import pytest

from roster.config import MissingSettings, Settings

COMPLETE = {name.upper(): f"the-{name}" for name in Settings.model_fields if name != "region"} | {
    "SALESFORCE_API_VERSION": "68.0"
}


def test_complete_environment_gives_settings_with_the_lambda_region() -> None:
    settings = Settings.from_env(COMPLETE | {"AWS_REGION": "eu-west-1"})
    assert settings.import_queue_url == "the-import_queue_url"
    assert settings.region == "eu-west-1"


def test_a_missing_or_empty_variable_is_named() -> None:
    env = {name: value for name, value in COMPLETE.items() if name != "EXPORT_QUEUE_URL"} | {"JOBS_TABLE": ""}
    with pytest.raises(MissingSettings, match="EXPORT_QUEUE_URL") as raised:
        Settings.from_env(env)
    assert raised.value.names == ["JOBS_TABLE", "EXPORT_QUEUE_URL"]


def test_a_malformed_salesforce_api_version_fails_the_cold_start_by_name() -> None:
    with pytest.raises(ValueError, match="salesforce_api_version"):
        Settings.from_env(COMPLETE | {"SALESFORCE_API_VERSION": "v68"})

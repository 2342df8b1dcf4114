"""Where every connector keeps its credentials: Secrets Manager (never DynamoDB), one secret per workspace and
system (`roster/<workspace>/<system>`, the path the template's IAM policy allows), through an injected client."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, SecretStr


def revealed(credentials: BaseModel) -> str:
    """The credentials as the JSON a secret holds: secrets in clear text (only ever sent to Secrets Manager)."""
    values = {
        name: value.get_secret_value() if isinstance(value, SecretStr) else value
        for name, value in credentials.model_dump().items()
    }
    return json.dumps(values)


class SecretValues:
    """Put, get and delete secret strings by name; a missing secret reads as None and deletes as done."""

    def __init__(self, secrets: Any) -> None:
        self.secrets = secrets

    def _put(self, name: str, value: str) -> None:
        try:
            self.secrets.put_secret_value(SecretId=name, SecretString=value)
        except self.secrets.exceptions.ResourceNotFoundException:
            self.secrets.create_secret(Name=name, SecretString=value)

    def _get(self, name: str) -> str | None:
        try:
            return str(self.secrets.get_secret_value(SecretId=name)["SecretString"])
        except self.secrets.exceptions.ResourceNotFoundException:
            return None

    def _delete(self, name: str) -> None:
        try:
            self.secrets.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
        except self.secrets.exceptions.ResourceNotFoundException:
            return

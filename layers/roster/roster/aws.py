"""The AWS clients of one process, made once and handed to the code that needs them."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import boto3
from aws_lambda_powertools.utilities import parameters
from botocore.config import Config

from roster.config import Settings, settings
from roster.store.models import configure


@dataclass
class Clients:
    settings: Settings

    @cached_property
    def s3(self) -> Any:
        return boto3.client("s3", region_name=self.settings.region, config=Config(s3={"addressing_style": "path"}))

    @cached_property
    def sqs(self) -> Any:
        return boto3.client("sqs", region_name=self.settings.region)

    @cached_property
    def events(self) -> Any:
        return boto3.client("events", region_name=self.settings.region)

    @cached_property
    def lambda_(self) -> Any:
        """Synchronous invokes from the API: no retry (one failed try already took its time), read within the
        API's own 29 s."""
        config = Config(read_timeout=28, connect_timeout=5, retries={"total_max_attempts": 1})
        return boto3.client("lambda", region_name=self.settings.region, config=config)

    @cached_property
    def secrets(self) -> Any:
        return boto3.client("secretsmanager", region_name=self.settings.region)


_clients: Clients | None = None


def clients() -> Clients:
    """This process's clients, with the store's tables pointed at the deployment's."""
    global _clients
    if _clients is None:
        configure(settings())
        _clients = Clients(settings())
    return _clients


def read_secret(name: str) -> str:
    """A secret's value from Secrets Manager, cached for five minutes (so a rotated key takes effect soon)."""
    return str(parameters.get_secret(name, max_age=300))


def reset() -> None:
    """Forget clients and settings (tests and the local stack change the environment)."""
    global _clients
    _clients = None
    settings.cache_clear()

"""The API's one logger: JSON lines with the workspace of each call (never a key's secret)."""

from __future__ import annotations

from aws_lambda_powertools import Logger

logger = Logger(service="roster-api")

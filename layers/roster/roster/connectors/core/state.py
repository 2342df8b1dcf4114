"""The status vocabulary every connector's import and export runs share, and the object states beside them."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    IDLE = "idle"
    RUNNING = "running"
    FAILED = "failed"  # stopped by something retrying cannot fix (credentials, a bad mapping)
    PARKED = "parked"  # a page kept failing; its message waits in the dead-letter queue
    SUCCEEDED = "succeeded"  # runs only

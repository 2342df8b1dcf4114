"""The run and object-state records every connector's import and export share; adapters add their own fields.

A run is one import or export of one object: its outcome, the API calls it used, and the checkpoint it resumes
from (the adapter's fields). An object's state holds which run is current and that run's heartbeat, so a silent
worker is declared stuck. Both are written at the `version` read (see `runs.py`).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel


class Status(StrEnum):
    IDLE = "idle"
    RUNNING = "running"
    FAILED = "failed"  # stopped by something retrying cannot fix (credentials, a bad mapping)
    PARKED = "parked"  # a page kept failing; its message waits in the dead-letter queue
    SUCCEEDED = "succeeded"  # runs only


class Run(BaseModel):
    """One run of one object (adapters narrow `object` to their own objects)."""

    run_id: str
    workspace: str
    object: str
    status: Status = Status.RUNNING
    started_at: str
    finished_at: str | None = None
    api_calls: int = 0
    error: str | None = None
    error_code: str | None = None
    version: int | None = None


class RunState(BaseModel):
    """One object's state: its current run and that run's last commit (heartbeat)."""

    workspace: str
    object: str
    status: Status = Status.IDLE
    run_id: str | None = None
    last_started: str | None = None
    heartbeat: str | None = None  # the last commit of the running run (a silent worker is declared stuck)
    error: str | None = None
    version: int | None = None


class ExportCounts(BaseModel):
    """What an export did with the profiles it considered (summed over its batches)."""

    considered: int = 0  # profiles looked at
    unchanged: int = 0  # linked records with nothing the rules allow to change (not sent)
    updated: int = 0
    created: int = 0
    rejected: int = 0
    fields_written: int = 0

    def add(self, other: ExportCounts) -> ExportCounts:
        return ExportCounts(**{name: getattr(self, name) + getattr(other, name) for name in ExportCounts.model_fields})

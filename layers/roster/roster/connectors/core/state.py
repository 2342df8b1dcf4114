"""The run and object-state records every connector's import and export share; adapters add their own fields.

A run is one import or export of one object: its outcome, the API calls it used, and the checkpoint it resumes
from (the adapter's fields). An object's state holds which run is current and that run's heartbeat, so a silent
worker is declared stuck. Both are written at the `version` read (see `runs.py`).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class Status(StrEnum):
    IDLE = "idle"
    RUNNING = "running"
    FAILED = "failed"  # stopped by something retrying cannot fix (credentials, a bad mapping)
    PARKED = "parked"  # a page kept failing; its message waits in the dead-letter queue
    SUCCEEDED = "succeeded"  # runs only


class Mode(StrEnum):
    FULL = "full"
    INCREMENTAL = "incremental"


class Schedule(BaseModel):
    """How often a workspace's imports run: incremental every 15 minutes and a full sync weekly by default."""

    incremental_minutes: int = Field(default=15, ge=5, le=24 * 60)
    full_days: int = Field(default=7, ge=1, le=90)


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


class ImportRun(Run):
    """One import run: full or incremental."""

    mode: Mode


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


class ImportState(RunState):
    """An imported object's state: its toggle, the adapter's high-water mark (None before a first full sync)
    and when the last full sync started."""

    enabled: bool = False
    watermark: Any = None
    last_full_sync: str | None = None


class RunCounts(BaseModel):
    """What an import run did with the records it read (summed over its batches)."""

    read: int = 0
    created: int = 0
    updated: int = 0
    merged: int = 0
    unchanged: int = 0
    deleted: int = 0
    skipped: int = 0  # overlap re-reads already committed by an earlier sync
    dropped_values: int = 0  # values that could not be stored (a malformed e-mail, say); the record still imports
    rejected: int = 0  # records too large to store (see roster.profiles.limits); the reason is in the problems

    def add(self, other: RunCounts) -> RunCounts:
        return RunCounts(**{name: getattr(self, name) + getattr(other, name) for name in RunCounts.model_fields})


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

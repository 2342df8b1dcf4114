"""The enrichment use cases of a deployment, made together over one store, bucket and queue."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from roster.enrich.audiences import Audiences
from roster.enrich.budget import Budgets
from roster.enrich.definitions import MAX_RECORDS_PER_BATCH
from roster.enrich.exports import RunExports
from roster.enrich.runs import Runs
from roster.enrich.saved import Definitions
from roster.enrich.trials import Trials
from roster.enrich.worker import Worker
from roster.eventbus import Event
from roster.store.enrichments import EnrichmentStore
from roster.store.profiles import ProfileStore
from roster.store.segments import SegmentStore
from roster.store.workspaces import WorkspaceStore


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Enrichments:
    """One object per use case (definitions, budgets, runs, the worker, tests on 10 rows, CSV exports),
    sharing the store; `wire` makes them the one way they fit together."""

    store: EnrichmentStore
    definitions: Definitions
    budgets: Budgets
    runs: Runs
    worker: Worker
    trials: Trials
    exports: RunExports

    @classmethod
    def wire(
        cls,
        store: EnrichmentStore,
        profiles: ProfileStore,
        segments: SegmentStore,
        workspaces: WorkspaceStore,
        s3: Any,
        bucket: str,
        send: Callable[[BaseModel], None],
        secrets: Callable[[str], str],
        clock: Callable[[], datetime] = _now,
        max_batch: int = MAX_RECORDS_PER_BATCH,
        publish: Callable[[Sequence[Event]], None] = lambda events: None,
    ) -> Enrichments:
        """`send` queues enrichment work; `secrets` reads the secrets HTTP providers name; `publish` puts
        `signal.fired` events on the bus."""
        audiences = Audiences(profiles, segments)
        budgets = Budgets(store, audiences)
        definitions = Definitions(store, segments, workspaces, budgets)
        runs = Runs(store, definitions, audiences, s3, bucket, send, max_batch)
        return cls(
            store=store,
            definitions=definitions,
            budgets=budgets,
            runs=runs,
            worker=Worker(runs, store, profiles, workspaces, s3, bucket, secrets, clock, publish=publish),
            trials=Trials(definitions, audiences, profiles, workspaces, secrets, clock),
            exports=RunExports(store, s3, bucket),
        )

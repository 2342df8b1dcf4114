"""Where a connector keeps its object states and runs on the jobs table: `RunItems` over one kind of job's
`JobKeys` (Salesforce's import and export, HubSpot's import are each one). Items, keys and versioned writes
are `roster.store.salesforce`'s (the connector items' home, whatever the CRM); writes are conditional on the
version read (Stale), and a run commits together with its object's state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from roster.connectors.core.state import Run, RunState
from roster.store.jobs import JobLayout
from roster.store.salesforce import RunKeys, SalesforceItems

R = TypeVar("R", bound=Run)
S = TypeVar("S", bound=RunState)
ObjectT = TypeVar("ObjectT", bound=str)


@dataclass(frozen=True)
class JobKeys:
    """Where one kind of job (import or export) keeps its object states and runs, and what errors call them."""

    layout: JobLayout
    state_name: str
    run_name: str


class RunItems(Generic[R, S, ObjectT]):
    """The object states and runs of one kind of job; writes are conditional on the version read (Stale)."""

    def __init__(self, run: type[R], state: type[S], keys: JobKeys) -> None:
        self._items = SalesforceItems()
        self._run, self._state, self._keys = run, state, keys

    def state(self, workspace: str, obj: ObjectT) -> S:
        state = self._items.read(self._state, self._keys.layout.state(workspace, obj))
        return state or self._state(workspace=workspace, object=obj)

    def enabled(self) -> list[tuple[str, ObjectT]]:
        """Every (workspace, object) switched on, from the one index partition."""
        return [(entry["workspace"], entry["object"]) for entry in self._items.enabled(self._keys.layout.enabled)]

    def _put_state(self, state: S, enabled: bool) -> S:
        """Write the state at the version read (raises Stale) and keep the scheduler's index in step."""
        what = f"{state.workspace} {state.object} {self._keys.state_name}"
        saved = self._items.put_versioned(self._keys.layout.state(state.workspace, state.object), state, what)
        self._items.set_enabled(self._keys.layout.enabled, state.workspace, state.object, enabled)
        return saved

    def run(self, workspace: str, obj: ObjectT, run_id: str) -> R | None:
        return self._items.read(self._run, self._keys.layout.run(workspace, obj, run_id))

    def runs(self, workspace: str, obj: ObjectT, limit: int = 20) -> list[R]:
        """History, newest first."""
        return self._items.read_all(self._run, workspace, self._keys.layout.runs(obj), newest_first=True, limit=limit)

    def commit(self, run: R, state: S | None = None) -> tuple[R, S | None]:
        """Write a run (and the object's state) at the versions read, all or nothing; raises Stale."""
        keys = RunKeys(
            self._keys.layout.run(run.workspace, run.object, run.run_id),
            self._keys.layout.state(run.workspace, run.object),
            run.started_at,
            f"{self._keys.run_name} {run.run_id} of {run.workspace} {run.object}",
        )
        return self._items.commit(keys, run, state)

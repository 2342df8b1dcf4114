"""What the connector benches share: a worker child per run (so each figure is one process's own), the run worked
to its end as the queue would, the worker's figures as one JSON line, its peak memory, and a null profile store."""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

from roster.profiles.fields import Kind
from roster.profiles.model import Profile
from roster.store.profiles import ProfileStore
from roster_dev.local.stack import LocalStack
from tests.runs import run_to_end


class NullProfiles(ProfileStore):
    """A profile store that keeps nothing: the worker's own cost, without moto's (see bench_core for that)."""

    def alias_owners(self, workspace: str, kind: Kind, aliases: Iterable[str]) -> dict[str, str]:
        return {}

    def get_many(self, workspace: str, kind: Kind, profile_ids: Iterable[str]) -> dict[str, Profile]:
        return {}

    def commit(self, profile: Profile, merged: Iterable[Profile] = (), new_aliases: Iterable[str] = ()) -> None:
        profile.version = 1


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited from the forking parent)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory(figures: dict[str, Any]) -> str:
    """A worker's memory as the reports print it."""
    return f"peak RSS {figures['peak_mb']:.0f} MB (after imports {figures['baseline_mb']:.0f} MB)"


def timed_run(loop: Any, start: Callable[[], Any]) -> tuple[Any, float]:
    """Start a run and work on it in this process until it ends (each invocation given Lambda's 900 s): the run
    and the seconds it took."""
    started = time.perf_counter()
    run = run_to_end(loop, start(), lambda: 900.0)
    return run, time.perf_counter() - started


def print_figures(run: Any, seconds: float, baseline: float, **more: Any) -> None:
    """A worker's figures, one JSON line for the parent (`spawn_worker`); the peak memory is read now."""
    figures = {
        "run": run.model_dump(mode="json"),
        "seconds": seconds,
        "baseline_mb": baseline,
        "peak_mb": peak_rss_mb(),
    }
    print(json.dumps({**figures, **more}))


def run_bench(
    parser: argparse.ArgumentParser,
    worker: Callable[[argparse.Namespace], None],
    bench: Callable[[argparse.Namespace, LocalStack], None],
) -> None:
    """A bench's main: in a worker child (`--worker`) its worker; else the bench, on a local stack started here."""
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    stack = LocalStack.from_project().start()
    try:
        bench(args, stack)
    finally:
        stack.stop()


def spawn_worker(script: str, *options: str, endpoint: str | None = None) -> dict[str, Any]:
    """Run `script --worker OPTIONS` in a child (reaching the local stack through its moto server `endpoint`, when
    given) and return the figures its last line prints."""
    environment = {**os.environ, "AWS_ENDPOINT_URL": endpoint} if endpoint else None
    command = [sys.executable, script, "--worker", *options]
    output = subprocess.run(command, check=True, capture_output=True, text=True, env=environment).stdout
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return result

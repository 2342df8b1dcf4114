"""A rate limit shared by every thread that calls one provider."""

from __future__ import annotations

import threading
import time


class RateLimiter:
    """Starts calls at least `1 / per_second` apart, however many threads ask at once.

    Each caller reserves the next free start time under a lock and sleeps until it outside the
    lock, so concurrent callers queue up in order instead of racing, and idle time never adds up
    to a burst: the limit holds over any window, which is what providers' quotas count.
    """

    def __init__(self, per_second: float) -> None:
        if per_second <= 0:
            raise ValueError("per_second must be positive")
        self._interval = 1.0 / per_second
        self._next_start = float("-inf")
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Block until this caller may start its call; the (monotonic) start time it was given."""
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next_start)
            self._next_start = start + self._interval
        if start > now:
            time.sleep(start - now)
        return start

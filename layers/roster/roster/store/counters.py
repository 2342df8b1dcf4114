"""Counters of calls spent against an allowance, shared by every worker: one item per window on the jobs table
(keys in `roster.store.jobs`). Spending is one conditional atomic ADD, so the allowance holds however many
workers spend at once, with no read before the write."""

from __future__ import annotations

from pynamodb.exceptions import DoesNotExist, UpdateError

from roster.store.jobs import CounterItem, Key


def _refused(error: UpdateError) -> bool:
    return error.cause_response_code == "ConditionalCheckFailedException"


class Counters:
    def spend(self, key: Key, allowance: int, expires_at: int, calls: int = 1) -> bool:
        """Add `calls` to the window's count if it stays within `allowance`; False (and nothing added) if not."""
        if calls > allowance:
            return False
        try:
            CounterItem(*key).update(
                actions=[CounterItem.used.add(calls), CounterItem.expires_at.set(expires_at)],
                condition=CounterItem.used.does_not_exist() | (CounterItem.used <= allowance - calls),
            )
        except UpdateError as error:
            if _refused(error):
                return False
            raise
        return True

    def used(self, key: Key) -> int:
        try:
            return int(CounterItem.get(*key, consistent_read=True).used)
        except DoesNotExist:
            return 0

    def use_up(self, key: Key, allowance: int, expires_at: int) -> None:
        """Count the window as spent (the API itself said it was)."""
        CounterItem(*key).update(actions=[CounterItem.used.set(allowance), CounterItem.expires_at.set(expires_at)])

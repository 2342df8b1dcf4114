"""The SOQL Roster sends: field lists, datetime literals, the mapping preview's query and the sync's (a Bulk
query per window of SystemModstamp, and the REST count and oldest stamp that size the windows).

Names come from describe (mapped fields) or Roster's own lists, never from request text, and times are written
in the Bulk CSV's own format, so a stored stamp and a query bound compare as text. Nothing else builds SOQL.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime


def soql_time(moment: datetime) -> str:
    """A SOQL datetime literal (unquoted), in the Bulk CSV's own format so stamps compare as text."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def field_list(names: Iterable[str]) -> str:
    return ", ".join(dict.fromkeys(names))


def latest(obj: str, names: Iterable[str], n: int) -> str:
    """The `n` most recently changed records of `obj` (the mapping preview)."""
    return f"SELECT {field_list(names)} FROM {obj} ORDER BY SystemModstamp DESC LIMIT {int(n)}"  # noqa: S608


def window(obj: str, names: Iterable[str], start: str | None, end: str | None) -> str:
    """Every record of `obj` with `start <= SystemModstamp < end` (either bound may be open), for a Bulk query job.

    No ORDER BY: it turns PK chunking off, so on a large object the job gets slow and may time out."""
    bounds = [f"SystemModstamp >= {start}" if start else "", f"SystemModstamp < {end}" if end else ""]
    where = " AND ".join(bound for bound in bounds if bound)
    return f"SELECT {field_list(names)} FROM {obj}{' WHERE ' + where if where else ''}"  # noqa: S608


def count(obj: str, start: str | None) -> str:
    """How many records of `obj` have `SystemModstamp >= start` (a REST query: Bulk queries refuse COUNT())."""
    return f"SELECT COUNT() FROM {obj}{f' WHERE SystemModstamp >= {start}' if start else ''}"  # noqa: S608


def oldest(obj: str) -> str:
    """The oldest SystemModstamp of `obj` (a REST query on the field's index: one row, quick at any size)."""
    return f"SELECT SystemModstamp FROM {obj} ORDER BY SystemModstamp ASC LIMIT 1"  # noqa: S608

"""The SOQL Roster sends: field lists, datetime literals, and its two queries (the mapping preview's and the
sync's Bulk query).

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


def changed(obj: str, names: Iterable[str], since: datetime | None) -> str:
    """Every record of `obj` (changed at or after `since`), in (SystemModstamp, Id) order, for a Bulk query job."""
    where = f" WHERE SystemModstamp >= {soql_time(since)}" if since else ""
    return f"SELECT {field_list(names)} FROM {obj}{where} ORDER BY SystemModstamp, Id"  # noqa: S608

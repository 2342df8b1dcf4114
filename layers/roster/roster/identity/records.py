"""Building the canonical incoming record from what a source sent."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from roster.identity.aliases import AliasType, matching_aliases
from roster.profiles.fields import Kind
from roster.profiles.limits import MAX_RECORD_ID
from roster.profiles.model import IncomingRecord
from roster.profiles.values import ValueProblem, coerce_fields, parse_time, quoted, utc_now

SOURCE_NAME = r"^[a-z0-9][a-z0-9_.-]{0,62}$"


def to_incoming(
    kind: Kind,
    source: str,
    obj: str,
    raw_fields: dict[str, Any],
    *,
    record_id: str | None = None,
    observed_at: str | None = None,
) -> IncomingRecord:
    """A record with canonical values. Without an id of its own, a record is known by its natural
    key (e-mail or LinkedIn URL for people, domain or LinkedIn URL for companies), so sending the
    same person twice updates one record; failing that, by a hash of its values.
    Raises ValueProblem naming the field at fault."""
    fields = coerce_fields(kind, raw_fields)
    if all(value is None for value in fields.values()):
        raise ValueProblem("fields", "the record has no values")
    if observed_at:
        try:
            observed_at = parse_time(observed_at)
        except ValueError:
            raise ValueProblem("observed_at", f"{quoted(observed_at)} is not an ISO 8601 time") from None
    if record_id is not None:
        record_id = str(record_id).strip()
        if not record_id or len(record_id) > MAX_RECORD_ID:
            raise ValueProblem("id", f"a record id has 1 to {MAX_RECORD_ID} characters")
    return IncomingRecord(source, obj, record_id or natural_key(kind, fields), observed_at or utc_now(), fields)


def natural_key(kind: Kind, fields: dict[str, Any]) -> str:
    aliases = matching_aliases(kind, fields, frozenset(AliasType))
    if aliases:
        return aliases[0]
    present = {name: value for name, value in fields.items() if value is not None}
    digest = hashlib.sha256(json.dumps(present, sort_keys=True, default=str).encode()).hexdigest()
    return f"hash:{digest[:32]}"

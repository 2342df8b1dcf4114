"""Every size limit on what Roster stores, in one place (the README's "Limits" list says the same).

DynamoDB refuses an item over 400 KB and a key over 2,048 bytes. Rather than learn that from a failed
write (a 500, a CSV batch retried until it lands in the DLQ), every write path checks these limits up
front and rejects the one record at fault, naming the field and the limit, while the rest are stored.
Sizes are counted as stored: values are JSON with non-ASCII characters escaped (`\\u00e9`).
"""

from __future__ import annotations

import json
from typing import Any

#: Characters in one text value (or one item of a list).
MAX_TEXT = 10_000
#: One field's value as stored (a long list or many related records count here too).
MAX_VALUE_BYTES = 64 * 1024
#: Related records (a company's opportunities) in one field.
MAX_RELATED_RECORDS = 1000
#: Fields in one record.
MAX_FIELDS = 500
#: Custom fields a workspace declares per kind (all kept in one settings item, with the standard fields' room).
MAX_CUSTOM_FIELDS = 1000
#: All of one record's fields together, as stored.
MAX_RECORD_BYTES = 100 * 1024
#: A whole profile item: the latest snapshot of every source record, the winning fields and the history kept on
#: it. DynamoDB's limit is 400 KB; the margin leaves room for the bookkeeping attributes.
MAX_PROFILE_BYTES = 375 * 1024
#: Replaced values kept on the profile itself per source record and field; older ones move to history items
#: (and more move when the profile would outgrow MAX_PROFILE_BYTES). Nothing is dropped.
HISTORY_KEPT = 10
#: Records in one upsert request, and the request body's size.
MAX_UPSERT_RECORDS = 500
MAX_REQUEST_BYTES = 6 * 1024 * 1024  # Lambda's own limit on a synchronous invocation's payload
#: Identifiers that become alias keys (DynamoDB keys are at most 2,048 bytes): an e-mail address (RFC 5321),
#: a domain name and each of its labels (RFC 1035), a LinkedIn profile's slug, a source record id.
MAX_EMAIL = 254
MAX_DOMAIN = 253
MAX_DOMAIN_LABEL = 63
MAX_LINKEDIN_SLUG = 100
MAX_RECORD_ID = 255
MAX_KEY_BYTES = 2048


def stored_size(value: Any) -> int:
    """Bytes a value takes stored as JSON (the way the profile item stores it)."""
    return len(json.dumps(value))


def readable_size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / 1024 / 1024:.1f} MB"
    return f"{size / 1024:,.0f} KB" if size >= 1024 else f"{size} bytes"

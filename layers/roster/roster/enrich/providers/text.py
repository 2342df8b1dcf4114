"""Reading one input field of a record as clean text, the same way for every provider.

Records come from CSVs, CRMs and APIs, so a field may hold None, a number, a list, control
characters or a megabyte of junk. Providers read fields only through here, and an unusable value
becomes a "not found" result with the reason instead of an exception that would fail the batch.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Mapping
from typing import Any

from roster.profiles.fields import is_empty

#: Longer values are not names, titles, phones or addresses; refusing them bounds the work per record.
MAX_INPUT_CHARS = 1000


class InputProblem(ValueError):
    """A record's input field cannot be used; the provider answers "not found" with this reason."""


def read_text(record: Mapping[str, Any], field: str) -> str:
    """The field's value as one line of text (control characters and runs of spaces made one space).

    Numbers are accepted as text (a phone column read as a number), true/false, lists and objects
    are not. Raises InputProblem when the value is missing, empty, not text or too long.
    """
    value = record.get(field)
    if is_empty(value):
        raise InputProblem(f"no {field}")
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InputProblem(f"{field} is not text (got {type(value).__name__})")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InputProblem(f"{field} is not a finite number")
        value = int(value) if value.is_integer() else value  # 4155552671.0 from a spreadsheet
    try:
        raw = str(value)
    except ValueError:  # an integer with more digits than Python will print
        raise InputProblem(f"{field} is longer than {MAX_INPUT_CHARS} characters") from None
    if len(raw) > 4 * MAX_INPUT_CHARS:  # checked before the per-character cleaning below
        raise InputProblem(f"{field} is longer than {MAX_INPUT_CHARS} characters")
    text = " ".join("".join(" " if _is_invisible(char) else char for char in raw).split())
    if not text:
        raise InputProblem(f"no {field}")
    if len(text) > MAX_INPUT_CHARS:
        raise InputProblem(f"{field} is longer than {MAX_INPUT_CHARS} characters")
    return text


def optional_text(record: Mapping[str, Any], field: str) -> str | None:
    """The field's value as text when it is usable, else None (for hints such as a country)."""
    try:
        return read_text(record, field)
    except InputProblem:
        return None


def fold(text: str) -> str:
    """Lower case without accents (`Directeur Général` -> `directeur general`), for matching words."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _is_invisible(char: str) -> bool:
    return char.isspace() or unicodedata.category(char).startswith("C")

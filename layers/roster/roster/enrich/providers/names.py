"""Name parsing with nameparser: given, middle and family names, title, suffix and a clean full name.

`full_name` is parsed when the record has one ("Dr. Martin Luther King Jr.", "O'Brien, Conan");
otherwise `first_name` and `last_name` are taken as given and only their case is repaired, so a
two-word first name ("Mary Ann") stays whole. Case is repaired only when a name is written all in
upper or all in lower case ("JOSÉ ÑÚÑEZ" -> "José Ñúñez", "anna van der berg" -> "Anna van der Berg").
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

from nameparser import ParsedName, parse

from roster.enrich.providers.base import OfflineProvider, ProviderResult
from roster.enrich.providers.text import InputProblem, optional_text, read_text
from roster.profiles.fields import FieldType, is_empty

#: Besides letters and combining marks, the characters real names are written with (nicknames in quotes).
_NAME_PUNCTUATION = frozenset(" .,'’‘-‐–()\"“”")  # noqa: RUF001 - typographic quotes and dashes are meant

#: Longer values are lists of people, notes or junk rather than one person's name.
MAX_NAME_CHARS = 200


def name_text(record: Mapping[str, Any], field: str) -> str:
    """The field as a name, refusing values that are not one (an e-mail, markup, digits, emoji)."""
    text = read_text(record, field)
    if len(text) > MAX_NAME_CHARS:
        raise InputProblem(f"{field} is not a name (longer than {MAX_NAME_CHARS} characters)")
    for char in text:
        if unicodedata.category(char)[0] not in "LM" and char not in _NAME_PUNCTUATION:
            what = unicodedata.name(char, f"U+{ord(char):04X}").lower()
            raise InputProblem(f"{field} is not a name (it has the character {what})")
    if not any(unicodedata.category(char)[0] == "L" for char in text):
        raise InputProblem(f"{field} is not a name (it has no letters)")
    return text


class NameParsing(OfflineProvider):
    name = "name_parsing"
    inputs = ("full_name", "first_name", "last_name")
    outputs = {
        "first_name": FieldType.STRING,
        "middle_name": FieldType.STRING,
        "last_name": FieldType.STRING,
        "full_name": FieldType.STRING,  # given, middle and family names and suffix, without title or nickname
        "name_title": FieldType.STRING,  # Dr., Sir, Ms.
        "name_suffix": FieldType.STRING,  # Jr., III, PhD
        "nickname": FieldType.STRING,
    }

    def enrich_record(self, record: Mapping[str, Any]) -> ProviderResult:
        try:
            name, note = parse(name_text(record, "full_name")).capitalized(), None
        except InputProblem as problem:
            has_full_name = not is_empty(record.get("full_name"))
            parts = self._from_parts(record)
            if parts is None:
                raise problem if has_full_name else InputProblem("no full_name, first_name or last_name") from None
            name, note = parts, f"{problem}; used first_name and last_name" if has_full_name else None
        if not name.given and not name.family:
            return ProviderResult.not_found("the name has no given or family name")
        values = {
            "first_name": name.given,
            "middle_name": name.middle,
            "last_name": name.family,
            "full_name": name.render("{given} {middle} {family} {suffix}"),
            "name_title": name.title,
            "name_suffix": name.suffix,
            "nickname": name.nickname,
        }
        return ProviderResult.found({field: value for field, value in values.items() if value}, reason=note)

    def _from_parts(self, record: Mapping[str, Any]) -> ParsedName | None:
        """First and last names as given, each with its own case repaired ("Mary Ann", "SMITH" -> "Smith")."""
        name, found = parse(""), False
        for role, field in (("given", "first_name"), ("family", "last_name")):
            if optional_text(record, field) is None:
                continue
            part = parse("").replace(**{role: name_text(record, field)}).capitalized()
            name, found = name.replace(**{role: part.render("{" + role + "}")}), True
        return name if found else None

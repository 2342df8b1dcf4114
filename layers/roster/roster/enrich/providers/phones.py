"""Phone normalization with libphonenumber: the E.164 form, the kind of line and its country.

A number written with its country code (`+44 20 7946 0958`) needs nothing else. A national one
(`(415) 555-2671`) is read in the country the record's `country` field names (an ISO code such as
`GB` or a name such as `Deutschland`), else in the provider's default region, else not at all:
guessing a country would write a wrong E.164 number that looks right.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from typing import Any

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType, geocoder

from roster.enrich.providers.base import OfflineProvider, ProviderResult
from roster.enrich.providers.text import InputProblem, fold, optional_text, read_text
from roster.profiles.fields import FieldType

#: Languages whose country names a `country` field may use (libphonenumber carries the names).
_NAME_LANGUAGES = ("en", "de", "es", "fr", "it", "nl", "pt")

#: Spellings of countries that are neither an ISO code nor a name libphonenumber knows.
_COUNTRY_ALIASES = {
    "uk": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "great britain": "GB",
    "usa": "US",
    "united states of america": "US",
    "america": "US",
    "uae": "AE",
    "south korea": "KR",
    "russia": "RU",
}

#: Regions libphonenumber answers for numbers that belong to no country (such as +800 freephone).
_NO_COUNTRY = frozenset({phonenumbers.UNKNOWN_REGION, phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY})

_PARSE_PROBLEMS = {
    NumberParseException.NOT_A_NUMBER: "phone is not a phone number",
    NumberParseException.TOO_SHORT_NSN: "phone is too short",
    NumberParseException.TOO_SHORT_AFTER_IDD: "phone is too short",
    NumberParseException.TOO_LONG: "phone is too long",
}


def _country_key(text: str) -> str:
    """`U.S.A.` -> `usa`, `Côte d'Ivoire` -> `cote d ivoire`: one key per way of writing a country."""
    return " ".join(re.findall(r"[a-z0-9]+", fold(text).replace(".", "")))


@cache
def _regions_by_name() -> dict[str, str]:
    """Country keys (ISO codes and names in several languages) to ISO region codes, built once."""
    regions: dict[str, str] = {}
    for code in sorted(phonenumbers.SUPPORTED_REGIONS):
        regions[_country_key(code)] = code
        for language in _NAME_LANGUAGES:
            # libphonenumber's own table of region names; the module exposes no public accessor.
            display = geocoder._region_display_name(code, language)
            if display:
                regions.setdefault(_country_key(display), code)
    regions.update(_COUNTRY_ALIASES)
    return regions


def region_of(country: str | None) -> str | None:
    """The ISO region code a country field names (`gb`, `United Kingdom`, `UK` -> `GB`), or None."""
    return None if country is None else _regions_by_name().get(_country_key(country))


class PhoneNormalization(OfflineProvider):
    name = "phone_normalization"
    inputs = ("phone", "country")
    outputs = {
        "phone_e164": FieldType.STRING,
        "phone_type": FieldType.STRING,  # mobile, fixed_line, fixed_line_or_mobile, toll_free, voip, ...
        "phone_country": FieldType.STRING,  # ISO 3166-1 alpha-2
        "phone_extension": FieldType.STRING,
    }

    def __init__(self, *, default_region: str | None = None, credits_per_record: float = 0.0) -> None:
        super().__init__(credits_per_record=credits_per_record)
        self.default_region = region_of(default_region)
        if default_region is not None and self.default_region is None:
            raise ValueError(f"unknown default region {default_region!r}")

    def enrich_record(self, record: Mapping[str, Any]) -> ProviderResult:
        text = read_text(record, "phone")
        hint = optional_text(record, "country")
        region = region_of(hint) or self.default_region
        try:
            number = phonenumbers.parse(text, region)
        except NumberParseException as problem:
            if problem.error_type != NumberParseException.INVALID_COUNTRY_CODE:
                raise InputProblem(_PARSE_PROBLEMS.get(problem.error_type, "phone is not a phone number")) from None
            if hint is not None and region is None:
                raise InputProblem("phone has no country code and country is not a known country") from None
            raise InputProblem("phone has no country code (+...) and the record has no country") from None
        if not phonenumbers.is_valid_number(number):
            return ProviderResult.not_found(f"phone is not a valid number for country code +{number.country_code}")
        values = {
            "phone_e164": phonenumbers.format_number(number, PhoneNumberFormat.E164),
            "phone_type": PhoneNumberType.to_string(phonenumbers.number_type(number)).lower(),
        }
        country = phonenumbers.region_code_for_number(number)
        if country and country not in _NO_COUNTRY:
            values["phone_country"] = country
        if number.extension:
            values["phone_extension"] = number.extension
        return ProviderResult.found(values)

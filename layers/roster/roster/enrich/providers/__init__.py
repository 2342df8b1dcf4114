"""Enrichment providers by name: the built-in offline ones, and HTTP providers built from configuration.

A run looks a provider up here, hands it batches of `batch_size` records' fields and gets one
`ProviderResult` per record back; `inputs`, `outputs` and `credits_per_record` tell it what to
read, what it may write and what a record costs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from roster.enrich.providers.base import OfflineProvider, Provider, ProviderResult, ResultStatus
from roster.enrich.providers.domains import CompanyDomain
from roster.enrich.providers.emails import EmailStatus, EmailValidation
from roster.enrich.providers.http import HttpProvider, HttpProviderConfig, OutputMapping
from roster.enrich.providers.names import NameParsing
from roster.enrich.providers.phones import PhoneNormalization
from roster.enrich.providers.titles import DEPARTMENTS, SENIORITIES, JobTitleClassifier

__all__ = [
    "BUILT_IN",
    "DEPARTMENTS",
    "SENIORITIES",
    "EmailStatus",
    "HttpProvider",
    "HttpProviderConfig",
    "OfflineProvider",
    "OutputMapping",
    "Provider",
    "ProviderResult",
    "ResultStatus",
    "UnknownProvider",
    "built_in_provider",
    "http_provider",
]

#: The built-in providers' classes by provider name.
BUILT_IN: Mapping[str, type[OfflineProvider]] = MappingProxyType(
    {
        provider.name: provider
        for provider in (EmailValidation, PhoneNormalization, NameParsing, JobTitleClassifier, CompanyDomain)
    }
)


class UnknownProvider(KeyError):
    """No built-in provider has this name."""


def built_in_provider(name: str, *, credits_per_record: float = 0.0) -> OfflineProvider:
    """The built-in provider called `name`, metered at `credits_per_record` (free by default)."""
    try:
        provider = BUILT_IN[name]
    except KeyError:
        raise UnknownProvider(f"no built-in enrichment provider is called {name!r}") from None
    return provider(credits_per_record=credits_per_record)


def http_provider(config: HttpProviderConfig | Mapping[str, Any], secrets: Callable[[str], str]) -> HttpProvider:
    """An HTTP provider from its configuration (validated here when given as a mapping, e.g. stored JSON).

    Raises pydantic.ValidationError for a bad configuration and ValueError for a name a built-in uses.
    """
    settings = config if isinstance(config, HttpProviderConfig) else HttpProviderConfig.model_validate(config)
    if settings.name in BUILT_IN:
        raise ValueError(f"{settings.name!r} is the name of a built-in provider")
    return HttpProvider(settings, secrets)

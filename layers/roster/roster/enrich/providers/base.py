"""The one interface every enrichment provider implements, and what it answers for each record.

A run hands a provider a batch of profiles' resolved fields and gets back exactly one result per
record, in the same order: found (values for some of the provider's outputs), not found, or an
error with a specific reason. A bad value in one record never fails the batch.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from roster.enrich.providers.text import InputProblem
from roster.profiles.fields import FieldType
from roster.profiles.values import readable

logger = logging.getLogger(__name__)


class ResultStatus(StrEnum):
    FOUND = "found"
    NOT_FOUND = "not_found"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class ProviderResult:
    """A provider's answer for one record.

    `reason` says why nothing was found or what failed (and may annotate a found result, such as
    why an e-mail address is invalid). `retryable` marks errors that may pass later (rate limits,
    a server down) so a run can re-queue the record rather than report it.
    """

    status: ResultStatus
    values: Mapping[str, Any] = field(default_factory=dict)
    reason: str | None = None
    retryable: bool = False

    @classmethod
    def found(cls, values: Mapping[str, Any], reason: str | None = None) -> ProviderResult:
        return cls(ResultStatus.FOUND, dict(values), reason)

    @classmethod
    def not_found(cls, reason: str) -> ProviderResult:
        return cls(ResultStatus.NOT_FOUND, {}, reason)

    @classmethod
    def error(cls, reason: str, *, retryable: bool = False) -> ProviderResult:
        return cls(ResultStatus.ERROR, {}, reason, retryable)


class Provider(ABC):
    """Something that adds fields to profiles: what it reads, what it may write, what it costs.

    `batch_size` is how many records a run should hand to one `enrich` call;
    `rate_limit_per_second`, when set, is the provider's own limit (it enforces it itself).
    A "not found" clears the provider's earlier answer on the profile unless `clears_when_not_found` is off.
    """

    name: str
    inputs: tuple[str, ...]
    outputs: Mapping[str, FieldType]
    credits_per_record: float = 0.0
    batch_size: int = 1000
    rate_limit_per_second: float | None = None
    #: False for a provider whose "not found" means "nothing new" (a signal): its earlier answer stays.
    clears_when_not_found: bool = True

    def enrich(self, records: Sequence[Mapping[str, Any]]) -> list[ProviderResult]:
        """One result per record, in order; a record's values never make this raise."""
        return [self.answer(record) for record in records]

    def answer(self, record: Mapping[str, Any]) -> ProviderResult:
        """The result for one record, whatever its values: unusable inputs become "not found".

        Anything else that goes wrong becomes an error result for this record alone. Only the
        exception's type is logged, as its message may carry a record's values or a secret. Text in the
        answer is made `readable`, so whatever a provider returns can be stored and exported.
        """
        try:
            result = self.enrich_record(record)
            return replace(result, values=_readable(result.values), reason=_readable(result.reason))
        except InputProblem as problem:
            return ProviderResult.not_found(str(problem))
        except Exception as failure:
            logger.error("enrichment provider %s failed on a record: %s", self.name, type(failure).__name__)
            return ProviderResult.error(f"{self.name} failed on this record ({type(failure).__name__})")

    @abstractmethod
    def enrich_record(self, record: Mapping[str, Any]) -> ProviderResult:
        """The answer for one record; raises InputProblem when its inputs cannot be used."""


def _readable(value: Any) -> Any:
    """A provider's answer with every string in it `readable`."""
    if isinstance(value, str):
        return readable(value)
    if isinstance(value, list):
        return [_readable(item) for item in value]
    if isinstance(value, Mapping):
        return {key: _readable(item) for key, item in value.items()}
    return value


class OfflineProvider(Provider):
    """A provider that answers from local code and data: no network, so a run may call it inline.

    It is free unless the workspace decides to meter it (`credits_per_record`).
    """

    def __init__(self, *, credits_per_record: float = 0.0) -> None:
        self.credits_per_record = credits_per_record

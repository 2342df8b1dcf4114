"""Enrichment definitions: which providers run on which audiences, where their answers go, and limits.

A definition is validated at the edge (pydantic) and checked against the workspace when saved:
mapped outputs must exist, targets must be field names whose type fits the output, and targets the
workspace does not know yet become custom fields of the output's type (a field created on the spot).
Quality gates are segment filters, checked and compiled by the segments code.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Literal, Self

from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from ulid import ULID

from roster.enrich.providers import BUILT_IN, HttpProviderConfig, Provider, built_in_provider, http_provider
from roster.profiles.fields import FIELD_NAME, STANDARD_FIELDS, FieldType, Kind
from roster.segments.filters import FilterProblem, Group, catalog_for, check_filter
from roster.signals.kinds import KIND as SIGNAL_KIND
from roster.signals.spec import SignalSpec

if TYPE_CHECKING:
    from roster.store.enrichments import EnrichmentStore, StoredDefinition

ENRICHMENT_ID = r"^[a-z0-9][a-z0-9-]{0,62}$"
MAX_DEFINITION_BYTES = 64 * 1024  # a definition is one DynamoDB item (at most 400 KB) and travels in messages
AUDIENCE_ID = r"^[a-z0-9][a-z0-9-]{0,63}$"  # a segment id (`seg-...`) or a built-in audience (`all-people`)
#: Secrets an HTTP provider may read (the functions' IAM policies allow the same names).
ENRICHMENT_SECRET = re.compile(r"^roster/[^/]+/enrich[^/]*$")
MAX_RECORDS_PER_BATCH = 500  # records per SQS message: one batch must finish well within a worker's timeout
#: Fields identity resolution matches on: an enrichment's guess must not glue two profiles together,
#: so it writes them under another name (e.g. `enriched_linkedin_url`).
IDENTITY_FIELDS: dict[Kind, frozenset[str]] = {
    Kind.PEOPLE: frozenset({"email", "linkedin_url"}),
    Kind.COMPANIES: frozenset({"domain", "website", "linkedin_url"}),
}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BuiltInSpec(Strict):
    """A built-in offline provider, free unless the workspace meters it."""

    type: Literal["built_in"] = "built_in"
    name: str
    credits_per_record: float = Field(default=0.0, ge=0, le=1000)

    @field_validator("name")
    @classmethod
    def _exists(cls, name: str) -> str:
        if name not in BUILT_IN:
            raise ValueError(f"no built-in provider is called {name!r} (known: {', '.join(sorted(BUILT_IN))})")
        return name

    def outputs(self) -> Mapping[str, FieldType]:
        return BUILT_IN[self.name].outputs

    @property
    def credits(self) -> float:
        return self.credits_per_record


class HttpSpec(Strict):
    """Any JSON enrichment API, described by configuration."""

    type: Literal["http"] = "http"
    config: HttpProviderConfig

    @property
    def name(self) -> str:
        return self.config.name

    def outputs(self) -> Mapping[str, FieldType]:
        return {field: mapping.type for field, mapping in self.config.outputs.items()}

    @property
    def credits(self) -> float:
        return self.config.credits_per_record


ProviderSpec = Annotated[BuiltInSpec | HttpSpec | SignalSpec, Field(discriminator="type")]


class Schedule(Strict):
    """When a scheduled run starts (UTC): daily at midnight, weekly on Monday, monthly on the 1st, or a 5-field
    cron."""

    every: Literal["daily", "weekly", "monthly", "cron"]
    cron: str | None = None

    @model_validator(mode="after")
    def _cron_is_valid(self) -> Self:
        if (self.every == "cron") != (self.cron is not None):
            raise ValueError("give `cron` exactly when `every` is cron")
        if self.cron is not None and (len(self.cron.split()) != 5 or not croniter.is_valid(self.cron)):
            raise ValueError(f"{self.cron!r} is not a cron expression (minute hour day month weekday)")
        return self

    @property
    def expression(self) -> str:
        presets = {"daily": "0 0 * * *", "weekly": "0 0 * * 1", "monthly": "0 0 1 * *"}
        return presets.get(self.every) or str(self.cron)

    def latest_until(self, moment: datetime) -> datetime:
        """The last time the schedule fired at or before `moment`."""
        start = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
        return croniter(self.expression, start + timedelta(seconds=1)).get_prev(datetime)


class FieldMapping(Strict):
    """Where provider outputs are written on the profile.

    Every output goes to the field of the same name unless `fields` maps it elsewhere, or to None
    to leave it out. With `enabled` off nothing is written (an action-only run); outputs are still
    kept in the run's archived rows and judged by the quality gates under their mapped names.
    """

    enabled: bool = True
    fields: dict[str, str | None] = Field(default_factory=dict)


def _new_id() -> str:
    return f"enr-{str(ULID()).lower()}"


class EnrichmentDefinition(Strict):
    enrichment_id: str = Field(default_factory=_new_id, pattern=ENRICHMENT_ID)
    name: str = Field(min_length=1, max_length=200)
    kind: Kind = Kind.PEOPLE
    providers: list[ProviderSpec] = Field(min_length=1, max_length=10)
    audiences: list[Annotated[str, Field(pattern=AUDIENCE_ID)]] = Field(
        min_length=1, max_length=20, description='Segment ids, or "all-people" / "all-companies"'
    )
    mapping: FieldMapping = Field(default_factory=FieldMapping)
    budget_credits: float = Field(default=0.0, ge=0, le=1e12)  # the cap; runs stop when it is spent
    refresh_days: int = Field(default=30, ge=0, le=3650)  # skip records this enrichment answered since; 0: never
    continuous: bool = False  # enrich records entering the audiences within 15 minutes
    schedule: Schedule | None = None
    quality_gates: dict[str, Group] = Field(default_factory=dict)  # audience -> condition met after enrichment

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if len(set(self.audiences)) != len(self.audiences):
            raise ValueError("an audience is listed twice")
        names = [spec.name for spec in self.providers]
        if len(set(names)) != len(names):
            raise ValueError("a provider is listed twice")
        stray = sorted(set(self.quality_gates) - set(self.audiences))
        if stray:
            raise ValueError(f"quality gates name audiences the enrichment does not run on: {', '.join(stray)}")
        signals = [spec for spec in self.providers if isinstance(spec, SignalSpec)]
        if signals and len(self.providers) > 1:
            raise ValueError("a signal is the only provider of its definition")
        if signals and SIGNAL_KIND[signals[0].signal] is not self.kind:
            raise ValueError(f"a {signals[0].signal} signal watches {SIGNAL_KIND[signals[0].signal]}, not {self.kind}")
        return self

    @property
    def source(self) -> str:
        """The source its answers are written as: `signal` for a signal, `enrichment` otherwise (provenance
        then reads `signal:<id>:<profile>`)."""
        return "signal" if self.signal is not None else "enrichment"

    @property
    def signal(self) -> SignalSpec | None:
        return next((spec for spec in self.providers if isinstance(spec, SignalSpec)), None)

    def history_fields(self) -> tuple[str, ...]:
        """Fields whose history on the profile its providers read (handed to them with the record)."""
        return tuple(name for spec in self.providers if isinstance(spec, SignalSpec) for name in spec.history_fields)

    def outputs(self) -> dict[str, FieldType]:
        """Every provider output and its type (a later provider's output of the same name wins)."""
        return {name: kind for spec in self.providers for name, kind in spec.outputs().items()}

    def targets(self) -> dict[str, str]:
        """Provider output -> the profile field it is written to (or named by, when mapping is off)."""
        chosen = {name: self.mapping.fields.get(name, name) for name in self.outputs()}
        return {name: target for name, target in chosen.items() if target is not None}

    def records_per_batch(self) -> int:
        """Records per batch: a batch hands every provider at most one of its own batches."""
        sizes = [
            spec.config.batch_size
            if isinstance(spec, HttpSpec)
            else spec.batch_size
            if isinstance(spec, SignalSpec)
            else BUILT_IN[spec.name].batch_size
            for spec in self.providers
        ]
        return min([MAX_RECORDS_PER_BATCH, *sizes])


class DefinitionProblem(ValueError):
    """A definition that cannot be saved: `path` names the setting, e.g. `mapping.fields.work_email`."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class RunProblem(Exception):
    """A request about an enrichment or run that cannot be done, with the reason for the user."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def stored_definition(store: EnrichmentStore, workspace: str, enrichment_id: str) -> StoredDefinition:
    """The enrichment as stored, with its budget; a 404 problem when the workspace has no such enrichment."""
    stored = store.get_definition(workspace, enrichment_id)
    if stored is None:
        raise RunProblem(f"no enrichment {enrichment_id!r} in this workspace", 404)
    return stored


def check_definition(
    definition: EnrichmentDefinition, custom: Mapping[Kind, Mapping[str, FieldType]]
) -> tuple[EnrichmentDefinition, dict[str, FieldType]]:
    """The definition with canonical quality gates, and the custom fields its mapping creates.

    Raises DefinitionProblem. Audiences are checked by the caller, which knows the segments.
    """
    outputs = definition.outputs()
    known = {**STANDARD_FIELDS[definition.kind], **custom.get(definition.kind, {})}
    for name in definition.mapping.fields:
        if name not in outputs:
            raise DefinitionProblem(f"mapping.fields.{name}", f"no provider of this enrichment outputs {name!r}")
    created: dict[str, FieldType] = {}
    seen: dict[str, str] = {}
    for output, target in definition.targets().items():
        where = f"mapping.fields.{output}"
        if outputs[output] is FieldType.RECORDS:
            raise DefinitionProblem(where, "an output of type records feeds a signal; a profile cannot hold it")
        if not FIELD_NAME.match(target):
            raise DefinitionProblem(where, f"{target!r} is not a field name (lower_snake_case, 1-64 characters)")
        if definition.mapping.enabled and target in IDENTITY_FIELDS[definition.kind]:
            raise DefinitionProblem(where, f"{target!r} identifies {definition.kind}; map it to another field")
        if target in seen:
            raise DefinitionProblem(where, f"{seen[target]!r} and {output!r} are both mapped to {target!r}")
        seen[target] = output
        existing = known.get(target)
        if existing is None:
            created[target] = outputs[output]
        elif existing is not outputs[output]:
            raise DefinitionProblem(
                where, f"{target!r} holds {existing} values, but {output!r} gives {outputs[output]}"
            )
    # gates judge the mapped names even when mapping is off (then nothing is written or created)
    catalog = catalog_for(definition.kind, {**custom, definition.kind: {**known, **created}})
    if not definition.mapping.enabled:
        created = {}
    gates: dict[str, Group] = {}
    for audience, gate in definition.quality_gates.items():
        try:
            gates[audience] = check_filter(gate, catalog)
        except FilterProblem as problem:
            raise DefinitionProblem(f"quality_gates.{audience}.{problem.path}", problem.reason) from None
    return definition.model_copy(update={"quality_gates": gates}), created


def build_providers(definition: EnrichmentDefinition, secrets: Callable[[str], str]) -> list[Provider]:
    """The definition's providers, in the order they run (each sees the outputs of those before it)."""
    return [
        built_in_provider(spec.name, credits_per_record=spec.credits_per_record)
        if isinstance(spec, BuiltInSpec)
        else spec.provider(secrets)
        if isinstance(spec, SignalSpec)
        else http_provider(spec.config, secrets)
        for spec in definition.providers
    ]


def enrichment_secrets(read: Callable[[str], str]) -> Callable[[str], str]:
    """The deployment's secrets as HTTP providers may read them: only names like
    `roster/acme/enrich-clearbit`, so no other secret of the deployment (such as the admin key) leaks."""

    def read_enrichment_secret(name: str) -> str:
        if not ENRICHMENT_SECRET.match(name):
            raise PermissionError(f"enrichment secrets are named roster/<workspace>/enrich..., not {name!r}")
        return read(name)

    return read_enrichment_secret


def workspace_secrets(workspace: str, secrets: Callable[[str], str]) -> Callable[[str], str]:
    """The secrets one workspace's HTTP providers may read: only names under `roster/<workspace>/`."""

    def read(name: str) -> str:
        if not name.startswith(f"roster/{workspace}/"):
            raise PermissionError(f"an enrichment of workspace {workspace!r} cannot read secret {name!r}")
        return secrets(name)

    return read

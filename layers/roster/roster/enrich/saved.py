"""Saved enrichment definitions: checked against the workspace's segments and fields, created with
the custom fields their mapping names, and stored with their credit budget."""

from __future__ import annotations

from dataclasses import dataclass

from roster.enrich.budget import Budgets, to_millis
from roster.enrich.definitions import (
    MAX_DEFINITION_BYTES,
    DefinitionProblem,
    EnrichmentDefinition,
    HttpSpec,
    RunProblem,
    check_definition,
    stored_definition,
)
from roster.outbound import OutboundRefused, Unresolvable, check_url
from roster.profiles.fields import FieldType
from roster.profiles.values import ValueProblem
from roster.segments.manager import BUILT_IN as BUILT_IN_AUDIENCES
from roster.store.enrichments import EnrichmentStore
from roster.store.segments import SegmentStore
from roster.store.workspaces import WorkspaceStore, custom_fields, declare_custom_fields


@dataclass
class Definitions:
    """The enrichment definitions of every workspace."""

    store: EnrichmentStore
    segments: SegmentStore
    workspaces: WorkspaceStore
    budgets: Budgets

    def check(
        self, workspace: str, definition: EnrichmentDefinition
    ) -> tuple[EnrichmentDefinition, dict[str, FieldType]]:
        """The definition checked against the workspace's segments and fields, and the fields it creates.

        An HTTP provider whose host resolves to a non-public address is refused now (and again on every call);
        one that does not resolve yet is accepted."""
        for provider in definition.providers:
            config = provider.config if isinstance(provider, HttpSpec) else getattr(provider, "source", None)
            if config is not None:
                try:
                    check_url(config.url)
                except OutboundRefused as refused:
                    raise RunProblem(f"providers: {provider.name}: {refused}", 422) from None
                except Unresolvable:
                    pass
        for audience in definition.audiences:
            if audience in BUILT_IN_AUDIENCES:
                kind = BUILT_IN_AUDIENCES[audience][1]
            else:
                segment = self.segments.get(workspace, audience)
                if segment is None:
                    raise RunProblem(f"audiences: no segment {audience!r} in this workspace", 422)
                kind = segment.kind
            if kind is not definition.kind:
                raise RunProblem(
                    f"audiences: {audience!r} holds {kind}, the enrichment enriches {definition.kind}", 422
                )
        try:
            return check_definition(definition, custom_fields(self.workspaces, workspace))
        except DefinitionProblem as problem:
            raise RunProblem(str(problem), 422) from None

    def save(self, workspace: str, definition: EnrichmentDefinition, *, create: bool) -> EnrichmentDefinition:
        """Create or replace a definition, creating the custom fields its mapping names."""
        checked, created = self.check(workspace, definition)
        if len(checked.model_dump_json().encode()) > MAX_DEFINITION_BYTES:
            raise RunProblem(f"a definition is at most {MAX_DEFINITION_BYTES // 1024} KB as JSON", 413)
        existing = self.store.get_definition(workspace, checked.enrichment_id)
        if create and existing is not None:
            raise RunProblem(f"an enrichment {checked.enrichment_id!r} exists already", 409)
        if not create and existing is None:
            raise RunProblem(f"no enrichment {checked.enrichment_id!r} in this workspace", 404)
        if created:
            try:
                declare_custom_fields(self.workspaces, workspace, checked.kind, created)
            except ValueProblem as problem:
                raise RunProblem(str(problem), 422) from None
        data = checked.model_dump(mode="json")
        if existing is None:
            self.store.create_definition(workspace, checked.enrichment_id, data, to_millis(checked.budget_credits))
        else:
            self.store.update_definition(workspace, checked.enrichment_id, data)
            self.budgets.set(workspace, checked.enrichment_id, checked.budget_credits)
        self.store.set_scheduled(workspace, checked.enrichment_id, scheduled=checked.schedule is not None)
        return checked

    def get(self, workspace: str, enrichment_id: str) -> EnrichmentDefinition:
        return EnrichmentDefinition.model_validate(stored_definition(self.store, workspace, enrichment_id).data)

    def all(self, workspace: str) -> list[EnrichmentDefinition]:
        return [EnrichmentDefinition.model_validate(stored.data) for stored in self.store.definitions(workspace)]

    def delete(self, workspace: str, enrichment_id: str) -> None:
        self.get(workspace, enrichment_id)
        self.store.delete_definition(workspace, enrichment_id)

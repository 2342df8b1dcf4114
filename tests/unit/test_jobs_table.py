"""The jobs table's keys stay byte for byte what stored items have, every model on it derives from the one
base that `configure` points, and only `roster.store` talks to DynamoDB."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest
from pynamodb.models import Model

import roster
import roster.store
from roster.profiles.fields import Kind
from roster.store import jobs
from roster.store.models import MODELS

ROSTER = Path(roster.__file__).parent

KEYS = [
    (jobs.import_job("ws", "01J"), ("ws", "import#01J")),
    (jobs.import_batches("ws", "01J"), "ws#import#01J"),
    (jobs.import_batch("ws", "01J", 3), ("ws#import#01J", "batch#0000003")),
    (jobs.enrichment_definition("ws", "e1"), ("ws", "enrichment#e1")),
    (jobs.enrichment_run("ws", "r1"), ("ws", "enrichment-run#r1")),
    (jobs.enrichment_batches("ws", "r1"), "ws#enrichment-run#r1"),
    (jobs.enrichment_batch("ws", "r1", 12), ("ws#enrichment-run#r1", "batch#0000012")),
    (jobs.enrichment_marker("ws", "e1", "p1"), ("ws#enriched#e1", "p1")),
    (jobs.enrichment_pending("ws", "e1"), "ws#enrichment-pending#e1"),
    (jobs.enrichment_pending_entry("ws", "e1", "p1", "s1"), ("ws#enrichment-pending#e1", "p1#s1")),
    (jobs.listing(jobs.ENRICHMENT_PENDING, "ws", "e1"), ("enrichment-pending", "ws#e1")),
    (jobs.listing(jobs.ENRICHMENT_SCHEDULED, "ws", "e1"), ("enrichment-scheduled", "ws#e1")),
    (jobs.salesforce_config("ws"), ("ws", "salesforce#config")),
    (jobs.salesforce_mapping("ws", "Contact"), ("ws", "salesforce#mapping#Contact")),
    (jobs.SALESFORCE_IMPORT.state("ws", "Contact"), ("ws", "salesforce#state#Contact")),
    (jobs.SALESFORCE_IMPORT.runs("Contact"), "salesforce#run#Contact#"),
    (jobs.SALESFORCE_IMPORT.run("ws", "Contact", "r1"), ("ws", "salesforce#run#Contact#r1")),
    (jobs.listing(jobs.SALESFORCE_IMPORT.enabled, "ws", "Contact"), ("salesforce#enabled", "ws#Contact")),
    (jobs.SALESFORCE_EXPORT.state("ws", "Account"), ("ws", "export#state#Account")),
    (jobs.SALESFORCE_EXPORT.runs("Account"), "export#run#Account#"),
    (jobs.SALESFORCE_EXPORT.run("ws", "Account", "r1"), ("ws", "export#run#Account#r1")),
    (jobs.listing(jobs.SALESFORCE_EXPORT.enabled, "ws", "Account"), ("export#enabled", "ws#Account")),
    (jobs.export_pending("ws", Kind.PEOPLE), "ws#export#pending#people"),
]


@pytest.mark.parametrize(("built", "stored"), KEYS)
def test_keys_are_the_stored_ones(built: object, stored: object) -> None:
    assert built == stored


def test_keys_parse_back() -> None:
    assert jobs.batch_number(jobs.batch_sk(12)) == 12
    assert jobs.enrichment_run_id(jobs.enrichment_run("ws", "01J").sk) == "01J"


def test_a_prefix_query_reads_only_its_own_kind() -> None:
    """Every kind shares the workspace's partition; each listing's prefix must match its own items only."""
    listed = {
        jobs.IMPORT_JOBS: jobs.import_job("ws", "x").sk,
        jobs.ENRICHMENT_DEFINITIONS: jobs.enrichment_definition("ws", "x").sk,
        jobs.ENRICHMENT_RUNS: jobs.enrichment_run("ws", "x").sk,
        jobs.SALESFORCE_IMPORT.states: jobs.SALESFORCE_IMPORT.state("ws", "Contact").sk,
        jobs.SALESFORCE_IMPORT.runs("Contact"): jobs.SALESFORCE_IMPORT.run("ws", "Contact", "x").sk,
        jobs.SALESFORCE_EXPORT.runs("Contact"): jobs.SALESFORCE_EXPORT.run("ws", "Contact", "x").sk,
    }
    in_workspace = [
        *listed.values(),
        jobs.salesforce_config("ws").sk,
        jobs.salesforce_mapping("ws", "Contact").sk,
        jobs.SALESFORCE_IMPORT.run("ws", "Account", "x").sk,
        jobs.SALESFORCE_EXPORT.state("ws", "Contact").sk,
        jobs.SALESFORCE_EXPORT.run("ws", "Account", "x").sk,
    ]
    for prefix, own in listed.items():
        assert [sk for sk in in_workspace if sk.startswith(prefix)] == [own], prefix


def _store_models() -> list[type[Model]]:
    for module in pkgutil.iter_modules(roster.store.__path__, "roster.store."):
        importlib.import_module(module.name)

    def below(model: type[Model]) -> list[type[Model]]:
        return [model, *(each for child in model.__subclasses__() for each in below(child))]

    return [model for model in below(Model) if model.__module__.startswith("roster.store.")]


def test_every_jobs_table_model_derives_from_the_base() -> None:
    on_jobs_table = [
        model
        for model in _store_models()
        if model.Meta.table_name in {"JobsTable", jobs.JobsItem.Meta.table_name}  # as declared, or configured
    ]
    assert {model.__name__ for model in on_jobs_table} >= {"JobItem", "DefinitionItem", "SalesforceItem"}
    for model in on_jobs_table:
        assert issubclass(model, jobs.JobsItem), model
        assert model.Meta is jobs.JobsItem.Meta, f"{model.__name__} must not declare its own Meta"
        assert model is jobs.JobsItem or model.__name__ in (jobs.__doc__ or ""), f"{model.__name__} is not listed"


def test_configure_points_every_model() -> None:
    """`configure` sets the Meta of the registered models, so every model must share one of theirs."""
    registered = {id(model.Meta) for model in MODELS.values()}
    for model in _store_models():
        assert id(model.Meta) in registered, f"{model.__name__} is not pointed at its table by configure"


def _imports_pynamodb(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import) and any(alias.name.split(".")[0] == "pynamodb" for alias in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "pynamodb":
            return True
    return False


def test_only_the_store_talks_to_dynamodb() -> None:
    outside = [
        path.relative_to(ROSTER).as_posix()
        for path in ROSTER.rglob("*.py")
        if path.relative_to(ROSTER).parts[0] != "store"
    ]
    assert outside
    importing = {name for name in outside if _imports_pynamodb(ROSTER / name)}
    assert not importing, sorted(importing)

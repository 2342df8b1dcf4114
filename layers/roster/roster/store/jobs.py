"""The jobs table: every kind of item it holds, the keys of each, and the base model they share.

Several features keep their work and settings on this one table, so every key is built here and
nowhere else: a key's shape is read in one place and two features cannot collide. (`ws` = workspace)

====================================  =============================  ==============  =================================
pk                                    sk                             model           item
====================================  =============================  ==============  =================================
{ws}                                  import#{import}                JobItem         a CSV import job
{ws}#import#{import}                  batch#{n:07d}                  JobItem         the result of one of its batches
{ws}                                  enrichment#{enrichment}        DefinitionItem  an enrichment and its budget
{ws}                                  enrichment-run#{run}           RunItem         an enrichment run
{ws}#enrichment-run#{run}             batch#{n:07d}                  BatchItem       the claim and result of a batch
{ws}#enriched#{enrichment}            {profile}                      MarkerItem      when it last enriched a profile
{ws}#enrichment-pending#{enrichment}  {profile}#{segment}            PendingItem     continuous work awaiting a flush
enrichment-pending                    {ws}#{enrichment}              IndexItem       enrichments with pending work
enrichment-scheduled                  {ws}#{enrichment}              IndexItem       enrichments with a schedule
{ws}                                  salesforce#config              SalesforceItem  the Salesforce sync schedule
{ws}                                  salesforce#mapping#{Object}    SalesforceItem  an object's mapping
{ws}                                  salesforce#state#{Object}      SalesforceItem  an object's import state
{ws}                                  salesforce#run#{Object}#{run}  SalesforceItem  an import run
salesforce#enabled                    {ws}#{Object}                  SalesforceItem  objects whose import is on
{ws}                                  hubspot#config                 SalesforceItem  the HubSpot sync schedule
{ws}                                  hubspot#mapping#{object}       SalesforceItem  a HubSpot object's mapping
{ws}                                  hubspot#state#{object}         SalesforceItem  its import state
{ws}                                  hubspot#run#{object}#{run}     SalesforceItem  a HubSpot import run
hubspot#enabled                       {ws}#{object}                  SalesforceItem  HubSpot objects whose import is on
{ws}#hubspot#budget                   {window}                       CounterItem     API calls spent in a limit window
{ws}                                  hubspot-export#state#{object}  SalesforceItem  a HubSpot object's export state
{ws}                                  hubspot-export#run#{o}#{run}   SalesforceItem  a HubSpot export run
hubspot-export#enabled                {ws}#{object}                  SalesforceItem  HubSpot objects whose export is on
{ws}#hubspot-export#pending#{kind}    {profile}                      SalesforceItem  a profile owed to the next one
{ws}                                  export#state#{Object}          SalesforceItem  an object's export state
{ws}                                  export#run#{Object}#{run}      SalesforceItem  an export run
export#enabled                        {ws}#{Object}                  SalesforceItem  objects whose export is on
{ws}#export#pending#{kind}            {profile}                      SalesforceItem  a profile owed to the next export
{ws}                                  warehouse#source#{source}      SalesforceItem  a warehouse source's settings
{ws}                                  warehouse#state#{source}       SalesforceItem  a warehouse source's import state
{ws}                                  warehouse#run#{source}#{run}   SalesforceItem  a warehouse import run
warehouse#enabled                     {ws}#{source}                  SalesforceItem  warehouse sources scheduled
====================================  =============================  ==============  =================================

Import and run ids are ULIDs, so imports and runs page newest first. The `*-pending`, `*-scheduled` and
`*#enabled` partitions are indexes a scheduler reads instead of scanning.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute, VersionAttribute
from pynamodb.models import Model


class Key(NamedTuple):
    """One item's key; a model takes it as `Model(*key, ...)` or `Model.get(*key)`."""

    pk: str
    sk: str


# --- models ----------------------------------------------------------------------------------------


class JobsItem(Model):
    """The base of every model on the jobs table, never stored itself: its subclasses share its `Meta`,
    so `roster.store.models.configure` points all of them, even those defined afterwards, at the table."""

    class Meta:
        table_name = "JobsTable"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)


class JobItem(JobsItem):
    """A CSV import job, or the result of one of its batches."""

    data = JSONAttribute()
    created_at = UnicodeAttribute()
    expires_at = NumberAttribute(null=True)


class DefinitionItem(JobsItem):
    """An enrichment definition; its budget in millicredits keeps `remaining` = `cap` - `spent`."""

    data = JSONAttribute()
    created_at = UnicodeAttribute()
    cap = NumberAttribute(default=0)
    spent = NumberAttribute(default=0)
    remaining = NumberAttribute(default=0)
    last_scheduled_at = UnicodeAttribute(null=True)


class RunItem(JobsItem):
    """An enrichment run: its dispatch checkpoint and one counter per record outcome."""

    enrichment_id = UnicodeAttribute()
    data = JSONAttribute()
    created_at = UnicodeAttribute()
    started_at = UnicodeAttribute(null=True)
    failure = UnicodeAttribute(null=True)
    round = NumberAttribute(default=0)
    dispatch_cursor = UnicodeAttribute(null=True)
    dispatched = NumberAttribute(default=0)
    batches_total = NumberAttribute(null=True)
    batches_done = NumberAttribute(default=0)
    credits = NumberAttribute(default=0)
    enriched = NumberAttribute(default=0)
    quality_failed = NumberAttribute(default=0)
    not_found = NumberAttribute(default=0)
    error = NumberAttribute(default=0)
    skipped_recent = NumberAttribute(default=0)
    skipped_budget = NumberAttribute(default=0)
    skipped_inactive = NumberAttribute(default=0)


class BatchItem(JobsItem):
    """An enrichment batch's claim (owner and lease, reserved credits) and, once done, its result."""

    round = NumberAttribute()
    state = UnicodeAttribute()  # claimed | done
    owner = UnicodeAttribute()
    lease_until = NumberAttribute()
    charged = JSONAttribute()
    reserved = NumberAttribute()
    result = JSONAttribute(null=True)
    created_at = UnicodeAttribute()


class MarkerItem(JobsItem):
    """When an enrichment last answered for a profile, and the audiences whose quality gate it failed."""

    enriched_at = UnicodeAttribute()
    run_id = UnicodeAttribute()
    quality_failed = JSONAttribute(null=True)


class PendingItem(JobsItem):
    """A profile that entered a segment of a continuous enrichment, waiting for the next flush."""

    profile_id = UnicodeAttribute()
    segment_id = UnicodeAttribute()
    entered_at = UnicodeAttribute()


class IndexItem(JobsItem):
    """An enrichment definition listed in an index partition (pending work, or a schedule)."""

    workspace = UnicodeAttribute()
    enrichment_id = UnicodeAttribute()
    last_intake = UnicodeAttribute(null=True)


class CounterItem(JobsItem):
    """Calls spent in one window of an API's limits (a day, a second), expiring after the window."""

    used = NumberAttribute(default=0)
    expires_at = NumberAttribute(null=True)


class SalesforceItem(JobsItem):
    """A Salesforce import or export item: a pydantic model as JSON, written at its `version` when it has one."""

    data = JSONAttribute()
    created_at = UnicodeAttribute()
    expires_at = NumberAttribute(null=True)
    version = VersionAttribute()


# --- keys ------------------------------------------------------------------------------------------


def listing(partition: str, workspace: str, name: str) -> Key:
    """An entry of an index partition: what of which workspace is listed there."""
    return Key(partition, f"{workspace}#{name}")


def batch_sk(batch: int) -> str:
    """A batch's sort key, zero-padded so batches sort by number."""
    return f"batch#{batch:07d}"


def batch_number(sk: str) -> int:
    """The number in a batch's sort key."""
    return int(sk.removeprefix("batch#"))


# CSV imports

IMPORT_JOBS = "import#"  # the sort-key prefix of a workspace's import jobs


def import_job(workspace: str, import_id: str) -> Key:
    return Key(workspace, f"{IMPORT_JOBS}{import_id}")


def import_batches(workspace: str, import_id: str) -> str:
    """The partition of an import's batch results, apart from the job so listing jobs never reads them."""
    return f"{workspace}#{IMPORT_JOBS}{import_id}"


def import_batch(workspace: str, import_id: str, batch: int) -> Key:
    return Key(import_batches(workspace, import_id), batch_sk(batch))


# Enrichments

ENRICHMENT_DEFINITIONS = "enrichment#"  # sort-key prefixes in a workspace's partition
ENRICHMENT_RUNS = "enrichment-run#"
ENRICHMENT_PENDING = "enrichment-pending"  # index partitions
ENRICHMENT_SCHEDULED = "enrichment-scheduled"


def enrichment_definition(workspace: str, enrichment_id: str) -> Key:
    return Key(workspace, f"{ENRICHMENT_DEFINITIONS}{enrichment_id}")


def enrichment_run(workspace: str, run_id: str) -> Key:
    return Key(workspace, f"{ENRICHMENT_RUNS}{run_id}")


def enrichment_run_id(sk: str) -> str:
    return sk.removeprefix(ENRICHMENT_RUNS)


def enrichment_batches(workspace: str, run_id: str) -> str:
    return f"{workspace}#{ENRICHMENT_RUNS}{run_id}"


def enrichment_batch(workspace: str, run_id: str, batch: int) -> Key:
    return Key(enrichment_batches(workspace, run_id), batch_sk(batch))


def enrichment_marker(workspace: str, enrichment_id: str, profile_id: str) -> Key:
    return Key(f"{workspace}#enriched#{enrichment_id}", profile_id)


def enrichment_pending(workspace: str, enrichment_id: str) -> str:
    return f"{workspace}#{ENRICHMENT_PENDING}#{enrichment_id}"


def enrichment_pending_entry(workspace: str, enrichment_id: str, profile_id: str, segment_id: str) -> Key:
    return Key(enrichment_pending(workspace, enrichment_id), f"{profile_id}#{segment_id}")


# Object states and runs of each kind of connector job, each under its own prefix in the workspace's partition


@dataclass(frozen=True)
class JobLayout:
    """Where one kind of job (an import or an export of one system) keeps its object states and runs."""

    prefix: str

    @property
    def states(self) -> str:
        """The sort-key prefix of a workspace's object states."""
        return f"{self.prefix}#state#"

    @property
    def enabled(self) -> str:
        """The index partition of the objects switched on."""
        return f"{self.prefix}#enabled"

    def state(self, workspace: str, obj: str) -> Key:
        return Key(workspace, f"{self.states}{obj}")

    def runs(self, obj: str) -> str:
        """The sort-key prefix of an object's runs."""
        return f"{self.prefix}#run#{obj}#"

    def run(self, workspace: str, obj: str, run_id: str) -> Key:
        return Key(workspace, f"{self.runs(obj)}{run_id}")


SALESFORCE_IMPORT = JobLayout("salesforce")
SALESFORCE_EXPORT = JobLayout("export")
HUBSPOT_IMPORT = JobLayout("hubspot")
HUBSPOT_EXPORT = JobLayout("hubspot-export")
WAREHOUSE_IMPORT = JobLayout("warehouse")


# Salesforce import


def salesforce_config(workspace: str) -> Key:
    return Key(workspace, "salesforce#config")


def salesforce_mapping(workspace: str, obj: str) -> Key:
    return Key(workspace, f"salesforce#mapping#{obj}")


# HubSpot import


def hubspot_config(workspace: str) -> Key:
    return Key(workspace, "hubspot#config")


def hubspot_mapping(workspace: str, obj: str) -> Key:
    return Key(workspace, f"hubspot#mapping#{obj}")


def hubspot_budget(workspace: str, window: str) -> Key:
    """A window of the portal's API budget (`day#2026-11-29`, `ten#…`, `search#…`), apart from the workspace's
    partition so its many short-lived counters never crowd a listing."""
    return Key(f"{workspace}#hubspot#budget", window)


# HubSpot export


def hubspot_export_pending(workspace: str, kind: str) -> str:
    """The partition of the profiles owed to the next HubSpot export of a kind."""
    return f"{workspace}#hubspot-export#pending#{kind}"


# Salesforce export


def export_pending(workspace: str, kind: str) -> str:
    """The partition of the profiles (one item each, sk = profile id) owed to the next export of a kind."""
    return f"{workspace}#export#pending#{kind}"


# Warehouse imports

WAREHOUSE_SOURCES = "warehouse#source#"  # the sort-key prefix of a workspace's warehouse sources


def warehouse_source(workspace: str, source: str) -> Key:
    return Key(workspace, f"{WAREHOUSE_SOURCES}{source}")

"""The composition root: what handlers use, built once per Lambda container from the deployment's settings.

It only wires: each piece of behaviour (queues, events, secrets, the domain) lives in its own module.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from roster.aws import clients, read_secret
from roster.config import settings
from roster.eventbus import EventPublisher
from roster.identity.resolver import Resolver, resolver_for
from roster.profiles.fields import Kind
from roster.queues import WorkQueue
from roster.segments.events import SegmentEvents
from roster.segments.manager import SegmentManager
from roster.segments.membership import MembershipEngine
from roster.sources.csv_import import CsvImports
from roster.store.imports import ImportStore
from roster.store.profiles import ProfileStore
from roster.store.segments import SegmentStore
from roster.store.workspaces import WorkspaceStore

if TYPE_CHECKING:  # imported when first used: functions that never enrich skip the providers' imports
    from roster.actions.service import Actions
    from roster.connectors.hubspot.connection import Connection as HubSpotConnection
    from roster.connectors.hubspot.exporter import HubSpotExport
    from roster.connectors.hubspot.importer import HubSpotSync
    from roster.connectors.salesforce.connection import Connection
    from roster.connectors.salesforce.exporter import SalesforceExport
    from roster.connectors.salesforce.importer import SalesforceSync
    from roster.connectors.warehouse.connection import Credentials
    from roster.connectors.warehouse.importer import WarehouseImport, WarehouseMessage
    from roster.connectors.warehouse.probe import Probe
    from roster.connectors.warehouse.sql import Dialect
    from roster.enrich.continuous import ContinuousEnrichment
    from roster.enrich.service import Enrichments
    from roster.signals.service import Signals


class Services:
    @cached_property
    def profiles(self) -> ProfileStore:
        clients()
        return ProfileStore()

    @cached_property
    def workspaces(self) -> WorkspaceStore:
        clients()
        return WorkspaceStore()

    @cached_property
    def imports(self) -> CsvImports:
        aws = clients()
        return CsvImports(
            ImportStore(), aws.s3, aws.settings.uploads_bucket, self.import_queue.send, self.ingest_queue.send
        )

    @cached_property
    def segment_store(self) -> SegmentStore:
        clients()
        return SegmentStore()

    @cached_property
    def segments(self) -> SegmentManager:
        return SegmentManager(self.segment_store, self.profiles, self.workspaces, self.segment_queue.send)

    @cached_property
    def membership(self) -> MembershipEngine:
        return MembershipEngine(self.segment_store, self.profiles, self.workspaces, self.segment_queue.send)

    @cached_property
    def enrichments(self) -> Enrichments:
        from roster.enrich.definitions import enrichment_secrets
        from roster.enrich.service import Enrichments
        from roster.store.enrichments import EnrichmentStore

        aws = clients()
        return Enrichments.wire(
            EnrichmentStore(),
            self.profiles,
            self.segment_store,
            self.workspaces,
            aws.s3,
            aws.settings.uploads_bucket,
            self.enrich_queue.send,
            secrets=enrichment_secrets(read_secret),
            publish=lambda events: self.event_publisher.publish(events),
        )

    @cached_property
    def signals(self) -> Signals:
        from datetime import UTC, datetime

        from roster.signals.service import Signals

        return Signals(self.enrichments, self.segments, self.workspaces, self.profiles, lambda: datetime.now(UTC))

    @cached_property
    def continuous(self) -> ContinuousEnrichment:
        from roster.enrich.continuous import ContinuousEnrichment

        return ContinuousEnrichment(self.enrichments.store, self.enrichments.definitions, self.enrichments.runs)

    @cached_property
    def actions(self) -> Actions:
        from roster.actions.service import Actions, DestinationSecrets
        from roster.queues import FifoQueue
        from roster.store.actions import ActionStore

        aws = clients()
        return Actions(
            ActionStore(),
            self.profiles,
            self.segments,
            self.workspaces,
            DestinationSecrets(aws.secrets),
            FifoQueue(aws.sqs, aws.settings.action_delivery_queue_url).send,
        )

    @cached_property
    def import_queue(self) -> WorkQueue:
        aws = clients()
        return WorkQueue(aws.sqs, aws.settings.import_queue_url)

    @cached_property
    def ingest_queue(self) -> WorkQueue:
        aws = clients()
        return WorkQueue(aws.sqs, aws.settings.ingest_queue_url)

    @cached_property
    def segment_queue(self) -> WorkQueue:
        aws = clients()
        return WorkQueue(aws.sqs, aws.settings.segment_queue_url)

    @cached_property
    def enrich_queue(self) -> WorkQueue:
        aws = clients()
        return WorkQueue(aws.sqs, aws.settings.enrich_queue_url)

    @cached_property
    def salesforce_queue(self) -> WorkQueue:
        aws = clients()
        return WorkQueue(aws.sqs, aws.settings.salesforce_queue_url)

    @cached_property
    def hubspot_queue(self) -> WorkQueue:
        aws = clients()
        return WorkQueue(aws.sqs, aws.settings.hubspot_queue_url)

    @cached_property
    def export_queue(self) -> WorkQueue:
        aws = clients()
        return WorkQueue(aws.sqs, aws.settings.export_queue_url)

    @cached_property
    def hubspot_export_queue(self) -> WorkQueue:
        aws = clients()
        return WorkQueue(aws.sqs, aws.settings.hubspot_export_queue_url)

    @cached_property
    def event_publisher(self) -> EventPublisher:
        aws = clients()
        return EventPublisher(aws.events, aws.settings.event_bus_name)

    @cached_property
    def segment_events(self) -> SegmentEvents:
        return SegmentEvents(self.segment_store, self.event_publisher)

    @cached_property
    def salesforce(self) -> SalesforceSync:
        from roster.connectors.salesforce.importer import SalesforceSync
        from roster.connectors.salesforce.store import SyncStore

        clients()
        return SalesforceSync(SyncStore(), self.resolver, self.salesforce_connection)

    def salesforce_connection(self, workspace: str) -> Connection:
        """The workspace's Salesforce, logged in with its credentials from Secrets Manager."""
        from roster.connectors.core.trust import verify_for
        from roster.connectors.salesforce.connection import Connection, CredentialStore, LoginFailed

        credentials = CredentialStore(clients().secrets).load(workspace)
        if credentials is None:
            raise LoginFailed("not_connected", "Salesforce is not connected: PUT /v1/salesforce/connection")
        return Connection(
            credentials,
            verify=verify_for(self.workspaces, "salesforce", workspace),
            api_version=clients().settings.salesforce_api_version,
        )

    @cached_property
    def salesforce_export(self) -> SalesforceExport:
        from roster.connectors.salesforce.export_store import ExportStore
        from roster.connectors.salesforce.exporter import SalesforceExport

        return SalesforceExport(ExportStore(), self.salesforce, self.profiles, self.segment_store)

    @cached_property
    def hubspot(self) -> HubSpotSync:
        from roster.connectors.hubspot.importer import HubSpotSync
        from roster.connectors.hubspot.store import HubSpotStore

        clients()
        return HubSpotSync(HubSpotStore(), self.resolver, self.hubspot_connection)

    @cached_property
    def hubspot_export(self) -> HubSpotExport:
        from roster.connectors.hubspot.export_store import ExportStore
        from roster.connectors.hubspot.exporter import HubSpotExport

        return HubSpotExport(ExportStore(), self.hubspot, self.profiles, self.segment_store)

    def hubspot_connection(self, workspace: str) -> HubSpotConnection:
        """The workspace's HubSpot, with its credentials from Secrets Manager, spending from the portal's budget."""
        from roster.connectors.core.trust import ca_bundle
        from roster.connectors.hubspot.connection import Connection, CredentialStore, NotConnected

        credentials = CredentialStore(clients().secrets).load(workspace)
        if credentials is None:
            raise NotConnected("HubSpot is not connected: PUT /v1/hubspot/connection")
        return Connection(credentials, ca_bundle(self.workspaces, "hubspot", workspace), self.hubspot.budget(workspace))

    @cached_property
    def warehouse(self) -> WarehouseImport:
        from roster.connectors.warehouse.importer import Snapshots, WarehouseImport
        from roster.connectors.warehouse.store import WarehouseStore

        aws = clients()
        snapshots = Snapshots(aws.s3, aws.settings.uploads_bucket)
        return WarehouseImport(
            store=WarehouseStore(), resolver=self.resolver, credentials=self.warehouse_credentials, snapshots=snapshots
        )

    @cached_property
    def warehouse_probe(self) -> Probe:
        """Tests, browsing and previews for the API: Snowflake and BigQuery in the function with their layer."""
        from roster.connectors.warehouse.probe import Probe, lambda_invoke

        aws = clients()
        name = aws.settings.warehouse_probe_function
        return Probe(lambda_invoke(aws.lambda_, name) if name else None)

    def warehouse_credentials(self, workspace: str, source: str) -> Credentials:
        """A warehouse source's credentials from Secrets Manager."""
        from roster.connectors.warehouse.connection import ConnectFailed, SecretStore

        credentials = SecretStore(clients().secrets).load(workspace, source)
        if credentials is None:
            raise ConnectFailed(f"warehouse source {source!r} has no credentials: PUT /v1/warehouse/sources/{source}")
        return credentials

    def send_warehouse(self, dialect: Dialect, message: WarehouseMessage) -> None:
        """Queue an import run to the worker whose layer holds its dialect."""
        from roster.connectors.warehouse.sql import CLOUD

        aws = clients()
        url = aws.settings.warehouse_cloud_queue_url if dialect in CLOUD else aws.settings.warehouse_queue_url
        WorkQueue(aws.sqs, url).send(message)

    def resolver(self, workspace: str, kind: Kind) -> Resolver:
        return resolver_for(self.profiles, self.workspaces, workspace, kind)

    def admin_key(self) -> str:
        """The admin key, from Secrets Manager (cached for five minutes)."""
        return read_secret(clients().settings.admin_key_secret).strip()


services = Services()


def cold_start() -> Services:
    """The services, once the function's settings are known to be complete: called when a handler
    module loads, so a missing variable fails the cold start, named, not the first send."""
    settings()
    return services

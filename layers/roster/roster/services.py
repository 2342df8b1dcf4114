"""What handlers use, built once per Lambda container from the deployment's settings."""

from __future__ import annotations

from functools import cached_property

from aws_lambda_powertools.utilities import parameters
from pydantic import BaseModel

from roster.aws import clients
from roster.identity.resolver import Resolver, resolver_for
from roster.profiles.fields import Kind
from roster.segments.manager import SegmentManager
from roster.segments.membership import MembershipEngine
from roster.sources.csv_import import CsvImports
from roster.store.imports import ImportStore
from roster.store.profiles import ProfileStore
from roster.store.segments import SegmentStore
from roster.store.workspaces import WorkspaceStore


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
            ImportStore(),
            aws.s3,
            aws.sqs,
            aws.settings.uploads_bucket,
            aws.settings.import_queue_url,
            aws.settings.ingest_queue_url,
        )

    @cached_property
    def segment_store(self) -> SegmentStore:
        clients()
        return SegmentStore()

    @cached_property
    def segments(self) -> SegmentManager:
        return SegmentManager(self.segment_store, self.profiles, self.workspaces, self.send_segment_work)

    @cached_property
    def membership(self) -> MembershipEngine:
        return MembershipEngine(self.segment_store, self.profiles, self.workspaces, self.send_segment_work)

    def send_segment_work(self, work: BaseModel) -> None:
        aws = clients()
        aws.sqs.send_message(QueueUrl=aws.settings.segment_queue_url, MessageBody=work.model_dump_json())

    def put_event(self, source: str, detail_type: str, detail: str) -> None:
        aws = clients()
        entry = {
            "Source": source,
            "DetailType": detail_type,
            "Detail": detail,
            "EventBusName": aws.settings.event_bus_name,
        }
        response = aws.events.put_events(Entries=[entry])
        if response.get("FailedEntryCount"):
            raise RuntimeError(f"EventBridge refused the event: {response['Entries'][0].get('ErrorMessage')}")

    def resolver(self, workspace: str, kind: Kind) -> Resolver:
        return resolver_for(self.profiles, self.workspaces, workspace, kind)

    def admin_key(self) -> str:
        """The admin key, from Secrets Manager (cached for five minutes)."""
        return str(parameters.get_secret(clients().settings.admin_key_secret, max_age=300)).strip()


services = Services()

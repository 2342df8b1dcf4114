"""What handlers use, built once per Lambda container from the deployment's settings."""

from __future__ import annotations

from functools import cached_property

from aws_lambda_powertools.utilities import parameters

from roster.aws import clients
from roster.identity.resolver import Resolver, resolver_for
from roster.profiles.fields import Kind
from roster.sources.csv_import import CsvImports
from roster.store.imports import ImportStore
from roster.store.profiles import ProfileStore
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

    def resolver(self, workspace: str, kind: Kind) -> Resolver:
        return resolver_for(self.profiles, self.workspaces, workspace, kind)

    def admin_key(self) -> str:
        """The admin key, from Secrets Manager (cached for five minutes)."""
        return str(parameters.get_secret(clients().settings.admin_key_secret, max_age=300)).strip()


services = Services()

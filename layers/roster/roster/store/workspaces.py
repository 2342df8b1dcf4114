"""Workspaces, their API keys (stored hashed) and their settings."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from roster.config import settings
from roster.profiles.fields import FieldType, Kind
from roster.profiles.limits import MAX_CUSTOM_FIELDS
from roster.profiles.values import ValueProblem, utc_now
from roster.store.models import WorkspaceItem

KEY_PREFIX = "rst_"
KEY_ID_LENGTH = 16  # hex characters


class WorkspaceExists(Exception):
    """A workspace with that id already exists."""


def _digest(secret: str) -> str:
    """Key secrets are long random tokens, so one SHA-256 is enough to store them safely."""
    return hashlib.sha256(secret.encode()).hexdigest()


def _connection() -> Connection:
    return Connection(region=settings().region)


class WorkspaceStore:
    def create_workspace(self, workspace: str, name: str) -> None:
        item = WorkspaceItem(f"ws#{workspace}", "meta", workspace=workspace, data={"name": name}, created_at=utc_now())
        try:
            item.save(condition=WorkspaceItem.pk.does_not_exist())
        except PutError as error:
            if error.cause_response_code == "ConditionalCheckFailedException":
                raise WorkspaceExists(workspace) from error
            raise

    def workspace_exists(self, workspace: str) -> bool:
        return WorkspaceItem.count(f"ws#{workspace}", WorkspaceItem.sk == "meta") > 0

    def create_api_key(self, workspace: str) -> str:
        """A new key `rst_<id>.<secret>`; only the secret's hash is kept, so it is shown once.

        Each key is two items: `key#<id>` (what authentication reads) and `ws#<workspace>`/`key#<id>`
        (what the workspace's key list reads), written in one transaction."""
        key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        now = utc_now()
        with TransactWrite(connection=_connection()) as transaction:
            transaction.save(
                WorkspaceItem(
                    f"key#{key_id}", "key", workspace=workspace, data={"hash": _digest(secret)}, created_at=now
                )
            )
            transaction.save(WorkspaceItem(f"ws#{workspace}", f"key#{key_id}", workspace=workspace, created_at=now))
        return f"{KEY_PREFIX}{key_id}.{secret}"

    def workspace_for_key(self, api_key: str) -> str | None:
        """The workspace a key belongs to, or None; the secret is compared in constant time. Notes when the
        key was last used, to the hour (one write per key and hour)."""
        key_id, dot, secret = api_key.removeprefix(KEY_PREFIX).partition(".")
        if not api_key.startswith(KEY_PREFIX) or not dot or not key_id.isalnum() or len(key_id) > KEY_ID_LENGTH:
            return None
        try:
            item = WorkspaceItem.get(f"key#{key_id}", "key")
        except DoesNotExist:
            return None
        data = dict(item.data or {})
        if not hmac.compare_digest(str(data.get("hash", "")), _digest(secret)):
            return None
        now = utc_now()
        if str(data.get("last_used_at", ""))[:13] != now[:13]:
            try:  # only while the key exists: a revocation in between must not bring it back
                item.update(
                    actions=[WorkspaceItem.data.set({**data, "last_used_at": now})],
                    condition=WorkspaceItem.pk.exists(),
                )
            except UpdateError as error:
                if error.cause_response_code != "ConditionalCheckFailedException":
                    raise
                return None
        return item.workspace

    def api_keys(self, workspace: str) -> list[dict[str, str | None]]:
        """A workspace's keys, oldest first: id, when created and when last used (never a secret or hash)."""
        listed = WorkspaceItem.query(f"ws#{workspace}", WorkspaceItem.sk.startswith("key#"))
        ids = [item.sk.removeprefix("key#") for item in listed]
        keys = {
            item.pk.removeprefix("key#"): item for item in WorkspaceItem.batch_get([(f"key#{i}", "key") for i in ids])
        }
        return sorted(
            (
                {
                    "key_id": key_id,
                    "created_at": keys[key_id].created_at,
                    "last_used_at": (keys[key_id].data or {}).get("last_used_at"),
                }
                for key_id in ids
                if key_id in keys and keys[key_id].workspace == workspace
            ),
            key=lambda key: (str(key["created_at"]), str(key["key_id"])),
        )

    def revoke_api_key(self, workspace: str, key_id: str) -> bool:
        """Delete a workspace's key (it is refused from then on); False when the workspace has no such key."""
        if not key_id.isalnum() or len(key_id) > KEY_ID_LENGTH:
            return False
        try:
            with TransactWrite(connection=_connection()) as transaction:
                transaction.delete(
                    WorkspaceItem(f"key#{key_id}", "key", workspace=workspace, created_at=""),
                    condition=WorkspaceItem.workspace == workspace,
                )
                transaction.delete(
                    WorkspaceItem(f"ws#{workspace}", f"key#{key_id}", workspace=workspace, created_at="")
                )
        except TransactWriteError as error:
            if error.cause_response_code == "TransactionCanceledException":
                return False
            raise
        return True

    def get_setting(self, workspace: str, name: str) -> dict[str, Any]:
        try:
            data = WorkspaceItem.get(f"ws#{workspace}", f"setting#{name}").data
        except DoesNotExist:
            return {}
        return dict(data or {})

    def put_setting(self, workspace: str, name: str, data: dict[str, Any]) -> None:
        WorkspaceItem(f"ws#{workspace}", f"setting#{name}", workspace=workspace, data=data, created_at=utc_now()).save()

    def settings_with_prefix(self, workspace: str, prefix: str) -> dict[str, dict[str, Any]]:
        items = WorkspaceItem.query(f"ws#{workspace}", WorkspaceItem.sk.startswith(f"setting#{prefix}"))
        return {item.sk.removeprefix("setting#"): dict(item.data or {}) for item in items}


def matching_setting_name(kind: Kind, source: str, obj: str) -> str:
    return f"matching#{kind}#{source}#{obj}"


def survivorship_setting_name(kind: Kind) -> str:
    return f"survivorship#{kind}"


CUSTOM_FIELDS_SETTING = "fields"


def custom_fields(store: WorkspaceStore, workspace: str) -> dict[Kind, dict[str, FieldType]]:
    """The fields a workspace added to the standard ones (from a CRM mapping, enrichment or by hand)."""
    data = store.get_setting(workspace, CUSTOM_FIELDS_SETTING)
    return {kind: {name: FieldType(kind_of) for name, kind_of in data.get(str(kind), {}).items()} for kind in Kind}


def declare_custom_fields(store: WorkspaceStore, workspace: str, kind: Kind, fields: dict[str, FieldType]) -> None:
    """Add (or retype) custom fields. They all live in one settings item, so their number is bounded:
    raises ValueProblem past MAX_CUSTOM_FIELDS per kind, declaring none of them."""
    data = store.get_setting(workspace, CUSTOM_FIELDS_SETTING)
    declared = data.setdefault(str(kind), {})
    declared.update({name: str(kind_of) for name, kind_of in fields.items()})
    if len(declared) > MAX_CUSTOM_FIELDS:
        limit = f"a workspace declares at most {MAX_CUSTOM_FIELDS:,} custom {kind} fields"
        raise ValueProblem("fields", f"{limit}; this would make {len(declared):,}")
    store.put_setting(workspace, CUSTOM_FIELDS_SETTING, data)

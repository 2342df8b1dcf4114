"""Which certificates a workspace's CRM connection trusts: the system's, or (local stacks only) a CA bundle.

The Salesforce and HubSpot emulators serve HTTPS with a certificate from their own throw-away CA, so a local stack
needs to trust that CA. A deployment never does: a CA bundle is accepted and used only while `ROSTER_LOCAL_STACK`
is set (the local stack sets it; the template never does), and TLS verification can never be switched off. The
bundle's path is not a secret; it is kept as a workspace setting per system (`salesforce#connection`,
`hubspot#connection`), next to (never inside) the credentials' secret.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol

LOCAL_STACK_FLAG = "ROSTER_LOCAL_STACK"


class SettingStore(Protocol):
    def get_setting(self, workspace: str, name: str) -> dict[str, Any]: ...

    def put_setting(self, workspace: str, name: str, data: dict[str, Any]) -> None: ...


class TrustRefused(ValueError):
    """A CA bundle that cannot be used here (a deployment, or not a readable PEM file)."""


def local_stack() -> bool:
    return os.environ.get(LOCAL_STACK_FLAG) == "1"


def check_ca_bundle(path: str) -> str:
    """The bundle's absolute path, or TrustRefused saying why it cannot be used."""
    if not local_stack():
        raise TrustRefused("ca_bundle is accepted only by a local stack (an emulator's CA)")
    bundle = Path(path)
    if not bundle.is_absolute() or bundle.suffix != ".pem" or not bundle.is_file():
        raise TrustRefused("ca_bundle must be the absolute path of an existing .pem file")
    return str(bundle)


def _setting(system: str) -> str:
    return f"{system}#connection"


def save_ca_bundle(store: SettingStore, system: str, workspace: str, path: str | None) -> None:
    store.put_setting(workspace, _setting(system), {"ca_bundle": check_ca_bundle(path) if path else None})


def ca_bundle(store: SettingStore, system: str, workspace: str) -> str | None:
    """The workspace's saved CA bundle for a system, if it is still usable here."""
    path = store.get_setting(workspace, _setting(system)).get("ca_bundle")
    if not path or not local_stack():
        return None
    try:
        return check_ca_bundle(str(path))
    except TrustRefused:
        return None


def verify_for(store: SettingStore, system: str, workspace: str) -> str | bool:
    """`requests`' `verify` for the workspace: the local CA bundle, else True (the system's CAs)."""
    return ca_bundle(store, system, workspace) or True

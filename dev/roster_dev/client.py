"""A small client of the Roster API, used by the CLI and the demo (and handy in scripts)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests


class ApiError(Exception):
    def __init__(self, status: int, body: Any) -> None:
        message = body.get("message") if isinstance(body, dict) else str(body)
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.body = body


@dataclass
class RosterClient:
    base_url: str
    api_key: str
    session: requests.Session = field(default_factory=requests.Session)

    def call(self, method: str, path: str, body: Any = None, **query: str) -> Any:
        response = self.session.request(
            method,
            self.base_url.rstrip("/") + path,
            json=body,
            params=query or None,
            headers={"Authorization": f"Bearer {self.api_key}"},
            timeout=60,
        )
        payload = response.json() if response.content else None
        if response.status_code >= 400:
            raise ApiError(response.status_code, payload)
        return payload

    def create_workspace(self, workspace_id: str, name: str) -> dict[str, Any]:
        """Needs the admin key."""
        result: dict[str, Any] = self.call("POST", "/v1/admin/workspaces", {"workspace_id": workspace_id, "name": name})
        return result

    def import_csv(
        self,
        path: Path,
        kind: str,
        source_name: str,
        *,
        mapping: dict[str, str | None] | None = None,
        on_preview: Callable[[dict[str, Any]], None] | None = None,
        on_progress: Callable[[dict[str, Any]], None] | None = None,
        poll_seconds: float = 0.5,
    ) -> dict[str, Any]:
        """Upload a file, show its preview, confirm it and wait until every batch is imported."""
        started = self.call("POST", f"/v1/{kind}/imports", {"source_name": source_name, "filename": path.name})
        with path.open("rb") as upload:
            response = self.session.put(started["upload_url"], data=upload, timeout=600)
        response.raise_for_status()
        import_id = started["import_id"]
        preview = self.call("GET", f"/v1/{kind}/imports/{import_id}/preview")
        if on_preview:
            on_preview(preview)
        self.call("POST", f"/v1/{kind}/imports/{import_id}/confirm", {"mapping": mapping})
        while True:
            report: dict[str, Any] = self.call("GET", f"/v1/{kind}/imports/{import_id}")
            if on_progress:
                on_progress(report)
            if report["status"] in ("completed", "failed"):
                return report
            time.sleep(poll_seconds)

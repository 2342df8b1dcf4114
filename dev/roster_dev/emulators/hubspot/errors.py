"""The emulator's one error type, shaped like HubSpot's `{"status": "error", "message", "category", ...}` bodies."""

from __future__ import annotations

import uuid
from typing import Any


class HubSpotError(Exception):
    """A HubSpot API error: the category and message a client sees, and the HTTP status it comes with."""

    def __init__(
        self,
        category: str,
        message: str,
        *,
        status: int = 400,
        sub_category: str | None = None,
        context: dict[str, list[str]] | None = None,
        errors: list[dict[str, Any]] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{category}: {message}")
        self.category = category
        self.message = message
        self.status = status
        self.sub_category = sub_category
        self.context = context
        self.errors = errors
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        """The JSON body (a new `correlationId` each time, as HubSpot sends)."""
        payload: dict[str, Any] = {
            "status": "error",
            "message": self.message,
            "correlationId": str(uuid.uuid4()),
            "category": self.category,
        }
        if self.sub_category:
            payload["subCategory"] = self.sub_category
        if self.context:
            payload["context"] = self.context
        if self.errors:
            payload["errors"] = self.errors
        payload.update(self.extra)
        return payload

    def batch_entry(self) -> dict[str, Any]:
        """One entry of a batch response's `errors` list."""
        entry: dict[str, Any] = {"status": "error", "category": self.category, "message": self.message}
        if self.sub_category:
            entry["subCategory"] = self.sub_category
        entry["context"] = self.context or {}
        if self.errors:
            entry["errors"] = self.errors
        return entry


def not_found(object_type: str, object_id: str) -> HubSpotError:
    return HubSpotError(
        "OBJECT_NOT_FOUND",
        "resource not found",
        status=404,
        context={"id": [object_id], "objectType": [object_type]},
    )


def validation(message: str, **context: list[str]) -> HubSpotError:
    return HubSpotError("VALIDATION_ERROR", message, context=context or None)

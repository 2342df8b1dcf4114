"""The emulator's one error type, shaped like the `[{"message", "errorCode", "fields"}]` bodies Salesforce sends."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class SalesforceError(Exception):
    """A Salesforce API error: the code and message a client sees, and the HTTP status it comes with."""

    def __init__(self, error_code: str, message: str, *, status: int = 400, fields: Sequence[str] = ()) -> None:
        super().__init__(f"{error_code}: {message}")
        self.error_code = error_code
        self.message = message
        self.status = status
        self.fields = list(fields)

    def body(self) -> list[dict[str, Any]]:
        """The JSON error list REST endpoints answer with."""
        entry: dict[str, Any] = {"message": self.message, "errorCode": self.error_code}
        if self.fields:
            entry["fields"] = self.fields
        return [entry]

    def bulk_text(self) -> str:
        """The `sf__Error` column of Bulk API 2.0 failed results: `CODE:message:fields --`."""
        return f"{self.error_code}:{self.message}:{','.join(self.fields)} --"

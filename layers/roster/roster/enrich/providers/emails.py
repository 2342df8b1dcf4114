"""E-mail validation offline: syntax, role mailbox, free-mail and disposable provider.

No mailbox is contacted, so "valid" means well-formed at a real-looking domain, not deliverable.
Role mailboxes (info@, sales@) and disposable providers are "risky": mail may arrive, but not
to the person. Only a valid address at a company domain is written as `work_email`.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from roster.enrich.providers.base import OfflineProvider, ProviderResult
from roster.enrich.providers.domains import domain_of
from roster.enrich.providers.text import read_text
from roster.identity.aliases import (
    DISPOSABLE_DOMAINS,
    FREE_MAIL_DOMAINS,
    ROLE_MAILBOXES,
    email_problem,
    normalize_email,
)
from roster.profiles.fields import FieldType


class EmailStatus(StrEnum):
    VALID = "valid"
    RISKY = "risky"
    INVALID = "invalid"


class EmailValidation(OfflineProvider):
    name = "email_validation"
    inputs = ("email",)
    outputs = {
        "email_status": FieldType.STRING,
        "email_is_free": FieldType.BOOLEAN,
        "email_is_role": FieldType.BOOLEAN,
        "email_is_disposable": FieldType.BOOLEAN,
        "work_email": FieldType.STRING,
    }

    def enrich_record(self, record: Mapping[str, Any]) -> ProviderResult:
        text = read_text(record, "email")
        address = normalize_email(text)
        if address is None:
            return ProviderResult.found({"email_status": EmailStatus.INVALID.value}, reason=email_problem(text))
        local, _, host = address.rpartition("@")
        domain = domain_of(host) or host
        is_free = domain in FREE_MAIL_DOMAINS
        is_disposable = domain in DISPOSABLE_DOMAINS
        is_role = local.split("+", 1)[0] in ROLE_MAILBOXES
        status = EmailStatus.RISKY if is_role or is_disposable else EmailStatus.VALID
        values: dict[str, Any] = {
            "email_status": status.value,
            "email_is_free": is_free,
            "email_is_role": is_role,
            "email_is_disposable": is_disposable,
        }
        if status is EmailStatus.VALID and not is_free:
            values["work_email"] = address
        return ProviderResult.found(values)

"""Company domain: the registrable domain of a person's work e-mail or of a website.

Only the domain is written (`company_domain`); linking the person to the company profile that
owns the domain happens later, in identity resolution. Addresses at free-mail or disposable
providers say nothing about a company, so they give no domain.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from roster.enrich.providers.base import OfflineProvider, ProviderResult
from roster.enrich.providers.text import InputProblem, optional_text
from roster.identity.aliases import DISPOSABLE_DOMAINS, FREE_MAIL_DOMAINS, registrable_domain
from roster.profiles.fields import FieldType


def domain_of(text: str) -> str | None:
    """The registrable domain of an e-mail address, URL or domain, or None (never raises)."""
    try:
        return registrable_domain(text)
    except ValueError:  # urlsplit rejects some hostile URLs, such as an unclosed "[" IPv6 host
        return None


def is_mailbox_provider(domain: str) -> bool:
    """Whether addresses at this domain belong to a mailbox provider rather than a company."""
    return domain in FREE_MAIL_DOMAINS or domain in DISPOSABLE_DOMAINS


class CompanyDomain(OfflineProvider):
    """The work e-mail's domain first (it names the employer), then the e-mail's, then the website's.

    `work_email` is what EmailValidation writes, so a record whose `email` is personal still
    finds its company once that validation has run on a work address from another source.
    """

    name = "company_domain"
    inputs = ("work_email", "email", "website")
    outputs = {"company_domain": FieldType.STRING}

    def enrich_record(self, record: Mapping[str, Any]) -> ProviderResult:
        problems: list[str] = []
        for field in self.inputs:
            text = optional_text(record, field)
            if text is None:
                continue
            domain = domain_of(text)
            if domain is None:
                problems.append(f"{field} has no domain name")
            elif is_mailbox_provider(domain):
                problems.append(f"{field} is at {domain}, a mailbox provider")
            else:
                return ProviderResult.found({"company_domain": domain})
        if not problems:
            raise InputProblem("no work_email, email or website")
        return ProviderResult.not_found("; ".join(problems))

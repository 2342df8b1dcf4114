"""Alias normalization: the identifiers that say two records are the same person or company.

Every alias is a string `type:value` with a canonical value, so that `John.Doe@Example.com `
and `john.doe@example.com` are one alias. Values that many people share (role mailboxes such as
team@, free-mail domains as a company's domain) are blocked before matching instead of capping
identifiers per profile, which would make the result depend on import order (DESIGN.md, 2).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any
from urllib.parse import unquote, urlsplit

import tldextract
from email_validator import EmailNotValidError, validate_email

from roster.profiles.fields import Kind
from roster.profiles.limits import MAX_DOMAIN, MAX_DOMAIN_LABEL, MAX_EMAIL, MAX_LINKEDIN_SLUG

_EXTRACT = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)  # bundled list, no network


class AliasType(StrEnum):
    EMAIL = "email"
    DOMAIN = "domain"
    LINKEDIN = "linkedin_url"
    RECORD = "record"


#: Which alias types each kind may match on (record ids always match).
MATCHABLE: dict[Kind, tuple[AliasType, ...]] = {
    Kind.PEOPLE: (AliasType.EMAIL, AliasType.LINKEDIN),
    Kind.COMPANIES: (AliasType.DOMAIN, AliasType.LINKEDIN),
}

#: Shared role mailboxes: stored as values, never used to match people.
ROLE_MAILBOXES = frozenset(
    """admin administrator billing careers contact contactus accounts finance hello help hi hr info
    inquiries jobs legal mail marketing media news newsletter no-reply noreply office orders press
    privacy postmaster recruiting sales security service support team webmaster""".split()
)

#: Mailbox providers: an address there says nothing about the person's company.
FREE_MAIL_DOMAINS = frozenset(
    """aol.com gmail.com googlemail.com gmx.com gmx.de hotmail.com hotmail.co.uk icloud.com live.com
    mac.com mail.com mail.ru me.com msn.com outlook.com proton.me protonmail.com qq.com
    yahoo.com yahoo.co.uk yahoo.fr yandex.ru web.de zoho.com 163.com 126.com""".split()
)

#: Disposable mailbox providers: addresses there are not worth keeping as identities.
DISPOSABLE_DOMAINS = frozenset(
    """10minutemail.com guerrillamail.com mailinator.com tempmail.com temp-mail.org trashmail.com
    yopmail.com throwawaymail.com getnada.com sharklasers.com""".split()
)


def normalize_email(text: str) -> str | None:
    """The canonical form of an e-mail address (lower case), or None if it is not one."""
    try:
        normalized = validate_email(text.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None
    return normalized if len(normalized) <= MAX_EMAIL else None


def email_problem(text: str) -> str | None:
    """Why a value is not a valid e-mail address, or None when it is."""
    try:
        validate_email(text.strip(), check_deliverability=False)
    except EmailNotValidError as error:
        return str(error)
    return None


def registrable_domain(text: str) -> str | None:
    """The registrable domain (`example.co.uk`) of a website, URL, bare domain or e-mail address."""
    value = text.strip().lower()
    if not value:
        return None
    if "@" in value and "://" not in value:
        value = value.rsplit("@", 1)[1]
    host = _hostname(value if "://" in value else f"//{value}")
    if len(host) > MAX_DOMAIN or any(len(label) > MAX_DOMAIN_LABEL for label in host.split(".")):
        return None  # not a domain name (RFC 1035), however it parses
    result = _EXTRACT(host)
    if not result.suffix or not result.domain:
        return None
    return f"{result.domain}.{result.suffix}"


def _hostname(url: str) -> str:
    try:
        return urlsplit(url).hostname or ""
    except ValueError:  # e.g. an unclosed `[` of an IPv6 address
        return ""


def linkedin_url(text: str) -> tuple[str, str] | None:
    """The canonical LinkedIn profile URL and whether it is a person ("in") or a company."""
    value = text.strip()
    if not value:
        return None
    url = value if "://" in value else f"https://{value}"
    host = _hostname(url).lower()
    if host != "linkedin.com" and not host.endswith(".linkedin.com"):
        return None
    segments = [unquote(s) for s in urlsplit(url).path.split("/") if s]
    if len(segments) < 2 or segments[0].lower() not in ("in", "company", "pub"):
        return None
    if len(segments[1]) > MAX_LINKEDIN_SLUG:
        return None  # LinkedIn's public URLs have at most 100 characters after /in/ or /company/
    section = "in" if segments[0].lower() in ("in", "pub") else "company"
    return f"linkedin.com/{section}/{segments[1].lower()}", section


def record_alias(source: str, obj: str, record_id: str) -> str:
    """The alias of one source record, e.g. `record:salesforce:contact:003...`."""
    return f"{AliasType.RECORD}:{source}:{obj}:{record_id}"


def matching_aliases(kind: Kind, fields: dict[str, Any], match_on: frozenset[AliasType]) -> list[str]:
    """The aliases a record's fields offer for matching, after blocking shared values."""
    aliases: set[str] = set()
    if kind is Kind.PEOPLE:
        email = fields.get("email")
        if AliasType.EMAIL in match_on and isinstance(email, str):
            normalized = normalize_email(email)
            if normalized and _email_identifies_a_person(normalized):
                aliases.add(f"{AliasType.EMAIL}:{normalized}")
    else:
        if AliasType.DOMAIN in match_on:
            for name in ("domain", "website"):
                value = fields.get(name)
                domain = registrable_domain(value) if isinstance(value, str) else None
                if domain and domain not in FREE_MAIL_DOMAINS and domain not in DISPOSABLE_DOMAINS:
                    aliases.add(f"{AliasType.DOMAIN}:{domain}")
    url = fields.get("linkedin_url")
    if AliasType.LINKEDIN in match_on and isinstance(url, str):
        canonical = linkedin_url(url)
        wanted = "in" if kind is Kind.PEOPLE else "company"
        if canonical and canonical[1] == wanted:
            aliases.add(f"{AliasType.LINKEDIN}:{canonical[0]}")
    return sorted(aliases)


def _email_identifies_a_person(email: str) -> bool:
    local, _, domain = email.partition("@")
    return local.split("+", 1)[0] not in ROLE_MAILBOXES and domain not in DISPOSABLE_DOMAINS

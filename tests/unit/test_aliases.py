"""Alias normalization: the same person or company always yields the same alias."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roster.identity.aliases import (
    AliasType,
    linkedin_url,
    matching_aliases,
    normalize_email,
    record_alias,
    registrable_domain,
)
from roster.profiles.fields import Kind
from roster.profiles.limits import MAX_KEY_BYTES, MAX_RECORD_ID
from roster.store.profiles import alias_key

ALL = frozenset(AliasType)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (" John.Doe@Example.COM ", "john.doe@example.com"),
        ("JOHN.DOE@example.com", "john.doe@example.com"),
        ("not-an-email", None),
        ("a@", None),
        ("", None),
        ("x@localhost", None),
        ("a" * 64 + "@" + ".".join(["b" * 60] * 4) + ".com", None),  # over 254 characters: not an address
    ],
)
def test_email_normalization(raw: str, expected: str | None) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://www.shop.example.co.uk/path?q=1", "example.co.uk"),
        ("example.com", "example.com"),
        ("WWW.Example.com/", "example.com"),
        ("bob@mail.acme.io", "acme.io"),
        ("http://localhost:8000", None),
        ("not a domain", None),
        ("", None),
        ("a" * 64 + ".com", None),  # a label has at most 63 characters
        ("a" * 63 + ".com", "a" * 63 + ".com"),
        (".".join(["b" * 60] * 5) + ".com", None),  # a name has at most 253
        ("a" * 5_000 + ".com", None),
        ("http://[::1", None),  # not even a URL
    ],
)
def test_registrable_domain(raw: str, expected: str | None) -> None:
    assert registrable_domain(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://www.linkedin.com/in/John-Doe/", ("linkedin.com/in/john-doe", "in")),
        ("linkedin.com/in/john-doe", ("linkedin.com/in/john-doe", "in")),
        ("http://uk.linkedin.com/in/john-doe?trk=x", ("linkedin.com/in/john-doe", "in")),
        ("https://www.linkedin.com/company/Acme-Inc/about/", ("linkedin.com/company/acme-inc", "company")),
        ("https://www.linkedin.com/in/j%C3%BCrgen", ("linkedin.com/in/jürgen", "in")),
        ("https://evil.com/in/john", None),
        ("https://linkedin.com.evil.com/in/john", None),
        ("https://www.linkedin.com/feed/", None),
        ("https://www.linkedin.com/in/" + "a" * 100, ("linkedin.com/in/" + "a" * 100, "in")),
        ("https://www.linkedin.com/in/" + "a" * 101, None),  # public URLs have at most 100 characters
        ("https://[linkedin.com/in/x", None),
    ],
)
def test_linkedin_url(raw: str, expected: tuple[str, str] | None) -> None:
    assert linkedin_url(raw) == expected


def test_people_match_on_email_and_person_linkedin_only() -> None:
    fields = {
        "email": "Ann@Acme.com",
        "linkedin_url": "https://www.linkedin.com/in/ann/",
        "company_domain": "acme.com",
    }
    assert matching_aliases(Kind.PEOPLE, fields, ALL) == ["email:ann@acme.com", "linkedin_url:linkedin.com/in/ann"]
    company_url = {"linkedin_url": "https://www.linkedin.com/company/acme"}
    assert matching_aliases(Kind.PEOPLE, company_url, ALL) == []


def test_shared_values_are_blocked_before_matching() -> None:
    assert matching_aliases(Kind.PEOPLE, {"email": "team@acme.com"}, ALL) == []
    assert matching_aliases(Kind.PEOPLE, {"email": "Sales+eu@acme.com"}, ALL) == []
    assert matching_aliases(Kind.PEOPLE, {"email": "x@mailinator.com"}, ALL) == []
    assert matching_aliases(Kind.COMPANIES, {"domain": "gmail.com"}, ALL) == []
    assert matching_aliases(Kind.COMPANIES, {"website": "https://acme.com", "domain": "acme.com"}, ALL) == [
        "domain:acme.com"
    ]


def test_matching_can_be_narrowed_or_turned_off() -> None:
    fields = {"email": "ann@acme.com", "linkedin_url": "linkedin.com/in/ann"}
    assert matching_aliases(Kind.PEOPLE, fields, frozenset({AliasType.LINKEDIN})) == [
        "linkedin_url:linkedin.com/in/ann"
    ]
    assert matching_aliases(Kind.PEOPLE, fields, frozenset()) == []


def test_record_alias() -> None:
    assert record_alias("salesforce", "contact", "003X") == "record:salesforce:contact:003X"


hostile_text = st.text(min_size=0, max_size=3_000) | st.builds(
    lambda prefix, body, suffix: prefix + body + suffix,
    st.sampled_from(["", "https://www.linkedin.com/in/", "https://www.linkedin.com/company/", "x@", "https://"]),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=0, max_size=3_000),
    st.sampled_from(["", ".com", ".co.uk", "@acme.com"]),
)


@settings(max_examples=200, deadline=None)
@given(kind=st.sampled_from(list(Kind)), email=hostile_text, domain=hostile_text, url=hostile_text)
def test_every_alias_key_fits_dynamodb_whatever_the_input(kind: Kind, email: str, domain: str, url: str) -> None:
    fields = {"email": email, "domain": domain, "website": domain, "linkedin_url": url}
    longest_workspace = "w" * 40
    keys = [alias_key(longest_workspace, kind, alias) for alias in matching_aliases(kind, fields, ALL)]
    keys.append(alias_key(longest_workspace, kind, record_alias("s" * 63, "o" * 63, "\U0010ffff" * MAX_RECORD_ID)))
    assert all(len(key.encode()) <= MAX_KEY_BYTES for key in keys)

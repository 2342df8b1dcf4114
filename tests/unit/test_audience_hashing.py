"""Identifiers normalized and hashed by each ad platform's rules: vectors written out, and properties."""

from __future__ import annotations

import hashlib
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from roster.actions.destinations import google_ads, linkedin, meta
from roster.actions.destinations.audiences import person, sha256_hex
from roster.actions.destinations.base import Delivery, Transition
from roster.profiles.fields import Kind

# SHA-256 of the normalized forms, computed outside Roster (`printf %s VALUE | sha256sum`)
GMAIL = "cfc32d9cff197e2470f25826f918f3f3006c92219c6d0254bc092cd4c3a5608a"  # ada.lovelace+ads@gmail.com
PHONE_E164 = "cb6880e416769253645cb9c6b8989154bf66a56a77fc14c81fb1019663cbb928"  # +14155552671
PHONE_DIGITS = "758fbf68945f21c416814c539ab578876c8d98fb69e6da692def92cd52417fe0"  # 14155552671
MARY_ANN = "343b97011010c3549fe7fcd6c226ed9431ea37b0b77ed78f6300a0098925faf1"  # mary ann
MARYANN = "16b3f07f0ec2f9dd127b71dc2e6c791b7d93116a1c3bc99d057eaa7a8a077e73"  # maryann
ZOE = "2752b88686847fa5c86f47b94ce652b7b3f22a91c37617d451a4db9afa431450"  # zoë (UTF-8)
ONEIL = "eb1aed4f494ca276a88d3161252e48e0fe703f32666fe44fe4652f660b82cda4"  # o'neil


def delivery(**fields: str) -> Delivery:
    return Delivery("d1", "a1", "s1", Kind.PEOPLE, "p1", Transition.ENTERED, "2026-11-29T22:00:00Z", fields)


def test_sha256_hex_is_lowercase_hex_of_utf8() -> None:
    assert sha256_hex("zoë") == ZOE == hashlib.sha256("zoë".encode()).hexdigest()


def test_google_customer_match_vectors() -> None:
    record = person(
        {
            "email": "  Ada.Lovelace+ads@GMail.com ",  # Customer Match keeps dots and +tags, even at gmail.com
            "phone": "(415) 555-2671",
            "country": "United States",
            "first_name": "  Mary  Ann ",
            "last_name": "O'Neil",
            "postal_code": "10011",
        }
    )
    assert google_ads.user_identifiers(record) == [
        {"hashedEmail": GMAIL},
        {"hashedPhoneNumber": PHONE_E164},
        {
            "addressInfo": {
                "hashedFirstName": MARY_ANN,
                "hashedLastName": ONEIL,
                "countryCode": "US",
                "postalCode": "10011",
            }
        },
    ]
    assert google_ads.user_identifiers(person({"phone": "+1 415 555 2671"})) == [{"hashedPhoneNumber": PHONE_E164}]


def test_meta_vectors_phone_without_plus_names_letters_only() -> None:
    record = person(
        {
            "email": "ADA.LOVELACE+ads@gmail.com",
            "phone": "+1 415-555-2671",
            "first_name": "Mary-Ann",
            "last_name": "Zoë",
        }
    )
    assert meta.meta_row(record) == [GMAIL, PHONE_DIGITS, MARYANN, ZOE]
    assert meta.meta_row(person({"email": "Ada.Lovelace+ads@gmail.com"})) == [GMAIL, "", "", ""]
    assert meta.meta_row(person({"first_name": "Ada"})) is None


def test_linkedin_vector() -> None:
    assert linkedin.element(delivery(email=" Ada.Lovelace+ads@GMAIL.com")) == {
        "action": "ADD",
        "userIds": [{"idType": "SHA256_EMAIL", "idValue": GMAIL}],
    }


@pytest.mark.parametrize(
    ("phone", "country", "expected"),
    [
        ("+44 20 7946 0958", None, "+442079460958"),
        ("020 7946 0958", "United Kingdom", "+442079460958"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("(415) 555-2671", "usa", "+14155552671"),
        ("(415) 555-2671", None, None),  # a national number without a country is not guessed
        ("+1 555 0100", None, None),  # not a valid number
    ],
)
def test_phones_become_e164_only_when_the_country_is_known(
    phone: str, country: str | None, expected: str | None
) -> None:
    fields = {"phone": phone, **({"country": country} if country else {})}
    record = person(fields)
    assert record.phone == expected
    assert bool(record.problems) == (expected is None)


def test_a_bad_email_is_named_in_the_problem() -> None:
    assert person({"email": "ada at example"}).problems == ("email 'ada at example' is not an e-mail address",)


def test_settings_take_the_platforms_urls_and_ten_digit_customer_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROSTER_LOCAL_STACK", raising=False)
    assert meta.MetaSettings().api_url == "https://graph.facebook.com"
    with pytest.raises(ValidationError, match="only on a local stack"):
        meta.MetaSettings(api_url="https://graph.example.com")
    monkeypatch.setenv("ROSTER_LOCAL_STACK", "1")
    assert meta.MetaSettings(api_url="https://127.0.0.1:4443").api_url == "https://127.0.0.1:4443"
    with pytest.raises(ValidationError, match="https://"):
        linkedin.LinkedInSettings(api_url="http://api.linkedin.com")
    with pytest.raises(ValidationError, match="10 digits"):
        google_ads.GoogleAdsSettings(customer_id="12345")
    assert google_ads.GoogleAdsSettings(customer_id="123-456-7890").customer_id == "1234567890"


local = st.text(alphabet=string.ascii_letters + string.digits + "._+-", min_size=1, max_size=20).filter(
    lambda text: not text.startswith(".") and not text.endswith(".") and ".." not in text
)
emails = st.builds(lambda name, domain: f"{name}@{domain}.com", local, st.sampled_from(["example", "gmail", "acme"]))
spaces = st.text(alphabet=" \t", max_size=3)


@given(emails, spaces, spaces)
def test_case_and_surrounding_space_never_change_an_email_digest(email: str, before: str, after: str) -> None:
    plain = person({"email": email})
    shouted = person({"email": f"{before}{email.upper()}{after}"})
    assert plain.email == shouted.email == email.lower()
    for record in (plain, shouted):
        [identifier] = google_ads.user_identifiers(record)
        row = meta.meta_row(record)
        assert identifier["hashedEmail"] == sha256_hex(email.lower())
        assert row is not None and row[0] == sha256_hex(email.lower())


@given(st.text(max_size=30))
def test_names_fold_the_same_whatever_the_case_and_spacing(name: str) -> None:
    assert meta.meta_name(name) == meta.meta_name(f"  {name.lower()} ")
    folded = google_ads.google_name(name)
    assert folded == folded.strip() and "  " not in folded
    assert all(character.isalpha() for character in meta.meta_name(name))

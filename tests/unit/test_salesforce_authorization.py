"""The web server flow's state and PKCE challenge, as Roster starts it (no network: refusals come first)."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from roster.connectors.salesforce.connection import AuthorizationRefused, finish_authorization, start_authorization

URL, STATE, PENDING = start_authorization(
    "https://login.salesforce.com/", "3MVG9client", SecretStr("s3cret"), "https://roster.example/callback"
)


def test_the_authorize_url_carries_state_and_the_verifiers_s256_challenge() -> None:
    parts = urlsplit(URL)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://login.salesforce.com/services/oauth2/authorize"
    assert query["response_type"] == "code" and query["client_id"] == "3MVG9client" and query["state"] == STATE
    assert query["redirect_uri"] == "https://roster.example/callback" and query["code_challenge_method"] == "S256"
    verifier = PENDING.code_verifier.get_secret_value().encode()
    assert query["code_challenge"] == base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=").decode()
    assert STATE not in PENDING.model_dump_json() and "s3cret" not in repr(PENDING)  # only the state's digest is kept


@given(st.text(max_size=80).filter(lambda state: state != STATE))
def test_only_the_issued_state_is_accepted(state: str) -> None:
    with pytest.raises(AuthorizationRefused, match="state does not match"):
        finish_authorization(PENDING, "aPrx-code", state)


def test_no_pending_or_an_expired_authorization_is_refused() -> None:
    with pytest.raises(AuthorizationRefused, match="no authorization is waiting"):
        finish_authorization(None, "aPrx-code", STATE)
    with pytest.raises(AuthorizationRefused, match="expired"):
        finish_authorization(PENDING.model_copy(update={"expires_at": 0.0}), "aPrx-code", STATE)

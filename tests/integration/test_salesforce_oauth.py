"""OAuth as Salesforce orgs allow it: the emulator's flows, each against the Salesforce page it follows, and Roster's
JWT bearer, web server (with refresh) and password connections against the emulator over HTTPS."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests
from typer.testing import CliRunner

from roster.connectors.salesforce import connection as sf_connection
from roster.connectors.salesforce.connection import (
    Calls,
    Connection,
    JwtCredentials,
    secret_name,
)
from roster.services import services
from roster_dev.cli import app as cli
from roster_dev.emulators.salesforce import SalesforceEmulator, generate_org, self_signed_certificate
from roster_dev.emulators.salesforce.oauth import JWT_BEARER
from roster_dev.local.runner import Runner
from roster_dev.local.stack import LocalStack
from tests.conftest import Api, fill, new_workspace
from tests.integration.test_salesforce_sync import credentials

KEY, CERTIFICATE = self_signed_certificate()
OTHER_KEY, _ = self_signed_certificate("someone-else")


@pytest.fixture
def emulator() -> Iterator[SalesforceEmulator]:
    with SalesforceEmulator(generate_org(5, accounts=10, contacts=30, leads=10)) as running:
        yield running


def token_url(emulator: SalesforceEmulator) -> str:
    return f"{emulator.instance_url}/services/oauth2/token"


def assertion(emulator: SalesforceEmulator, key: bytes = KEY, **claims: Any) -> str:
    values = {
        "iss": emulator.credentials.client_id,
        "sub": emulator.credentials.username,
        "aud": emulator.instance_url,
        "exp": int(time.time()) + 120,
        **claims,
    }
    return jwt.encode(values, key, algorithm="RS256")


def jwt_ready(emulator: SalesforceEmulator) -> SalesforceEmulator:
    emulator.oauth.upload_certificate(CERTIFICATE)
    emulator.oauth.pre_authorize(emulator.credentials.username)
    return emulator


def jwt_credentials(emulator: SalesforceEmulator, **changes: Any) -> JwtCredentials:
    values = {
        "login_url": emulator.instance_url,
        "client_id": emulator.credentials.client_id,
        "username": emulator.credentials.username,
        "private_key": KEY.decode(),
        **changes,
    }
    return JwtCredentials.model_validate(values)


def approve(emulator: SalesforceEmulator, authorize_url: str) -> dict[str, str]:
    """What the browser does: open the authorize URL (the emulator's user logs in and approves), read the callback."""
    answer = emulator.http_session().get(authorize_url, allow_redirects=False)
    assert answer.status_code == 302, answer.text
    location = answer.headers["Location"]
    assert location.startswith(emulator.credentials.callback_url + "?")
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


def is_live(emulator: SalesforceEmulator, token: str) -> bool:
    response = emulator.http_session().get(
        f"{emulator.instance_url}/services/data/v59.0/limits", headers={"Authorization": f"Bearer {token}"}
    )
    return response.status_code == 200


# --- the emulator, as Salesforce documents each flow ----------------------------------------------------------


def test_password_flow_issues_no_refresh_token_and_an_org_can_block_it(emulator: SalesforceEmulator) -> None:
    """https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_username_password_flow.htm: no refresh
    token; a blocked flow ("Allow OAuth Username-Password Flows" off, the default since Summer '23) answers as a wrong
    password does, and only Login History says "Username-Password Flow Disabled"."""
    creds, http = emulator.credentials, emulator.http_session()
    grant = {
        "grant_type": "password",
        "client_id": creds.client_id,
        "client_secret": creds.client_secret,
        "username": creds.username,
        "password": creds.password + creds.security_token,
    }
    granted = http.post(token_url(emulator), data=grant)
    assert granted.status_code == 200 and "refresh_token" not in granted.json()
    assert is_live(emulator, granted.json()["access_token"])

    emulator.oauth.block_password_flow()
    blocked = http.post(token_url(emulator), data=grant)
    wrong = http.post(token_url(emulator), data={**grant, "password": "nope"})
    assert blocked.status_code == wrong.status_code == 400
    assert blocked.json() == wrong.json() == {"error": "invalid_grant", "error_description": "authentication failure"}
    assert [entry["status"] for entry in emulator.oauth.login_history[-2:]] == [
        "Username-Password Flow Disabled",
        "Invalid Password",
    ]
    no_secret = http.post(token_url(emulator), data={**grant, "client_secret": "wrong"})
    assert no_secret.json() == {"error": "invalid_client", "error_description": "invalid client credentials"}


def test_jwt_bearer_flow_checks_signature_claims_and_approval(emulator: SalesforceEmulator) -> None:
    """https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_jwt_flow.htm: an RS256 assertion signed
    with the connected app's certificate key, iss = consumer key, sub = username, aud = login URL, exp within 3
    minutes, for a pre-authorized user; an access token and no refresh token. Errors as orgs answer them."""
    http = emulator.http_session()

    def grant(token: str) -> requests.Response:
        return http.post(token_url(emulator), data={"grant_type": JWT_BEARER, "assertion": token})

    def error(token: str) -> tuple[str, str]:
        answer = grant(token)
        assert answer.status_code == 400
        return answer.json()["error"], answer.json()["error_description"]

    assert error(assertion(emulator)) == ("invalid_grant", "invalid assertion")  # no certificate uploaded yet
    emulator.oauth.upload_certificate(CERTIFICATE)
    assert error(assertion(emulator)) == ("invalid_grant", "user hasn't approved this consumer")
    emulator.oauth.pre_authorize(emulator.credentials.username)
    granted = grant(assertion(emulator))
    assert granted.status_code == 200 and "refresh_token" not in granted.json()
    assert is_live(emulator, granted.json()["access_token"])

    assert error(assertion(emulator, key=OTHER_KEY)) == ("invalid_grant", "invalid assertion")
    assert error(assertion(emulator, aud="https://login.salesforce.com")) == ("invalid_grant", "audience is invalid")
    expired = assertion(emulator, exp=int(time.time()) - 5)
    assert error(expired) == ("invalid_grant", "expired authorization code")
    assert error(assertion(emulator, exp=int(time.time()) + 600)) == ("invalid_grant", "invalid assertion")
    assert error(assertion(emulator, iss="3MVG9someone.else")) == ("invalid_client_id", "client identifier invalid")
    assert error(assertion(emulator, sub="intruder@example.com")) == (
        "invalid_grant",
        "user hasn't approved this consumer",
    )
    assert error("not.a.jwt") == ("invalid_grant", "invalid assertion")


def test_web_server_flow_with_pkce_then_refresh_needs_the_secret(emulator: SalesforceEmulator) -> None:
    """https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_web_server_flow.htm (authorize, then the
    authorization_code grant with client secret, redirect URI and PKCE verifier: access + refresh token; a code is
    single-use) and https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_refresh_token_flow.htm (the
    refresh grant of a confidential client needs its secret; no new refresh token)."""
    creds, http = emulator.credentials, emulator.http_session()
    verifier = "v" * 64
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    query = {
        "response_type": "code",
        "client_id": creds.client_id,
        "redirect_uri": creds.callback_url,
        "state": "s-1",
        "code_challenge": challenge.rstrip(b"=").decode(),
    }
    authorize = f"{emulator.instance_url}/services/oauth2/authorize"
    wrong_callback = http.get(
        authorize, params={**query, "redirect_uri": "https://evil.test/cb"}, allow_redirects=False
    )
    assert wrong_callback.status_code == 400 and "redirect_uri_mismatch" in wrong_callback.text
    unknown_app = http.get(authorize, params={**query, "client_id": "nobody"}, allow_redirects=False)
    assert unknown_app.status_code == 400 and "invalid_client_id" in unknown_app.text

    callback = approve(emulator, requests.Request("GET", authorize, params=query).prepare().url or "")
    assert callback["state"] == "s-1"
    exchange = {
        "grant_type": "authorization_code",
        "code": callback["code"],
        "client_id": creds.client_id,
        "client_secret": creds.client_secret,
        "redirect_uri": creds.callback_url,
        "code_verifier": verifier,
    }
    assert http.post(token_url(emulator), data={**exchange, "client_secret": "x"}).json()["error"] == "invalid_client"
    tokens = http.post(token_url(emulator), data=exchange)
    assert (
        tokens.status_code == 200
        and tokens.json()["refresh_token"]
        and is_live(emulator, tokens.json()["access_token"])
    )
    again = http.post(token_url(emulator), data=exchange).json()
    assert again == {"error": "invalid_grant", "error_description": "invalid authorization code"}

    second = approve(emulator, requests.Request("GET", authorize, params=query).prepare().url or "")
    missing = http.post(token_url(emulator), data={**exchange, "code": second["code"], "code_verifier": ""}).json()
    assert missing["error"] == "invalid_grant"
    third = approve(emulator, requests.Request("GET", authorize, params=query).prepare().url or "")
    mismatch = http.post(token_url(emulator), data={**exchange, "code": third["code"], "code_verifier": "w" * 64})
    assert mismatch.json()["error"] == "invalid_request"

    refresh = {
        "grant_type": "refresh_token",
        "refresh_token": tokens.json()["refresh_token"],
        "client_id": creds.client_id,
    }
    assert http.post(token_url(emulator), data=refresh).json()["error"] == "invalid_client"  # no secret
    renewed = http.post(token_url(emulator), data={**refresh, "client_secret": creds.client_secret})
    assert renewed.status_code == 200 and "refresh_token" not in renewed.json()
    assert is_live(emulator, renewed.json()["access_token"])


def test_revoking_a_refresh_token_ends_its_sessions(emulator: SalesforceEmulator) -> None:
    """https://help.salesforce.com/s/articleView?id=sf.remoteaccess_revoke_token.htm: revoking a refresh token
    invalidates it and the sessions it issued; the refresh grant then answers "expired access/refresh token";
    an unknown token answers 400 unsupported_token_type."""
    creds, http = emulator.credentials, emulator.http_session()
    query = {"response_type": "code", "client_id": creds.client_id, "redirect_uri": creds.callback_url}
    authorize = requests.Request("GET", f"{emulator.instance_url}/services/oauth2/authorize", params=query)
    code = approve(emulator, authorize.prepare().url or "")["code"]
    tokens = http.post(
        token_url(emulator),
        data={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
            "redirect_uri": creds.callback_url,
        },
    ).json()
    refresh = {
        "grant_type": "refresh_token",
        "refresh_token": tokens["refresh_token"],
        "client_id": creds.client_id,
        "client_secret": creds.client_secret,
    }
    renewed = http.post(token_url(emulator), data=refresh).json()["access_token"]
    revoke = f"{emulator.instance_url}/services/oauth2/revoke"
    assert http.post(revoke, data={"token": tokens["refresh_token"]}).status_code == 200
    assert not is_live(emulator, tokens["access_token"]) and not is_live(emulator, renewed)
    assert http.post(token_url(emulator), data=refresh).json() == {
        "error": "invalid_grant",
        "error_description": "expired access/refresh token",
    }
    unknown = http.post(revoke, data={"token": "nothing"})
    assert unknown.status_code == 400 and unknown.json()["error"] == "unsupported_token_type"


# --- Roster's connections --------------------------------------------------------------------------------------


def test_jwt_connection_and_each_refusal_names_its_cause(emulator: SalesforceEmulator) -> None:
    jwt_ready(emulator)
    good = sf_connection.test_connection(jwt_credentials(emulator), verify=emulator.ca_path)
    assert good.ok and good.instance_url == emulator.instance_url
    assert emulator.oauth.login_history[-1]["status"] == "Success"

    def reason(credentials: JwtCredentials) -> str:
        check = sf_connection.test_connection(credentials, verify=emulator.ca_path)
        assert not check.ok and check.code == "bad_credentials" and check.reason is not None
        return check.reason

    assert "private key does not match the certificate" in reason(
        jwt_credentials(emulator, private_key=OTHER_KEY.decode())
    )
    wrong_audience = jwt_credentials(emulator, audience="https://login.salesforce.com")
    assert "audience is invalid" in reason(wrong_audience)
    emulator.oauth.now = lambda: time.time() + 600  # Roster's clock 10 minutes slow: its assertions arrive expired
    assert "expired authorization code" in reason(jwt_credentials(emulator)) and "clock" in reason(
        jwt_credentials(emulator)
    )
    emulator.oauth.now = time.time
    emulator.oauth.pre_authorized.clear()
    assert "Admin approved users are pre-authorized" in reason(jwt_credentials(emulator))


def test_jwt_audience_defaults_from_the_login_url() -> None:
    def aud(login_url: str) -> str:
        return sf_connection.audience(
            JwtCredentials(login_url=login_url, client_id="c", username="u", private_key=KEY.decode())
        )

    assert aud("https://login.salesforce.com") == "https://login.salesforce.com"
    assert aud("https://acme.my.salesforce.com") == "https://login.salesforce.com"
    assert aud("https://test.salesforce.com") == "https://test.salesforce.com"
    assert aud("https://acme--uat.sandbox.my.salesforce.com") == "https://test.salesforce.com"
    assert aud("https://127.0.0.1:8443/") == "https://127.0.0.1:8443"
    with pytest.raises(ValueError, match="PEM private key"):
        JwtCredentials(client_id="c", username="u", private_key="not a key")


def test_blocked_password_flow_is_named_by_the_connection_test(emulator: SalesforceEmulator) -> None:
    emulator.oauth.block_password_flow()
    blocked = sf_connection.test_connection(credentials(emulator), verify=emulator.ca_path)
    assert not blocked.ok and blocked.code == "password_flow_blocked"
    assert blocked.reason is not None and blocked.reason.startswith(
        "this org blocks the username-password flow; use JWT bearer (recommended) or the web-server flow"
    )
    assert emulator.calls_by_kind["oauth_revoke"] == 1  # the SOAP probe's session is revoked at once

    wrong = sf_connection.test_connection(credentials(emulator, password="nope"), verify=emulator.ca_path)
    assert not wrong.ok and wrong.code == "bad_credentials"
    assert wrong.reason is not None and "check the username, password and security token" in wrong.reason


def test_jwt_through_the_api_keeps_the_key_in_secrets_manager(
    api: Api, emulator: SalesforceEmulator, stack: LocalStack, capfd: pytest.CaptureFixture[str]
) -> None:
    jwt_ready(emulator)
    body = {
        "method": "jwt",
        "login_url": emulator.instance_url,
        "client_id": emulator.credentials.client_id,
        "username": emulator.credentials.username,
        "private_key": KEY.decode(),
        "ca_bundle": emulator.ca_path,
    }
    status, view = api.call("PUT", "/v1/salesforce/connection", body)
    assert status == 200 and view["test"]["ok"], view
    assert view["credentials"]["private_key"] == "**********" and view["credentials"]["method"] == "jwt"
    stored = json.loads(
        stack.client("secretsmanager").get_secret_value(SecretId=secret_name(api.workspace))["SecretString"]
    )
    assert stored["private_key"] == KEY.decode()
    status, refused = api.call("PUT", "/v1/salesforce/connection", {**body, "private_key": "-----BEGIN nonsense"})
    assert status == 422 and "PEM private key" in json.dumps(refused)
    secret_line = KEY.decode().splitlines()[1]
    printed = capfd.readouterr()
    assert secret_line not in json.dumps([view, refused]) and secret_line not in printed.out + printed.err
    assert api.call("DELETE", "/v1/salesforce/connection")[0] == 204


def test_web_server_flow_through_the_api_refreshes_sessions_and_asks_to_reconnect_when_revoked(
    api: Api, emulator: SalesforceEmulator, stack: LocalStack, runner: Runner, capfd: pytest.CaptureFixture[str]
) -> None:
    creds = emulator.credentials
    start = {
        "login_url": emulator.instance_url,
        "client_id": creds.client_id,
        "client_secret": creds.client_secret,
        "redirect_uri": creds.callback_url,
        "ca_bundle": emulator.ca_path,
    }
    status, started = api.call("POST", "/v1/salesforce/connection/authorize", start)
    assert status == 200 and started["expires_in"] == 900, started
    assert creds.client_secret not in json.dumps(started)
    callback = approve(emulator, started["authorize_url"])
    assert callback["state"] == started["state"]

    status, refused = api.call("POST", "/v1/salesforce/connection/callback", {**callback, "state": "forged"})
    assert status == 409 and refused["error"] == "authorization_refused"
    status, refused = api.call("POST", "/v1/salesforce/connection/callback", callback)  # the state was used up
    assert status == 409 and "no authorization is waiting" in refused["message"]

    status, started = api.call("POST", "/v1/salesforce/connection/authorize", start)
    other = new_workspace(runner, stack)
    status, _ = other.call("POST", "/v1/salesforce/connection/callback", approve(emulator, started["authorize_url"]))
    assert status == 409  # a state belongs to the workspace that started it
    status, started = api.call("POST", "/v1/salesforce/connection/authorize", start)
    status, view = api.call("POST", "/v1/salesforce/connection/callback", approve(emulator, started["authorize_url"]))
    assert status == 200 and view["test"]["ok"], view
    assert view["credentials"]["method"] == "web_server"
    assert view["credentials"]["refresh_token"] == view["credentials"]["client_secret"] == "**********"
    stored = json.loads(
        stack.client("secretsmanager").get_secret_value(SecretId=secret_name(api.workspace))["SecretString"]
    )
    refresh_token = stored["refresh_token"]
    assert refresh_token.startswith("5Aep") and refresh_token not in json.dumps(view)

    salesforce = services.salesforce_connection(api.workspace)  # logged in with the refresh token
    logins = emulator.calls_by_kind["login_oauth"]
    emulator.expire_sessions()  # the session times out mid-run: one refresh, and the call is retried once
    answer = Calls(salesforce)(lambda c: c.sf.query("SELECT COUNT() FROM Account"))
    assert answer["totalSize"] == 10 and emulator.calls_by_kind["login_oauth"] == logins + 1

    emulator.oauth.revoke(refresh_token)  # an admin revokes the app's access (or the token expires)
    status, check = api.call("POST", "/v1/salesforce/connection/test")
    assert status == 200 and check["code"] == "reconnect"
    assert "POST /v1/salesforce/connection/authorize" in check["reason"]
    api.call("PUT", "/v1/salesforce/objects/Account", {"enabled": True})
    message = services.salesforce.start(api.workspace, "Account")
    assert message is not None
    event = fill("salesforce_sync.json", workspace=api.workspace, object="Account", mode="full", run_id=message.run_id)
    result = runner.invoke("SalesforceSyncFunction", event)
    assert result["batchItemFailures"]  # the message is retried, then waits in the DLQ
    status, found = api.call("GET", "/v1/salesforce/objects/Account")
    assert found["last_run"]["error_code"] == "reconnect" and "reconnect" in found["error"], found
    api.call("PUT", "/v1/salesforce/objects/Account", {"enabled": False})
    printed = capfd.readouterr()
    assert refresh_token not in printed.out + printed.err and creds.client_secret not in printed.out + printed.err
    assert api.call("DELETE", "/v1/salesforce/connection")[0] == 204


def test_a_connection_renews_an_expired_jwt_session_once(emulator: SalesforceEmulator) -> None:
    jwt_ready(emulator)
    salesforce = Connection(jwt_credentials(emulator), verify=emulator.ca_path)
    emulator.expire_sessions()
    assert Calls(salesforce)(lambda c: c.sf.query("SELECT COUNT() FROM Lead"))["totalSize"] == 10
    assert emulator.oauth.login_history[-1]["status"] == "Success" and len(emulator.oauth.login_history) == 2


def test_the_cli_connects_with_jwt_and_with_the_web_server_flow(
    api: Api, emulator: SalesforceEmulator, runner: Runner, tmp_path: Path
) -> None:
    jwt_ready(emulator)
    key_file = tmp_path / "server.key"
    key_file.write_bytes(KEY)
    url, creds = runner.serve(), emulator.credentials
    common = ["--url", url, "--api-key", api.key, "--login-url", emulator.instance_url, "--ca-bundle", emulator.ca_path]
    connected = CliRunner().invoke(
        cli,
        ["salesforce", "connect", *common, "--client-id", creds.client_id, "--private-key-file", str(key_file)],
        env={"SALESFORCE_USERNAME": creds.username},
    )
    assert connected.exit_code == 0, connected.output
    assert '"method": "jwt"' in connected.output and "connected to" in connected.output
    assert KEY.decode().splitlines()[1] not in connected.output

    authorize = ["salesforce", "authorize", *common, "--client-id", creds.client_id]
    started = CliRunner().invoke(
        cli, [*authorize, "--client-secret", creds.client_secret, "--redirect-uri", creds.callback_url]
    )
    assert started.exit_code == 0, started.output
    assert creds.client_secret not in started.output
    link = started.output.split("minutes):\n", 1)[1].split("\nthen run", 1)[0].replace("\n", "")
    redirected = emulator.http_session().get(link, allow_redirects=False).headers["Location"]
    denied = CliRunner().invoke(
        cli, ["salesforce", "callback", f"{creds.callback_url}?error=access_denied", "--url", url, "--api-key", api.key]
    )
    assert denied.exit_code != 0 and "Salesforce did not authorize: access_denied" in denied.output
    finished = CliRunner().invoke(cli, ["salesforce", "callback", redirected, "--url", url, "--api-key", api.key])
    assert finished.exit_code == 0, finished.output
    assert '"method": "web_server"' in finished.output and '"refresh_token": "**********"' in finished.output
    assert api.call("DELETE", "/v1/salesforce/connection")[0] == 204

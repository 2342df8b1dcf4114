"""Connecting to a Salesforce org: credentials kept in Secrets Manager, logins, and a connection test.

simple-salesforce hard-codes its login hosts, so logins go to `{login_url}/services/oauth2/token` with plain
requests and the client then runs in direct mode (session id + instance URL). Every HTTP request the client
sends goes through one `requests.Session` whose response hook counts it, so a sync knows its API usage.
Secrets are `SecretStr`: they never show in a repr, a log line or a `redacted()` view.

The flows, as Salesforce documents them: JWT bearer (a certificate's key signs a short assertion; recommended for
a server), web server (an admin approves once in the browser; the refresh token it yields renews sessions),
username-password (no refresh token; orgs may block it), client credentials, or a session id from elsewhere.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlencode, urlsplit
from xml.sax.saxutils import escape

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from pydantic import BaseModel, Field, SecretStr, TypeAdapter, field_validator
from simple_salesforce.api import Salesforce
from simple_salesforce.bulk2 import _Bulk2Client
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceOperationError,
    SalesforceRefusedRequest,
)
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential
from tenacity.wait import WaitBaseT

from roster import outbound
from roster.connectors.core.secrets import SecretValues, revealed

#: The API version Roster speaks unless the deployment sets another (SALESFORCE_API_VERSION): Winter '27, served by
#: every org since its release; a fixed version, so a Salesforce release never changes what Roster reads under it.
API_VERSION = "68.0"
LOGIN_URL = "https://login.salesforce.com"
TIMEOUT_SECONDS = 60
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ASSERTION_SECONDS = 3 * 60  # Salesforce accepts an assertion that expires within 3 minutes
AUTHORIZE_SECONDS = 15 * 60  # as long as Salesforce's authorization code lives
T = TypeVar("T")


class _Credentials(BaseModel):
    def redacted(self) -> dict[str, Any]:
        """What an API response may show: every secret masked."""
        return self.model_dump(mode="json")


class PasswordCredentials(_Credentials):
    """A user (password + security token) through a connected app: the OAuth password grant."""

    method: Literal["password"] = "password"
    login_url: str = LOGIN_URL
    username: str
    password: SecretStr
    security_token: SecretStr = SecretStr("")
    client_id: str
    client_secret: SecretStr


class ClientCredentials(_Credentials):
    """A connected app's client credentials flow (its run-as user); `login_url` is the org's My Domain."""

    method: Literal["client_credentials"] = "client_credentials"
    login_url: str
    client_id: str
    client_secret: SecretStr


class SessionCredentials(_Credentials):
    """An instance URL and a session id obtained elsewhere; it cannot be renewed when it expires."""

    method: Literal["session"] = "session"
    instance_url: str
    session_id: SecretStr


class JwtCredentials(_Credentials):
    """A connected app with a certificate (JWT bearer flow): Roster signs a 3-minute assertion for the user with the
    certificate's private key; no password and no refresh token. `audience` defaults from the login URL."""

    method: Literal["jwt"] = "jwt"
    login_url: str = LOGIN_URL
    client_id: str = Field(description="The connected app's consumer key")
    username: str
    private_key: SecretStr = Field(description="PEM private key of the certificate uploaded to the connected app")
    audience: str | None = None

    @field_validator("private_key")
    @classmethod
    def _rsa_key(cls, value: SecretStr) -> SecretStr:
        _private_key(value)
        return value


class WebServerCredentials(_Credentials):
    """A connected app an admin approved in the browser (web server flow): the refresh token renews sessions."""

    method: Literal["web_server"] = "web_server"
    login_url: str = LOGIN_URL
    client_id: str
    client_secret: SecretStr
    redirect_uri: str
    refresh_token: SecretStr


AnyCredentials = PasswordCredentials | ClientCredentials | SessionCredentials | JwtCredentials | WebServerCredentials
Credentials = Annotated[AnyCredentials, Field(discriminator="method")]
CREDENTIALS: TypeAdapter[AnyCredentials] = TypeAdapter(Credentials)


class Authorization(BaseModel):
    """A web server flow waiting for its code: the app's secret, the state's digest and the PKCE verifier."""

    login_url: str
    client_id: str
    client_secret: SecretStr
    redirect_uri: str
    state_digest: str
    code_verifier: SecretStr
    expires_at: float


def _private_key(value: SecretStr) -> RSAPrivateKey:
    try:
        key = load_pem_private_key(value.get_secret_value().encode(), password=None)
    except (ValueError, TypeError):
        raise ValueError(
            "must be an unencrypted PEM private key (the key of the connected app's certificate)"
        ) from None
    if not isinstance(key, RSAPrivateKey):
        raise ValueError("must be an RSA private key: Salesforce verifies JWT bearer assertions signed with RS256")
    return key


def audience(credentials: JwtCredentials) -> str:
    """The assertion's `aud`: login.salesforce.com for production (My Domain included), test.salesforce.com for
    sandboxes, else the login URL itself (an Experience Cloud site, the emulator)."""
    if credentials.audience:
        return credentials.audience
    host = urlsplit(credentials.login_url).hostname or ""
    if host == "test.salesforce.com" or host.endswith(".sandbox.my.salesforce.com"):
        return "https://test.salesforce.com"
    if host.endswith(".salesforce.com"):
        return LOGIN_URL
    return credentials.login_url.rstrip("/")


def secret_name(workspace: str) -> str:
    return f"roster/{workspace}/salesforce"


class CredentialStore(SecretValues):
    """A workspace's credentials in Secrets Manager (never DynamoDB), through an injected boto3 client.

    A web server flow waiting for its code keeps its client secret and PKCE verifier in a second secret of the
    workspace (`roster/<workspace>/salesforce-authorize`), read once and deleted.
    """

    def save(self, workspace: str, credentials: _Credentials) -> None:
        self._put(secret_name(workspace), revealed(credentials))

    def load(self, workspace: str) -> AnyCredentials | None:
        value = self._get(secret_name(workspace))
        return None if value is None else CREDENTIALS.validate_json(value)

    def delete(self, workspace: str) -> None:
        self._delete(secret_name(workspace))
        self._delete(f"{secret_name(workspace)}-authorize")

    def save_authorization(self, workspace: str, pending: Authorization) -> None:
        self._put(f"{secret_name(workspace)}-authorize", revealed(pending))

    def take_authorization(self, workspace: str) -> Authorization | None:
        """The workspace's pending authorization, deleted as it is read: a state is good for one callback."""
        name = f"{secret_name(workspace)}-authorize"
        value = self._get(name)
        if value is None:
            return None
        self._delete(name)
        return Authorization.model_validate_json(value)


class LoginFailed(Exception):
    """The login endpoint refused the credentials (its OAuth error code and description, and the flow used)."""

    def __init__(self, code: str, description: str, method: str = "") -> None:
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description
        self.method = method


class SessionExpired(Exception):
    """A session id expired and the credentials cannot log in again."""


def _assertion(credentials: JwtCredentials) -> str:
    claims = {
        "iss": credentials.client_id,
        "sub": credentials.username,
        "aud": audience(credentials),
        "exp": int(time.time()) + ASSERTION_SECONDS,
    }
    return jwt.encode(claims, _private_key(credentials.private_key), algorithm="RS256")


def _token_request(credentials: _Credentials) -> tuple[dict[str, str], tuple[str, str] | None]:
    """The token endpoint's form (and HTTP basic client authentication, if any) for the credentials' flow."""
    if isinstance(credentials, PasswordCredentials):
        return {
            "grant_type": "password",
            "client_id": credentials.client_id,
            "client_secret": credentials.client_secret.get_secret_value(),
            "username": credentials.username,
            "password": credentials.password.get_secret_value() + credentials.security_token.get_secret_value(),
        }, None
    if isinstance(credentials, ClientCredentials):
        return {"grant_type": "client_credentials"}, (
            credentials.client_id,
            credentials.client_secret.get_secret_value(),
        )
    if isinstance(credentials, JwtCredentials):
        return {"grant_type": JWT_BEARER, "assertion": _assertion(credentials)}, None
    if isinstance(credentials, WebServerCredentials):
        return {
            "grant_type": "refresh_token",
            "refresh_token": credentials.refresh_token.get_secret_value(),
            "client_id": credentials.client_id,
            "client_secret": credentials.client_secret.get_secret_value(),
        }, None
    raise TypeError(f"unknown credentials {type(credentials).__name__}")


def _token(
    login_url: str, form: dict[str, str], auth: tuple[str, str] | None, http: requests.Session, method: str
) -> dict[str, Any]:
    """The token endpoint's answer, or LoginFailed with Salesforce's error code and description."""
    response = http.post(
        f"{login_url.rstrip('/')}/services/oauth2/token", data=form, auth=auth, timeout=TIMEOUT_SECONDS
    )
    try:
        body = response.json()
    except ValueError:
        raise LoginFailed(
            "unexpected_response", f"the login endpoint answered HTTP {response.status_code}", method
        ) from None
    if response.status_code != 200 or not isinstance(body, dict) or "access_token" not in body:
        body = body if isinstance(body, dict) else {}
        raise LoginFailed(str(body.get("error", response.status_code)), str(body.get("error_description", "")), method)
    return body


def _login(credentials: _Credentials, http: requests.Session) -> tuple[str, str]:
    """(instance URL, access token) for the credentials."""
    if isinstance(credentials, SessionCredentials):
        return credentials.instance_url.rstrip("/"), credentials.session_id.get_secret_value()
    form, auth = _token_request(credentials)
    login_url = str(getattr(credentials, "login_url", LOGIN_URL))
    body = _token(login_url, form, auth, http, str(getattr(credentials, "method", "")))
    return str(body["instance_url"]).rstrip("/"), str(body["access_token"])


def start_authorization(
    login_url: str, client_id: str, client_secret: SecretStr, redirect_uri: str
) -> tuple[str, str, Authorization]:
    """(authorize URL, state, what to keep until the callback) for a web server flow with PKCE."""
    state = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "scope": "api refresh_token",
    }
    pending = Authorization(
        login_url=login_url.rstrip("/"),
        client_id=client_id,
        client_secret=client_secret,
        redirect_uri=redirect_uri,
        state_digest=_digest(state),
        code_verifier=SecretStr(verifier),
        expires_at=time.time() + AUTHORIZE_SECONDS,
    )
    return f"{pending.login_url}/services/oauth2/authorize?{urlencode(query)}", state, pending


def _digest(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


class AuthorizationRefused(Exception):
    """A callback that cannot complete the web server flow (no pending authorization, wrong or expired state)."""


def finish_authorization(
    pending: Authorization | None, code: str, state: str, *, verify: str | bool = True
) -> WebServerCredentials:
    """Exchange the callback's code (with the client secret and PKCE verifier) for a refresh token."""
    if pending is None:
        raise AuthorizationRefused(
            "no authorization is waiting: start one with POST /v1/salesforce/connection/authorize"
        )
    if not secrets.compare_digest(pending.state_digest, _digest(state)):
        raise AuthorizationRefused("the state does not match the authorization this workspace started; start again")
    if pending.expires_at < time.time():
        raise AuthorizationRefused("the authorization expired (15 minutes); start again")
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": pending.client_id,
        "client_secret": pending.client_secret.get_secret_value(),
        "redirect_uri": pending.redirect_uri,
        "code_verifier": pending.code_verifier.get_secret_value(),
    }
    http = _http(verify)
    body = _token(pending.login_url, form, None, http, "authorization_code")
    if "refresh_token" not in body:
        raise LoginFailed(
            "no_refresh_token",
            "Salesforce issued no refresh token: add the 'refresh_token, offline_access' scope to the connected app",
            "web_server",
        )
    return WebServerCredentials(
        login_url=pending.login_url,
        client_id=pending.client_id,
        client_secret=pending.client_secret,
        redirect_uri=pending.redirect_uri,
        refresh_token=SecretStr(str(body["refresh_token"])),
    )


def _http(verify: str | bool) -> requests.Session:
    """A session to Salesforce: public addresses only (login_url and instance_url are the user's), and no
    environment settings (a REQUESTS_CA_BUNDLE would override `verify`, a proxy would connect unchecked)."""
    http = outbound.guard(requests.Session())
    http.verify = verify
    return http


class Connection:
    """A logged-in simple-salesforce client that counts its HTTP requests and can log in again once."""

    def __init__(self, credentials: _Credentials, *, verify: str | bool = True, api_version: str = API_VERSION) -> None:
        self.credentials = credentials
        self.api_version = api_version
        self.http = _http(verify)
        self.http.hooks["response"].append(self._count)
        self.calls = 0
        self.sf = self._client()

    def _count(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.calls += 1

    def _client(self) -> Salesforce:
        instance_url, token = _login(self.credentials, self.http)
        return Salesforce(session_id=token, instance_url=instance_url, session=self.http, version=self.api_version)

    def relogin(self) -> None:
        """Replace an expired session; raises SessionExpired when only a session id was given."""
        if isinstance(self.credentials, SessionCredentials):
            raise SessionExpired("the Salesforce session expired; connect again with a new session id")
        self.sf = self._client()

    def bulk(self, obj: str) -> _Bulk2Client:
        """The Bulk API 2.0 client of one object, on the current session."""
        headers = {
            "Content-Type": "application/json",
            "Authorization": f"Bearer {self.sf.session_id}",
            "Accept-Encoding": "gzip",  # result files come compressed (requests decompresses them)
        }
        return _Bulk2Client(obj, self.sf.bulk2_url, headers, self.http)


class ConnectionCheck(BaseModel):
    """The answer of a connection test: ok, or a code and a reason a person can act on."""

    ok: bool
    code: str = "ok"
    reason: str | None = None
    instance_url: str | None = None
    api_requests_remaining: int | None = None


def error_code(error: Exception) -> str:
    """Salesforce's error code of a client exception (e.g. REQUEST_LIMIT_EXCEEDED), or ''."""
    content = getattr(error, "content", None)
    if isinstance(content, list) and content and isinstance(content[0], dict):
        return str(content[0].get("errorCode", ""))
    return ""


JWT_HINTS = {
    "invalid assertion": ": the private key does not match the certificate uploaded to the connected app",
    "audience is invalid": ": set audience to https://login.salesforce.com (production) or https://test.salesforce.com",
    "user hasn't approved this consumer": (
        ": in the connected app's policies choose 'Admin approved users are pre-authorized' and add the user's "
        "profile or permission set"
    ),
    "expired authorization code": ": the assertion expired on the way; check this machine's clock",
    "client identifier invalid": ": client_id must be the connected app's consumer key",
}
REFUSED_LOGIN_HINT = (
    ": check the username, password and security token; if they are right, the org may block the "
    "username-password flow: use JWT bearer (recommended) or the web-server flow"
)
BLOCKED_FLOW_REASON = (
    "this org blocks the username-password flow; use JWT bearer (recommended) or the web-server flow "
    "(the username, password and security token are right: Salesforce's SOAP login accepts them)"
)


def error_message(error: Exception) -> str:
    """Salesforce's message of a client exception, or its text."""
    content = getattr(error, "content", None)
    if isinstance(content, list) and content and isinstance(content[0], dict):
        return str(content[0].get("message", ""))
    return str(error)


def explain(error: Exception) -> tuple[str, str]:
    """(code, reason) for any error talking to Salesforce: what the status and the connection test show."""
    if isinstance(error, LoginFailed):
        refused = f"{error.code}: {error.description}"
        if error.method == "web_server" and error.code == "invalid_grant":
            return "reconnect", (
                f"Salesforce no longer accepts the saved refresh token ({refused}): it was revoked or expired; "
                "reconnect with POST /v1/salesforce/connection/authorize"
            )
        hint = JWT_HINTS.get(error.description, "") if error.method == "jwt" else ""
        if error.method == "password" and error.code == "invalid_grant":
            hint = REFUSED_LOGIN_HINT
        return "bad_credentials", f"Salesforce refused the credentials ({refused}){hint}"
    if isinstance(error, SessionExpired | SalesforceExpiredSession):
        return "expired_session", "the Salesforce session expired or is invalid"
    if isinstance(error, outbound.OutboundRefused):
        return "refused_address", str(error)
    if isinstance(error, requests.ConnectionError | requests.Timeout):
        return "unreachable", "could not reach the Salesforce host over HTTPS"  # never says which way it failed
    code = error_code(error)
    if code == "REQUEST_LIMIT_EXCEEDED":
        return "api_limit", "the org's API request limit is exceeded; retry later or raise the limit"
    if code == "API_DISABLED_FOR_ORG" or code == "API_CURRENTLY_DISABLED":
        return "api_disabled", "API access is disabled for this org or user (needs the 'API Enabled' permission)"
    if isinstance(error, SalesforceError):
        content = error.content
        first = content[0] if isinstance(content, list) and content else None
        message = str(first.get("message", "")) if isinstance(first, dict) else ""
        said = f"{code}: {message}" if code and message else code or repr(content)
        return "salesforce_error", f"Salesforce answered HTTP {error.status}: {said}"
    if isinstance(error, SalesforceOperationError):
        return "bulk_job_failed", str(error)
    return "error", f"{type(error).__name__}: {error}"


def test_connection(
    credentials: _Credentials, *, verify: str | bool = True, api_version: str = API_VERSION
) -> ConnectionCheck:
    """Log in and read the org's limits (two requests); never raises for a Salesforce-side problem."""
    try:
        connection = Connection(credentials, verify=verify, api_version=api_version)
        limits = connection.sf.limits()
    except (LoginFailed, SessionExpired, requests.RequestException, SalesforceError) as error:
        if isinstance(error, LoginFailed) and isinstance(credentials, PasswordCredentials):
            return _password_refused(credentials, error, verify, api_version)
        code, reason = explain(error)
        return ConnectionCheck(ok=False, code=code, reason=reason)
    remaining = limits.get("DailyApiRequests", {}).get("Remaining")
    return ConnectionCheck(
        ok=True,
        instance_url=f"https://{connection.sf.sf_instance}",
        api_requests_remaining=int(remaining) if remaining is not None else None,
    )


def _password_refused(
    credentials: PasswordCredentials, error: LoginFailed, verify: str | bool, api_version: str
) -> ConnectionCheck:
    """Why the password flow failed: Salesforce answers a blocked flow exactly as a wrong password
    (`invalid_grant: authentication failure`), so ask SOAP login, which that setting does not block, about the
    same password; if it accepts, the flow is blocked (and the probe's session is revoked at once)."""
    code, reason = explain(error)
    if error.code != "invalid_grant":
        return ConnectionCheck(ok=False, code=code, reason=reason)
    http = _http(verify)
    login_url = credentials.login_url.rstrip("/")
    password = credentials.password.get_secret_value() + credentials.security_token.get_secret_value()
    envelope = (
        '<?xml version="1.0" encoding="utf-8"?><env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:urn="urn:partner.soap.sforce.com"><env:Body><urn:login>'
        f"<urn:username>{escape(credentials.username)}</urn:username><urn:password>{escape(password)}</urn:password>"
        "</urn:login></env:Body></env:Envelope>"
    )
    try:
        response = http.post(
            f"{login_url}/services/Soap/u/{api_version}",
            data=envelope.encode(),
            headers={"Content-Type": "text/xml; charset=UTF-8", "SOAPAction": "login"},
            timeout=TIMEOUT_SECONDS,
        )
        session = re.search(r"<sessionId>([^<]+)</sessionId>", response.text) if response.status_code == 200 else None
        if session is None:
            return ConnectionCheck(ok=False, code=code, reason=reason)
        http.post(f"{login_url}/services/oauth2/revoke", data={"token": session.group(1)}, timeout=TIMEOUT_SECONDS)
    except requests.RequestException:
        return ConnectionCheck(ok=False, code=code, reason=reason)
    return ConnectionCheck(ok=False, code="password_flow_blocked", reason=BLOCKED_FLOW_REASON)


def transient(error: BaseException) -> bool:
    """Errors worth retrying: the network, Salesforce 5xx and the request limit (which refills)."""
    if isinstance(error, requests.ConnectionError | requests.Timeout):
        return True
    if isinstance(error, SalesforceGeneralError):
        return error.status >= 500
    return isinstance(error, SalesforceRefusedRequest) and error_code(error) == "REQUEST_LIMIT_EXCEEDED"


@dataclass
class Calls:
    """Salesforce calls with retries: transient errors back off and retry; a call whose session expired logs in
    again and is sent once more (per attempt, so a long run outlives any number of session lifetimes, while a
    session refused right after a fresh login fails the call rather than loop)."""

    connection: Connection
    attempts: int = 4
    wait: WaitBaseT = field(default_factory=lambda: wait_exponential(multiplier=2, max=60))
    sleep: Callable[[float], None] = time.sleep
    relogins: int = 0

    def __call__(self, action: Callable[[Connection], T]) -> T:
        retrying = Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=self.wait,
            retry=retry_if_exception(transient),
            sleep=self.sleep,
            reraise=True,
        )
        result: T = retrying(self._once, action)
        return result

    def _once(self, action: Callable[[Connection], T]) -> T:
        try:
            return action(self.connection)
        except SalesforceExpiredSession:
            self.relogins += 1
            self.connection.relogin()
            return action(self.connection)

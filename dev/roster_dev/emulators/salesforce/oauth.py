"""The emulated org's OAuth 2.0 authorization server, answering as Salesforce's documentation says.

- Username-password flow ("OAuth 2.0 Username-Password Flow for Special Scenarios"): an access token and no refresh
  token; an org may block the flow (orgs created since Summer '23 do by default), and then it answers exactly as for a
  wrong password (`invalid_grant` / "authentication failure"); only Login History says "Username-Password Flow
  Disabled" (`login_history`).
- Web server flow ("OAuth 2.0 Web Server Flow for Web App Integration"): `/services/oauth2/authorize` redirects to the
  registered callback with a single-use `code` (valid 15 minutes, optionally bound to a PKCE `code_challenge`), which
  the `authorization_code` grant exchanges, with the client secret, for an access and a refresh token.
- Refresh token flow ("OAuth 2.0 Refresh Token Flow for Renewed Sessions"): needs the client secret (a confidential
  client); a revoked refresh token answers `invalid_grant` / "expired access/refresh token".
- JWT bearer flow ("OAuth 2.0 JWT Bearer Flow for Server-to-Server Integration"): an RS256 assertion signed with the
  key of the certificate uploaded to the connected app; iss = consumer key, sub = username, aud = the login URL,
  exp within 3 minutes; the user must be pre-authorized (or have approved the app before). No refresh token.
- Revoke ("Revoke OAuth Tokens"): `/services/oauth2/revoke` ends a refresh token and every session it issued, or one
  session.

Time checks use the wall clock (`now`), as the client signs with it; the org's own clock is for record data.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
CODE_SECONDS = 15 * 60  # Salesforce's authorization codes expire after 15 minutes
ASSERTION_SECONDS = 3 * 60  # "exp: the expiration time of the assertion within 3 minutes"
GRANTS = ("password", "client_credentials", "refresh_token", "authorization_code", JWT_BEARER)

Answer = tuple[int, dict[str, Any]]


def _error(code: str, description: str) -> Answer:
    return 400, {"error": code, "error_description": description}


AUTHENTICATION_FAILURE = _error("invalid_grant", "authentication failure")
INVALID_CLIENT_ID = _error("invalid_client_id", "client identifier invalid")
INVALID_CLIENT = _error("invalid_client", "invalid client credentials")
EXPIRED_TOKEN = _error("invalid_grant", "expired access/refresh token")
INVALID_ASSERTION = _error("invalid_grant", "invalid assertion")
NOT_APPROVED = _error("invalid_grant", "user hasn't approved this consumer")


@dataclass
class Credentials:
    """What the emulator's login endpoints accept: one user (password + security token) and one connected app."""

    username: str = "admin@roster-demo.test"
    password: str = "roster-password"  # noqa: S105 - the emulator's own fake credentials
    security_token: str = "ROSTERTOKEN42"  # noqa: S105
    client_id: str = "3MVG9roster.emulator.client"
    client_secret: str = "roster-client-secret"  # noqa: S105
    callback_url: str = "https://localhost:8443/salesforce/callback"


@dataclass
class _Code:
    username: str
    redirect_uri: str
    challenge: str | None
    expires: float


@dataclass
class OAuth:
    """Tokens, codes and the org's OAuth policy; test helpers set the policy as an admin would in Setup."""

    app: Credentials
    login_url: Callable[[], str]
    issue: Callable[[], dict[str, Any]]  # a new session's token response (access_token, instance_url, ...)
    end_session: Callable[[str], bool]  # False if no such session
    now: Callable[[], float] = time.time
    password_flow_blocked: bool = False
    certificate: x509.Certificate | None = None
    pre_authorized: set[str] = field(default_factory=set)
    login_history: list[dict[str, str]] = field(default_factory=list)
    _approved: set[str] = field(default_factory=set)
    _refresh_tokens: dict[str, set[str]] = field(default_factory=dict)  # refresh token → sessions it issued
    _codes: dict[str, _Code] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    # -- policy (what an admin sets in Setup) -------------------------------------------------------------

    def block_password_flow(self, blocked: bool = True) -> None:
        """OAuth and OpenID Connect Settings → "Allow OAuth Username-Password Flows" off (or on again)."""
        self.password_flow_blocked = blocked

    def upload_certificate(self, certificate_pem: bytes) -> None:
        """The connected app's "Use digital signatures" certificate, whose key signs JWT bearer assertions."""
        self.certificate = x509.load_pem_x509_certificate(certificate_pem)

    def pre_authorize(self, *usernames: str) -> None:
        """Permitted Users: "Admin approved users are pre-authorized", with these users' profile added."""
        with self._lock:
            self.pre_authorized.update(usernames)

    def revoke(self, token: str) -> bool:
        """Revoke a refresh token (and every session it issued) or one session; False if the token is unknown."""
        with self._lock:
            sessions = self._refresh_tokens.pop(token, None)
        if sessions is not None:
            for session in sessions:
                self.end_session(session)
            return True
        return False

    # -- endpoints ---------------------------------------------------------------------------------------

    def token(self, form: dict[str, str], basic: tuple[str, str] | None) -> Answer:
        """`POST /services/oauth2/token`."""
        client_id, client_secret = basic or (form.get("client_id"), form.get("client_secret"))
        grant = form.get("grant_type")
        if grant not in GRANTS:
            return _error("unsupported_grant_type", "grant type not supported")
        if grant == JWT_BEARER:
            return self._jwt_bearer(form.get("assertion") or "")
        if client_id != self.app.client_id:
            return INVALID_CLIENT_ID
        if client_secret != self.app.client_secret:
            return INVALID_CLIENT
        if grant == "password":
            return self._password(form.get("username") or "", form.get("password") or "")
        if grant == "refresh_token":
            return self._refresh(form.get("refresh_token") or "")
        if grant == "authorization_code":
            return self._code(form)
        return self._grant(None)  # client_credentials: the app's run-as user

    def authorize(self, params: dict[str, str]) -> tuple[int, str]:
        """`GET /services/oauth2/authorize`: the user logs in and approves; (302, callback URL) or (400, error page).

        Salesforce shows an error page (it cannot trust the callback) for an unknown client or callback, and redirects
        with `error=` for anything else.
        """
        if params.get("client_id") != self.app.client_id:
            return 400, "error=invalid_client_id&error_description=client identifier invalid"
        redirect_uri = params.get("redirect_uri") or ""
        if redirect_uri != self.app.callback_url:
            return 400, "error=redirect_uri_mismatch&error_description=redirect_uri must match configuration"
        state = {"state": params["state"]} if "state" in params else {}
        if params.get("response_type") != "code":
            answer = {"error": "unsupported_response_type", "error_description": "response type not supported"}
            return 302, f"{redirect_uri}?{urlencode({**answer, **state})}"
        code = f"aPrx{secrets.token_urlsafe(48)}"
        with self._lock:
            self._codes[code] = _Code(
                self.app.username, redirect_uri, params.get("code_challenge"), self.now() + CODE_SECONDS
            )
        return 302, f"{redirect_uri}?{urlencode({'code': code, **state})}"

    def revoke_endpoint(self, token: str) -> Answer:
        """`POST|GET /services/oauth2/revoke`: 200, or 400 `unsupported_token_type` for a token it does not know."""
        if self.revoke(token) or self.end_session(token):
            return 200, {}
        return _error("unsupported_token_type", "this token type is not supported")

    # -- grants ------------------------------------------------------------------------------------------

    def _password(self, username: str, password: str) -> Answer:
        app = self.app
        if username != app.username or password != app.password + app.security_token:
            return self._failed(username, "Invalid Password", AUTHENTICATION_FAILURE)
        if self.password_flow_blocked:
            return self._failed(username, "Username-Password Flow Disabled", AUTHENTICATION_FAILURE)
        return self._grant(None)

    def _refresh(self, refresh_token: str) -> Answer:
        with self._lock:
            known = refresh_token in self._refresh_tokens
        return self._grant(refresh_token, reuse=True) if known else EXPIRED_TOKEN

    def _code(self, form: dict[str, str]) -> Answer:
        with self._lock:
            code = self._codes.pop(form.get("code") or "", None)  # single use, whatever happens next
        if code is None:
            return _error("invalid_grant", "invalid authorization code")
        if code.expires < self.now():
            return _error("invalid_grant", "expired authorization code")
        if form.get("redirect_uri") != code.redirect_uri:
            return _error("invalid_grant", "redirect_uri must match configuration")
        if code.challenge is not None:
            verifier = form.get("code_verifier")
            if not verifier:
                return _error("invalid_grant", "invalid code verifier")
            digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if digest != code.challenge:
                return _error("invalid_request", "invalid code verifier")
        with self._lock:
            self._approved.add(code.username)  # an approval that includes a refresh token also admits JWT bearer
        return self._grant(f"5Aep{secrets.token_urlsafe(64)}")

    def _jwt_bearer(self, assertion: str) -> Answer:
        try:
            claims = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError:
            return INVALID_ASSERTION
        if claims.get("iss") != self.app.client_id:
            return INVALID_CLIENT_ID
        if self.certificate is None:
            return INVALID_ASSERTION
        try:
            jwt.decode(
                assertion,
                self.certificate.public_key(),  # type: ignore[arg-type]
                algorithms=["RS256"],
                options={"verify_exp": False, "verify_aud": False, "verify_iat": False, "verify_nbf": False},
            )
        except jwt.PyJWTError:
            return INVALID_ASSERTION
        if claims.get("aud") != self.login_url():
            return _error("invalid_grant", "audience is invalid")
        expires = claims.get("exp")
        if not isinstance(expires, int | float) or expires < self.now():
            return _error("invalid_grant", "expired authorization code")
        if expires > self.now() + ASSERTION_SECONDS:
            return INVALID_ASSERTION
        username = str(claims.get("sub") or "")
        with self._lock:
            approved = username == self.app.username and username in self.pre_authorized | self._approved
        if not approved:
            return self._failed(username, "Failed: Not approved for access", NOT_APPROVED)
        return self._grant(None)

    # -- answers -----------------------------------------------------------------------------------------

    def _grant(self, refresh_token: str | None, reuse: bool = False) -> Answer:
        """A new session; `refresh_token` is issued with it (new) or records the session under it (`reuse`)."""
        payload = self.issue()
        if refresh_token is not None:
            with self._lock:
                self._refresh_tokens.setdefault(refresh_token, set()).add(payload["access_token"])
            if not reuse:
                payload = {**payload, "refresh_token": refresh_token, "scope": "api refresh_token"}
        self.login_history.append({"username": self.app.username, "status": "Success"})
        return 200, payload

    def _failed(self, username: str, status: str, answer: Answer) -> Answer:
        self.login_history.append({"username": username, "status": status})
        return answer


def self_signed_certificate(common_name: str = "roster-jwt") -> tuple[bytes, bytes]:
    """(private key PEM, certificate PEM): what `openssl req -x509 -newkey rsa:2048 ...` makes for a connected app."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    issued = datetime.now(UTC) - timedelta(days=1)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(issued)
        .not_valid_after(issued + timedelta(days=366))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key_pem, certificate.public_bytes(serialization.Encoding.PEM)

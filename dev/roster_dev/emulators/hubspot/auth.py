"""Who may call the emulated portal: private-app tokens, OAuth 2.0 (codes, 30-minute access tokens, refresh
tokens) and scopes, as "OAuth" and "Private apps" in HubSpot's developer docs describe them.
"""

from __future__ import annotations

import secrets
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from roster_dev.emulators.hubspot.portal import HubSpotPortal

ACCESS_TOKEN_LIFETIME = timedelta(minutes=30)
#: Every scope the CRM endpoints here check; tokens get all of them unless a test narrows them.
ALL_SCOPES = frozenset(
    {
        "oauth",
        *(f"crm.objects.{t}.{verb}" for t in ("contacts", "companies", "deals") for verb in ("read", "write")),
        *(f"crm.schemas.{t}.{verb}" for t in ("contacts", "companies", "deals") for verb in ("read", "write")),
        "crm.objects.owners.read",
    }
)


@dataclass
class Token:
    kind: str  # "private_app" or "oauth"
    scopes: frozenset[str]
    expires: datetime | None = None
    user: str = "roster-admin@example.com"


@dataclass
class OAuthApp:
    """A public app's credentials, registered with the emulator."""

    client_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    client_secret: str = field(default_factory=lambda: str(uuid.uuid4()))
    redirect_uri: str = "http://localhost:8765/oauth/hubspot/callback"
    app_id: int = 4_201_337


class Auth:
    """Tokens and grants, timed by the portal's clock (so a test expires a token by moving the clock)."""

    def __init__(self, portal: HubSpotPortal, app: OAuthApp) -> None:
        self.portal = portal
        self.app = app
        self._lock = threading.Lock()
        self._tokens: dict[str, Token] = {}
        self._codes: dict[str, frozenset[str]] = {}
        self._refresh: dict[str, frozenset[str]] = {}

    def private_app_token(self, scopes: frozenset[str] = ALL_SCOPES) -> str:
        """A new private-app access token (`pat-na1-...`), valid until revoked."""
        token = f"pat-na1-{uuid.uuid4()}"
        with self._lock:
            self._tokens[token] = Token("private_app", scopes)
        return token

    def revoke(self, token: str) -> None:
        with self._lock:
            self._tokens.pop(token, None)
            self._refresh.pop(token, None)

    def lookup(self, token: str) -> Token | None:
        with self._lock:
            return self._tokens.get(token)

    def expire_access_tokens(self) -> None:
        """Every OAuth access token expires now (refresh tokens stay good)."""
        with self._lock:
            now = self.portal.clock()
            for token in self._tokens.values():
                if token.kind == "oauth":
                    token.expires = now

    def authorize(self, params: dict[str, str]) -> tuple[int, str]:
        """The install page, consented at once: 302 to the redirect URI with a code, or 400 saying why."""
        if params.get("client_id") != self.app.client_id:
            return 400, "Invalid client_id"
        if params.get("redirect_uri") != self.app.redirect_uri:
            return 400, "redirect_uri does not match the app's redirect URLs"
        scopes = frozenset((params.get("scope") or "").replace("+", " ").split()) | {"oauth"}
        unknown = scopes - ALL_SCOPES
        if unknown:
            return 400, f"Unknown scopes: {' '.join(sorted(unknown))}"
        code = str(uuid.uuid4())
        with self._lock:
            self._codes[code] = scopes
        query = {"code": code} | ({"state": params["state"]} if "state" in params else {})
        return 302, f"{self.app.redirect_uri}?{urlencode(query)}"

    def grant_code(self, scopes: frozenset[str] = ALL_SCOPES) -> str:
        """An authorization code as if a user had installed the app (for tests that skip the browser step)."""
        code = str(uuid.uuid4())
        with self._lock:
            self._codes[code] = scopes
        return code

    def token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """`POST /oauth/v1/token`: authorization_code and refresh_token grants."""
        correlation = str(uuid.uuid4())

        def refuse(status: str, message: str) -> tuple[int, dict[str, Any]]:
            return 400, {"status": status, "message": message, "correlationId": correlation}

        if form.get("client_id") != self.app.client_id:
            return refuse("BAD_CLIENT_ID", "missing or unknown client id")
        if form.get("client_secret") != self.app.client_secret:
            return refuse("BAD_CLIENT_SECRET", "missing or invalid client secret")
        grant = form.get("grant_type")
        with self._lock:
            if grant == "authorization_code":
                if form.get("redirect_uri") != self.app.redirect_uri:
                    return refuse("BAD_REDIRECT_URI", "redirect_uri does not match initial auth request")
                scopes = self._codes.pop(form.get("code") or "", None)
                if scopes is None:
                    return refuse("BAD_AUTH_CODE", "missing or unknown auth code")
                refresh = str(uuid.uuid4())
                self._refresh[refresh] = scopes
            elif grant == "refresh_token":
                refresh = form.get("refresh_token") or ""
                found = self._refresh.get(refresh)
                if found is None:
                    return refuse("BAD_REFRESH_TOKEN", "missing or unknown refresh token")
                scopes = found
            else:
                return refuse("BAD_GRANT_TYPE", "missing or unsupported grant_type")
            access = f"CJ{secrets.token_urlsafe(48)}"
            self._tokens[access] = Token("oauth", scopes, self.portal.clock() + ACCESS_TOKEN_LIFETIME)
        return 200, {
            "token_type": "bearer",
            "refresh_token": refresh,
            "access_token": access,
            "expires_in": int(ACCESS_TOKEN_LIFETIME.total_seconds()),
        }

    def access_token_info(self, token: str) -> dict[str, Any] | None:
        """`GET /oauth/v1/access-tokens/{token}` (None: unknown or expired)."""
        found = self.lookup(token)
        now = self.portal.clock()
        if found is None or found.kind != "oauth" or found.expires is None or found.expires <= now:
            return None
        return {
            "token": token,
            "user": found.user,
            "hub_domain": self.portal.domain,
            "scopes": sorted(found.scopes),
            "hub_id": self.portal.portal_id,
            "app_id": self.app.app_id,
            "expires_in": int((found.expires - now).total_seconds()),
            "user_id": 52550153,
            "token_type": "access",
        }

    def refresh_token_info(self, token: str) -> dict[str, Any] | None:
        with self._lock:
            scopes = self._refresh.get(token)
        if scopes is None:
            return None
        return {
            "token": token,
            "user": "roster-admin@example.com",
            "hub_domain": self.portal.domain,
            "scopes": sorted(scopes),
            "hub_id": self.portal.portal_id,
            "client_id": self.app.client_id,
            "user_id": 52550153,
            "token_type": "refresh",
        }

"""HubSpot emulator: an in-memory portal, a seeded generator and an HTTPS server speaking CRM v3 as
`hubspot-api-client` does, for tests and the demo.

Start it::

    portal = generate_portal(seed=7, contacts=500, companies=80, clock=ManualClock())
    with HubSpotEmulator(portal) as hs:  # HTTPS on 127.0.0.1, a free port, exempt from Roster's outbound guard
        client = hs.client()  # hubspot.HubSpot(access_token=hs.token, host=hs.url, ssl_ca_cert=hs.ca_path)
        client.crm.contacts.basic_api.get_page(limit=100, properties=["email"])

- `hs.url` is what `hubspot-api-client` takes as `host=`; the server speaks HTTPS with a throwaway CA at
  `hs.ca_path` (pass it as `ssl_ca_cert=`, or as `verify=` to requests).
- Tokens: `hs.token` is a private-app token with every scope; `hs.auth.private_app_token(scopes)` makes one with
  fewer (403 MISSING_SCOPES). OAuth: `hs.auth.app` holds client id/secret/redirect URI; `GET /oauth/authorize`
  redirects with a code at once (or `hs.auth.grant_code()`), `POST /oauth/v1/token` takes authorization_code and
  refresh_token grants and issues 30-minute access tokens timed by the portal's clock;
  `hs.auth.expire_access_tokens()` expires them now.
- Seeding: `generate_portal(seed, contacts=, companies=, deals=, salesforce=org)` (the same people as a Salesforce
  emulator org), or build by hand: `portal.create(...)` (validated), `portal.add_many(type, n, values)` (fast,
  thousands without HTTP), `portal.associate(...)`, `portal.bulk_edit(type, ids, values)` (one modified time for
  all), `portal.merge(...)`, `portal.archive(...)`, `portal.add_property(type, PropertyDef(...))`.
- Clock: pass `clock=ManualClock(start)` to the portal; it stamps `createdate`/`lastmodifieddate`/
  `hs_lastmodifieddate`, times token expiry and the rate-limit windows (advance it to let a window pass).
- Rate limits: `HubSpotEmulator(portal, tier="professional")` (see `TIERS`), `rate_limits=RateLimits(...)` or
  `NO_LIMITS`; the windows run on the portal's clock (or `rate_clock=`): on a ManualClock, advance it to let a
  window pass, as a client's sleep on `Retry-After` would;
  429s carry `policyName` TEN_SECONDLY_ROLLING / SECONDLY (search, 5 a second a token) / DAILY and `Retry-After`;
  other responses carry `X-HubSpot-RateLimit-*`. `hs.calls_by_kind` counts requests by kind (`list`, `search`,
  `batch_read`, ...), `hs.daily_usage()` what the day's budget has used.
- Failures: `hs.fail_next(kind, count, on=kind_of_call)` with kind one of `FailureKind` (rate_limit, daily_limit,
  expired_token, server_error, bad_gateway, gateway_timeout, timeout, dropped). The client's default urllib3
  retries resend GETs after a dropped or timed-out request; pass `retry=Retry(0)` to `hs.client()` to see them.
- Also served: owners (`/crm/v3/owners`), deal pipelines (`/crm/v3/pipelines/deals`), account details and daily
  usage (`/account-info/v3/...`), token introspection (`/oauth/v1/access-tokens/{t}`, `/oauth/v1/refresh-tokens/{t}`,
  `/oauth/v2/private-apps/get/access-token-info`), Associations v4 `batch/associate/default`, single-record
  create/update/archive, batch archive, property creation.
- `python -m roster_dev.emulators.hubspot` serves a generated portal and prints the URL, CA and token.
"""

from roster_dev.emulators.hubspot.auth import ACCESS_TOKEN_LIFETIME, ALL_SCOPES, OAuthApp
from roster_dev.emulators.hubspot.errors import HubSpotError
from roster_dev.emulators.hubspot.generate import CUSTOM_PROPERTIES, generate_portal
from roster_dev.emulators.hubspot.portal import ASSOCIATION_TYPES, Clock, HubSpotPortal, ManualClock, Record
from roster_dev.emulators.hubspot.schema import MODIFIED, PropertyDef
from roster_dev.emulators.hubspot.search import MAX_PAGE, RESULT_CAP
from roster_dev.emulators.hubspot.server import NO_LIMITS, TIERS, FailureKind, HubSpotEmulator, RateLimits

__all__ = [
    "ACCESS_TOKEN_LIFETIME",
    "ALL_SCOPES",
    "ASSOCIATION_TYPES",
    "CUSTOM_PROPERTIES",
    "MAX_PAGE",
    "MODIFIED",
    "NO_LIMITS",
    "RESULT_CAP",
    "TIERS",
    "Clock",
    "FailureKind",
    "HubSpotEmulator",
    "HubSpotError",
    "HubSpotPortal",
    "ManualClock",
    "OAuthApp",
    "PropertyDef",
    "RateLimits",
    "Record",
    "generate_portal",
]

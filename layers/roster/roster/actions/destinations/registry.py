"""Every kind of destination Roster can send to, by the name users give in `kind`.

An entry says how a destination of that kind is configured (`settings`: account, URL; `options`: what an action
chooses, e.g. which audience or sequence) and how to build its adapter from those and the destination's secret
(the string kept in Secrets Manager: a `whsec_` key, an access token, or JSON when a platform needs several values).
The optional hooks let the API check settings and the secret when they are saved, answer
`POST /v1/destinations/{id}/test` without sending a record, make a secret when the user gives none, and show an ad
audience's size and minimum.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
from pydantic import BaseModel

from roster.actions.destinations import audiences, google_ads, linkedin, meta, webhook
from roster.actions.destinations.base import Adapter, AudienceStatus, Outcome


@dataclass(frozen=True)
class DestinationKind:
    settings: type[BaseModel]
    options: type[BaseModel]
    build: Callable[[Any, Any, str, requests.Session], Adapter]  # (settings, options, secret, session)
    requests_per_second: float  # the default rate budget of one destination (a user may set a lower one)
    check: Callable[[Any], None] | None = None  # (settings): raise ValueError / OutboundRefused when unusable
    check_secret: Callable[[str], None] | None = None  # (secret): raise ValueError saying what is wrong with it
    probe: Callable[[Any, str, requests.Session], Outcome] | None = None  # (settings, secret, session)
    new_secret: Callable[[], str] | None = None  # a secret Roster makes when the user gives none
    audience: Callable[[Any, Any, str, requests.Session], AudienceStatus] | None = None  # ad audiences only


KINDS: dict[str, DestinationKind] = {
    "webhook": DestinationKind(
        settings=webhook.WebhookSettings,
        options=webhook.WebhookOptions,
        build=webhook.build,
        requests_per_second=10.0,
        check=webhook.check,
        check_secret=webhook.check_secret,
        probe=webhook.probe,
        new_secret=webhook.new_secret,
    ),
    "google_ads": DestinationKind(
        settings=google_ads.GoogleAdsSettings,
        options=google_ads.GoogleAdsOptions,
        build=google_ads.build,
        requests_per_second=1.0,  # three requests a send (create, add, run); one job at a time per list anyway
        check=audiences.check,
        check_secret=google_ads.check_secret,
        probe=google_ads.probe,
        audience=audiences.audience_reader(google_ads.build),
    ),
    "meta": DestinationKind(
        settings=meta.MetaSettings,
        options=meta.MetaOptions,
        build=meta.build,
        requests_per_second=2.0,  # custom-audience calls are throttled per ad account (code 80003)
        check=audiences.check,
        check_secret=audiences.check_token,
        probe=meta.probe,
        audience=audiences.audience_reader(meta.build),
    ),
    "linkedin": DestinationKind(
        settings=linkedin.LinkedInSettings,
        options=linkedin.LinkedInOptions,
        build=linkedin.build,
        requests_per_second=5.0,  # LinkedIn allows 500-600 /users requests a minute per member
        check=audiences.check,
        check_secret=audiences.check_token,
        probe=linkedin.probe,
        audience=audiences.audience_reader(linkedin.build),
    ),
}


def destination_kind(kind: str) -> DestinationKind:
    """The entry for `kind`, or a ValueError naming the kinds there are."""
    try:
        return KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown destination kind {kind!r}; one of: {', '.join(sorted(KINDS))}") from None

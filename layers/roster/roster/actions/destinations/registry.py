"""Every kind of destination Roster can send to, by the name users give in `kind`.

An entry says how a destination of that kind is configured (`settings`: account, URL; `options`: what an action
chooses, e.g. which audience or sequence) and how to build its adapter from those and the destination's secret
(the string kept in Secrets Manager: a `whsec_` key, an access token, or JSON when a platform needs several values)
and where that secret is kept (`KeptSecret`: saved anew, read again), for kinds whose credentials change as they
are used (a refresh token the platform rotates: Outreach, Salesloft by OAuth; access tokens kept until they
expire: Google Ads, Outreach, Salesloft by OAuth). The optional hooks let the API check settings and the secret
when they are saved, answer `POST /v1/destinations/{id}/test` without sending a record, make a secret when the
user gives none, and show an ad audience's size and minimum.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
from pydantic import BaseModel

from roster.actions.destinations import (
    apollo,
    audiences,
    google_ads,
    linkedin,
    meta,
    outreach,
    salesloft,
    sequencer,
    webhook,
)
from roster.actions.destinations.base import Adapter, AudienceStatus, KeptSecret, Outcome

T = TypeVar("T")


@dataclass(frozen=True)
class DestinationKind:
    settings: type[BaseModel]
    options: type[BaseModel]
    build: Callable[
        [Any, Any, str, requests.Session, KeptSecret], Adapter
    ]  # (settings, options, secret, session, kept)
    requests_per_second: float  # the default rate budget of one destination (a user may set a lower one)
    check: Callable[[Any], None] | None = None  # (settings): raise ValueError / OutboundRefused when unusable
    check_secret: Callable[[str], None] | None = None  # (secret): raise ValueError saying what is wrong with it
    probe: Callable[[Any, str, requests.Session, KeptSecret], Outcome] | None = (
        None  # (settings, secret, session, kept)
    )
    new_secret: Callable[[], str] | None = None  # a secret Roster makes when the user gives none
    audience: Callable[[Any, Any, str, requests.Session, KeptSecret], AudienceStatus] | None = None  # ad audiences


def fixed(
    build: Callable[[Any, Any, str, requests.Session], T],
) -> Callable[[Any, Any, str, requests.Session, KeptSecret], T]:
    """The `build` of a kind whose secret never changes as it is used (a webhook key, a long-lived token)."""
    return lambda settings, options, secret, session, kept: build(settings, options, secret, session)


def fixed_probe(
    probe: Callable[[Any, str, requests.Session], Outcome],
) -> Callable[[Any, str, requests.Session, KeptSecret], Outcome]:
    """The `probe` of a kind whose secret never changes as it is used."""
    return lambda settings, secret, session, kept: probe(settings, secret, session)


KINDS: dict[str, DestinationKind] = {
    "webhook": DestinationKind(
        settings=webhook.WebhookSettings,
        options=webhook.WebhookOptions,
        build=fixed(webhook.build),
        requests_per_second=10.0,
        check=webhook.check,
        check_secret=webhook.check_secret,
        probe=fixed_probe(webhook.probe),
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
        build=fixed(meta.build),
        requests_per_second=2.0,  # custom-audience calls are throttled per ad account (code 80003)
        check=audiences.check,
        check_secret=audiences.check_token,
        probe=fixed_probe(meta.probe),
        audience=audiences.audience_reader(fixed(meta.build)),
    ),
    "linkedin": DestinationKind(
        settings=linkedin.LinkedInSettings,
        options=linkedin.LinkedInOptions,
        build=fixed(linkedin.build),
        requests_per_second=5.0,  # LinkedIn allows 500-600 /users requests a minute per member
        check=audiences.check,
        check_secret=audiences.check_token,
        probe=fixed_probe(linkedin.probe),
        audience=audiences.audience_reader(fixed(linkedin.build)),
    ),
    # Sequencers: the budget counts `send` calls, and one change costs 2-3 platform requests (find, maybe create,
    # enrol; Apollo: 1-2 per person plus one enrolment per batch of 100), so the budgets keep within each
    # platform's limit: Outreach 10,000 requests an hour per user, Salesloft 600 a minute per team, Apollo's
    # per-minute limit by plan (a 429 still pauses the destination for as long as the platform asks).
    "outreach": DestinationKind(
        settings=outreach.OutreachSettings,
        options=outreach.OutreachOptions,
        build=outreach.build,
        requests_per_second=0.9,
        check_secret=outreach.check_secret,
        probe=outreach.probe,
    ),
    "salesloft": DestinationKind(
        settings=salesloft.SalesloftSettings,
        options=salesloft.SalesloftOptions,
        build=salesloft.build,
        requests_per_second=3.0,
        check_secret=salesloft.check_secret,
        probe=salesloft.probe,
    ),
    "apollo": DestinationKind(
        settings=apollo.ApolloSettings,
        options=apollo.ApolloOptions,
        build=fixed(apollo.build),
        requests_per_second=0.02,
        check_secret=sequencer.check_secret,
        probe=fixed_probe(apollo.probe),
    ),
}


def destination_kind(kind: str) -> DestinationKind:
    """The entry for `kind`, or a ValueError naming the kinds there are."""
    try:
        return KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown destination kind {kind!r}; one of: {', '.join(sorted(KINDS))}") from None

"""The three ad-platform emulators started together, each with one audience, for the local stack and the demo.

`destinations()` gives, per kind, the destination a workspace saves to reach its emulator (`settings` with the
emulator's URL, the `secret`, the `ca_bundle` a local stack trusts) and the `options` an action takes (the
audience's id). Each emulator
is exempt from the outbound check while it runs (`Served`), and only then.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Self

from roster_dev.emulators.audiences import AudienceEmulator
from roster_dev.emulators.google_ads import GoogleAdsEmulator
from roster_dev.emulators.linkedin import LinkedInEmulator
from roster_dev.emulators.meta import MetaEmulator

KINDS = ("google_ads", "meta", "linkedin")


class AdPlatforms:
    def __init__(self) -> None:
        self.google = GoogleAdsEmulator()
        self.meta = MetaEmulator()
        self.linkedin = LinkedInEmulator()
        self.audiences: dict[str, str] = {}

    def start(self) -> Self:
        self.google.start()
        self.meta.start()
        self.linkedin.start()
        self.audiences = {kind: self.new_audience(kind) for kind in KINDS}
        return self

    def emulator(self, kind: str) -> AudienceEmulator:
        return {"google_ads": self.google, "meta": self.meta, "linkedin": self.linkedin}[kind]

    def new_audience(self, kind: str) -> str:
        """A new empty audience on the kind's platform (a user list, a Custom Audience, a DMP segment): its id."""
        made: dict[str, Callable[[], str]] = {
            "google_ads": self.google.create_user_list,
            "meta": self.meta.create_audience,
            "linkedin": self.linkedin.create_segment,
        }
        return made[kind]()

    def stop(self) -> None:
        for platform in (self.google, self.meta, self.linkedin):
            platform.stop()

    def urls(self) -> dict[str, str]:
        return {"google_ads": self.google.url, "meta": self.meta.url, "linkedin": self.linkedin.url}

    def destinations(self) -> dict[str, dict[str, Any]]:
        """Per kind: the `kind`, `settings`, `secret`, `ca_bundle` and the action `options` that reach this
        emulator's audience (the shape the sequencer emulators give too)."""
        found = {
            "google_ads": {
                "settings": {
                    "customer_id": self.google.customer_id,
                    "api_url": self.google.url,
                    "token_url": f"{self.google.url}/token",
                },
                "secret": self.google.secret(),
                "options": {"user_list_id": self.audiences["google_ads"]},
                "ca_bundle": self.google.ca_path,
            },
            "meta": {
                "settings": {"api_url": self.meta.url},
                "secret": self.meta.token,
                "options": {"audience_id": self.audiences["meta"]},
                "ca_bundle": self.meta.ca_path,
            },
            "linkedin": {
                "settings": {"api_url": self.linkedin.url},
                "secret": self.linkedin.token,
                "options": {"segment_id": self.audiences["linkedin"]},
                "ca_bundle": self.linkedin.ca_path,
            },
        }
        return {kind: {"kind": kind, **destination} for kind, destination in found.items()}

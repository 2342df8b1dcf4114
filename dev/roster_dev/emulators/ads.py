"""The three ad-platform emulators started together, each with one audience, for the local stack and the demo.

`destinations()` gives, per kind, the destination a workspace saves to reach its emulator (`settings` with the
emulator's URL, the `secret`, the `ca_bundle` a local stack trusts) and the `options` an action takes (the
audience's id). Each emulator
is exempt from the outbound check while it runs (`Served`), and only then.
"""

from __future__ import annotations

from typing import Any, Self

from roster_dev.emulators.google_ads import GoogleAdsEmulator
from roster_dev.emulators.linkedin import LinkedInEmulator
from roster_dev.emulators.meta import MetaEmulator


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
        self.audiences = {
            "google_ads": self.google.create_user_list(),
            "meta": self.meta.create_audience(),
            "linkedin": self.linkedin.create_segment(),
        }
        return self

    def stop(self) -> None:
        for platform in (self.google, self.meta, self.linkedin):
            platform.stop()

    def urls(self) -> list[str]:
        return [self.google.url, self.meta.url, self.linkedin.url]

    def destinations(self) -> dict[str, dict[str, Any]]:
        """Per kind: `settings`, `secret`, `ca_bundle` and the action `options` that reach this emulator's audience."""
        return {
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

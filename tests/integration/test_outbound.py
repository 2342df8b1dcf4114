"""The guarded session against real local servers: redirects re-checked hop by hop, TLS to a pinned address."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests

from roster.outbound import MAX_REDIRECTS, OutboundRefused, guard
from roster_dev.emulators.salesforce import SalesforceEmulator
from roster_dev.local.outbound import allowed
from tests.conftest import Connections
from tests.integration.test_http_provider import Received, Reply, serve


def redirect_to(location: str) -> Callable[[Received], Reply]:
    return lambda request: (302, {"Location": location}, {})


def test_every_redirect_hop_is_checked_before_it_connects(connections: Connections) -> None:
    session = guard(requests.Session())
    with serve() as listed, serve(exempt=False) as internal:
        for target in (f"{internal.url}/admin", "http://169.254.169.254/latest/meta-data/", "http://[::1]:9/"):
            listed.reply = redirect_to(target)
            with pytest.raises(OutboundRefused, match="Roster only calls public addresses"):
                session.get(f"{listed.url}/start", timeout=5)
        assert internal.received == [] and len(listed.received) == 3
        listed.reply = redirect_to(f"{listed.url}/again")
        with pytest.raises(requests.TooManyRedirects):
            session.get(f"{listed.url}/loop", timeout=5)
    assert len(listed.received) == 3 + 1 + MAX_REDIRECTS
    assert set(connections.made) == {"127.0.0.1"}


def test_https_to_a_pinned_address_still_checks_the_certificate_for_the_name(names: dict[str, list[str]]) -> None:
    with SalesforceEmulator() as emulator:
        url = f"https://localhost:{emulator.port}/services/data"  # the certificate names localhost and 127.0.0.1
        with allowed("localhost", emulator.port):
            response = guard(requests.Session()).get(url, verify=emulator.ca_path, timeout=10)
            assert response.status_code == 200
            names["sf.vendor.example"] = ["127.0.0.1"]  # the same address, under a name the certificate lacks
            with allowed("sf.vendor.example", emulator.port), pytest.raises(requests.exceptions.SSLError):
                guard(requests.Session()).get(
                    f"https://sf.vendor.example:{emulator.port}/services/data", verify=emulator.ca_path, timeout=10
                )
    assert names["<lookups>"].count("localhost") == 1

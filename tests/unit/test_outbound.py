"""Which URLs Roster calls on a user's behalf: public addresses only, whatever way the address is written."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roster.outbound import ALLOW_SETTING, OutboundRefused, Unresolvable, allowed_targets, check_url, non_public_kind
from roster_dev.local.outbound import allowed

ATTACKS = [
    ("http://127.0.0.1/", "127.0.0.1 is a loopback address"),
    ("http://localhost:8080/admin", "localhost resolves to 127.0.0.1, a loopback address"),
    ("http://[::1]/", "::1 is a loopback address"),
    ("http://0.0.0.0:4566/", "0.0.0.0 is an unspecified address"),
    ("http://2130706433/", "2130706433 resolves to 127.0.0.1, a loopback address"),
    ("http://0x7f.1/", "0x7f.1 resolves to 127.0.0.1, a loopback address"),
    ("http://10.0.0.1/", "10.0.0.1 is a private address"),
    ("http://192.168.1.1/", "192.168.1.1 is a private address"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
    (
        "http://[::ffff:169.254.169.254]/",
        "::ffff:169.254.169.254 is a link-local address (IPv4 169.254.169.254 inside IPv6)",
    ),
    ("http://[::ffff:7f00:1]/", "::ffff:7f00:1 is a loopback address (IPv4 127.0.0.1 inside IPv6)"),
    ("http://[::a00:1]/", "::a00:1 is a private address (IPv4 10.0.0.1 inside IPv6)"),
    ("http://[2002:a00:1::]/", "2002:a00:1:: is a private address (IPv4 10.0.0.1 inside IPv6)"),
    ("http://[64:ff9b::a9fe:a9fe]/", "64:ff9b::a9fe:a9fe is a link-local address (IPv4 169.254.169.254 inside IPv6)"),
    ("http://[fe80::1]/", "fe80::1 is a link-local address"),
    ("http://[fd00::1]/", "fd00::1 is a private address"),
    ("http://224.0.0.1/", "224.0.0.1 is a multicast address"),
    ("http://240.0.0.1/", "240.0.0.1 is a reserved address"),
    ("http://100.64.0.1/", "100.64.0.1 is a non-public address"),
]


@pytest.mark.parametrize(("url", "reason"), ATTACKS)
def test_internal_targets_are_refused_with_the_address_and_why(url: str, reason: str) -> None:
    with pytest.raises(OutboundRefused) as refused:
        check_url(url)
    assert str(refused.value) == f"{reason}; Roster only calls public addresses"


@pytest.mark.parametrize("url", ["file:///etc/passwd", "gopher://127.0.0.1:6379/", "ftp://93.184.216.34/", "https://"])
def test_only_http_and_https_with_a_host(url: str) -> None:
    with pytest.raises(OutboundRefused, match="only http:// and https://"):
        check_url(url)


@pytest.mark.parametrize(
    "url", ["https://93.184.216.34/v1", "http://[2606:4700::1111]:8443/", "https://[::ffff:8.8.8.8]/"]
)
def test_public_addresses_pass(url: str) -> None:
    check_url(url)


def test_names_are_checked_after_resolution_every_address_of_them(names: dict[str, list[str]]) -> None:
    names["api.vendor.example"] = ["93.184.216.34"]
    names["split.vendor.example"] = ["93.184.216.34", "10.1.2.3"]  # one bad answer is enough
    check_url("https://api.vendor.example/v2/people")
    with pytest.raises(OutboundRefused, match=r"resolves to 10\.1\.2\.3, a private address"):
        check_url("https://split.vendor.example/")
    names["gone.vendor.example"] = []
    with pytest.raises(Unresolvable):
        check_url("https://gone.vendor.example/")


def test_only_listed_host_and_port_pairs_are_exempt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ALLOW_SETTING, "127.0.0.1:8443, [::1]:9000")
    check_url("https://127.0.0.1:8443/services")
    check_url("http://[::1]:9000/")
    for url in ("https://127.0.0.1:8444/", "https://localhost:8443/", "http://127.0.0.1/"):
        with pytest.raises(OutboundRefused):
            check_url(url)


@given(st.ip_addresses(v=4))
def test_an_ipv4_address_wrapped_in_ipv6_is_judged_as_itself(address: ipaddress.IPv4Address) -> None:
    wrapped = [
        ipaddress.IPv6Address(f"::ffff:{address}"),  # mapped
        ipaddress.IPv6Address((0x2002 << 112) | (int(address) << 80)),  # 6to4
        ipaddress.IPv6Address(f"64:ff9b::{address}"),  # NAT64
    ]
    if int(address) > 1:
        wrapped.append(ipaddress.IPv6Address(int(address)))  # compatible (::a.b.c.d)
    public = non_public_kind(address) is None
    for form in wrapped:
        assert (non_public_kind(form) is None) == public, form


def test_the_local_stack_lists_an_emulator_only_while_it_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ALLOW_SETTING, "localhost:8000")
    with allowed("127.0.0.1", 9443):
        check_url("https://127.0.0.1:9443/services/oauth2/token")
        assert allowed_targets() == {("localhost", 8000), ("127.0.0.1", 9443)}
    assert allowed_targets() == {("localhost", 8000)}
    with pytest.raises(OutboundRefused):
        check_url("https://127.0.0.1:9443/services/oauth2/token")

"""Which addresses Roster calls on a user's behalf: public ones only, checked after DNS and pinned for the request.

A URL a workspace gives (an enrichment API, a Salesforce login or instance URL) must never reach what sits next to
Roster: loopback, private networks, link-local addresses (cloud instance metadata at 169.254.169.254), multicast,
reserved or unspecified addresses, nor an IPv6 form that wraps one of those IPv4 addresses (mapped, compatible,
6to4, NAT64). So every request through a guarded session resolves the host once, refuses it before connecting if
any address it resolves to is not public, and connects to the checked address while TLS (SNI and certificate
check) and the Host header still name the URL's host; a later DNS answer (rebinding) is never used. Redirects are
requests too: each hop is checked the same way, and a session follows at most `MAX_REDIRECTS`.

`ROSTER_OUTBOUND_ALLOW` lists `host:port` pairs exempt from the address check (still pinned): the local stack sets
it for its own emulators; the template never sets it.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util import parse_url

if TYPE_CHECKING:
    from requests.adapters import _HostParams, _PoolKwargs

ALLOW_SETTING = "ROSTER_OUTBOUND_ALLOW"
MAX_REDIRECTS = 5
SCHEMES = {"http": 80, "https": 443}

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class OutboundRefused(requests.RequestException):
    """A URL Roster will not call, with the reason for the user."""


class Unresolvable(requests.ConnectionError):
    """A host DNS has no address for (now: it may have one later)."""


def allowed_targets() -> frozenset[tuple[str, int]]:
    """The `host:port` pairs exempt from the address check (`ROSTER_OUTBOUND_ALLOW`, comma-separated)."""
    pairs = set()
    for entry in os.environ.get(ALLOW_SETTING, "").split(","):
        host, _, port = entry.strip().rpartition(":")
        if host and port.isdigit():
            pairs.add((host.strip("[]").lower(), int(port)))
    return frozenset(pairs)


def check_url(url: str) -> None:
    """Raise OutboundRefused when `url` is not http(s) with a host or names a non-public address, and Unresolvable
    when its host has no address yet."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise OutboundRefused(f"{url!r} is not a valid URL") from None
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise OutboundRefused("only http:// and https:// URLs with a host are called")
    pinned_address(parts.hostname, port or SCHEMES[parts.scheme])


def pinned_address(host: str, port: int) -> str:
    """The address to connect to for `host:port`: the first one DNS gives, after every one given was checked."""
    try:
        addresses = [
            ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        ]
    except (OSError, UnicodeError):
        addresses = []
    if not addresses:
        raise Unresolvable(f"{host} does not resolve to an address")
    if (host.strip("[]").lower(), port) not in allowed_targets():
        for address in addresses:
            kind = non_public_kind(address)
            if kind is not None:
                raise OutboundRefused(_refusal(host, address, kind))
    return str(addresses[0])


def _refusal(host: str, address: Address, kind: str) -> str:
    """`10.0.0.1 is a private address; ...` or `api.example resolves to 10.0.0.1, a private address; ...`."""
    try:
        literal = ipaddress.ip_address(host.strip("[]")) == address
    except ValueError:
        literal = False
    said = f"{host} is" if literal else f"{host} resolves to {address},"
    embedded = _embedded_ipv4(address)
    inside = f" (IPv4 {embedded} inside IPv6)" if embedded is not None else ""
    article = "an" if kind[0] in "aeiou" else "a"
    return f"{said} {article} {kind} address{inside}; Roster only calls public addresses"


def non_public_kind(address: Address) -> str | None:
    """What kind of non-public address this is (loopback, private, ...), or None for a public one; an IPv6
    address standing for an IPv4 one is judged as that IPv4 address."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return non_public_kind(embedded)
    for kind, test in (
        ("loopback", address.is_loopback),
        ("unspecified", address.is_unspecified),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
    ):
        if test:
            return kind
    return None if address.is_global else "non-public"


def _embedded_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, compatible, 6to4, NAT64), if any."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64 or (int(address) >> 32 == 0 and int(address) > 1):  # NAT64, or ::a.b.c.d (compatible)
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


_PINNED = "roster_pinned_address"  # set on a request by PinnedAdapter.send, read when its connection is chosen


def _target_address(scheme: str, host: str | None, port: int | None) -> str:
    if scheme not in SCHEMES or not host:
        raise OutboundRefused("only http:// and https:// URLs with a host are called")
    return pinned_address(host, port or SCHEMES[scheme])


class PinnedAdapter(HTTPAdapter):
    """Connects to the address `pinned_address` checked; TLS and the Host header still name the URL's host."""

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        """Check the target first, before anything that wraps `HTTPAdapter.send` sees the request (the local
        stack's in-process moto answers 169.254.169.254 itself, without a connection)."""
        parts = parse_url(request.url or "")
        host = parts.hostname.strip("[]") if parts.hostname else None
        setattr(request, _PINNED, _target_address(parts.scheme or "", host, parts.port))
        return super().send(request, *args, **kwargs)

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: bool | str, cert: str | tuple[str, str] | None = None
    ) -> tuple[_HostParams, _PoolKwargs]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        scheme, host = host_params["scheme"], host_params["host"]
        port: int | None = host_params["port"]  # None when the URL leaves it out
        address = getattr(request, _PINNED, None) or _target_address(scheme, host, port)
        bracketed = f"[{host}]" if ":" in host else host
        request.headers["Host"] = bracketed if port is None else f"{bracketed}:{port}"
        if scheme == "https" and address != host:
            tls = cast(dict[str, Any], pool_kwargs)  # urllib3 takes both; the stubs do not list them
            tls["server_hostname"] = host  # SNI
            tls["assert_hostname"] = host  # the certificate must name the host, not the address
        host_params["host"] = f"[{address}]" if ":" in address else address
        return host_params, pool_kwargs


def guard(session: requests.Session, *, pool_maxsize: int = 10) -> requests.Session:
    """The session, made to call only public addresses (pinned), follow at most `MAX_REDIRECTS` redirects and
    ignore proxy settings from the environment (a proxy would connect on its own, unchecked)."""
    adapter = PinnedAdapter(pool_maxsize=pool_maxsize)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.max_redirects = MAX_REDIRECTS
    session.trust_env = False
    return session

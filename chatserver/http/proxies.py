"""The client address of a request that came through trusted reverse proxies.

Used only for login throttling and the per-address limits on visitors (where it is reduced to
a keyed hash, never stored: services/address_limits.py). Without `trusted_proxies` it is the
connecting address; behind nginx every request would otherwise share the proxy's address, and
twenty failed logins by anyone would throttle everybody.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
from collections.abc import Iterable

from aiohttp import web

log = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def networks(entries: Iterable[str]) -> list[Network]:
    return [ipaddress.ip_network(entry.strip(), strict=False) for entry in entries]


def _trusted(address: str, trusted: list[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return False
    return any(ip in network for network in trusted)


def client_address(remote: str | None, forwarded_for: list[str], trusted: list[Network]) -> str:
    """The connecting address, or, when it is a trusted proxy, the last address in
    X-Forwarded-For that is not a trusted proxy itself (earlier entries can be forged)."""
    address = remote or "unknown"
    if not trusted or not _trusted(address, trusted):
        return address
    hops = [hop.strip() for header in forwarded_for for hop in header.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, trusted):
            return hop
    return hops[0] if hops else address


@functools.lru_cache(maxsize=8)
def _networks_of(entries: tuple[str, ...]) -> list[Network]:
    return networks(entries)


_warned_untrusted = False


def request_address(request: web.Request, trusted_proxies: list[str]) -> str:
    """The client address of an HTTP request (a socket.io handshake included)."""
    global _warned_untrusted
    forwarded = request.headers.getall("X-Forwarded-For", [])
    address = client_address(request.remote, forwarded, _networks_of(tuple(trusted_proxies)))
    if forwarded and address == (request.remote or "unknown") and not _warned_untrusted:
        _warned_untrusted = True
        # No address in the log: the sender may be a visitor (docs/privacy.md).
        log.warning("a request carried X-Forwarded-For from an address not in trusted_proxies; "
                    "if a reverse proxy sent it, add the proxy to trusted_proxies, or every "
                    "client behind it counts as one address for throttling and rate limits")
    return address

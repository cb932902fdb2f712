"""The client address of a request that came through trusted reverse proxies.

Used only for login throttling (where it is hashed, never stored). Without `trusted_proxies`
it is the connecting address; behind nginx every request would otherwise share the proxy's
address, and twenty failed logins by anyone would throttle everybody.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

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

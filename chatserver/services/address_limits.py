"""Limits per client address, against one script that opens many widget connections.

The per-connection limits (the event token bucket, `limits.offline_per_connection`) stop a flood
on one connection; these stop a flood of connections from one address: open visitor
connections, new conversations and offline-form messages (docs/security.md).

Addresses are never stored. Each one is reduced to a keyed hash (HMAC-SHA256 with
`auth.address_key`, or a random key made at start-up), which is also what login throttling
keeps in the database: without the key, a copy of the database cannot be matched against the
few billion IPv4 addresses. Counts live in this node's memory, so with several nodes each
counts on its own, and they start afresh when the process does.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import time
from collections import Counter, deque
from collections.abc import Callable

from chatserver.errors import Code, ServiceError
from chatserver.i18n import gettext_noop as _

HOUR = 3600.0
# Windows that have run out are dropped every this many new ones, so a scan of many addresses
# cannot grow the table without bound, and at the first call a minute after the last sweep, so
# no address is remembered for long after its hour.
SWEEP_EVERY = 1024
SWEEP_SECONDS = 60.0


def new_key() -> bytes:
    return secrets.token_bytes(32)


def counted_as(address: str) -> str:
    """What one client is counted as: an IPv4 address, or the /64 of an IPv6 one (a home or a
    phone is given a whole /64, so counting each /128 would give one script 2^64 tries)."""
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class AddressLimits:
    def __init__(self, key: bytes, now: Callable[[], float] = time.monotonic) -> None:
        self._key = key
        self._now = now
        self._open: Counter[str] = Counter()
        self._recent: dict[tuple[str, str], deque[float]] = {}
        self._added = 0
        self._swept = now()

    def key_for(self, kind: str, value: str) -> str:
        """The keyed hash under which `value` (an account, or an address `counted_as`) is
        counted."""
        digest = hmac.new(self._key, f"{kind}:{value}".encode("utf-8", "surrogatepass"),
                          hashlib.sha256)
        return digest.hexdigest()[:32]

    def open_connection(self, address_key: str, limit: int) -> None:
        """Count one more open connection, or refuse it when `limit` are open already."""
        self._sweep_if_due(self._now(), added=False)
        if self._open[address_key] >= limit:
            raise ServiceError(Code.RATE_LIMITED, _("Too many chat windows are open from your "
                                                    "network. Close one and try again."))
        self._open[address_key] += 1

    def close_connection(self, address_key: str) -> None:
        self._open[address_key] -= 1
        if self._open[address_key] <= 0:
            del self._open[address_key]

    def open_connections(self, address_key: str) -> int:
        return self._open.get(address_key, 0)

    def take(self, kind: str, address_key: str, per_hour: int, message: str) -> None:
        """Count one more `kind` in the last hour, or refuse with `message` at `per_hour`."""
        now, key = self._now(), (kind, address_key)
        self._sweep_if_due(now, added=key not in self._recent)
        window = self._recent.setdefault(key, deque())
        while window and window[0] <= now - HOUR:
            window.popleft()
        if len(window) >= per_hour:
            raise ServiceError(Code.RATE_LIMITED, message)
        window.append(now)

    def _sweep_if_due(self, now: float, added: bool) -> None:
        self._added += added
        if (added and self._added % SWEEP_EVERY == 0) or now - self._swept > SWEEP_SECONDS:
            self._swept = now
            self._sweep(now)

    def _sweep(self, now: float) -> None:
        for key in [key for key, window in self._recent.items()
                    if not window or window[-1] <= now - HOUR]:
            del self._recent[key]


NEW_CONVERSATIONS = _("Many conversations have been started from your network just now. "
                      "Please try again later.")
OFFLINE_MESSAGES = _("Many messages have been left from your network just now. "
                     "Please try again later.")

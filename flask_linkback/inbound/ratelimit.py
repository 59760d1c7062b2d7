"""Rate limits on the Pingback and TrackBack endpoints: per sender, and per sender and source host.

A sender is an IPv4 address or an IPv6 /64 (:func:`sender_key`): one IPv6
host usually holds a whole /64, so counting single IPv6 addresses would let
it send as many pings as it has addresses. The per-source-host budget is
kept per sender too, so nobody can spend another party's budget by naming
its host in forged pings.

Built on ``limits``, the library under Flask-Limiter. A Flask-Limiter instance
would hook every request of the host app and read the host's own
``RATELIMIT_*`` settings; these limits belong to the linkback endpoints alone,
and the per-source-host one can only be checked once the ping is parsed.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Mapping
from typing import Any

from flask import Response
from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from .refusal import Reason, Refusal


def sender_key(address: str | None) -> str:
    """Who a ping counts as for the limits: an IPv4 address as is, an IPv6 address's /64.

    An IPv4-mapped IPv6 address (``::ffff:192.0.2.1``, what a dual-stack
    socket reports) is the IPv4 address it maps; anything unparsable counts as
    itself (cut to 64 characters), and a missing address as ``"unknown"``.
    """
    if not address:
        return "unknown"
    try:
        ip = ipaddress.ip_address(address.strip().split("%", 1)[0])
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class RateLimited(Refusal):
    """Too many pings from one IP or about one source host; try again after ``retry_after`` s."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(Reason.ACCESS_DENIED, message)
        self.retry_after = retry_after


class RateLimits:
    """The app's limits and their counters (``LINKBACK_RATELIMIT_*``)."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.enabled: bool = config["LINKBACK_RATELIMIT_ENABLED"]
        self.per_ip: list[RateLimitItem] = parse_many(config["LINKBACK_RATELIMIT_PER_IP"])
        self.per_source_host: list[RateLimitItem] = parse_many(
            config["LINKBACK_RATELIMIT_PER_SOURCE_HOST"])
        self.limiter = FixedWindowRateLimiter(
            storage_from_string(config["LINKBACK_RATELIMIT_STORAGE_URI"]))

    def check_ip(self, ip: str | None) -> None:
        """Count one ping against its sender (an IPv4 address or an IPv6 /64)."""
        sender = sender_key(ip)
        self._hit("ip", sender, self.per_ip, f"too many pings from {sender}")

    def check_source_host(self, host: str, *, sender_ip: str | None) -> None:
        """Count one ping naming a source on ``host`` against that sender's budget for it.

        ``sender_ip`` is required: a budget per host alone is one that anybody
        can spend for the host's genuine senders.
        """
        self._hit("source-host", f"{sender_key(sender_ip)} {host}", self.per_source_host,
                  f"too many pings about {host}")

    def _hit(self, scope: str, key: str, items: list[RateLimitItem], message: str) -> None:
        if not self.enabled:
            return
        for item in items:
            if not self.limiter.hit(item, "flask-linkback", scope, key):
                reset = self.limiter.get_window_stats(item, "flask-linkback", scope, key).reset_time
                retry_after = max(int(reset - time.time()) + 1, 1)
                raise RateLimited(f"{message}: the limit is {item}; try again later", retry_after)


def too_many(limited: RateLimited) -> Response:
    return Response(f"{limited.message}\n", 429, {"Retry-After": str(limited.retry_after)},
                    mimetype="text/plain")

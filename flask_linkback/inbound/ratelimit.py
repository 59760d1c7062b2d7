"""Rate limits on the Pingback and TrackBack endpoints: per sender IP and per source host.

Built on ``limits``, the library under Flask-Limiter. A Flask-Limiter instance
would hook every request of the host app and read the host's own
``RATELIMIT_*`` settings; these limits belong to the linkback endpoints alone,
and the per-source-host one can only be checked once the ping is parsed.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from flask import Response
from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from .refusal import Reason, Refusal


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
        self._hit("ip", ip or "unknown", self.per_ip, f"too many pings from {ip}")

    def check_source_host(self, host: str) -> None:
        self._hit("source-host", host, self.per_source_host, f"too many pings about {host}")

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

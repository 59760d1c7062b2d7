"""Find what a target accepts: its Webmention and Pingback endpoints, from one fetch.

Pingback: the ``X-Pingback`` header, else the first ``<link rel=pingback>``.
Webmention: exactly as :mod:`flask_linkback.outbound.webmention` reads it
(that module's :func:`endpoint_from_response` runs over the same response).
Each answer is kept per process (:class:`DiscoveryCache`) as long as the
target's own caching headers allow (RFC 9111: ``no-store``, ``no-cache``,
``max-age``, ``Expires``; ``Pragma: no-cache``), at most
LINKBACK_DISCOVERY_CACHE_SECONDS, which is also the lifetime of an answer
that says nothing; so a post with many links to one page, or many posts
linking to one page, fetch it once, and a page that forbids caching is asked
every time.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin

from ..fetch import FetchLimits, fetch
from ..html import Document
from ..urls import is_http_url, strip_fragment
from .webmention import endpoint_from_response

HTML_TYPES = frozenset({"", "text/html", "application/xhtml+xml"})
_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.1"


@dataclass(frozen=True)
class Discovery:
    """What a target advertises. ``status`` is the HTTP status of the target page."""

    url: str
    final_url: str
    status: int
    pingback: str | None
    webmention: str | None = None
    #: How long the target lets this answer be reused (None: its headers do not say).
    max_age: float | None = None
    #: True when this answer came from the cache rather than a fetch just now.
    cached: bool = False


class TargetGone(Exception):
    """The target answered 404 or 410: there is nothing to ping."""


class TargetUnavailable(Exception):
    """The target answered 5xx or 429: worth trying again later."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def discover(url: str, limits: FetchLimits) -> Discovery:
    """Fetch ``url`` once and read its Pingback and Webmention endpoints.

    Relative URLs resolve against the final URL.

    Raises :class:`~flask_linkback.fetch.FetchError` when no answer came,
    :class:`TargetGone` or :class:`TargetUnavailable` for those statuses.
    """
    result = fetch(strip_fragment(url), limits, headers={"Accept": _ACCEPT})
    if result.status in (404, 410):
        raise TargetGone(f"the target answered HTTP {result.status}")
    if result.status == 429 or result.status >= 500:
        raise TargetUnavailable(f"the target answered HTTP {result.status}", result.status)
    endpoint = None
    header = result.headers.get("X-Pingback", "").strip()
    if header:
        endpoint = urljoin(result.url, header)
    elif result.ok and result.content_type in HTML_TYPES:
        endpoint = Document(result.content, result.url, result.encoding).pingback_server()
    if endpoint is not None and not is_http_url(endpoint):
        endpoint = None
    return Discovery(url, result.url, result.status, endpoint, endpoint_from_response(result),
                     freshness(result.headers))


def freshness(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """Seconds an answer with these headers may be reused (RFC 9111 §4.2.1); None if unsaid.

    ``no-store`` and ``no-cache`` mean 0 (we do not revalidate, we ask
    again); ``max-age`` wins over ``Expires``, less the ``Age`` it already
    has; an ``Expires`` that does not parse is in the past (§5.3). Without
    ``Cache-Control``, ``Pragma: no-cache`` means 0.
    """
    directives: dict[str, str] = {}
    for part in headers.get("Cache-Control", "").split(","):
        name, _, value = part.strip().partition("=")
        if name:
            directives.setdefault(name.strip().lower(), value.strip().strip('"'))
    if "no-store" in directives or "no-cache" in directives:
        return 0.0
    age = _seconds(headers.get("Age", "")) or 0.0
    if "max-age" in directives:
        max_age = _seconds(directives["max-age"])
        return 0.0 if max_age is None else max(0.0, max_age - age)
    if not directives and "no-cache" in headers.get("Pragma", "").lower():
        return 0.0
    expires = headers.get("Expires")
    if expires is None:
        return None
    expires_at = _http_date(expires)
    if expires_at is None:
        return 0.0
    date = _http_date(headers.get("Date", "")) or now or datetime.now(UTC)
    return max(0.0, (expires_at - date).total_seconds() - age)


def _seconds(value: str) -> float | None:
    value = value.strip()
    return float(value) if value.isascii() and value.isdigit() else None


def _http_date(value: str) -> datetime | None:
    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


class DiscoveryCache:
    """Discovery results per URL; concurrent lookups of one URL share a fetch.

    An answer is kept as long as its caching headers allow, at most ``ttl``
    seconds (also the lifetime when they say nothing). Only answers are
    cached (a page with or without an endpoint); errors are not, so a target
    that was down is asked again at the next attempt.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 max_entries: int = 4096) -> None:
        self.clock = clock
        self._max_entries = max_entries
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[float, Discovery]] = OrderedDict()
        #: url -> [lock, users]: only while someone discovers that URL, whatever it raises.
        self._url_locks: dict[str, list[Any]] = {}

    def discover(
        self, url: str, limits: FetchLimits, ttl: float, *, refresh: bool = False
    ) -> Discovery:
        """The target's endpoints, from the cache (``cached=True``) or a fetch now.

        ``refresh`` forgets what was kept and asks the target again (an
        endpoint found earlier refused the ping: it may have moved).
        """
        key = strip_fragment(url)
        with self._lock:
            held = self._url_locks.setdefault(key, [threading.Lock(), 0])
            held[1] += 1
            if refresh:
                self._entries.pop(key, None)
        try:
            with held[0]:
                found = self._get(key)
                if found is not None:
                    return replace(found, cached=True)
                found = discover(key, limits)
                lifetime = ttl if found.max_age is None else min(found.max_age, ttl)
                self._put(key, found, lifetime)
            return found
        finally:
            with self._lock:
                held[1] -= 1
                if held[1] == 0 and self._url_locks.get(key) is held:
                    del self._url_locks[key]

    def stats(self) -> dict[str, int]:
        """Answers cached, and URLs being discovered now (for monitoring)."""
        with self._lock:
            return {"entries": len(self._entries), "urls": len(self._url_locks)}

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def _get(self, key: str) -> Discovery | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            expires, value = entry
            if expires <= self.clock():
                del self._entries[key]
                return None
            return value

    def _put(self, key: str, value: Discovery, ttl: float) -> None:
        with self._lock:
            if ttl <= 0:
                return
            self._entries[key] = (self.clock() + ttl, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)

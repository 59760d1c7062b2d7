"""Check that a source really links to the target, and read its title and context.

Remote sources go through the safe fetcher; each source URL is fetched at most
once per LINKBACK_SOURCE_FETCH_WINDOW however many pings name it, and at most
LINKBACK_SOURCE_HOST_CONCURRENCY fetches run at once per host. That bounds
what a forged ping can make us do to a third party (pingback DDoS).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from flask import current_app

from ..fetch import (
    AddressRefused,
    ConnectFailed,
    FetchError,
    FetchLimits,
    FetchResult,
    FetchTimeout,
    fetch,
)
from ..host import PostInfo
from ..html import ELLIPSIS, Document, Link, collapse_ws
from ..state import current_state
from ..urls import host_of, normalize_url, strip_fragment
from .refusal import Reason, Refusal

HTML_TYPES = frozenset({"", "text/html", "application/xhtml+xml"})


@dataclass(frozen=True)
class Evidence:
    """What verification found: where the source ended up, its title, the text around the link."""

    final_url: str
    title: str | None
    excerpt: str
    document: Document
    #: The link to the target that verification found.
    link: Link | None = None
    #: SHA-256 of the source as fetched: an unchanged source needs no re-reading.
    content_hash: str = ""


def fetch_limits() -> FetchLimits:
    config = current_app.config
    return FetchLimits(
        timeout=float(config["LINKBACK_FETCH_TIMEOUT"]),
        max_bytes=config["LINKBACK_FETCH_MAX_BYTES"],
        max_redirects=config["LINKBACK_FETCH_MAX_REDIRECTS"],
        allow_private=config["LINKBACK_ALLOW_PRIVATE_ADDRESSES"],
        user_agent=config["LINKBACK_USER_AGENT"],
    )


def verify_remote(source: str, targets: Iterable[str], *, any_type: bool = False,
                  fresh_after: float | None = None) -> Evidence:
    """Fetch the source and find the link to one of ``targets``, or raise a Refusal.

    Pingback and TrackBack want an HTML page; with ``any_type`` (Webmention
    §3.2.2) a JSON document naming a target as a value, or plain text
    containing it, verifies too. ``fresh_after`` (a ``time.monotonic()``
    value) refuses a cached fetch begun before it: a re-sent webmention says
    the source changed, so the page fetched for its last sending won't do.
    """
    state = current_state()
    config = current_app.config
    try:
        result = state.source_cache.fetch(
            strip_fragment(source),
            fetch_limits(),
            window=float(config["LINKBACK_SOURCE_FETCH_WINDOW"]),
            per_host=config["LINKBACK_SOURCE_HOST_CONCURRENCY"],
            fresh_after=fresh_after,
        )
    except AddressRefused as error:
        raise Refusal(Reason.ACCESS_DENIED, str(error)) from None
    except ConnectFailed as error:
        raise Refusal(Reason.SOURCE_MISSING,
                      f"the source URI could not be reached: {error}") from None
    except FetchError as error:
        raise Refusal(Reason.UPSTREAM, f"the source URI could not be read: {error}") from None

    if result.status >= 500:
        raise Refusal(Reason.UPSTREAM, f"the source URI answered HTTP {result.status}")
    if result.status == 410:
        raise Refusal(Reason.SOURCE_MISSING, "the source URI is gone (HTTP 410)", gone=True)
    if not result.ok:
        raise Refusal(Reason.SOURCE_MISSING, f"the source URI answered HTTP {result.status}")
    if not result.content.strip():
        raise Refusal(Reason.SOURCE_MISSING, "the source URI is empty")
    if result.content_type not in HTML_TYPES:
        if not any_type:
            raise Refusal(Reason.NO_LINK,
                          f"the source URI is {result.content_type}, not an HTML page")
        evidence = _evidence_outside_html(result, list(targets))
    else:
        document = Document(result.content, result.url, result.encoding)
        evidence = _evidence(document, targets, result.url)
    return replace(evidence, content_hash=hashlib.sha256(result.content).hexdigest())


def _evidence_outside_html(result: FetchResult, targets: list[str]) -> Evidence:
    """A JSON value equal to a target, or a target's URL in plain text (Webmention)."""
    wanted = {normalize_url(strip_fragment(target)) for target in targets}
    content_type = result.content_type
    excerpt = ""
    if content_type == "application/json" or content_type.endswith("+json"):
        try:
            found = any(normalize_url(strip_fragment(value)) in wanted
                        for value in _json_strings(json.loads(result.content)))
        except (ValueError, RecursionError):
            raise Refusal(Reason.NO_LINK, "the source URI is not valid JSON") from None
    elif content_type == "text/plain":
        text = result.content.decode(result.encoding or "utf-8", "replace")
        spots = [text.find(target) for target in dict.fromkeys(targets) if target in text]
        found = bool(spots)
        if found:
            chars = current_app.config["LINKBACK_EXCERPT_CHARS"]
            start = min(spots)
            around = collapse_ws(text[max(start - chars, 0):start + chars])
            excerpt = f"[{ELLIPSIS}] {around} [{ELLIPSIS}]"
    else:
        raise Refusal(Reason.NO_LINK, f"the source URI is {content_type}, which cannot link here")
    if not found:
        raise Refusal(Reason.NO_LINK, "the source URI does not contain a link to the target URI")
    return Evidence(result.url, None, excerpt, Document("", result.url))


def _json_strings(value: object) -> Iterator[str]:
    """Every string value in a JSON document (not the keys), without recursion."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def verify_local(source: PostInfo, targets: Iterable[str]) -> Evidence:
    """Verify a ping from one of this site's own posts from its HTML, without HTTP."""
    document = Document(source.html or "", source.url)
    evidence = _evidence(document, targets, source.url)
    digest = hashlib.sha256(f"{source.title}\0{source.html}".encode()).hexdigest()
    return Evidence(source.url, source.title, evidence.excerpt, document, evidence.link, digest)


def _evidence(document: Document, targets: Iterable[str], final_url: str) -> Evidence:
    link = document.find_link_to(targets)
    if link is None:
        raise Refusal(Reason.NO_LINK, "the source URI does not contain a link to the target URI")
    excerpt = document.context(link, current_app.config["LINKBACK_EXCERPT_CHARS"])
    return Evidence(final_url, document.title, excerpt, document, link)


class _Shared:
    """A lock or semaphore and how many threads use it, so the last one out can drop it."""

    __slots__ = ("users", "value")

    def __init__(self, value: Any) -> None:
        self.value = value
        self.users = 0


@dataclass(frozen=True)
class _Entry:
    expires: float
    started: float
    value: FetchResult | FetchError
    size: int


#: What one cache entry costs besides its body: the key, the tuple, the objects around them.
ENTRY_OVERHEAD = 512


def _size(url: str, value: FetchResult | FetchError) -> int:
    """The bytes an entry holds, near enough: body, headers, URLs and a fixed overhead."""
    if isinstance(value, FetchError):
        return ENTRY_OVERHEAD + len(url) + len(str(value)) + len(value.url)
    headers = sum(len(name) + len(text) for name, text in value.headers.items())
    return (ENTRY_OVERHEAD + len(url) + len(value.url) + len(value.content) + headers
            + sum(len(hop) for hop in value.history))


class SourceCache:
    """Fetch each source URL at most once per window, and few at a time per host.

    Concurrent pings naming the same source wait for one fetch and share its
    result (or its error). In-process: each worker process has its own. The
    answers kept are bounded in bytes (``max_bytes``, oldest out first, expired
    ones swept as new ones come); the per-URL locks and per-host slots live
    only while a fetch uses them, so a flood of distinct URLs and hosts leaves
    nothing behind.
    """

    def __init__(self, max_bytes: int = 16 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._bytes = 0
        self._url_locks: dict[str, _Shared] = {}
        self._host_slots: dict[str, _Shared] = {}

    def stats(self) -> dict[str, int]:
        """Entries and bytes cached, and the URLs and hosts being fetched now (for monitoring)."""
        with self._lock:
            return {"entries": len(self._entries), "bytes": self._bytes,
                    "urls": len(self._url_locks), "hosts": len(self._host_slots)}

    def fetch(self, url: str, limits: FetchLimits, *, window: float, per_host: int,
              fresh_after: float | None = None) -> FetchResult:
        """The shared answer for ``url``; one begun before ``fresh_after`` is not reused."""
        with self._using(self._url_locks, url, threading.Lock) as url_lock, url_lock:
            cached = self._get(url, fresh_after)
            if cached is None:
                started = time.monotonic()
                cached = self._fetch_bounded(url, limits, per_host)
                self._put(url, cached, window, started)
        if isinstance(cached, FetchError):
            raise cached
        return cached

    @contextmanager
    def _using(self, table: dict[str, _Shared], key: str, make: Callable[[], Any]) -> Iterator[Any]:
        """``table[key]``'s lock or semaphore, made on first use and dropped after the last."""
        with self._lock:
            shared = table.get(key)
            if shared is None:
                shared = table[key] = _Shared(make())
            shared.users += 1
        try:
            yield shared.value
        finally:
            with self._lock:
                shared.users -= 1
                if shared.users == 0 and table.get(key) is shared:
                    del table[key]

    def _fetch_bounded(self, url: str, limits: FetchLimits,
                       per_host: int) -> FetchResult | FetchError:
        host = host_of(url)
        with self._using(
            self._host_slots, host, lambda: threading.BoundedSemaphore(per_host)
        ) as slots:
            if not slots.acquire(timeout=limits.timeout):
                return FetchTimeout(f"too many fetches from {host} at once", url=url)
            try:
                return fetch(url, limits)
            except FetchError as error:
                return error
            finally:
                slots.release()

    def _get(self, url: str, fresh_after: float | None = None) -> FetchResult | FetchError | None:
        with self._lock:
            entry = self._entries.get(url)
            if entry is None:
                return None
            if entry.expires < time.monotonic():
                self._drop(url)
                return None
            if fresh_after is not None and entry.started < fresh_after:
                return None
            return entry.value

    def _put(
        self, url: str, value: FetchResult | FetchError, window: float, started: float
    ) -> None:
        size = _size(url, value)
        now = time.monotonic()
        with self._lock:
            if url in self._entries:
                self._drop(url)
            if size <= self.max_bytes:  # one answer larger than the whole cache is not kept
                self._entries[url] = _Entry(now + window, started, value, size)
                self._bytes += size
            # Oldest first: they expire first too, so this sweeps the expired ones as it goes.
            while self._entries and (
                self._bytes > self.max_bytes or next(iter(self._entries.values())).expires < now
            ):
                self._drop(next(iter(self._entries)))

    def _drop(self, url: str) -> None:
        self._bytes -= self._entries.pop(url).size

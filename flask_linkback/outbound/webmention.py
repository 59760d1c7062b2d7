"""Webmention sending, the protocol half: find a target's endpoint and POST to it.

Pure functions over the safe fetcher, with no app or database, so the outbox
(which decides *what* to send and records results) can call them from any
worker. Discovery follows the W3C Recommendation §3.1.2 exactly: the first
``Link`` header with rel ``webmention`` wins; else, for HTML only, the first
``<link>`` or ``<a>`` with that rel in document order (comments and scripts
are never searched); relative URLs resolve against the final URL after
redirects; an empty ``href`` means the page itself; the endpoint's query
string is kept as written.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urljoin

from ..fetch import FetchLimits, FetchResult, fetch
from ..html import Document
from ..urls import is_http_url

__all__ = ["HTML_TYPES", "SendResult", "discover_webmention_endpoint", "endpoint_from_response",
           "send_webmention"]

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.1"


def discover_webmention_endpoint(url: str, limits: FetchLimits) -> str | None:
    """The Webmention endpoint ``url`` advertises, or None when it has none.

    Fetch errors (time, size, address policy ...) propagate as
    :class:`~flask_linkback.fetch.FetchError` so the caller can tell "no
    endpoint" from "could not look"; a non-2xx answer has no endpoint.
    """
    return endpoint_from_response(fetch(url, limits, headers={"Accept": _ACCEPT}))


def endpoint_from_response(result: FetchResult) -> str | None:
    """Discovery over a response already fetched (e.g. shared with Pingback discovery)."""
    if not result.ok:
        return None
    for endpoint in result.link_header_urls("webmention"):
        if is_http_url(endpoint):
            return endpoint
    if result.content_type not in HTML_TYPES:
        return None
    for endpoint in Document(result.content, result.url, result.encoding).rel_urls("webmention"):
        if is_http_url(endpoint):
            return endpoint
    return None


@dataclass(frozen=True)
class SendResult:
    """What the receiver answered: any 2xx is success; ``location`` is its status URL, if any."""

    status: int
    location: str | None
    body: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def send_webmention(endpoint: str, source: str, target: str, limits: FetchLimits) -> SendResult:
    """POST form-encoded ``source`` and ``target`` to ``endpoint`` (§3.1.3).

    ``target`` should be the URL exactly as the source page links to it.
    Redirects are not followed (a 201's ``Location`` is a status page, not a
    hop); ``location`` comes back absolute. Fetch errors propagate.
    """
    result = fetch(
        endpoint,
        limits,
        method="POST",
        data={"source": source, "target": target},
        headers={"Accept": "application/json, text/html;q=0.9, */*;q=0.5"},
        follow_redirects=False,
    )
    location = result.headers.get("Location")
    return SendResult(
        status=result.status,
        location=urljoin(result.url, location.strip()) if location else None,
        body=result.content,
    )

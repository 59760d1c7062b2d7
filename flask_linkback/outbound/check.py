""""Check this link": what a target offers, found now, for the post editor.

The editor's table says what happened to each ping; when the answer is "no
endpoint" or a failure, the author wants to know what the target offers
*now*. One fetch through the safe fetcher (its limits and address policy),
no cache, nothing recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urljoin

from ..fetch import FetchError, fetch
from ..html import Document
from ..inbound.verify import fetch_limits
from ..urls import is_http_url, strip_fragment
from .discover import HTML_TYPES
from .webmention import endpoint_from_response


@dataclass(frozen=True)
class LinkCheck:
    """What ``url`` advertises. ``error`` is set (and the rest empty) when it could not be read."""

    url: str
    final_url: str = ""
    status: int | None = None
    webmention: str | None = None
    pingback: str | None = None
    trackback: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def summary(self) -> str:
        """One sentence for the author."""
        if self.error:
            return f"Could not read {self.url}: {self.error}"
        offers = [name for name, found in (("Webmention", self.webmention),
                                           ("Pingback", self.pingback),
                                           ("TrackBack", self.trackback)) if found]
        if self.status and self.status >= 400:
            return f"{self.url} answered HTTP {self.status}: there is nothing to ping there."
        if not offers:
            return f"{self.url} offers no Webmention, Pingback or TrackBack endpoint."
        return f"{self.url} offers {' and '.join(offers)}."


def check_link(url: str) -> LinkCheck:
    """Fetch ``url`` once and read every endpoint it advertises (in an app context)."""
    url = strip_fragment(url.strip())
    if not is_http_url(url):
        return LinkCheck(url, error="not an http(s) URL")
    try:
        result = fetch(url, fetch_limits(),
                       headers={"Accept": "text/html, application/xhtml+xml;q=0.9, */*;q=0.1"})
    except FetchError as error:
        return LinkCheck(url, error=str(error))
    pingback = None
    header = result.headers.get("X-Pingback", "").strip()
    document = (Document(result.content, result.url, result.encoding)
                if result.ok and result.content_type in HTML_TYPES else None)
    if header:
        pingback = urljoin(result.url, header)
    elif document is not None:
        pingback = document.pingback_server()
    if pingback is not None and not is_http_url(pingback):
        pingback = None
    trackback = [block.ping for block in document.trackback_rdf()] if document is not None else []
    return LinkCheck(url, result.url, result.status, endpoint_from_response(result), pingback,
                     [ping for ping in dict.fromkeys(trackback) if is_http_url(ping)])

"""What "this site" is: decided from configuration only, never from the request.

A ping's target must be on this site, and a source on this site is trusted
(a self-ping). If the request's ``Host`` header took part in that decision,
anybody could send ``Host: evil.example`` and make ``http://evil.example/...``
count as ours. So the site is:

- ``LINKBACK_SITE_URL`` (``https://example.org/blog/``: scheme, host, port
  and path prefix), or else ``SERVER_NAME`` with ``PREFERRED_URL_SCHEME`` and
  ``APPLICATION_ROOT``;
- plus the other names in ``LINKBACK_SITE_HOSTS`` (and the exact names in
  Flask's ``TRUSTED_HOSTS``), under the same path prefix.

A URL is on this site when its ``host[:port]`` is one of those names and its
path lies under the prefix; two blogs at ``example.org/alice/`` and
``example.org/bob/`` are two sites. With nothing configured there is no site:
every ping is refused with a message that says what to set.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Flask, current_app

from .urls import normalize_url


class SiteNotConfigured(LookupError):
    """Neither LINKBACK_SITE_URL nor SERVER_NAME is set: there is no safe answer to "is it ours"."""

    def __init__(self) -> None:
        super().__init__(
            "this site's address is not configured: set LINKBACK_SITE_URL "
            "(for example https://blog.example.org/) or SERVER_NAME"
        )


@dataclass(frozen=True)
class Site:
    """This site's canonical root and the other ``host[:port]`` names it answers to."""

    url: str  # canonical root, always ending in "/"
    netlocs: frozenset[str]
    prefix: str  # path prefix, "/" or "/blog/"

    def contains(self, url: str) -> bool:
        """True when ``url`` is under this site's root on one of its names."""
        parts = urlsplit(normalize_url(url))
        if parts.scheme not in ("http", "https") or parts.netloc not in self.netlocs:
            return False
        path = parts.path or "/"
        return path == self.prefix.rstrip("/") or path.startswith(self.prefix)


def netloc_key(url: str) -> str:
    """``host[:port]`` lower-cased with the default port dropped: one site."""
    return urlsplit(normalize_url(url)).netloc


def configured_site(app: Flask | None = None) -> Site | None:
    """This site from ``app``'s configuration, or None when nothing says what it is."""
    config = (app or current_app).config
    root = config.get("LINKBACK_SITE_URL") or ""
    if not root and config.get("SERVER_NAME"):
        scheme = config.get("PREFERRED_URL_SCHEME") or "http"
        root = f"{scheme}://{config['SERVER_NAME']}{config.get('APPLICATION_ROOT') or '/'}"
    if not root:
        return None
    parts = urlsplit(normalize_url(root))
    prefix = parts.path if parts.path.endswith("/") else parts.path + "/"
    names = {parts.netloc}
    names.update(netloc_key(f"{parts.scheme}://{host}") for host in config["LINKBACK_SITE_HOSTS"])
    for host in config.get("TRUSTED_HOSTS") or ():
        if not host.startswith("."):  # a subdomain pattern names no one site
            names.add(netloc_key(f"{parts.scheme}://{host}"))
    return Site(url=f"{parts.scheme}://{parts.netloc}{prefix}", netlocs=frozenset(names),
                prefix=prefix)


def current_site() -> Site:
    """This site, or :class:`SiteNotConfigured` (the caller turns it into a clear refusal)."""
    site = configured_site()
    if site is None:
        raise SiteNotConfigured()
    return site


def site_netlocs() -> set[str]:
    """This site's ``host[:port]`` names (empty when the site is not configured)."""
    site = configured_site()
    return set(site.netlocs) if site else set()


def is_local_url(url: str) -> bool:
    """True when ``url`` is on this site (never, when the site is not configured)."""
    site = configured_site()
    return site is not None and site.contains(url)

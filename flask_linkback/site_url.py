"""Absolute URLs from configuration, for what is read outside the request that made it.

An e-mail, a feed: their links must point at the site's public address, not
at whatever Host header a request (or a worker's made-up context) carried.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, url_for

from .site import configured_site


class SiteURLMissing(RuntimeError):
    """Neither LINKBACK_SITE_URL nor SERVER_NAME is set: no absolute URL can be built."""


def configured_base() -> str | None:
    """This site's root URL as :mod:`.site` decides it (LINKBACK_SITE_URL, else SERVER_NAME)."""
    site = configured_site()
    return site.url if site else None


@contextlib.contextmanager
def site_context(*, required: bool = True) -> Iterator[None]:
    """A request context on the configured site, so ``url_for(_external=True)`` (ours and the
    host's) builds public URLs. Without configuration: :class:`SiteURLMissing`, or when not
    ``required``, the current context unchanged."""
    base = configured_base()
    if base is None:
        if required:
            raise SiteURLMissing("set LINKBACK_SITE_URL (such as \"https://blog.example\") so "
                                 "flask-linkback can build absolute links outside requests")
        yield
        return
    with current_app.test_request_context("/", base_url=base):
        yield


def external_url(endpoint: str, **values: Any) -> str:
    """``url_for(endpoint, **values)`` made absolute on the configured site (LINKBACK_SITE_URL wins
    over SERVER_NAME); in a request without configuration, on the request's host."""
    base = configured_base()
    if base is None:
        return url_for(endpoint, _external=True, **values)
    with site_context():
        path = url_for(endpoint, **values)
    parts = urlsplit(base)
    return f"{parts.scheme}://{parts.netloc}{path}"

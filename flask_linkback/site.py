"""Which ``host[:port]`` names are this site: one answer for receiving and sending.

A URL is local when its host[:port] (normalised: lower case, default port
dropped) is the current request's host or one of LINKBACK_SITE_HOSTS.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, has_request_context, request

from .urls import normalize_url


def netloc_key(url: str) -> str:
    """``host[:port]`` lower-cased with the default port dropped: one site."""
    return urlsplit(normalize_url(url)).netloc


def site_netlocs() -> set[str]:
    """This site's names: LINKBACK_SITE_HOSTS and, in a request, the request's host."""
    hosts = {netloc_key(f"http://{host}") for host in current_app.config["LINKBACK_SITE_HOSTS"]}
    if has_request_context():
        hosts.add(netloc_key(request.host_url))
    return hosts


def is_local_url(url: str) -> bool:
    """True when ``url`` points at this site."""
    return netloc_key(url) in site_netlocs()

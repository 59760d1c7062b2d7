"""URL checks and normalisation shared by receiving and sending.

Two URLs name the same page for linkback purposes when they differ only in
spelling: scheme and host case, a default port, an empty path, percent-escape
case, or a ``#fragment``. Query strings are kept as written: they can select a
different page (``?p=12``).
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit, urlunsplit

HTTP_SCHEMES = frozenset({"http", "https"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Characters that stay literal in a normalised path; everything else is %-escaped.
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def is_http_url(url: str) -> bool:
    """True for an absolute http(s) URL with a host: the only kind we fetch or accept."""
    if not isinstance(url, str) or not url or any(ch.isspace() for ch in url.strip()):
        return False
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return False
    return parts.scheme.lower() in HTTP_SCHEMES and bool(parts.hostname)


def strip_fragment(url: str) -> str:
    """The URL without its ``#fragment`` (never sent over HTTP anyway)."""
    return url.split("#", 1)[0]


def normalize_url(url: str) -> str:
    """A canonical spelling of an http(s) URL, for comparing and deduplicating.

    Lower-cases scheme and host, drops the default port and the fragment,
    turns an empty path into ``/`` and evens out percent-escapes.
    Non-http URLs come back stripped but otherwise unchanged.
    """
    url = url.strip()
    if not is_http_url(url):
        return url
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = _normalize_path(parts.path) or "/"
    return urlunsplit((scheme, netloc, path, parts.query, ""))


def _normalize_path(path: str) -> str:
    """Decode only escapes of unreserved characters and upper-case the rest (RFC 3986 6.2.2).

    Decoding everything would make ``/a%2Fb`` equal ``/a/b`` and turn every
    non-UTF-8 escape (``%E9`` vs ``%E8``) into the same replacement character.
    """

    def even_out(match: re.Match[str]) -> str:
        char = chr(int(match.group(1), 16))
        return char if char in _UNRESERVED else f"%{match.group(1).upper()}"

    path = _STRAY_PERCENT.sub("%25", _ESCAPE.sub(even_out, path))
    return quote(path, safe=_PATH_SAFE)


def same_url(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` name the same page after normalisation."""
    return normalize_url(a) == normalize_url(b)


def host_of(url: str) -> str:
    """The lower-cased host name of ``url`` (empty when there is none)."""
    try:
        return (urlsplit(url).hostname or "").lower().rstrip(".")
    except ValueError:
        return ""

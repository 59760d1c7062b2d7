"""The one safe HTTP fetcher every remote request goes through.

A linkback endpoint makes the server fetch URLs that strangers name, so each
fetch is bounded: a total time limit, a byte cap, a redirect cap, and no
connection to private, loopback, link-local or otherwise non-public addresses
unless ``allow_private`` is set. The address check runs on the resolved IP of
every connection, including each redirect hop, and the socket connects to the
very address that was checked, so DNS rebinding cannot slip past it.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import parse_header_links
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

from .urls import is_http_url

__all__ = [
    "AddressRefused",
    "ConnectFailed",
    "FetchError",
    "FetchLimits",
    "FetchResult",
    "FetchTimeout",
    "TooLarge",
    "TooManyRedirects",
    "UnsupportedURL",
    "address_allowed",
    "fetch",
    "is_public_address",
]

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_CHUNK = 65536

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class FetchError(Exception):
    """A fetch that did not produce a response; ``url`` is the URL being fetched."""

    def __init__(self, message: str, url: str = "") -> None:
        super().__init__(message)
        self.url = url


class UnsupportedURL(FetchError):
    """Not an absolute http(s) URL (``javascript:``, ``file:``, relative ...)."""


class AddressRefused(FetchError):
    """The host resolves only to addresses the policy refuses (private, loopback ...)."""


class ConnectFailed(FetchError):
    """The host does not resolve, or refuses the connection."""


class FetchTimeout(FetchError):
    """The fetch took longer than its time limit."""


class TooLarge(FetchError):
    """The body is larger than the byte cap."""


class TooManyRedirects(FetchError):
    """More redirects than the redirect cap."""


@dataclass(frozen=True)
class FetchLimits:
    """The budget of one fetch. The defaults suit verifying a linkback source."""

    timeout: float = 5.0
    max_bytes: int = 1_000_000
    max_redirects: int = 5
    allow_private: bool = False
    user_agent: str = "flask-linkback"


@dataclass(frozen=True)
class FetchResult:
    """A complete response: final URL after redirects, status, headers and body bytes."""

    url: str
    status: int
    headers: CaseInsensitiveDict[str]
    content: bytes
    history: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def content_type(self) -> str:
        """The media type, lower-cased and without parameters ("" when absent)."""
        return self.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()

    @property
    def encoding(self) -> str | None:
        """The charset the Content-Type header declares, if any."""
        for param in self.headers.get("Content-Type", "").split(";")[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "charset" and value.strip():
                return value.strip().strip("\"'")
        return None

    def link_header_urls(self, rel: str) -> list[str]:
        """Absolute URLs of the ``Link`` header entries whose rel tokens include ``rel``.

        Several headers and several links per header are handled; rel is a
        space-separated list compared per token, case-insensitively; relative
        URLs resolve against the final URL.
        """
        value = self.headers.get("Link", "")
        if not value:
            return []
        wanted = rel.lower()
        urls = []
        for link in parse_header_links(value):
            tokens = link.get("rel", "").lower().split()
            if wanted in tokens and "url" in link:
                urls.append(urljoin(self.url, link["url"].strip()))
        return urls


def is_public_address(address: str | IPAddress) -> bool:
    """True if ``address`` is a globally routable unicast address.

    Private (10/8, 172.16/12, 192.168/16, fc00::/7), loopback, link-local
    (169.254/16, fe80::/10), shared (100.64/10), multicast, reserved and
    unspecified addresses are not public; IPv6 forms that embed an IPv4
    address (mapped, 6to4, NAT64) are judged by the address they embed.
    """
    try:
        ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in ipaddress.IPv6Network("64:ff9b::/96"):
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public_address(embedded)
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


def address_allowed(address: str | IPAddress, allow_private: bool) -> bool:
    """The policy itself: public addresses always, the rest only when allowed."""
    return allow_private or is_public_address(address)


def fetch(
    url: str,
    limits: FetchLimits,
    *,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    data: Mapping[str, str] | bytes | str | None = None,
    follow_redirects: bool = True,
) -> FetchResult:
    """Fetch ``url`` within ``limits`` and return the whole response.

    Any HTTP status is a result (the caller decides what a 404 means); only
    a response that never arrived raises a :class:`FetchError`. Redirects are
    followed by hand so each hop is checked; a 303, or a 301/302 after a POST,
    becomes a GET as browsers do.
    """
    deadline = time.monotonic() + limits.timeout
    history: list[str] = []
    request_headers = {
        "User-Agent": limits.user_agent,
        "Accept-Encoding": "identity",
        "Accept": "text/html, application/xhtml+xml;q=0.9, */*;q=0.5",
    }
    request_headers.update(headers or {})
    with _session(limits.allow_private) as session:
        while True:
            if not is_http_url(url):
                raise UnsupportedURL(f"{url!r} is not an http(s) URL", url=url)
            response = _send(session, method, url, request_headers, data, deadline)
            with response:
                location = response.headers.get("Location")
                if not (follow_redirects and response.status_code in REDIRECT_STATUSES and location):
                    content = _read_body(response, url, limits.max_bytes, deadline)
                    return FetchResult(
                        url=url,
                        status=response.status_code,
                        headers=CaseInsensitiveDict(response.headers),
                        content=content,
                        history=tuple(history),
                    )
            if len(history) >= limits.max_redirects:
                raise TooManyRedirects(f"more than {limits.max_redirects} redirects", url=url)
            history.append(url)
            url = urljoin(url, location.strip())
            if response.status_code == 303 or (response.status_code in (301, 302) and method == "POST"):
                method, data = "GET", None
                request_headers.pop("Content-Type", None)


def _send(
    session: requests.Session,
    method: str,
    url: str,
    headers: Mapping[str, str],
    data: object,
    deadline: float,
) -> requests.Response:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise FetchTimeout("time limit reached", url=url)
    try:
        return session.request(
            method,
            url,
            headers=dict(headers),
            data=data,
            timeout=(remaining, remaining),
            allow_redirects=False,
            stream=True,
        )
    except FetchError as error:
        error.url = error.url or url
        raise
    except (requests.Timeout, ConnectTimeoutError) as error:
        raise FetchTimeout(f"timed out: {_cause(error)}", url=url) from None
    except requests.ConnectionError as error:
        raise ConnectFailed(f"could not connect: {_cause(error)}", url=url) from None
    except (requests.RequestException, ValueError) as error:
        raise FetchError(f"request failed: {error}", url=url) from None


def _read_body(response: requests.Response, url: str, max_bytes: int, deadline: float) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise TooLarge(f"the body is {declared} bytes, more than the {max_bytes} allowed", url=url)
    body = bytearray()
    try:
        while True:
            # read1 returns what one recv brings, so a trickling server cannot
            # hold us past the deadline by filling a large buffer slowly.
            chunk = response.raw.read1(_CHUNK)
            if not chunk:
                return bytes(body)
            body += chunk
            if len(body) > max_bytes:
                raise TooLarge(f"the body is larger than the {max_bytes} bytes allowed", url=url)
            if time.monotonic() > deadline:
                raise FetchTimeout("the body took longer than the time limit", url=url)
    except FetchError:
        raise
    except (OSError, requests.RequestException) as error:
        if "timed out" in str(error).lower():
            raise FetchTimeout("reading the body timed out", url=url) from None
        raise ConnectFailed(f"the connection broke: {error}", url=url) from None
    except Exception as error:  # urllib3 protocol and decoding errors
        raise FetchError(f"could not read the body: {error}", url=url) from None


def _cause(error: BaseException) -> str:
    """The innermost reason urllib3 wrapped, which names the actual problem."""
    while error.args and isinstance(error.args[0], BaseException):
        error = error.args[0]
    reason = getattr(error, "reason", None)
    return str(reason if isinstance(reason, BaseException) else error)


class _PolicyConnectionMixin:
    """Resolve the host ourselves, refuse what the policy forbids, connect to a vetted address."""

    allow_private = False
    host: str
    port: int
    timeout: float | None
    source_address: tuple[str, int] | None
    socket_options: list[tuple[int, int, int | bytes]] | None

    def _new_conn(self) -> socket.socket:
        host = self._dns_host  # type: ignore[attr-defined]
        try:
            infos = socket.getaddrinfo(host, self.port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as error:
            raise NameResolutionError(self.host, self, error) from error  # type: ignore[arg-type]
        allowed = [info for info in infos if address_allowed(info[4][0].split("%", 1)[0], self.allow_private)]
        if not allowed:
            addresses = ", ".join(sorted({info[4][0] for info in infos}))
            raise AddressRefused(f"{self.host} resolves to a non-public address ({addresses}); refused")
        last_error: OSError | None = None
        for family, socktype, proto, _name, sockaddr in allowed:
            sock = socket.socket(family, socktype, proto)
            try:
                for option in self.socket_options or ():
                    sock.setsockopt(*option)
                if self.timeout is not None:
                    sock.settimeout(self.timeout)
                if self.source_address:
                    sock.bind(self.source_address)
                sock.connect(sockaddr)
                return sock
            except TimeoutError as error:
                sock.close()
                raise ConnectTimeoutError(self, f"connecting to {self.host} timed out") from error
            except OSError as error:
                sock.close()
                last_error = error
        raise NewConnectionError(self, f"Failed to establish a new connection: {last_error}")  # type: ignore[arg-type]


@cache
def _pool_classes(allow_private: bool) -> dict[str, type[HTTPConnectionPool]]:
    http_conn = type("PolicyHTTPConnection", (_PolicyConnectionMixin, HTTPConnection), {"allow_private": allow_private})
    https_conn = type(
        "PolicyHTTPSConnection", (_PolicyConnectionMixin, HTTPSConnection), {"allow_private": allow_private}
    )
    http_pool = type("PolicyHTTPConnectionPool", (HTTPConnectionPool,), {"ConnectionCls": http_conn})
    https_pool = type("PolicyHTTPSConnectionPool", (HTTPSConnectionPool,), {"ConnectionCls": https_conn})
    return {"http": http_pool, "https": https_pool}


class _PolicyAdapter(HTTPAdapter):
    def __init__(self, allow_private: bool) -> None:
        self._allow_private = allow_private
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args: object, **kwargs: object) -> None:
        super().init_poolmanager(*args, **kwargs)  # type: ignore[arg-type]
        self.poolmanager.pool_classes_by_scheme = _pool_classes(self._allow_private)


def _session(allow_private: bool) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no proxies or netrc from the environment
    adapter = _PolicyAdapter(allow_private)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session

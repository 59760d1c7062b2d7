"""The one safe HTTP fetcher every remote request goes through.

A linkback endpoint makes the server fetch URLs that strangers name, so each
fetch is bounded: a total time limit (name resolution included), a byte cap, a redirect cap, and no
connection to private, loopback, link-local or otherwise non-public addresses
unless ``allow_private`` is set. The address check runs on the resolved IP of
every connection, including each redirect hop, and the socket connects to the
very address that was checked, so DNS rebinding cannot slip past it.
"""

from __future__ import annotations

import contextlib
import heapq
import ipaddress
import itertools
import os
import re
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Self
from urllib.parse import urlencode, urljoin

from requests.certs import where as ca_bundle  # type: ignore[attr-defined]  # not in the stubs
from requests.structures import CaseInsensitiveDict
from urllib3 import BaseHTTPResponse, PoolManager, Timeout
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

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
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"  # noqa: S105 - an HTTP token (RFC 9110), no secret
_PARAM = rf'\s*;\s*({_TOKEN})(?:\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s;,"]*)))?'
_LINK_VALUE = re.compile(rf"<([^>]*)>((?:{_PARAM})*)")
_LINK_PARAM = re.compile(_PARAM)

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
        wanted = rel.lower()
        return [
            urljoin(self.url, target.strip())
            for target, params in _parse_link_header(self.headers.get("Link", ""))
            if wanted in params.get("rel", "").lower().split()
        ]


def _parse_link_header(value: str) -> Iterator[tuple[str, dict[str, str]]]:
    """(target, params) per link of an RFC 8288 ``Link`` value; param names lower-cased.

    Written out because ``requests.utils.parse_header_links`` splits on ";"
    inside ``<...>``, stops at a quoted "=" and reads links out of quoted titles.
    """
    for link in _LINK_VALUE.finditer(value):
        params: dict[str, str] = {}
        for name, quoted, bare in _LINK_PARAM.findall(link.group(2)):
            text = re.sub(r"\\(.)", r"\1", quoted) if quoted else bare
            params.setdefault(name.lower(), text)  # RFC 8288: only the first rel counts
        yield link.group(1), params


def is_public_address(address: str | IPAddress) -> bool:
    """True if ``address`` is a globally routable unicast address.

    Private (10/8, 172.16/12, 192.168/16, fc00::/7), loopback, link-local
    (169.254/16, fe80::/10), shared (100.64/10), multicast, reserved and
    unspecified addresses are not public, nor is deprecated site-local
    (fec0::/10); IPv6 forms that embed an IPv4 address (mapped, 6to4, NAT64)
    are judged by the address they embed.
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
        if ip.is_site_local:  # is_global says True for fec0::/10
            return False
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
    body = _encode_body(data, request_headers)
    pools = _pool_manager(limits.allow_private)
    with _Watchdog(deadline) as watchdog:
        try:
            while True:
                if not is_http_url(url):
                    raise UnsupportedURL(f"{url!r} is not an http(s) URL", url=url)
                response = _send(pools, method, url, request_headers, body, deadline)
                with response:
                    location = response.headers.get("Location")
                    redirect = response.status in REDIRECT_STATUSES and location
                    if not (follow_redirects and redirect):
                        content = _read_body(response, url, limits.max_bytes, deadline)
                        if watchdog.fired:  # the "end" of the body was the watchdog's cut
                            raise FetchTimeout("time limit reached", url=url)
                        return FetchResult(
                            url=url,
                            status=response.status,
                            headers=CaseInsensitiveDict(response.headers),
                            content=content,
                            history=tuple(history),
                        )
                if len(history) >= limits.max_redirects:
                    raise TooManyRedirects(f"more than {limits.max_redirects} redirects", url=url)
                history.append(url)
                url = urljoin(url, (location or "").strip())
                status = response.status
                if status == 303 or (status in (301, 302) and method == "POST"):
                    method, body = "GET", None
                    request_headers.pop("Content-Type", None)
        except FetchError as error:
            if watchdog.fired and not isinstance(error, FetchTimeout):
                raise FetchTimeout("time limit reached", url=error.url) from None
            raise


def _encode_body(
    data: Mapping[str, str] | bytes | str | None, headers: dict[str, str]
) -> bytes | None:
    """The request body as bytes; a mapping is sent as a form, as browsers do."""
    if data is None or isinstance(data, bytes):
        return data
    if isinstance(data, str):
        return data.encode("utf-8")
    if not any(name.lower() == "content-type" for name in headers):
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    return urlencode(data, doseq=True).encode("ascii")


def _send(
    pools: PoolManager,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | None,
    deadline: float,
) -> BaseHTTPResponse:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise FetchTimeout("time limit reached", url=url)
    try:
        return pools.urlopen(
            method,
            url,
            body=body,
            headers=dict(headers),
            timeout=Timeout(connect=remaining, read=remaining),
            redirect=False,
            retries=False,
            preload_content=False,
            decode_content=False,
        )
    except FetchError as error:
        error.url = error.url or url
        raise
    except NewConnectionError as error:  # a subclass of ConnectTimeoutError, but a refusal
        raise ConnectFailed(f"could not connect: {_cause(error)}", url=url) from None
    except (ConnectTimeoutError, ReadTimeoutError, TimeoutError) as error:
        raise FetchTimeout(f"timed out: {_cause(error)}", url=url) from None
    except (ProtocolError, SSLError, OSError) as error:
        raise ConnectFailed(f"could not connect: {_cause(error)}", url=url) from None
    except (HTTPError, ValueError, UnicodeError) as error:
        raise FetchError(f"request failed: {error}", url=url) from None


def _read_body(response: BaseHTTPResponse, url: str, max_bytes: int, deadline: float) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise TooLarge(f"the body is {declared} bytes, more than the {max_bytes} allowed", url=url)
    body = bytearray()
    try:
        while True:
            # read1 returns what one recv brings, so a trickling server cannot
            # hold us past the deadline by filling a large buffer slowly.
            chunk = response.read1(_CHUNK)
            if not chunk:
                return bytes(body)
            body += chunk
            if len(body) > max_bytes:
                raise TooLarge(f"the body is larger than the {max_bytes} bytes allowed", url=url)
            if time.monotonic() > deadline:
                raise FetchTimeout("the body took longer than the time limit", url=url)
    except FetchError:
        raise
    except ReadTimeoutError:  # urllib3 wraps the socket timeout in its own, non-OSError class
        raise FetchTimeout("reading the body timed out", url=url) from None
    except OSError as error:
        if "timed out" in str(error).lower():
            raise FetchTimeout("reading the body timed out", url=url) from None
        raise ConnectFailed(f"the connection broke: {error}", url=url) from None
    except Exception as error:  # noqa: BLE001 - urllib3 protocol and decoding errors
        raise FetchError(f"could not read the body: {error}", url=url) from None


def _cause(error: BaseException) -> str:
    """The innermost reason urllib3 wrapped, which names the actual problem."""
    while error.args and isinstance(error.args[0], BaseException):
        error = error.args[0]
    reason = getattr(error, "reason", None)
    return str(reason if isinstance(reason, BaseException) else error)


_WATCHDOG: ContextVar[_Watchdog | None] = ContextVar("flask_linkback_fetch_watchdog", default=None)


class _Watchdog:
    """Cuts one fetch's connections at its deadline.

    Socket timeouts bound each ``recv``, not the whole fetch: a server that
    trickles header lines a byte at a time would otherwise hold the request
    for as long as it likes. Connections register themselves (through a
    context variable) when they send a request; at the deadline the shared
    :class:`_Deadlines` thread shuts their sockets down, which makes the
    blocked read return at once.
    """

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.fired = False
        self._connections: list[HTTPConnection] = []
        self._lock = threading.Lock()
        self._done = False

    def watch(self, connection: HTTPConnection) -> None:
        with self._lock:
            if connection not in self._connections:
                self._connections.append(connection)

    def fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.fired = True
            for connection in self._connections:
                sock = connection.sock
                if sock is not None:
                    # The plain socket's shutdown, so an SSL socket keeps its state;
                    # OSError: already closed.
                    with contextlib.suppress(OSError):
                        socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def __enter__(self) -> Self:
        self._token = _WATCHDOG.set(self)
        _DEADLINES.add(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        with self._lock:
            self._done = True
            self._connections.clear()
        _DEADLINES.discard(self)
        _WATCHDOG.reset(self._token)


class _Deadlines:
    """One thread for the deadlines of every fetch in the process.

    A thread per fetch (``threading.Timer``) cost a thread start per request,
    which under load waits for the interpreter lock each time. Here the
    pending deadlines sit in a heap; the thread sleeps on a condition until
    the earliest one, and fires the watchdogs whose deadline has passed. A
    finished fetch is only marked: its heap entry is dropped when it comes up
    (or all at once when most of the heap is finished fetches).
    """

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)  # the thread does not survive a fork

    def _reset(self) -> None:
        self._condition = threading.Condition(threading.Lock())
        self._heap: list[tuple[float, int, _Watchdog]] = []
        self._live: set[_Watchdog] = set()
        self._sequence = itertools.count()
        self._thread: threading.Thread | None = None

    def add(self, watchdog: _Watchdog) -> None:
        with self._condition:
            entry = (watchdog.deadline, next(self._sequence), watchdog)
            heapq.heappush(self._heap, entry)
            self._live.add(watchdog)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="linkback-fetch-deadlines",
                                                daemon=True)
                self._thread.start()
            elif self._heap[0] is entry:  # the thread sleeps until a later deadline
                self._condition.notify()

    def discard(self, watchdog: _Watchdog) -> None:
        with self._condition:
            self._live.discard(watchdog)
            if len(self._heap) > 64 and len(self._live) < len(self._heap) // 4:
                self._heap = [entry for entry in self._heap if entry[2] in self._live]
                heapq.heapify(self._heap)

    def _run(self) -> None:
        while True:
            with self._condition:
                due: list[_Watchdog] = []
                now = time.monotonic()
                while self._heap and self._heap[0][0] <= now:
                    watchdog = heapq.heappop(self._heap)[2]
                    if watchdog in self._live:
                        self._live.discard(watchdog)
                        due.append(watchdog)
                if not due:
                    self._condition.wait(self._heap[0][0] - now if self._heap else None)
                    continue
            for watchdog in due:  # outside the lock: fire takes the fetch's own lock
                watchdog.fire()


_DEADLINES = _Deadlines()


AddrInfo = tuple[socket.AddressFamily, socket.SocketKind, int, str, tuple[Any, ...]]


class _Resolver:
    """Name resolution inside the fetch's deadline.

    ``getaddrinfo`` blocks for as long as the DNS servers take (the system
    resolver retries for 10 s and more) and cannot be interrupted, so it runs
    on a small shared pool and the fetch waits for it only until its deadline:
    a name on a slow DNS server costs a fetch its time limit, not a thread for
    as long as the server likes. The pool is bounded, and so is each wait.
    """

    THREADS = 16

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)  # pool threads do not survive a fork

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    def resolve(self, host: str, port: int) -> list[AddrInfo]:
        watchdog = _WATCHDOG.get()
        if watchdog is None or _is_ip_literal(host):  # no deadline to keep, or no DNS to ask
            return _getaddrinfo(host, port)
        remaining = watchdog.deadline - time.monotonic()
        if remaining <= 0:
            raise FetchTimeout("time limit reached")
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.THREADS, thread_name_prefix="linkback-resolve")
            pool = self._pool
        future = pool.submit(_getaddrinfo, host, port)
        try:
            return future.result(timeout=remaining)
        except FutureTimeout:
            future.cancel()  # still queued: never run it
            raise FetchTimeout(f"resolving {host} took longer than the time limit") from None


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def _getaddrinfo(host: str, port: int) -> list[AddrInfo]:
    # socket.getaddrinfo looked up at each call, so a test can stand in for DNS.
    return list(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))


_RESOLVER = _Resolver()


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
            infos = _RESOLVER.resolve(host, self.port)
        except (socket.gaierror, UnicodeError) as error:
            raise NameResolutionError(self.host, self, error) from error  # type: ignore[arg-type]
        allowed = [info for info in infos
                   if address_allowed(info[4][0].split("%", 1)[0], self.allow_private)]
        if not allowed:
            # Which addresses a name resolves to is this network's business, not the sender's.
            raise AddressRefused(f"{self.host} is not a public address; refused")
        watchdog = _WATCHDOG.get()
        if watchdog is not None:
            watchdog.watch(self)  # type: ignore[arg-type]
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

    def request(self, *args: Any, **kwargs: Any) -> None:
        # A pooled connection serves several fetches: each one watches it while it uses it.
        watchdog = _WATCHDOG.get()
        if watchdog is not None:
            watchdog.watch(self)  # type: ignore[arg-type]
        super().request(*args, **kwargs)  # type: ignore[misc]


@cache
def _pool_classes(allow_private: bool) -> dict[str, type[HTTPConnectionPool]]:
    policy = {"allow_private": allow_private}
    http_conn = type("PolicyHTTPConnection", (_PolicyConnectionMixin, HTTPConnection), policy)
    https_conn = type(
        "PolicyHTTPSConnection", (_PolicyConnectionMixin, HTTPSConnection), policy
    )
    http_pool = type("PolicyHTTPConnectionPool", (HTTPConnectionPool,),
                     {"ConnectionCls": http_conn})
    https_pool = type(
        "PolicyHTTPSConnectionPool", (HTTPSConnectionPool,), {"ConnectionCls": https_conn}
    )
    return {"http": http_pool, "https": https_pool}


#: A pooled connection idle longer than this is closed rather than reused: servers drop idle
#: keep-alive connections after a few seconds (Apache: 5 s), and a request sent on a connection
#: the server is closing fails.
KEEP_ALIVE_SECONDS = 2.0
_POOLS = threading.local()


def _pool_manager(allow_private: bool) -> PoolManager:
    """This thread's connection pools for this address policy, built once and reused.

    urllib3 directly, not a requests session: the session's request
    preparation, settings merging and cookie handling cost more CPU than the
    HTTP itself, and :func:`fetch` does its own redirects, limits and errors.
    Kept pools keep connections alive, so a discovery GET and the ping POST
    to the same host:port share one. One set of pools per policy, so a
    connection opened under ``allow_private`` is never reused by a fetch
    without it (the policy is checked when a connection opens). No cookies
    are kept, and proxies and netrc from the environment are not used.
    """
    managers: dict[bool, tuple[PoolManager, float]] | None = getattr(_POOLS, "by_policy", None)
    if managers is None:
        managers = _POOLS.by_policy = {}
    now = time.monotonic()
    manager, last_used = managers.get(allow_private, (None, now))
    if manager is None:
        manager = PoolManager(
            num_pools=4, maxsize=1, block=False, cert_reqs="CERT_REQUIRED", ca_certs=ca_bundle()
        )
        manager.pool_classes_by_scheme = _pool_classes(allow_private)
    elif now - last_used > KEEP_ALIVE_SECONDS:
        manager.clear()  # closes the idle connections; pools reopen on demand
    managers[allow_private] = (manager, now)
    return manager

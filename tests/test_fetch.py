"""The bounded fetcher, against real HTTP servers on the loopback interface.

Every connection these tests open goes to 127.0.0.1 or ::1. The private-range
policy is tested on ``is_public_address``/``address_allowed`` directly, and
end to end only with loopback spellings, which the default policy refuses.
"""

from __future__ import annotations

import ipaddress
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

import flask_linkback.fetch as fetch_module
from flask_linkback.fetch import (
    AddressRefused,
    ConnectFailed,
    FetchError,
    FetchLimits,
    FetchResult,
    FetchTimeout,
    TooLarge,
    TooManyRedirects,
    UnsupportedURL,
    address_allowed,
    fetch,
    is_public_address,
)
from flask_linkback.html import Document

LOCAL = FetchLimits(timeout=5.0, allow_private=True)
# Generous: the fetch must give up at ~1 s; this only catches a fetch that does not give up.
GIVE_UP_BOUND = 5.0
# Servers that stream or trickle stop on their own after this, so a regression fails, not hangs.
SERVER_SAFETY_CAP = 15.0


# --- a local HTTP server -----------------------------------------------------------------------


@dataclass
class Recorded:
    method: str
    path: str
    headers: Message
    body: bytes


Route = Callable[["Handler"], None]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: LocalHTTPServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.requests.append(Recorded(self.command, self.path, self.headers, body))
        route = self.server.routes.get(urlsplit(self.path).path)
        try:
            if route is None:
                reply(self, 404, b"no such route")
            else:
                route(self)
        except OSError:  # the client hung up (the point of several tests)
            self.close_connection = True

    do_GET = do_POST = do_HEAD = do_PUT = dispatch


class LocalHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str, family: socket.AddressFamily) -> None:
        self.address_family = family
        self.routes: dict[str, Route] = {}
        self.requests: list[Recorded] = []
        self.stop = threading.Event()
        super().__init__((host, 0), Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind would call getfqdn(), a reverse lookup we don't want.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "localhost", self.server_address[1]

    def handle_error(self, request: object, client_address: object) -> None:
        # Clients hanging up mid-request is what several tests provoke; anything else is shown.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]

    def serving_for(self, seconds: float) -> bool:
        """Wait a little; False once the test is over or the safety cap has passed."""
        return not self.stop.wait(seconds)


class Site:
    """A running server: register routes, build URLs, look at what it received."""

    def __init__(self, server: LocalHTTPServer, host_in_url: str) -> None:
        self.server = server
        self.port = server.server_address[1]
        self.origin = f"http://{host_in_url}:{self.port}"

    def url(self, path: str = "/") -> str:
        return f"{self.origin}{path}"

    def route(self, path: str) -> Callable[[Route], Route]:
        def register(handler: Route) -> Route:
            self.server.routes[path] = handler
            return handler

        return register

    @property
    def requests(self) -> list[Recorded]:
        return self.server.requests


def reply(
    handler: Handler,
    status: int = 200,
    body: bytes = b"",
    headers: list[tuple[str, str]] | None = None,
) -> None:
    handler.send_response(status)
    for name, value in headers or []:
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(body)


def redirect(status: int, location: str) -> Route:
    return lambda handler: reply(handler, status, b"moved", [("Location", location)])


def run_site(host: str, family: socket.AddressFamily, host_in_url: str) -> Iterator[Site]:
    server = LocalHTTPServer(host, family)
    deadline_guard = threading.Timer(SERVER_SAFETY_CAP, server.stop.set)
    deadline_guard.daemon = True
    deadline_guard.start()
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield Site(server, host_in_url)
    finally:
        server.stop.set()
        deadline_guard.cancel()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def site() -> Iterator[Site]:
    yield from run_site("127.0.0.1", socket.AF_INET, "127.0.0.1")


@pytest.fixture
def other_site() -> Iterator[Site]:
    yield from run_site("127.0.0.1", socket.AF_INET, "127.0.0.1")


@pytest.fixture
def site6() -> Iterator[Site]:
    try:
        probe = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        probe.bind(("::1", 0))
        probe.close()
    except OSError as error:
        pytest.skip(f"IPv6 loopback unavailable: {error}")
    yield from run_site("::1", socket.AF_INET6, "[::1]")


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, noted, released)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def timed_fetch(
    url: str, limits: FetchLimits, **kwargs: object
) -> tuple[FetchResult | FetchError, float]:
    """Fetch and return the result or the FetchError raised, with the elapsed seconds."""
    start = time.monotonic()
    try:
        outcome: FetchResult | FetchError = fetch(url, limits, **kwargs)  # type: ignore[arg-type]
    except FetchError as error:
        outcome = error
    return outcome, time.monotonic() - start


# --- successful fetches ------------------------------------------------------------------------


def test_200_returns_body_status_headers_encoding_and_content_type(site: Site) -> None:
    page = "<html><head><title>Caf\u00e9 cr\u00e8me</title></head><body>ok</body></html>"

    @site.route("/page")
    def _(handler: Handler) -> None:
        reply(
            handler,
            200,
            page.encode("iso-8859-1"),
            [("Content-Type", 'Text/HTML; Charset="ISO-8859-1"'), ("X-Extra", "yes")],
        )

    result = fetch(site.url("/page"), LOCAL)

    assert result.status == 200 and result.ok
    assert result.url == site.url("/page")
    assert result.history == ()
    assert result.content == page.encode("iso-8859-1")
    assert result.content_type == "text/html"
    assert result.encoding == "ISO-8859-1"
    assert result.headers["x-extra"] == "yes"
    assert Document(result.content, result.url, result.encoding).title == "Caf\u00e9 cr\u00e8me"


@pytest.mark.parametrize(
    ("content_type", "media_type", "charset"),
    [
        ("text/html", "text/html", None),
        ("text/html; charset=utf-8", "text/html", "utf-8"),
        ("application/xhtml+xml;charset='Shift_JIS'", "application/xhtml+xml", "Shift_JIS"),
        ("text/plain; format=flowed; charset=us-ascii", "text/plain", "us-ascii"),
        ("text/html; charset=", "text/html", None),
        (None, "", None),
    ],
)
def test_content_type_and_encoding_are_read_from_the_header(
    site: Site, content_type: str | None, media_type: str, charset: str | None
) -> None:
    site.route("/typed")(
        lambda h: reply(h, 200, b"x", [("Content-Type", content_type)] if content_type else [])
    )

    result = fetch(site.url("/typed"), LOCAL)

    assert result.content_type == media_type
    assert result.encoding == charset


@pytest.mark.parametrize(
    ("status", "body"), [(404, b"Not here"), (410, b"Gone"), (500, b"Oops, server error")]
)
def test_error_statuses_are_returned_as_results_not_raised(
    site: Site, status: int, body: bytes
) -> None:
    site.route("/err")(lambda h: reply(h, status, body))

    result = fetch(site.url("/err"), LOCAL)

    assert result.status == status
    assert not result.ok
    assert result.content == body


def test_head_request_returns_headers_without_a_body(site: Site) -> None:
    site.route("/head")(
        lambda h: reply(h, 200, b"a body HEAD must not return", [("Content-Type", "text/html")])
    )

    result = fetch(site.url("/head"), LOCAL, method="HEAD")

    assert result.status == 200
    assert result.content == b""
    assert site.requests[-1].method == "HEAD"


def test_post_sends_form_data_and_caller_headers(site: Site) -> None:
    site.route("/xmlrpc")(lambda h: reply(h, 200, b"<methodResponse/>"))

    fetch(
        site.url("/xmlrpc"),
        LOCAL,
        method="POST",
        data={"source": "http://a.example/", "target": "http://b.example/"},
        headers={"X-Caller": "pingback"},
    )

    (request,) = site.requests
    assert request.method == "POST"
    assert request.body == b"source=http%3A%2F%2Fa.example%2F&target=http%3A%2F%2Fb.example%2F"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.headers["X-Caller"] == "pingback"


@pytest.mark.parametrize(
    "user_agent", [FetchLimits().user_agent, "MyBlog/2.0 (+http://blog.example/)"]
)
def test_user_agent_header_is_the_one_in_the_limits(site: Site, user_agent: str) -> None:
    site.route("/ua")(lambda h: reply(h, 200, b"ok"))

    fetch(site.url("/ua"), FetchLimits(allow_private=True, user_agent=user_agent))

    (request,) = site.requests
    assert request.headers["User-Agent"] == user_agent
    assert request.headers["Accept-Encoding"] == "identity"


# --- redirects ---------------------------------------------------------------------------------


def test_redirect_to_relative_location_is_followed(site: Site) -> None:
    site.route("/old/post")(redirect(301, "../new/post?x=1"))
    site.route("/new/post")(lambda h: reply(h, 200, b"the new page"))

    result = fetch(site.url("/old/post"), LOCAL)

    assert result.status == 200
    assert result.content == b"the new page"
    assert result.url == site.url("/new/post?x=1")
    assert result.history == (site.url("/old/post"),)


def test_every_hop_of_a_redirect_chain_is_recorded(site: Site, other_site: Site) -> None:
    site.route("/a")(redirect(302, "/b"))
    site.route("/b")(redirect(307, other_site.url("/c")))
    other_site.route("/c")(redirect(308, "/d"))
    other_site.route("/d")(lambda h: reply(h, 200, b"end"))

    result = fetch(site.url("/a"), LOCAL)

    assert result.content == b"end"
    assert result.url == other_site.url("/d")
    assert result.history == (site.url("/a"), site.url("/b"), other_site.url("/c"))
    assert [r.path for r in site.requests] == ["/a", "/b"]
    assert [r.path for r in other_site.requests] == ["/c", "/d"]


def test_the_address_policy_is_applied_again_on_a_redirect_to_another_host(
    site: Site, other_site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Both servers are loopback; a stand-in policy admits the first connection only,
    # so the redirect's new connection must be refused if every hop is checked.
    checked: list[str] = []

    def first_connection_only(address: str, allow_private: bool) -> bool:
        checked.append(address)
        return len(checked) == 1

    monkeypatch.setattr(fetch_module, "address_allowed", first_connection_only)
    site.route("/start")(redirect(302, other_site.url("/elsewhere")))
    other_site.route("/elsewhere")(lambda h: reply(h, 200, b"should not be reached"))

    with pytest.raises(AddressRefused) as refused:
        fetch(site.url("/start"), LOCAL)

    assert refused.value.url == other_site.url("/elsewhere")
    assert checked == ["127.0.0.1", "127.0.0.1"]
    assert [r.path for r in site.requests] == ["/start"]
    assert other_site.requests == []


@pytest.mark.parametrize(
    ("status", "method_after", "body_after"),
    [
        (301, "GET", b""),
        (302, "GET", b""),
        (303, "GET", b""),
        (307, "POST", b"a=1"),
        (308, "POST", b"a=1"),
    ],
)
def test_post_redirect_becomes_get_except_for_307_and_308(
    site: Site, status: int, method_after: str, body_after: bytes
) -> None:
    site.route("/form")(redirect(status, "/result"))
    site.route("/result")(lambda h: reply(h, 200, h.command.encode()))

    result = fetch(site.url("/form"), LOCAL, method="POST", data={"a": "1"})

    assert result.content == method_after.encode()
    first, second = site.requests
    assert (first.method, first.body) == ("POST", b"a=1")
    assert (second.method, second.body) == (method_after, body_after)
    if method_after == "GET":
        assert second.headers["Content-Type"] is None


def test_303_after_post_drops_the_callers_content_type(site: Site) -> None:
    site.route("/rpc")(redirect(303, "/done"))
    site.route("/done")(lambda h: reply(h, 200, b"done"))

    fetch(
        site.url("/rpc"), LOCAL, method="POST", data=b"<xml/>", headers={"Content-Type": "text/xml"}
    )

    first, second = site.requests
    assert first.headers["Content-Type"] == "text/xml"
    assert second.method == "GET"
    assert second.headers["Content-Type"] is None
    assert second.body == b""


def chain(site: Site, hops: int) -> None:
    """/hop/N redirects to /hop/N-1 ... /hop/0 answers 200."""
    for n in range(1, hops + 1):
        site.route(f"/hop/{n}")(redirect(302, f"/hop/{n - 1}"))
    site.route("/hop/0")(lambda h: reply(h, 200, b"arrived"))


def test_a_chain_as_long_as_max_redirects_is_followed(site: Site) -> None:
    chain(site, 3)

    result = fetch(site.url("/hop/3"), FetchLimits(allow_private=True, max_redirects=3))

    assert result.content == b"arrived"
    assert len(result.history) == 3


def test_more_redirects_than_max_redirects_raises(site: Site) -> None:
    chain(site, 3)

    with pytest.raises(TooManyRedirects):
        fetch(site.url("/hop/3"), FetchLimits(allow_private=True, max_redirects=2))

    assert [r.path for r in site.requests] == ["/hop/3", "/hop/2", "/hop/1"]


def test_a_redirect_loop_raises_too_many_redirects(site: Site) -> None:
    site.route("/loop")(redirect(302, "/loop"))

    with pytest.raises(TooManyRedirects):
        fetch(site.url("/loop"), FetchLimits(allow_private=True, max_redirects=5))

    assert len(site.requests) == 6


def test_max_redirects_zero_refuses_any_redirect(site: Site) -> None:
    chain(site, 1)
    with pytest.raises(TooManyRedirects):
        fetch(site.url("/hop/1"), FetchLimits(allow_private=True, max_redirects=0))


def test_follow_redirects_false_returns_the_redirect_itself(site: Site) -> None:
    site.route("/moved")(redirect(301, "/target"))
    site.route("/target")(lambda h: reply(h, 200, b"target"))

    result = fetch(site.url("/moved"), LOCAL, follow_redirects=False)

    assert result.status == 301
    assert result.headers["Location"] == "/target"
    assert result.content == b"moved"
    assert result.history == ()
    assert [r.path for r in site.requests] == ["/moved"]


def test_a_redirect_without_location_is_returned_as_is(site: Site) -> None:
    site.route("/nowhere")(lambda h: reply(h, 302, b"no location"))

    result = fetch(site.url("/nowhere"), LOCAL)

    assert result.status == 302
    assert result.content == b"no location"


@pytest.mark.parametrize(
    "location", ["javascript:alert(1)", "file:///etc/passwd", "ftp://127.0.0.1/x"]
)
def test_a_redirect_to_a_non_http_url_raises_unsupported(site: Site, location: str) -> None:
    site.route("/jump")(redirect(302, location))

    with pytest.raises(UnsupportedURL) as error:
        fetch(site.url("/jump"), LOCAL)

    assert error.value.url == location


def test_the_time_limit_covers_the_whole_redirect_chain(site: Site) -> None:
    # Each hop alone answers well within the limit; together they exceed it.
    def slow_hop(next_path: str) -> Route:
        def answer(handler: Handler) -> None:
            handler.server.serving_for(0.4)
            reply(handler, 302, b"", [("Location", next_path)])

        return answer

    for n in range(1, 6):
        site.route(f"/slow/{n}")(slow_hop(f"/slow/{n + 1}"))
    site.route("/slow/6")(lambda h: reply(h, 200, b"too late"))

    outcome, elapsed = timed_fetch(
        site.url("/slow/1"), FetchLimits(allow_private=True, timeout=1.0)
    )

    assert isinstance(outcome, FetchTimeout)
    assert elapsed < GIVE_UP_BOUND


# --- Link headers ------------------------------------------------------------------------------


def test_link_header_urls_reads_several_headers_and_links_resolved_after_redirect(
    site: Site,
) -> None:
    site.route("/post")(redirect(301, "/2024/post/"))

    @site.route("/2024/post/")
    def _(handler: Handler) -> None:
        reply(
            handler,
            200,
            b"page",
            [
                ("Link", '<https://hub.example/wm>; rel="webmention"'),
                (
                    "Link",
                    '<endpoint?x=1&y=2>; rel="other webmention", </style.css>; rel=stylesheet',
                ),
                ("link", "</absolute-path>; REL=WebMention"),
                (
                    "Link",
                    '<http://x.example/a;b,c>; title="A, <http://evil.example/>; rel=webmention"; '
                    "rel=webmention",
                ),
                ("Link", '<http://x.example/t>; title="a=b"; rel="webmention"'),
                ("Link", '<http://x.example/not>; rel="webmentions"'),
                ("Link", '<http://x.example/first-rel-wins>; rel="me"; rel="webmention"'),
            ],
        )

    result = fetch(site.url("/post"), LOCAL)

    assert result.url == site.url("/2024/post/")
    assert result.link_header_urls("webmention") == [
        "https://hub.example/wm",
        site.url("/2024/post/endpoint?x=1&y=2"),
        site.url("/absolute-path"),
        "http://x.example/a;b,c",
        "http://x.example/t",
    ]
    assert result.link_header_urls("WEBMENTION") == result.link_header_urls("webmention")
    assert result.link_header_urls("stylesheet") == [site.url("/style.css")]
    assert result.link_header_urls("me") == ["http://x.example/first-rel-wins"]


def test_link_header_urls_is_empty_without_a_matching_link(site: Site) -> None:
    site.route("/none")(lambda h: reply(h, 200, b"x"))
    site.route("/other")(lambda h: reply(h, 200, b"x", [("Link", "</s.css>; rel=stylesheet")]))

    assert fetch(site.url("/none"), LOCAL).link_header_urls("webmention") == []
    assert fetch(site.url("/other"), LOCAL).link_header_urls("webmention") == []


# --- the byte cap ------------------------------------------------------------------------------


def test_body_of_exactly_max_bytes_is_accepted(site: Site) -> None:
    site.route("/exact")(lambda h: reply(h, 200, b"x" * 1000))

    result = fetch(site.url("/exact"), FetchLimits(allow_private=True, max_bytes=1000))

    assert len(result.content) == 1000


def test_declared_content_length_over_the_cap_raises_too_large_before_reading(site: Site) -> None:
    @site.route("/declared")
    def _(handler: Handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(50_000_000))
        handler.end_headers()
        handler.wfile.write(b"only the start")
        handler.server.serving_for(SERVER_SAFETY_CAP)  # never sends the rest

    outcome, elapsed = timed_fetch(
        site.url("/declared"), FetchLimits(allow_private=True, max_bytes=1000)
    )

    assert isinstance(outcome, TooLarge)
    assert outcome.url == site.url("/declared")
    assert elapsed < GIVE_UP_BOUND


def test_content_length_one_over_the_cap_raises_too_large(site: Site) -> None:
    site.route("/plus1")(lambda h: reply(h, 200, b"x" * 1001))
    with pytest.raises(TooLarge):
        fetch(site.url("/plus1"), FetchLimits(allow_private=True, max_bytes=1000))


def send_chunked(handler: Handler, total: int, piece: int = 1000) -> None:
    handler.send_response(200)
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    sent = 0
    while sent < total:
        size = min(piece, total - sent)
        handler.wfile.write(b"%x\r\n%s\r\n" % (size, b"y" * size))
        sent += size
    handler.wfile.write(b"0\r\n\r\n")


def send_until_close(handler: Handler, total: int) -> None:
    handler.send_response(200)
    handler.send_header("Connection", "close")
    handler.end_headers()
    handler.close_connection = True
    handler.wfile.write(b"z" * total)


@pytest.mark.parametrize(
    "sender", [send_chunked, send_until_close], ids=["chunked", "unknown-length"]
)
def test_body_without_content_length_is_read_whole_when_under_the_cap(
    site: Site, sender: Callable
) -> None:
    site.route("/body")(lambda h: sender(h, 5000))

    result = fetch(site.url("/body"), FetchLimits(allow_private=True, max_bytes=5000))

    assert len(result.content) == 5000
    assert "Content-Length" not in result.headers


@pytest.mark.parametrize(
    "sender", [send_chunked, send_until_close], ids=["chunked", "unknown-length"]
)
def test_body_without_content_length_over_the_cap_raises_too_large(
    site: Site, sender: Callable
) -> None:
    site.route("/body")(lambda h: sender(h, 200_000))

    with pytest.raises(TooLarge):
        fetch(site.url("/body"), FetchLimits(allow_private=True, max_bytes=50_000))


def stream_forever(chunk: bytes, pause: float) -> Route:
    """A body that never ends: ``chunk`` after ``chunk`` until the client leaves or the test
    ends."""

    def answer(handler: Handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html")
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.close_connection = True
        while handler.server.serving_for(pause):
            handler.wfile.write(chunk)  # raises once the client has hung up

    return answer


def test_endless_fast_stream_hits_the_byte_cap(site: Site) -> None:
    site.route("/endless")(stream_forever(b"x" * 16384, pause=0))

    outcome, elapsed = timed_fetch(
        site.url("/endless"), FetchLimits(allow_private=True, max_bytes=200_000, timeout=30)
    )

    assert isinstance(outcome, TooLarge)
    assert elapsed < GIVE_UP_BOUND


def test_endless_slow_stream_hits_the_time_limit(site: Site) -> None:
    site.route("/endless")(stream_forever(b"x" * 100, pause=0.05))

    outcome, elapsed = timed_fetch(
        site.url("/endless"), FetchLimits(allow_private=True, max_bytes=10_000_000, timeout=1.0)
    )

    assert isinstance(outcome, FetchTimeout)
    assert elapsed < GIVE_UP_BOUND


# --- the time limit ----------------------------------------------------------------------------


def test_trickling_body_raises_fetch_timeout(site: Site) -> None:
    @site.route("/trickle")
    def _(handler: Handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", "100000")
        handler.end_headers()
        while handler.server.serving_for(0.05):
            handler.wfile.write(b"x")

    outcome, elapsed = timed_fetch(
        site.url("/trickle"), FetchLimits(allow_private=True, timeout=1.0)
    )

    assert isinstance(outcome, FetchTimeout)
    assert outcome.url == site.url("/trickle")
    assert elapsed < GIVE_UP_BOUND


def test_trickling_header_lines_raise_fetch_timeout(site: Site) -> None:
    # Each recv gets a few bytes well within the socket timeout; only a total
    # deadline stops a server that never finishes its headers.
    @site.route("/slow-headers")
    def _(handler: Handler) -> None:
        handler.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        while handler.server.serving_for(0.05):
            handler.wfile.write(b"a")
        handler.close_connection = True

    outcome, elapsed = timed_fetch(
        site.url("/slow-headers"), FetchLimits(allow_private=True, timeout=1.0)
    )

    assert isinstance(outcome, FetchTimeout)
    assert elapsed < GIVE_UP_BOUND


def test_a_server_that_never_answers_raises_fetch_timeout(site: Site) -> None:
    @site.route("/silent")
    def _(handler: Handler) -> None:
        handler.server.serving_for(SERVER_SAFETY_CAP)
        handler.close_connection = True

    outcome, elapsed = timed_fetch(
        site.url("/silent"), FetchLimits(allow_private=True, timeout=1.0)
    )

    assert isinstance(outcome, FetchTimeout)
    assert elapsed < GIVE_UP_BOUND


def test_a_body_that_stalls_after_the_headers_raises_fetch_timeout(site: Site) -> None:
    @site.route("/stall")
    def _(handler: Handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", "100")
        handler.end_headers()
        handler.wfile.write(b"first ten!")
        handler.server.serving_for(SERVER_SAFETY_CAP)

    outcome, elapsed = timed_fetch(site.url("/stall"), FetchLimits(allow_private=True, timeout=1.0))

    assert isinstance(outcome, FetchTimeout)
    assert elapsed < GIVE_UP_BOUND


def test_a_fetch_within_the_limit_is_not_disturbed_by_the_deadline_later(site: Site) -> None:
    site.route("/quick")(lambda h: reply(h, 200, b"fast"))

    first = fetch(site.url("/quick"), FetchLimits(allow_private=True, timeout=0.5))
    second = fetch(site.url("/quick"), FetchLimits(allow_private=True, timeout=0.5))

    assert first.content == second.content == b"fast"


def test_a_short_deadline_is_kept_while_a_longer_one_is_pending(site: Site) -> None:
    # One thread watches every deadline: a fetch that starts later with a
    # shorter limit must not wait for the earlier fetch's longer one.
    long_started = threading.Event()

    @site.route("/trickle-long")
    def _(handler: Handler) -> None:
        handler.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        long_started.set()
        while handler.server.serving_for(0.05):
            handler.wfile.write(b"a")
        handler.close_connection = True

    site.server.routes["/trickle-short"] = site.server.routes["/trickle-long"]
    long_outcome: list[FetchResult | FetchError] = []
    worker = threading.Thread(
        target=lambda: long_outcome.append(
            timed_fetch(site.url("/trickle-long"), FetchLimits(allow_private=True, timeout=4.0))[0]
        )
    )
    worker.start()
    assert long_started.wait(GIVE_UP_BOUND)

    outcome, elapsed = timed_fetch(
        site.url("/trickle-short"), FetchLimits(allow_private=True, timeout=0.5)
    )
    worker.join(timeout=10)

    assert isinstance(outcome, FetchTimeout)
    assert elapsed < 3.0  # well before the long fetch's 4 s
    assert isinstance(long_outcome[0], FetchTimeout)


def test_fetches_share_one_deadline_thread(site: Site) -> None:
    site.route("/quick")(lambda h: reply(h, 200, b"fast"))

    def deadline_threads() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name == "linkback-fetch-deadlines"]

    for _ in range(5):
        fetch(site.url("/quick"), FetchLimits(allow_private=True, timeout=0.5))
    threads = deadline_threads()
    for _ in range(20):
        fetch(site.url("/quick"), FetchLimits(allow_private=True, timeout=0.5))

    assert len(threads) == 1
    assert deadline_threads() == threads


# --- kept-alive connections --------------------------------------------------------------------


def record_client_port(ports: list[int], body: bytes = b"ok") -> Route:
    def route(handler: Handler) -> None:
        ports.append(handler.client_address[1])
        reply(handler, 200, body)

    return route


def test_a_get_and_a_post_to_one_host_share_one_connection(site: Site) -> None:
    ports: list[int] = []
    site.route("/page")(record_client_port(ports))
    site.route("/xmlrpc")(record_client_port(ports))

    fetch(site.url("/page"), LOCAL)
    fetch(site.url("/xmlrpc"), LOCAL, method="POST", data=b"<ping/>")

    assert len(ports) == 2
    assert ports[0] == ports[1]
    assert [r.body for r in site.requests] == [b"", b"<ping/>"]


def test_a_connection_idle_past_the_keep_alive_window_is_not_reused(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    ports: list[int] = []
    site.route("/page")(record_client_port(ports))
    monkeypatch.setattr(fetch_module, "KEEP_ALIVE_SECONDS", -1.0)

    fetch(site.url("/page"), LOCAL)
    fetch(site.url("/page"), LOCAL)

    assert len(ports) == 2
    assert ports[0] != ports[1]


def test_a_connection_opened_with_private_addresses_allowed_is_not_reused_without(
    site: Site,
) -> None:
    site.route("/page")(lambda h: reply(h, 200, b"ok"))

    assert fetch(site.url("/page"), LOCAL).content == b"ok"
    with pytest.raises(AddressRefused):
        fetch(site.url("/page"), FetchLimits(timeout=2.0))

    assert len(site.requests) == 1


def test_a_kept_alive_connection_is_cut_at_the_deadline_of_the_fetch_using_it(site: Site) -> None:
    ports: list[int] = []
    site.route("/quick")(record_client_port(ports, b"fast"))

    @site.route("/slow-headers")
    def _(handler: Handler) -> None:
        ports.append(handler.client_address[1])
        handler.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        while handler.server.serving_for(0.05):
            handler.wfile.write(b"a")
        handler.close_connection = True

    fetch(site.url("/quick"), LOCAL)
    outcome, elapsed = timed_fetch(
        site.url("/slow-headers"), FetchLimits(allow_private=True, timeout=1.0)
    )

    assert isinstance(outcome, FetchTimeout)
    assert elapsed < GIVE_UP_BOUND
    assert len(ports) == 2 and ports[0] == ports[1]  # the same, reused connection


def test_cookies_set_by_one_fetch_are_not_sent_by_the_next(site: Site) -> None:
    site.route("/set")(lambda h: reply(h, 200, b"ok", [("Set-Cookie", "session=abc; Path=/")]))
    site.route("/page")(lambda h: reply(h, 200, b"ok"))

    fetch(site.url("/set"), LOCAL)
    fetch(site.url("/page"), LOCAL)

    assert site.requests[1].headers.get("Cookie") is None


# --- connection failures and unsupported URLs --------------------------------------------------


def test_a_closed_port_raises_connect_failed(closed_port: int) -> None:
    url = f"http://127.0.0.1:{closed_port}/"
    with pytest.raises(ConnectFailed) as error:
        fetch(url, LOCAL)
    assert error.value.url == url


def test_a_name_that_does_not_resolve_raises_connect_failed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_such_host(*args: object, **kwargs: object) -> list:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)

    with pytest.raises(ConnectFailed):
        fetch("http://no-such-host.invalid/", LOCAL)


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(document.cookie)",
        "file:///etc/passwd",
        "ftp://127.0.0.1/file",
        "gopher://127.0.0.1:70/",
        "data:text/html,hi",
        "/relative/path",
        "relative",
        "//127.0.0.1/scheme-relative",
        "http://",
        "",
        "http://127.0.0.1:notaport/",
    ],
)
def test_non_http_and_relative_urls_raise_unsupported_without_connecting(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    lookups: list[object] = []
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: lookups.append(args) or [])

    with pytest.raises(UnsupportedURL) as error:
        fetch(url, LOCAL)

    assert error.value.url == url
    assert lookups == []


# --- the address policy ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.1",
        "10.255.255.255",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "100.127.255.254",
        "127.0.0.1",
        "127.8.9.10",
        "0.0.0.0",  # noqa: S104 - an address the policy refuses, not a bind
        "255.255.255.255",
        "224.0.0.1",
        "239.255.255.250",
        "240.0.0.1",
        "192.0.2.1",
        "198.18.0.1",
        "::1",
        "::",
        "fc00::1",
        "fd12:3456:789a::1",
        "fe80::1",
        "fe80::1%eth0",
        "febf::1",
        "fec0::1",
        "ff02::1",
        "ff0e::1",
        "2001:db8::1",
        "::ffff:10.0.0.1",
        "::ffff:127.0.0.1",
        "::ffff:192.168.0.1",
        "::10.0.0.1",
        "2002:0a00::",
        "2002:0a00:0001::1",
        "2002:7f00:1::",
        "2002:c0a8:0101::",
        "64:ff9b::10.0.0.1",
        "64:ff9b::127.0.0.1",
        "64:ff9b:1::a00:1",
        "2001::1",
        "not an address",
        "",
        "example.com",
    ],
)
def test_private_loopback_link_local_and_special_addresses_are_not_public(address: str) -> None:
    assert not is_public_address(address)
    assert not address_allowed(address, allow_private=False)


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "1.1.1.1",
        "93.184.216.34",
        "172.15.255.255",
        "172.32.0.1",
        "100.63.255.255",
        "100.128.0.1",
        "169.253.255.255",
        "2606:4700:4700::1111",
        "2a00:1450:4001::1",
        "::ffff:8.8.8.8",
        "2002:0808:0808::",
        "64:ff9b::8.8.8.8",
    ],
)
def test_global_unicast_addresses_are_public(address: str) -> None:
    assert is_public_address(address)
    assert is_public_address(ipaddress.ip_address(address.split("%")[0]))
    assert address_allowed(address, allow_private=False)
    assert address_allowed(address, allow_private=True)


@pytest.mark.parametrize("address", ["10.0.0.1", "127.0.0.1", "::1", "fe80::1", "192.168.0.10"])
def test_allow_private_admits_non_public_addresses(address: str) -> None:
    assert address_allowed(address, allow_private=True)
    assert address_allowed(ipaddress.ip_address(address), allow_private=True)


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "127.1", "2130706433", "0x7f.1", "localhost", "LOCALHOST"],
)
def test_loopback_spellings_are_refused_by_default_but_reachable_when_allowed(
    site: Site, host: str
) -> None:
    site.route("/secret")(lambda h: reply(h, 200, b"internal data"))
    url = f"http://{host}:{site.port}/secret"

    with pytest.raises(AddressRefused) as refused:
        fetch(url, FetchLimits(allow_private=False))

    assert refused.value.url == url
    assert str(refused.value) == f"{host.lower()} is not a public address; refused"
    assert site.requests == []

    result = fetch(url, FetchLimits(allow_private=True))

    assert result.content == b"internal data"
    assert [r.path for r in site.requests] == ["/secret"]


def test_ipv6_loopback_is_refused_by_default_but_reachable_when_allowed(site6: Site) -> None:
    site6.route("/secret")(lambda h: reply(h, 200, b"v6 internal"))
    url = site6.url("/secret")
    assert url.startswith("http://[::1]:")

    with pytest.raises(AddressRefused):
        fetch(url, FetchLimits(allow_private=False))
    assert site6.requests == []

    assert fetch(url, FetchLimits(allow_private=True)).content == b"v6 internal"


def test_a_name_resolving_to_any_refused_address_only_is_refused(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A rebinding-style name that answers with private and loopback addresses.
    real_getaddrinfo = socket.getaddrinfo

    def fake(host: str, port: int, *args: object, **kwargs: object) -> list:
        if host != "rebind.test":
            return real_getaddrinfo(host, port, *args, **kwargs)
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.2.3", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    site.route("/")(lambda h: reply(h, 200, b"x"))

    with pytest.raises(AddressRefused) as refused:
        fetch(f"http://rebind.test:{site.port}/", FetchLimits(allow_private=False))

    # Refused, without telling the sender how the name resolves here.
    assert str(refused.value) == "rebind.test is not a public address; refused"
    assert site.requests == []


# --- redirect bodies ---------------------------------------------------------------------------


def test_an_endless_redirect_body_is_not_read_when_following(site: Site) -> None:
    @site.route("/bottomless-redirect")
    def _(handler: Handler) -> None:
        handler.send_response(302)
        handler.send_header("Location", "/landing")
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.close_connection = True
        while handler.server.serving_for(0):
            handler.wfile.write(b"r" * 16384)

    site.route("/landing")(lambda h: reply(h, 200, b"landed"))

    outcome, elapsed = timed_fetch(
        site.url("/bottomless-redirect"),
        FetchLimits(allow_private=True, max_bytes=1000, timeout=3.0),
    )

    assert isinstance(outcome, FetchResult), outcome
    assert outcome.content == b"landed"
    assert elapsed < GIVE_UP_BOUND


def test_an_endless_redirect_body_hits_the_byte_cap_when_not_following(site: Site) -> None:
    @site.route("/bottomless-redirect")
    def _(handler: Handler) -> None:
        handler.send_response(302)
        handler.send_header("Location", "/landing")
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.close_connection = True
        while handler.server.serving_for(0):
            handler.wfile.write(b"r" * 16384)

    outcome, elapsed = timed_fetch(
        site.url("/bottomless-redirect"),
        FetchLimits(allow_private=True, max_bytes=100_000, timeout=30.0),
        follow_redirects=False,
    )

    assert isinstance(outcome, TooLarge)
    assert elapsed < GIVE_UP_BOUND


# --- name resolution inside the deadline -------------------------------------------------------


def test_a_name_on_a_slow_dns_server_times_out_within_the_fetch_deadline(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The DNS server answers long after the fetch's time limit: the fetch must not wait for it.
    answer = threading.Event()
    real_getaddrinfo = socket.getaddrinfo

    def slow(host: str, port: int, *args: object, **kwargs: object) -> list:
        if host != "slow-dns.test":
            return real_getaddrinfo(host, port, *args, **kwargs)
        answer.wait(5)
        return real_getaddrinfo("127.0.0.1", port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", slow)
    site.route("/")(lambda h: reply(h, 200, b"late"))
    try:
        with pytest.raises(FetchTimeout) as error:
            fetch(
                f"http://slow-dns.test:{site.port}/", FetchLimits(timeout=0.5, allow_private=True)
            )
    finally:
        answer.set()

    assert "resolving slow-dns.test" in str(error.value)
    assert error.value.url == f"http://slow-dns.test:{site.port}/"
    assert site.requests == []

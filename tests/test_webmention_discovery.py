"""Webmention endpoint discovery and sending against a real target site on 127.0.0.1.

Each case is a target page as sites in the wild serve it (after the cases of
webmention.rocks). For each, discovery must find exactly the endpoint the
spec says, and a webmention sent there must arrive once, with the right
``source`` and ``target``, at that endpoint and nowhere else.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from flask import Flask, Response, request
from werkzeug.serving import make_server

from flask_linkback.fetch import AddressRefused, FetchLimits
from flask_linkback.outbound.webmention import discover_webmention_endpoint, send_webmention

LIMITS = FetchLimits(timeout=3.0, allow_private=True, user_agent="flask-linkback-test")
SOURCE = "http://127.0.0.1:9/posts/my-reply"  # only named, never fetched


@dataclass
class TargetSite:
    """A site whose pages advertise endpoints; every POST it gets is recorded."""

    url: str = ""
    pages: dict[str, tuple[int, dict[str, str] | list[tuple[str, str]], str]] = field(
        default_factory=dict
    )
    posts: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def page(
        self,
        path: str,
        body: str = "",
        status: int = 200,
        headers: list[tuple[str, str]] | None = None,
        content_type: str = "text/html; charset=utf-8",
    ) -> str:
        self.pages[path] = (status, [("Content-Type", content_type), *(headers or [])], body)
        return self.url + path

    def posts_to(self, path_and_query: str) -> list[dict[str, str]]:
        return [form for where, form in self.posts if where == path_and_query]


def _target_app(site: TargetSite) -> Flask:
    app = Flask("target_site")

    @app.route("/<path:path>", methods=["GET", "POST"])
    def serve(path: str) -> Response:
        if request.method == "POST":
            where = request.full_path.rstrip("?")
            with site.lock:
                site.posts.append((where, request.form.to_dict()))
            if path.startswith("refuse/"):
                return Response("source does not link to target", 400, mimetype="text/plain")
            return Response("queued", 202, {"Location": "/status/1"})
        if "/" + path not in site.pages:
            return Response("not found", 404)
        status, headers, body = site.pages["/" + path]
        return Response(body, status, headers=headers)

    return app


@pytest.fixture
def target_site() -> Iterator[TargetSite]:
    site = TargetSite()
    server = make_server("127.0.0.1", 0, _target_app(site), threaded=True)
    site.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield site
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


def html(head: str = "", body: str = "") -> str:
    return (
        f"<!doctype html><html><head><title>Target</title>{head}</head><body>{body}</body></html>"
    )


# Each case sets up /<name>/post on the target site and returns the endpoint
# (path and query) discovery must find there, or None.


def header_absolute(site: TargetSite) -> str:
    site.page(
        "/header-absolute/post",
        html(),
        headers=[("Link", f'<{site.url}/header-absolute/endpoint>; rel="webmention"')],
    )
    return "/header-absolute/endpoint"


def header_relative(site: TargetSite) -> str:
    site.page("/header-relative/post", html(), headers=[("Link", '<endpoint>; rel="webmention"')])
    return "/header-relative/endpoint"


def header_unquoted_rel(site: TargetSite) -> str:
    site.page(
        "/header-unquoted/post", html(), headers=[("Link", "</header-unquoted/ep>; rel=webmention")]
    )
    return "/header-unquoted/ep"


def link_tag_relative(site: TargetSite) -> str:
    site.page("/link-relative/post", html('<link rel="webmention" href="../link-relative/ep">'))
    return "/link-relative/ep"


def link_tag_absolute(site: TargetSite) -> str:
    site.page(
        "/link-absolute/post", html(f'<link rel="webmention" href="{site.url}/link-absolute/ep">')
    )
    return "/link-absolute/ep"


def a_tag(site: TargetSite) -> str:
    site.page(
        "/a-tag/post",
        html(body='<p>Send me <a rel="webmention" href="/a-tag/ep">webmentions</a></p>'),
    )
    return "/a-tag/ep"


def rel_list_in_tag(site: TargetSite) -> str:
    site.page(
        "/rel-list-tag/post", html('<link rel="nofollow webmention me" href="/rel-list-tag/ep">')
    )
    return "/rel-list-tag/ep"


def rel_list_in_header(site: TargetSite) -> str:
    site.page(
        "/rel-list-header/post",
        html(),
        headers=[("Link", '</rel-list-header/ep>; rel="webmention somethingelse"')],
    )
    return "/rel-list-header/ep"


def rel_case_in_header_and_tag(site: TargetSite) -> str:
    site.page(
        "/rel-case/post",
        html('<link rel="WebMention" href="/rel-case/wrong">'),
        headers=[("LINK", '</rel-case/ep>; REL="Webmention"')],
    )
    return "/rel-case/ep"


def header_beats_tag(site: TargetSite) -> str:
    site.page(
        "/header-first/post",
        html('<link rel="webmention" href="/header-first/tag">'),
        headers=[("Link", '</header-first/header>; rel="webmention"')],
    )
    return "/header-first/header"


def a_before_link_in_document_order(site: TargetSite) -> str:
    # The <a> comes first in the document although <link> elements usually lead.
    site.page(
        "/order/post",
        "<!doctype html><html><body>"
        '<p><a rel="webmention" href="/order/a">endpoint</a></p>'
        '<link rel="webmention" href="/order/link"></body></html>',
    )
    return "/order/a"


def link_in_html_comment_ignored(site: TargetSite) -> str:
    site.page(
        "/comment/post",
        html(
            '<!-- <link rel="webmention" href="/comment/wrong"> -->'
            '<link rel="webmention" href="/comment/ep">'
        ),
    )
    return "/comment/ep"


def link_in_script_ignored(site: TargetSite) -> str:
    site.page(
        "/script/post",
        html(
            '<script>document.write(\'<link rel="webmention" href="/script/wrong">\')'
            '</script><link rel="webmention" href="/script/ep">'
        ),
    )
    return "/script/ep"


def element_without_href_skipped(site: TargetSite) -> str:
    site.page(
        "/no-href/post", html('<link rel="webmention"><a rel="webmention" href="/no-href/ep">x</a>')
    )
    return "/no-href/ep"


def redirect_then_relative_endpoint(site: TargetSite) -> str:
    site.page("/redirect/post", status=302, headers=[("Location", "/redirect/moved/final")])
    site.page("/redirect/moved/final", html('<link rel="webmention" href="endpoint">'))
    return "/redirect/moved/endpoint"


def redirect_then_relative_header(site: TargetSite) -> str:
    site.page(
        "/redirect-header/post", status=301, headers=[("Location", "/redirect-header/b/page")]
    )
    site.page("/redirect-header/b/page", html(), headers=[("Link", '<ep>; rel="webmention"')])
    return "/redirect-header/b/ep"


def endpoint_with_query_string(site: TargetSite) -> str:
    site.page(
        "/query/post", html('<link rel="webmention" href="/query/ep?token=a%20b&amp;version=1">')
    )
    return "/query/ep?token=a%20b&version=1"


def empty_href_is_the_page_itself(site: TargetSite) -> str:
    site.page("/empty-href/post", html('<link rel="webmention" href="">'))
    return "/empty-href/post"


def several_link_headers(site: TargetSite) -> str:
    site.page(
        "/several-headers/post",
        html(),
        headers=[
            ("Link", '</several-headers/style.css>; rel="stylesheet"'),
            ("Link", '</several-headers/ep>; rel="webmention"'),
            ("Link", '</several-headers/second>; rel="webmention"'),
        ],
    )
    return "/several-headers/ep"


def several_links_in_one_header(site: TargetSite) -> str:
    site.page(
        "/one-header/post",
        html(),
        headers=[("Link", '</one-header/pb>; rel="pingback", </one-header/ep>; rel="webmention"')],
    )
    return "/one-header/ep"


def non_html_with_header_only(site: TargetSite) -> str:
    site.page(
        "/json/post",
        '{"see": "<link rel=\\"webmention\\" href=\\"/json/wrong\\">"}',
        content_type="application/json",
        headers=[("Link", '</json/ep>; rel="webmention"')],
    )
    return "/json/ep"


def non_html_tags_are_not_read(site: TargetSite) -> str | None:
    site.page("/plain/post", '<link rel="webmention" href="/plain/ep">', content_type="text/plain")
    return None


def no_endpoint(site: TargetSite) -> str | None:
    site.page(
        "/none/post", html('<link rel="pingback" href="/xmlrpc">', '<a href="/elsewhere">x</a>')
    )
    return None


def target_missing(site: TargetSite) -> str | None:
    site.page("/missing/post", html('<link rel="webmention" href="/missing/ep">'), status=404)
    return None


CASES = [
    header_absolute,
    header_relative,
    header_unquoted_rel,
    link_tag_relative,
    link_tag_absolute,
    a_tag,
    rel_list_in_tag,
    rel_list_in_header,
    rel_case_in_header_and_tag,
    header_beats_tag,
    a_before_link_in_document_order,
    link_in_html_comment_ignored,
    link_in_script_ignored,
    element_without_href_skipped,
    redirect_then_relative_endpoint,
    redirect_then_relative_header,
    endpoint_with_query_string,
    empty_href_is_the_page_itself,
    several_link_headers,
    several_links_in_one_header,
    non_html_with_header_only,
    non_html_tags_are_not_read,
    no_endpoint,
    target_missing,
]


@pytest.mark.parametrize("case", CASES, ids=[case.__name__ for case in CASES])
def test_discovered_endpoint_receives_exactly_one_correct_webmention(target_site, case):
    expected = case(target_site)
    start = next(path for path in target_site.pages if path.endswith("/post"))
    target = target_site.url + start

    endpoint = discover_webmention_endpoint(target, LIMITS)

    if expected is None:
        assert endpoint is None
        assert target_site.posts == []
        return
    assert endpoint == target_site.url + expected
    answer = send_webmention(endpoint, SOURCE, target, LIMITS)
    assert answer.ok and answer.status == 202
    assert answer.location == target_site.url + "/status/1"
    assert target_site.posts == [(expected, {"source": SOURCE, "target": target})]


def test_there_are_at_least_fifteen_discovery_cases_that_find_an_endpoint(target_site):
    finding = [case for case in CASES if case(TargetSite(url="http://127.0.0.1:1")) is not None]
    assert len(finding) >= 15


def test_discovery_refuses_a_loopback_target_unless_private_addresses_are_allowed(target_site):
    header_absolute(target_site)

    with pytest.raises(AddressRefused):
        discover_webmention_endpoint(
            target_site.url + "/header-absolute/post", FetchLimits(timeout=3.0)
        )
    assert target_site.posts == []


def test_send_reports_a_refusal_status_with_its_body_and_no_location(target_site):
    answer = send_webmention(target_site.url + "/refuse/ep", SOURCE, target_site.url + "/x", LIMITS)

    assert (answer.ok, answer.status, answer.location) == (False, 400, None)
    assert answer.body == b"source does not link to target"
    assert target_site.posts_to("/refuse/ep") == [
        {"source": SOURCE, "target": target_site.url + "/x"}
    ]

"""Incoming Pingback 1.0 through real HTTP, with the stdlib XML-RPC client as the sender."""

from __future__ import annotations

import threading
import xmlrpc.client
from collections.abc import Callable
from typing import Any

import lxml.html
import pytest
from click.testing import Result

from flask_linkback.inbound.pingback import SUCCESS_ANSWER
from flask_linkback.models import Status


def proxy(blog: Any) -> xmlrpc.client.ServerProxy:
    return xmlrpc.client.ServerProxy(blog.url + "/xmlrpc")


def fault_of(call: Callable[[], Any]) -> xmlrpc.client.Fault:
    with pytest.raises(xmlrpc.client.Fault) as info:
        call()
    return info.value


def approve_all(blog: Any) -> Result:
    ids = [str(row.id) for row in blog.linkbacks()]
    result = blog.app.test_cli_runner().invoke(args=["linkback", "approve", *ids])
    assert result.exit_code == 0, result.output
    return result


def post_page(blog: Any, slug: str) -> lxml.html.HtmlElement:
    return lxml.html.fromstring(blog.app.test_client().get(f"/posts/{slug}").data)


def test_pingback_is_stored_with_title_and_excerpt_and_shown_once_approved(blog, source_site):
    blog.add_post("target-post", title="The target")
    target = blog.post_url("target-post")
    source = source_site.linking_page("/reply", target, title="My reply",
                                      text="After some thought about pingbacks, I answered")

    answer = proxy(blog).pingback.ping(source, target)

    assert answer == SUCCESS_ANSWER
    [row] = blog.linkbacks()
    assert (row.kind, row.source_url, row.title) == ("pingback", source, "My reply")
    assert row.excerpt == "[…] After some thought about pingbacks, I answered this post today. […]"
    assert row.status == Status.PENDING.value
    assert row.sender_ip == "127.0.0.1"
    assert post_page(blog, "target-post").find_class("linkback-list") == []

    approve_all(blog)

    page = post_page(blog, "target-post")
    [item] = page.find_class("linkback")
    link = item.find_class("linkback-source")[0]
    assert link.get("href") == source
    assert link.text_content() == "My reply"
    assert "I answered this post today" in item.find_class("linkback-excerpt")[0].text_content()


def test_pingback_target_with_fragment_and_escaped_ampersand_is_accepted(blog, source_site):
    blog.add_post("target-post")
    target = blog.post_url("target-post")
    source = source_site.linking_page("/reply?a=1&b=2", target)
    source_site.pages["/reply"] = source_site.pages.pop("/reply?a=1&b=2")

    proxy(blog).pingback.ping(source.replace("&", "&amp;"), target + "#comments")

    [row] = blog.linkbacks()
    assert row.source_url == source_site.url + "/reply?a=1&b=2"


def test_pingback_from_a_previously_approved_site_is_approved_at_once(blog, source_site):
    blog.add_post("first")
    blog.add_post("second")
    proxy(blog).pingback.ping(
        source_site.linking_page("/a", blog.post_url("first")), blog.post_url("first")
    )
    approve_all(blog)

    proxy(blog).pingback.ping(
        source_site.linking_page("/b", blog.post_url("second")), blog.post_url("second")
    )

    second = blog.linkbacks()[-1]
    assert second.status == Status.APPROVED.value
    assert "approved before" in second.reason


def test_self_ping_between_own_posts_is_approved_without_any_http(blog, source_site):
    blog.add_post("older")
    blog.add_post(
        "newer",
        body=f'<p>As I said in <a href="{blog.post_url("older")}">my older post</a>, yes.</p>',
        title="Newer thoughts",
    )

    proxy(blog).pingback.ping(blog.post_url("newer"), blog.post_url("older"))

    [row] = blog.linkbacks()
    assert row.status == Status.APPROVED.value
    assert row.title == "Newer thoughts"
    assert "my older post" in row.excerpt
    assert post_page(blog, "older").find_class("linkback-source")[0].get("href") == blog.post_url(
        "newer"
    )


# Every fault code, provoked for real ------------------------------------------------


def _same_url(blog, site):
    return blog.post_url("open"), blog.post_url("open")


def _source_404(blog, site):
    return site.url + "/missing", blog.post_url("open")


def _source_not_http(blog, site):
    return "ftp://127.0.0.1/file", blog.post_url("open")


def _source_refuses_connection(blog, site):
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/", blog.post_url("open")


def _source_without_link(blog, site):
    return site.page("/nolink", "<html><title>x</title><p>No link here.</p></html>"), blog.post_url(
        "open"
    )


def _source_links_only_in_text(blog, site):
    url = blog.post_url("open")
    return site.page("/text", f"see {url}", content_type="text/plain"), url


def _target_missing(blog, site):
    return site.linking_page("/s", blog.post_url("nope")), blog.post_url("nope")


def _target_not_http(blog, site):
    return site.linking_page("/s", "mailto:me@example.org"), "mailto:me@example.org"


def _target_closed(blog, site):
    return site.linking_page("/s", blog.post_url("closed")), blog.post_url("closed")


def _target_not_published(blog, site):
    return site.linking_page("/s", blog.post_url("draft")), blog.post_url("draft")


def _target_on_another_site(blog, site):
    # Refused before any fetch; nothing is sent to example.org.
    return site.linking_page("/s", "http://example.org/post"), "http://example.org/post"


def _source_5xx(blog, site):
    return site.page("/boom", "oops", status=503), blog.post_url("open")


def _source_endless(blog, site):
    def endless():
        while not site.stop.is_set():
            yield b"<p>" + b"spam " * 2000 + b"</p>"

    return site.page("/endless", endless), blog.post_url("open")


FAULT_CASES = [
    (0, _same_url),
    (16, _source_404),
    (16, _source_not_http),
    (16, _source_refuses_connection),
    (17, _source_without_link),
    (17, _source_links_only_in_text),
    (32, _target_missing),
    (32, _target_not_http),
    (33, _target_closed),
    (33, _target_not_published),
    (33, _target_on_another_site),
    (50, _source_5xx),
    (50, _source_endless),
]


@pytest.mark.parametrize(
    ("code", "case"), FAULT_CASES, ids=[c.__name__[1:] for _, c in FAULT_CASES]
)
def test_refused_pingback_gets_its_fault_code_and_stores_nothing(blog, source_site, code, case):
    blog.add_post("open")
    blog.add_post("closed", pings_open=False)
    blog.add_post("draft", published_at=None)
    source, target = case(blog, source_site)

    fault = fault_of(lambda: proxy(blog).pingback.ping(source, target))

    assert fault.faultCode == code, fault.faultString
    assert fault.faultString
    assert blog.linkbacks() == []


def test_second_pingback_for_same_source_and_target_is_fault_48(blog, source_site):
    blog.add_post("open")
    source = source_site.linking_page("/s", blog.post_url("open"))
    proxy(blog).pingback.ping(source, blog.post_url("open"))

    fault = fault_of(lambda: proxy(blog).pingback.ping(source + "#again", blog.post_url("open")))

    assert fault.faultCode == 48
    assert len(blog.linkbacks()) == 1


def test_racing_duplicate_pingbacks_store_one_row(blog, source_site):
    blog.add_post("open")
    source = source_site.linking_page("/s", blog.post_url("open"))
    barrier = threading.Barrier(4)
    outcomes: list[Any] = []

    def send() -> None:
        barrier.wait()
        try:
            outcomes.append(proxy(blog).pingback.ping(source, blog.post_url("open")))
        except xmlrpc.client.Fault as fault:
            outcomes.append(fault.faultCode)

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(o for o in outcomes if isinstance(o, int)) == [48, 48, 48], outcomes
    assert [o for o in outcomes if isinstance(o, str)] == [SUCCESS_ANSWER]
    assert len(blog.linkbacks()) == 1
    assert source_site.hits("/s") == 1  # one fetch, shared by all four pings


def test_source_on_private_address_is_fault_49_without_fetching(app_config, source_site, request):
    app_config["LINKBACK_ALLOW_PRIVATE_ADDRESSES"] = False
    blog = request.getfixturevalue("blog")
    blog.add_post("open")
    source = source_site.linking_page("/s", blog.post_url("open"))

    fault = fault_of(lambda: proxy(blog).pingback.ping(source, blog.post_url("open")))

    assert fault.faultCode == 49
    assert source_site.hits("/s") == 0
    assert blog.linkbacks() == []


def test_self_pings_turned_off_are_fault_49(app_config, request):
    app_config["LINKBACK_SELF_PINGS"] = "off"
    blog = request.getfixturevalue("blog")
    blog.add_post("older")
    blog.add_post("newer", body=f'<a href="{blog.post_url("older")}">older</a>')

    fault = fault_of(
        lambda: proxy(blog).pingback.ping(blog.post_url("newer"), blog.post_url("older"))
    )

    assert fault.faultCode == 49


def test_masked_faults_read_as_wordpress_sends_them(app_config, source_site, request):
    app_config["LINKBACK_PINGBACK_MASK_FAULTS"] = True
    blog = request.getfixturevalue("blog")
    blog.add_post("open")
    no_link = source_site.page("/nolink", "<title>x</title><p>nothing</p>")
    linking = source_site.linking_page("/s", blog.post_url("open"))

    masked = fault_of(lambda: proxy(blog).pingback.ping(no_link, blog.post_url("open")))
    proxy(blog).pingback.ping(linking, blog.post_url("open"))
    duplicate = fault_of(lambda: proxy(blog).pingback.ping(linking, blog.post_url("open")))

    assert (masked.faultCode, masked.faultString) == (0, "")
    assert duplicate.faultCode == 48  # as in WordPress, 48 is never masked


def test_get_pingbacks_lists_approved_sources_only(blog, source_site):
    blog.add_post("open")
    target = blog.post_url("open")
    first = source_site.linking_page("/one", target)
    second = source_site.linking_page("/two", target)
    proxy(blog).pingback.ping(first, target)
    approve_all(blog)
    proxy(blog).pingback.ping(second, target)
    with blog.app.app_context():
        state = blog.app.extensions["linkback"]
        row = state.models.IncomingLinkback.query.filter_by(source_url=second).one()
        state.extension.set_status(row, Status.SPAM)

    assert proxy(blog).pingback.extensions.getPingbacks(target) == [first]
    assert (
        fault_of(
            lambda: proxy(blog).pingback.extensions.getPingbacks(blog.post_url("nope"))
        ).faultCode
        == 32
    )


def test_list_methods_and_no_multicall(blog):
    methods = proxy(blog).system.listMethods()

    assert set(methods) == {
        "pingback.ping",
        "pingback.extensions.getPingbacks",
        "system.listMethods",
    }
    fault = fault_of(lambda: proxy(blog).system.multicall([]))
    assert fault.faultCode == -32601


@pytest.mark.parametrize(
    ("params", "why"),
    [
        ((), "no arguments"),
        (("http://a.example/",), "one argument"),
        ((1, 2), "integers"),
        (("a", "b", "c"), "three arguments"),
    ],
)
def test_pingback_with_wrong_arguments_is_a_fault_not_an_error(blog, params, why):
    fault = fault_of(lambda: proxy(blog).pingback.ping(*params))

    assert fault.faultCode in (0, 16, 32), why
    assert blog.linkbacks() == []


def test_get_on_xmlrpc_endpoint_says_post_only(blog):
    response = blog.app.test_client().get("/xmlrpc")

    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]

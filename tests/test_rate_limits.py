"""Per-IP and per-source-host rate limits on the Pingback and TrackBack endpoints."""

from __future__ import annotations

import xmlrpc.client
from typing import Any

import pytest
import requests
from admin_support import ping

from example_blog import create_app
from flask_linkback.inbound.ratelimit import sender_key


def configure(request: pytest.FixtureRequest, app_config: dict[str, Any], **config: Any) -> Any:
    app_config.update(config)
    return request.getfixturevalue("blog")


def test_pings_past_the_per_ip_limit_get_http_429(app_config, request, source_site):
    blog = configure(request, app_config, LINKBACK_RATELIMIT_PER_IP="3/minute")
    for n in range(4):
        blog.add_post(f"p{n}")
    pages = [source_site.linking_page(f"/r{n}", blog.post_url(f"p{n}")) for n in range(4)]

    for n in range(3):
        ping(blog, pages[n], blog.post_url(f"p{n}"))
    with pytest.raises(xmlrpc.client.ProtocolError) as refused:
        ping(blog, pages[3], blog.post_url("p3"))

    assert refused.value.errcode == 429
    assert int(refused.value.headers["Retry-After"]) >= 1
    assert source_site.hits("/r3") == 0  # refused before any fetch
    assert len(blog.linkbacks()) == 3


def test_per_ip_limit_covers_trackback_posts_but_not_page_views(app_config, request, source_site):
    blog = configure(request, app_config, LINKBACK_RATELIMIT_PER_IP="2/minute")
    post = blog.add_post("target")
    url = f"{blog.url}/trackback/{post.id}"
    source = source_site.linking_page("/r", blog.post_url("target"))

    answers = [requests.post(url, data={"url": source}, timeout=10) for _ in range(3)]
    views = [requests.get(url, timeout=10).status_code for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert (
        b"<error>1</error>" in answers[2].content
        and b"too many pings from 127.0.0.1" in answers[2].content
    )
    assert views == [200, 200, 200]


def test_pings_naming_one_source_host_past_its_limit_get_429_without_a_fetch(
    app_config, request, source_site
):
    blog = configure(request, app_config, LINKBACK_RATELIMIT_PER_SOURCE_HOST="2/minute")
    for n in range(3):
        blog.add_post(f"p{n}")
    pages = [source_site.linking_page(f"/r{n}", blog.post_url(f"p{n}")) for n in range(3)]

    ping(blog, pages[0], blog.post_url("p0"))
    ping(blog, pages[1], blog.post_url("p1"))
    with pytest.raises(xmlrpc.client.ProtocolError) as refused:
        ping(blog, pages[2], blog.post_url("p2"))

    assert refused.value.errcode == 429
    assert source_site.hits("/r2") == 0


def test_trackbacks_naming_one_source_host_past_its_limit_get_429(app_config, request, source_site):
    blog = configure(request, app_config, LINKBACK_RATELIMIT_PER_SOURCE_HOST="1/minute")
    first, second = blog.add_post("a"), blog.add_post("b")

    ok = requests.post(
        f"{blog.url}/trackback/{first.id}",
        timeout=10,
        data={"url": source_site.linking_page("/a", blog.post_url("a"))},
    )
    limited = requests.post(
        f"{blog.url}/trackback/{second.id}",
        timeout=10,
        data={"url": source_site.linking_page("/b", blog.post_url("b"))},
    )

    assert b"<error>0</error>" in ok.content
    assert limited.status_code == 429 and b"too many pings about 127.0.0.1" in limited.content


def test_self_pings_do_not_count_against_the_source_host_limit(app_config, request):
    blog = configure(request, app_config, LINKBACK_RATELIMIT_PER_SOURCE_HOST="1/minute")
    for n in range(3):
        blog.add_post(f"old-{n}")
    links = "".join(
        f'<p>See <a href="{blog.post_url(f"old-{n}")}">post {n}</a>.</p>' for n in range(3)
    )
    blog.add_post("new", body=links)

    for n in range(3):
        ping(blog, blog.post_url("new"), blog.post_url(f"old-{n}"))

    assert [row.status for row in blog.linkbacks()] == ["approved"] * 3


def test_rate_limits_can_be_turned_off(app_config, request, source_site):
    blog = configure(
        request,
        app_config,
        LINKBACK_RATELIMIT_ENABLED=False,
        LINKBACK_RATELIMIT_PER_IP="1/minute",
        LINKBACK_RATELIMIT_PER_SOURCE_HOST="1/minute",
    )
    for n in range(3):
        blog.add_post(f"p{n}")
        ping(
            blog, source_site.linking_page(f"/r{n}", blog.post_url(f"p{n}")), blog.post_url(f"p{n}")
        )

    assert len(blog.linkbacks()) == 3


@pytest.mark.parametrize(
    "key, value",
    [
        ("LINKBACK_RATELIMIT_PER_IP", "lots"),
        ("LINKBACK_RATELIMIT_PER_SOURCE_HOST", ""),
        ("LINKBACK_RATELIMIT_STORAGE_URI", "memory"),
    ],
)
def test_a_wrong_rate_limit_setting_fails_at_start_naming_the_key(key, value):
    with pytest.raises(ValueError, match=key):
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", key: value})


def _xmlrpc_ping(blog: Any, source: str, target: str, sender: str) -> Any:
    """A pingback through the real endpoint, as if sent from ``sender``."""
    client = blog.app.test_client()
    body = xmlrpc.client.dumps((source, target), "pingback.ping", encoding="utf-8")
    return client.post(
        "/xmlrpc",
        data=body.encode("utf-8"),
        content_type="text/xml",
        environ_base={"REMOTE_ADDR": sender},
    )


def _fault_code(response: Any) -> int | None:
    try:
        xmlrpc.client.loads(response.data)
    except xmlrpc.client.Fault as fault:
        return fault.faultCode
    return None


def test_forged_pings_naming_a_host_do_not_spend_its_genuine_senders_budget(blog, source_site):
    # Default limits: 30/minute per source host. A third party names the victim's host
    # in 30 forged pingbacks (pages that do not link here).
    blog.add_post("target")
    target = blog.post_url("target")
    forged = source_site.page("/unrelated", "<!doctype html><title>x</title><p>No link here.</p>")
    faults = [_fault_code(_xmlrpc_ping(blog, forged, target, "198.51.100.7")) for _ in range(30)]

    genuine = _xmlrpc_ping(blog, source_site.linking_page("/reply", target), target, "203.0.113.9")

    assert faults == [17] * 30
    assert genuine.status_code == 200 and _fault_code(genuine) is None
    rows = blog.linkbacks()
    assert [(row.source_url, row.sender_ip) for row in rows] == [
        (f"{source_site.url}/reply", "203.0.113.9")
    ]


def test_one_sender_past_its_budget_for_a_source_host_still_gets_429(
    app_config, request, source_site
):
    blog = configure(request, app_config, LINKBACK_RATELIMIT_PER_SOURCE_HOST="2/minute")
    for n in range(3):
        blog.add_post(f"p{n}")
    pages = [source_site.linking_page(f"/r{n}", blog.post_url(f"p{n}")) for n in range(3)]

    answers = [
        _xmlrpc_ping(blog, pages[n], blog.post_url(f"p{n}"), "198.51.100.7") for n in range(3)
    ]

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert source_site.hits("/r2") == 0
    assert len(blog.linkbacks()) == 2


def test_ipv6_senders_are_limited_per_64_network(app_config, request, source_site):
    blog = configure(request, app_config, LINKBACK_RATELIMIT_PER_IP="3/minute")
    for n in range(5):
        blog.add_post(f"p{n}")
    pages = [source_site.linking_page(f"/r{n}", blog.post_url(f"p{n}")) for n in range(5)]
    one_network = ["2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::3", "2001:db8:1:2::4"]

    answers = [
        _xmlrpc_ping(blog, pages[n], blog.post_url(f"p{n}"), sender)
        for n, sender in enumerate(one_network)
    ]
    neighbour = _xmlrpc_ping(blog, pages[4], blog.post_url("p4"), "2001:db8:1:3::1")

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert b"too many pings from 2001:db8:1:2::/64" in answers[3].data
    assert neighbour.status_code == 200 and _fault_code(neighbour) is None
    assert sorted(row.source_url for row in blog.linkbacks()) == sorted(pages[:3] + pages[4:])


def test_an_ipv4_mapped_address_shares_its_ipv4_budget(app_config, request, source_site):
    blog = configure(request, app_config, LINKBACK_RATELIMIT_PER_IP="1/minute")
    for n in range(2):
        blog.add_post(f"p{n}")
    pages = [source_site.linking_page(f"/r{n}", blog.post_url(f"p{n}")) for n in range(2)]

    first = _xmlrpc_ping(blog, pages[0], blog.post_url("p0"), "192.0.2.10")
    mapped = _xmlrpc_ping(blog, pages[1], blog.post_url("p1"), "::ffff:192.0.2.10")

    assert (first.status_code, mapped.status_code) == (200, 429)
    assert [row.source_url for row in blog.linkbacks()] == [pages[0]]


@pytest.mark.parametrize(
    "address, key",
    [
        ("192.0.2.10", "192.0.2.10"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2::", "2001:db8:1:2::/64"),
        ("fe80::1%eth0", "fe80::/64"),
        ("::ffff:192.0.2.10", "192.0.2.10"),
        (None, "unknown"),
        ("not an address", "not an address"),
    ],
)
def test_sender_key(address, key):
    assert sender_key(address) == key

"""Per-IP and per-source-host rate limits on the Pingback and TrackBack endpoints."""

from __future__ import annotations

import xmlrpc.client
from typing import Any

import pytest
import requests
from admin_support import ping

from example_blog import create_app


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
    assert b"<error>1</error>" in answers[2].content and b"too many pings from 127.0.0.1" in answers[2].content
    assert views == [200, 200, 200]


def test_pings_naming_one_source_host_past_its_limit_get_429_without_a_fetch(app_config, request, source_site):
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

    ok = requests.post(f"{blog.url}/trackback/{first.id}", timeout=10,
                       data={"url": source_site.linking_page("/a", blog.post_url("a"))})
    limited = requests.post(f"{blog.url}/trackback/{second.id}", timeout=10,
                            data={"url": source_site.linking_page("/b", blog.post_url("b"))})

    assert b"<error>0</error>" in ok.content
    assert limited.status_code == 429 and b"too many pings about 127.0.0.1" in limited.content


def test_self_pings_do_not_count_against_the_source_host_limit(app_config, request):
    blog = configure(request, app_config, LINKBACK_RATELIMIT_PER_SOURCE_HOST="1/minute")
    for n in range(3):
        blog.add_post(f"old-{n}")
    links = "".join(f'<p>See <a href="{blog.post_url(f"old-{n}")}">post {n}</a>.</p>' for n in range(3))
    blog.add_post("new", body=links)

    for n in range(3):
        ping(blog, blog.post_url("new"), blog.post_url(f"old-{n}"))

    assert [row.status for row in blog.linkbacks()] == ["approved"] * 3


def test_rate_limits_can_be_turned_off(app_config, request, source_site):
    blog = configure(request, app_config, LINKBACK_RATELIMIT_ENABLED=False,
                     LINKBACK_RATELIMIT_PER_IP="1/minute", LINKBACK_RATELIMIT_PER_SOURCE_HOST="1/minute")
    for n in range(3):
        blog.add_post(f"p{n}")
        ping(blog, source_site.linking_page(f"/r{n}", blog.post_url(f"p{n}")), blog.post_url(f"p{n}"))

    assert len(blog.linkbacks()) == 3


@pytest.mark.parametrize("key, value", [
    ("LINKBACK_RATELIMIT_PER_IP", "lots"),
    ("LINKBACK_RATELIMIT_PER_SOURCE_HOST", ""),
    ("LINKBACK_RATELIMIT_STORAGE_URI", "memory"),
])
def test_a_wrong_rate_limit_setting_fails_at_start_naming_the_key(key, value):
    with pytest.raises(ValueError, match=key):
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", key: value})

"""Pingback endpoint discovery through the safe fetcher, and its per-URL cache."""

from __future__ import annotations

import pytest

from flask_linkback.fetch import FetchLimits
from flask_linkback.outbound.discover import DiscoveryCache, TargetGone, TargetUnavailable, discover

LIMITS = FetchLimits(timeout=2.0, allow_private=True)


def test_x_pingback_header_wins_over_the_link_element(source_site):
    url = source_site.page(
        "/post",
        '<html><head><link rel="pingback" href="/from-link"></head></html>',
        **{"X-Pingback": source_site.url + "/from-header"},
    )
    assert discover(url, LIMITS).pingback == source_site.url + "/from-header"


def test_first_pingback_link_is_used_and_entities_are_decoded(source_site):
    url = source_site.page(
        "/post",
        '<html><head><link rel="stylesheet" href="/s.css">'
        '<link href="/rpc?a=1&amp;b=2" rel="Pingback">'
        '<link rel="pingback" href="/second"></head></html>',
    )
    assert discover(url, LIMITS).pingback == source_site.url + "/rpc?a=1&b=2"


def test_relative_endpoint_resolves_against_the_url_after_redirects(source_site):
    source_site.page(
        "/new/post", '<html><head><link rel="pingback" href="xmlrpc.php"></head></html>'
    )
    url = source_site.page("/old", "", status=301, Location="/new/post")
    found = discover(url, LIMITS)
    assert found.final_url == source_site.url + "/new/post"
    assert found.pingback == source_site.url + "/new/xmlrpc.php"


def test_relative_x_pingback_header_resolves_against_the_final_url(source_site):
    url = source_site.page("/blog/post", "<html></html>", **{"X-Pingback": "../xmlrpc"})
    assert discover(url, LIMITS).pingback == source_site.url + "/xmlrpc"


def test_link_inside_a_comment_or_the_body_text_is_not_an_endpoint(source_site):
    url = source_site.page(
        "/post",
        '<html><head><!-- <link rel="pingback" href="/hidden"> --></head>'
        '<body><p>&lt;link rel="pingback" href="/text"&gt;</p></body></html>',
    )
    assert discover(url, LIMITS).pingback is None


def test_non_html_target_has_no_endpoint(source_site):
    url = source_site.page(
        "/file.txt", '<link rel="pingback" href="/rpc">', content_type="text/plain"
    )
    assert discover(url, LIMITS).pingback is None


def test_gone_and_failing_targets_raise_distinct_errors(source_site):
    with pytest.raises(TargetGone):
        discover(source_site.page("/gone", "", status=410), LIMITS)
    with pytest.raises(TargetUnavailable):
        discover(source_site.page("/down", "", status=503), LIMITS)


def test_cache_fetches_each_url_once_per_ttl(source_site):
    now = [1000.0]
    cache = DiscoveryCache(clock=lambda: now[0])
    url = source_site.page("/post", "<html></html>", **{"X-Pingback": "/rpc"})

    for _ in range(5):
        assert cache.discover(url + "#frag", LIMITS, ttl=60).pingback == source_site.url + "/rpc"
    assert source_site.hits("/post") == 1

    now[0] += 61
    cache.discover(url, LIMITS, ttl=60)
    assert source_site.hits("/post") == 2


def test_cache_does_not_keep_errors(source_site):
    cache = DiscoveryCache()
    url = source_site.page("/flaky", "", status=503)
    with pytest.raises(TargetUnavailable):
        cache.discover(url, LIMITS, ttl=60)
    source_site.page("/flaky", "<html></html>", **{"X-Pingback": "/rpc"})
    assert cache.discover(url, LIMITS, ttl=60).pingback == source_site.url + "/rpc"


def test_posts_linking_the_same_page_discover_it_once(blog, target_blogs):
    from outbound_helpers import drain, links, publish

    target = target_blogs()
    url = target.post("/popular")
    for slug in ("one", "two", "three"):
        blog.add_post(slug, body=links(url))
        publish(blog, slug)
    drain(blog)
    assert target.page_hits["/popular"] == 1
    assert len(target.pingbacks()) == 3


def test_private_targets_are_refused_without_the_development_setting(
    app_config, request, target_blogs
):
    from outbound_helpers import drain, links, outbox, publish

    app_config["LINKBACK_ALLOW_PRIVATE_ADDRESSES"] = False
    blog = request.getfixturevalue("blog")
    target = target_blogs()
    url = target.post("/a")
    blog.add_post("news", body=links(url))
    publish(blog, "news")
    assert drain(blog) == {"failed": 1}
    assert "cannot be fetched" in outbox(blog, "news")[url].last_error
    assert target.page_hits == {} and target.calls == []


def test_cache_keeps_nothing_per_url_after_failed_discoveries(source_site):
    cache = DiscoveryCache()
    for n in range(20):
        with pytest.raises((TargetGone, TargetUnavailable)):
            cache.discover(
                source_site.page(f"/bad-{n}", "", status=410 if n % 2 else 503), LIMITS, ttl=60
            )

    assert cache.stats() == {"entries": 0, "urls": 0}

"""Discovery answers are kept as the target's HTTP caching headers say (at most
LINKBACK_DISCOVERY_CACHE_SECONDS), and an endpoint known from the cache that answers 4xx
makes the sender ask the target again once: a moved endpoint gets the ping."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from outbound_helpers import drain, links, outbox, publish
from target_blogs import http

from flask_linkback.fetch import FetchLimits
from flask_linkback.outbound.discover import DiscoveryCache, freshness

LIMITS = FetchLimits(timeout=2.0, allow_private=True)
DATE = "Wed, 02 Dec 2026 10:00:00 GMT"


@pytest.mark.parametrize(("headers", "seconds"), [
    ({}, None),
    ({"Cache-Control": "no-store"}, 0.0),
    ({"Cache-Control": "no-cache"}, 0.0),
    ({"Cache-Control": "public, max-age=300, no-store"}, 0.0),
    ({"Cache-Control": "private, max-age=30"}, 30.0),
    ({"Cache-Control": "max-age=30", "Age": "10"}, 20.0),
    ({"Cache-Control": "max-age=junk"}, 0.0),
    ({"Cache-Control": 'max-age="45"'}, 45.0),
    ({"Cache-Control": "max-age=30", "Expires": "Wed, 02 Dec 2026 11:00:00 GMT", "Date": DATE},
     30.0),
    ({"Expires": "Wed, 02 Dec 2026 10:02:00 GMT", "Date": DATE}, 120.0),
    ({"Expires": "Wed, 02 Dec 2026 09:00:00 GMT", "Date": DATE}, 0.0),
    ({"Expires": "0"}, 0.0),
    ({"Pragma": "no-cache"}, 0.0),
    ({"Pragma": "no-cache", "Cache-Control": "max-age=60"}, 60.0),
], ids=lambda value: repr(value) if not isinstance(value, dict) else ",".join(value))
def test_freshness_follows_the_http_caching_rules(headers, seconds):
    assert freshness(headers, now=datetime(2026, 12, 2, 10, tzinfo=UTC)) == seconds


def test_cache_keeps_an_answer_as_long_as_its_headers_say_capped_by_the_setting(source_site):
    now = [1000.0]
    cache = DiscoveryCache(clock=lambda: now[0])
    short = source_site.page("/short", "<html></html>", **{"X-Pingback": "/rpc",
                                                          "Cache-Control": "max-age=5"})
    long = source_site.page("/long", "<html></html>", **{"X-Pingback": "/rpc",
                                                        "Cache-Control": "max-age=86400"})
    never = source_site.page("/never", "<html></html>", **{"X-Pingback": "/rpc",
                                                          "Cache-Control": "no-store"})
    for url in (short, long, never):
        cache.discover(url, LIMITS, ttl=60)
        assert cache.discover(url, LIMITS, ttl=60).cached is (url != never)
    assert [source_site.hits(p) for p in ("/short", "/long", "/never")] == [1, 1, 2]

    now[0] += 6
    for url in (short, long):
        cache.discover(url, LIMITS, ttl=60)
    assert [source_site.hits(p) for p in ("/short", "/long")] == [2, 1]
    now[0] += 60  # past the 60 s cap, although the page allowed a day
    cache.discover(long, LIMITS, ttl=60)
    assert source_site.hits("/long") == 2


def _move(site, path: str, endpoint: str, cache_control: str | None = None) -> None:
    """The target page now advertises ``endpoint`` (with ``cache_control``, if given)."""
    site.post(path, "none", webmention=endpoint)
    if cache_control:
        site.pages[path][1]["Cache-Control"] = cache_control


def test_no_store_target_whose_endpoint_moved_gets_the_update_at_the_new_endpoint(
        blog, target_blogs):
    site = target_blogs()
    _move(site, "/a", "/wm/old", "no-store")
    target = site.url + "/a"
    blog.add_post("news", body=links(target))
    publish(blog, "news")
    assert drain(blog) == {"sent": 1}

    _move(site, "/a", "/wm/new", "no-store")
    publish(blog, "news", body=links(target) + "<p>An update.</p>")
    assert drain(blog) == {"sent": 1}

    assert [call.path for call in site.calls] == ["/wm/old", "/wm/new"]
    assert site.page_hits["/a"] == 2
    assert outbox(blog, "news")[target].endpoint == site.url + "/wm/new"


def test_a_cached_endpoint_that_answers_4xx_is_rediscovered_once(blog, target_blogs):
    site = target_blogs()
    _move(site, "/a", "/wm/old")
    target = site.url + "/a"
    blog.add_post("news", body=links(target))
    publish(blog, "news")
    drain(blog)

    # The page moved its endpoint; the one we cached now refuses (400).
    _move(site, "/a", "/wm/new")
    site.answers.append(http(400, "unknown endpoint"))
    publish(blog, "news", body=links(target) + "<p>An update.</p>")
    assert drain(blog) == {"sent": 1}

    assert [call.path for call in site.calls] == ["/wm/old", "/wm/old", "/wm/new"]
    assert site.page_hits["/a"] == 2
    row = outbox(blog, "news")[target]
    assert (row.status, row.endpoint) == ("sent", site.url + "/wm/new")


def test_a_cached_endpoint_still_advertised_that_answers_4xx_fails_without_a_second_post(
        blog, target_blogs):
    site = target_blogs()
    _move(site, "/a", "/wm/same")
    target = site.url + "/a"
    blog.add_post("news", body=links(target))
    publish(blog, "news")
    drain(blog)

    site.answers.append(http(400, "source does not link"))
    publish(blog, "news", body=links(target) + "<p>An update.</p>")
    assert drain(blog) == {"failed": 1}

    assert [call.path for call in site.calls] == ["/wm/same", "/wm/same"]
    assert site.page_hits["/a"] == 2  # asked again once, found the same endpoint
    assert "HTTP 400" in outbox(blog, "news")[target].last_error

"""Closing pings on old posts, per kind, through the real endpoints and the settings form."""

from __future__ import annotations

import xmlrpc.client
from datetime import timedelta
from typing import Any

import lxml.html
import pytest
import requests
from admin_support import SETTINGS, admin_client, page, ping, post_settings

from flask_linkback.models import utcnow

http = requests.Session()
http.trust_env = False


def old_post(blog: Any, days: int = 30) -> Any:
    return blog.add_post("old", title="An old post", published_at=utcnow() - timedelta(days=days))


def send_webmention(blog: Any, source: str, target: str) -> requests.Response:
    return http.post(blog.url + "/webmention", data={"source": source, "target": target},
                     allow_redirects=False, timeout=10)


def send_trackback(blog: Any, post_id: Any, source: str) -> requests.Response:
    return http.post(f"{blog.url}/trackback/{post_id}", data={"url": source, "title": "On it"},
                     timeout=10)


def test_old_post_refuses_a_pingback_but_takes_a_webmention_when_only_pingbacks_are_closed(
        blog, source_site, verified):
    old_post(blog)
    assert post_settings(admin_client(blog), close_pingbacks_after_days="14").status_code == 302
    source = source_site.linking_page("/answer", blog.post_url("old"), title="My answer")

    with pytest.raises(xmlrpc.client.Fault) as refused:
        ping(blog, source, blog.post_url("old"))
    assert refused.value.faultCode == 33
    assert "older than 14 days" in refused.value.faultString
    assert source_site.hits("/answer") == 0  # refused before any fetch
    assert blog.linkbacks() == []

    answer = send_webmention(blog, source, blog.post_url("old"))
    assert answer.status_code == 202
    verified()
    [row] = blog.linkbacks()
    assert (row.kind, row.title) == ("webmention", "My answer")


def test_a_post_younger_than_the_limit_still_takes_pingbacks(blog, source_site):
    old_post(blog, days=10)
    assert post_settings(admin_client(blog), close_pingbacks_after_days="14").status_code == 302
    source = source_site.linking_page("/answer", blog.post_url("old"))

    ping(blog, source, blog.post_url("old"))

    assert [row.kind for row in blog.linkbacks()] == ["pingback"]


def test_closed_webmentions_answer_400_while_pingbacks_stay_open(blog, source_site):
    old_post(blog)
    assert post_settings(admin_client(blog), close_webmentions_after_days="7").status_code == 302
    source = source_site.linking_page("/answer", blog.post_url("old"))

    answer = send_webmention(blog, source, blog.post_url("old"))
    assert answer.status_code == 400
    assert "webmentions are closed on posts older than 7 days" in answer.text

    ping(blog, source, blog.post_url("old"))
    assert [row.kind for row in blog.linkbacks()] == ["pingback"]


def test_closed_trackbacks_answer_error_1_with_the_reason(blog, source_site):
    post = old_post(blog)
    assert post_settings(admin_client(blog), close_trackbacks_after_days="20").status_code == 302
    source = source_site.linking_page("/answer", blog.post_url("old"))

    answer = send_trackback(blog, post.id, source)

    assert "<error>1</error>" in answer.text
    assert "TrackBacks are closed on posts older than 20 days" in answer.text
    assert blog.linkbacks() == []


def test_closing_pings_leaves_comments_alone(blog):
    old_post(blog)
    assert (
        post_settings(
            admin_client(blog),
            close_pingbacks_after_days="1",
            close_trackbacks_after_days="1",
            close_webmentions_after_days="1",
        ).status_code
        == 302
    )

    post_page = http.get(blog.post_url("old"), timeout=10)

    assert post_page.status_code == 200
    comment_form = lxml.html.fromstring(post_page.content).xpath(
        "//section[@id='comments']//form[.//textarea[@name='body']]"
    )
    assert comment_form, "the comment form is gone"


def test_the_day_limits_are_shown_back_and_refuse_negative_numbers(blog):
    client = admin_client(blog)
    assert post_settings(client, close_webmentions_after_days="90").status_code == 302
    assert (
        page(client, SETTINGS).get_element_by_id("close_webmentions_after_days").get("value")
        == "90"
    )

    refused = post_settings(client, close_pingbacks_after_days="-1")

    assert refused.status_code == 400
    assert "close_pingbacks_after_days-error" in refused.text


def test_an_old_post_advertises_only_the_kinds_it_still_takes(blog):
    """As WordPress drops X-Pingback on a post closed to pings: a sender that discovers an
    endpoint should be able to use it."""
    old_post(blog)
    blog.add_post("young", title="A young post")
    assert (
        post_settings(
            admin_client(blog), close_pingbacks_after_days="14", close_trackbacks_after_days="14"
        ).status_code
        == 302
    )

    old_page = http.get(blog.post_url("old"), timeout=10)
    young_page = http.get(blog.post_url("young"), timeout=10)

    old_doc = lxml.html.fromstring(old_page.content)
    assert "X-Pingback" not in old_page.headers
    assert not old_doc.xpath("//link[@rel='pingback']")
    assert not old_doc.xpath("//*[contains(@class, 'linkback-trackback')]")
    assert "trackback:ping" not in old_page.text
    # Webmentions are still taken on it: still advertised, in the header and the head.
    assert 'rel="webmention"' in old_page.headers["Link"]
    assert old_doc.xpath("//link[@rel='webmention']")

    young_doc = lxml.html.fromstring(young_page.content)
    assert young_page.headers["X-Pingback"].endswith("/xmlrpc")
    assert young_doc.xpath("//link[@rel='pingback']")
    assert young_doc.xpath("//*[contains(@class, 'linkback-trackback')]")

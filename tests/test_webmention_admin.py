"""Webmention in the admin: the "accept webmentions" setting rules the endpoint and the
advertising, and the moderation queue shows a webmention's kind, type and author."""

from __future__ import annotations

from typing import Any

import lxml.html
import requests
from admin_support import SETTINGS, admin_client, page, post_settings
from test_webmention_receive import h_entry


def send(blog: Any, source: str, target: str) -> requests.Response:
    return requests.post(blog.url + "/webmention", data={"source": source, "target": target},
                         allow_redirects=False, timeout=10)


def test_the_settings_form_has_accept_webmentions_beside_the_pingback_toggles(blog):
    root = page(admin_client(blog), SETTINGS)
    [box] = root.xpath("//input[@name='accept_webmentions']")
    assert box.get("checked") is not None  # LINKBACK_ACCEPT_WEBMENTIONS defaults to True
    fieldset = box.xpath("ancestor::fieldset")[0]
    assert fieldset.xpath(".//input[@name='pings_open_default']")


def test_the_default_follows_the_config_key(app_config, request):
    app_config["LINKBACK_ACCEPT_WEBMENTIONS"] = False
    blog = request.getfixturevalue("blog")
    root = page(admin_client(blog), SETTINGS)
    assert root.xpath("//input[@name='accept_webmentions']/@checked") == []


def test_turning_webmentions_off_in_the_admin_stops_the_endpoint_and_the_advertising(
        blog, source_site):
    blog.add_post("target-post")
    target = blog.post_url("target-post")
    source = source_site.linking_page("/r", target)
    client = admin_client(blog)

    assert post_settings(client, accept_webmentions=None).status_code == 302
    off_page = requests.get(target, timeout=10)
    refused = send(blog, source, target)
    assert post_settings(client).status_code == 302
    on_page = requests.get(target, timeout=10)
    accepted = send(blog, source, target)

    assert "webmention" not in off_page.headers.get("Link", "")
    assert lxml.html.fromstring(off_page.content).xpath("//link[@rel='webmention']") == []
    assert (refused.status_code, refused.text.strip()) == (
        400,
        "this site does not accept webmentions",
    )
    assert 'rel="webmention"' in on_page.headers["Link"]
    assert lxml.html.fromstring(on_page.content).xpath("//link[@rel='webmention']/@href") == [
        blog.url + "/webmention"
    ]
    assert accepted.status_code == 202
    assert blog.app.extensions["linkback"].inbound.join(blog.app, timeout=15)


def test_the_moderation_queue_shows_a_webmentions_kind_type_and_author(blog, source_site, verified):
    blog.add_post("target-post")
    target = blog.post_url("target-post")
    source = source_site.page(
        "/reply", h_entry(target, "u-in-reply-to", "Queue Author", "/q.png", author_url="/about")
    )
    assert send(blog, source, target).status_code == 202
    verified()
    [row] = blog.linkbacks()

    root = page(admin_client(blog), "/linkback-admin/queue/pending")

    [item] = root.xpath(f'//tr[@id="linkback-row-{row.id}"]')
    assert item.find_class("kind")[0].text_content() == "webmention (reply)"
    [author] = item.find_class("author")
    assert (author.text_content(), author.get("href")) == (
        "Queue Author",
        source_site.url + "/about",
    )

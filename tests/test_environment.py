"""Staging and development copies never ping the world; the admin says so."""

from __future__ import annotations

import pytest
from admin_support import admin_client
from outbound_helpers import drain, links, outbox, publish

from flask_linkback.environment import environment


@pytest.mark.parametrize("mode", [{"TESTING": True}, {"DEBUG": True, "TESTING": False},
                                  {"LINKBACK_ENVIRONMENT": "staging", "TESTING": False}])
def test_a_non_production_app_sends_no_pings_to_other_sites(
    app_config, request, target_blogs, mode
):
    app_config.pop("LINKBACK_ENVIRONMENT")
    app_config.update(mode, LINKBACK_SCHEDULER=False)
    blog = request.getfixturevalue("blog")
    target = target_blogs()
    blog.add_post("own", title="Our own earlier post")
    blog.add_post("news", body=links(target.post("/a"), blog.post_url("own")))
    publish(blog, "news")

    counts = drain(blog)

    assert counts == {"sent": 1}  # the link to our own post is recorded, without HTTP
    assert target.calls == [] and target.page_hits == {}  # the other blog saw no request at all
    assert outbox(blog, "news")[target.url + "/a"].status == "queued"
    [own] = blog.linkbacks()
    assert own.source_url == blog.post_url("news")


def test_a_testing_app_sends_once_told_it_is_production(app_config, request, target_blogs):
    app_config["LINKBACK_ENVIRONMENT"] = "production"
    blog = request.getfixturevalue("blog")
    target = target_blogs()
    blog.add_post("news", body=links(target.post("/a")))
    publish(blog, "news")

    assert drain(blog) == {"sent": 1}
    assert target.pingbacks() == [(blog.post_url("news"), target.url + "/a")]


def test_the_environment_defaults_from_debug_and_testing(app_config, request):
    app_config.pop("LINKBACK_ENVIRONMENT")
    blog = request.getfixturevalue("blog")
    assert environment(blog.app) == "development"
    blog.app.testing = False
    assert environment(blog.app) == "production"


def test_the_admin_shows_a_banner_while_sending_is_off(app_config, request):
    app_config.pop("LINKBACK_ENVIRONMENT")
    blog = request.getfixturevalue("blog")
    client = admin_client(blog)

    for page in ("/linkback-admin/queue/pending", "/linkback-admin/settings"):
        html = client.get(page).text
        assert "Outgoing pings are off." in html
        assert "development copy" in html


def test_no_banner_on_the_live_site(blog):
    html = admin_client(blog).get("/linkback-admin/queue/pending").text
    assert "Outgoing pings are off." not in html

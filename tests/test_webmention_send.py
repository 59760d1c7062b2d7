"""Sending webmentions through the outbox, over real HTTP on 127.0.0.1, on both databases:
one discovery fetch per target, Webmention preferred over Pingback, the answers classified,
removed links and deleted posts re-sent so their targets drop the mention."""

from __future__ import annotations

from datetime import timedelta

import lxml.html
import pytest
import requests
from outbound_helpers import drain, links, outbox, publish
from target_blogs import http
from test_webmention_discovery import CASES, target_site  # noqa: F401 (a fixture)

from example_blog.extensions import db, linkback
from example_blog.models import Post
from flask_linkback.models import utcnow


def delete_post(blog, slug: str) -> list:
    """Soft-delete a post as the editor's delete button does, and call the hook."""
    with blog.app.app_context():
        post = Post.query.filter_by(slug=slug).one()
        post.deleted_at = utcnow()
        db.session.commit()
        rows = linkback.post_deleted(post)
        for row in rows:
            db.session.expunge(row)
        return rows


def test_a_target_offering_both_gets_one_webmention_and_no_pingback(blog, target_blogs):
    site = target_blogs()
    both = site.post("/both", "header", webmention="/webmention")
    only_wm = site.post("/only-wm", "none", webmention="/wm/x?token=abc")
    only_pb = site.post("/only-pb", "header")
    neither = site.post("/neither", "none")
    blog.add_post("news", body=links(both, only_wm, only_pb, neither))

    publish(blog, "news")
    counts = drain(blog)

    source = blog.post_url("news")
    assert sorted(site.webmentions()) == sorted([(source, both), (source, only_wm)])
    assert site.pingbacks() == [(source, only_pb)]
    assert [c.path for c in site.calls if c.form.get("target") == [only_wm]] == ["/wm/x?token=abc"]
    # One fetch of each target page served both Pingback and Webmention discovery.
    assert site.page_hits == {"/both": 1, "/only-wm": 1, "/only-pb": 1, "/neither": 1}
    assert counts == {"sent": 3, "skipped": 1}
    rows = outbox(blog, "news")
    assert {url: row.protocol for url, row in rows.items() if row.status == "sent"} == {
        both: "webmention", only_wm: "webmention", only_pb: "pingback"}
    assert rows[both].endpoint == site.url + "/webmention"
    assert rows[both].status_url.startswith(site.url + "/status/")
    assert (rows[neither].status, rows[neither].reason) == ("skipped", "no-endpoint")
    assert "no Webmention endpoint and no Pingback endpoint" in rows[neither].last_error


def test_the_log_names_the_protocol_each_ping_went_by(blog, target_blogs, caplog):
    site = target_blogs()
    only_pb = site.post("/pb", "header")
    only_wm = site.post("/wm", "none", webmention="/webmention")
    blog.add_post("news", body=links(only_pb, only_wm))
    publish(blog, "news")
    with caplog.at_level("INFO", logger="flask_linkback"):
        drain(blog)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("outbox: ")]
    source = blog.post_url("news")
    assert f"outbox: pingback {source} -> {only_pb}: sent " in lines
    assert f"outbox: webmention {source} -> {only_wm}: sent " in lines


def test_webmention_is_form_encoded_source_and_target_with_our_user_agent(blog, target_blogs):
    site = target_blogs()
    target = site.post("/a", "none", webmention="/webmention")
    blog.add_post("news", body=links(target + "#comments"))
    publish(blog, "news")
    drain(blog)
    [call] = site.calls
    assert call.content_type.startswith("application/x-www-form-urlencoded")
    assert call.form == {"source": [blog.post_url("news")], "target": [target]}
    assert call.user_agent.startswith("flask-linkback/")


def test_with_webmention_not_preferred_a_target_offering_both_gets_a_pingback(
        app_config, request, target_blogs):
    app_config["LINKBACK_PREFER_WEBMENTION"] = False
    blog = request.getfixturevalue("blog")
    site = target_blogs()
    both, only_wm = site.post("/both", "header", webmention="/webmention"), site.post(
        "/only-wm", "none", webmention="/webmention")
    blog.add_post("news", body=links(both, only_wm))

    publish(blog, "news")
    drain(blog)

    source = blog.post_url("news")
    assert site.pingbacks() == [(source, both)]
    assert site.webmentions() == [(source, only_wm)]


@pytest.mark.parametrize(("answer", "status", "note"), [
    (http(201, "created"), "sent", ""),
    (http(200, "ok"), "sent", ""),
    (http(400, "source does not link"), "failed", "HTTP 400"),
    (http(404), "failed", "HTTP 404"),
    (http(429), "retry", "HTTP 429"),
    (http(500), "retry", "HTTP 500"),
    (http(503), "retry", "HTTP 503"),
])
def test_webmention_answers_are_sent_failed_or_retried(blog, target_blogs, answer, status, note):
    site = target_blogs()
    target = site.post("/a", "none", webmention="/webmention")
    blog.add_post("news", body=links(target))
    site.answers.append(answer)

    publish(blog, "news")
    drain(blog)

    [row] = outbox(blog, "news").values()
    assert (row.protocol, row.status) == ("webmention", status)
    assert note in row.last_error
    assert len(site.webmentions()) == 1


def test_a_webmention_that_failed_for_a_while_is_retried_and_then_sent(blog, target_blogs):
    site = target_blogs()
    target = site.post("/a", "none", webmention="/webmention")
    blog.add_post("news", body=links(target))
    site.answers.append(http(503))
    now = utcnow()
    publish(blog, "news", now=now)
    drain(blog, now=now)

    assert drain(blog, now=now) == {}  # not due yet: the backoff holds it
    assert drain(blog, now=now + timedelta(hours=1)) == {"sent": 1}

    [row] = outbox(blog, "news").values()
    assert (row.status, row.attempts, row.last_error) == ("sent", 2, "")
    assert len(site.webmentions()) == 2


def test_a_removed_link_is_resent_as_a_webmention_but_never_as_a_pingback(blog, target_blogs):
    site = target_blogs()
    by_wm, by_pb = site.post("/wm", "none", webmention="/webmention"), site.post("/pb", "header")
    kept = site.post("/kept", "none", webmention="/webmention")
    blog.add_post("news", body=links(by_wm, by_pb, kept))
    publish(blog, "news")
    drain(blog)

    rows = publish(blog, "news", body=links(kept))
    queued = {row.target_url: (row.status, row.link_removed) for row in rows}
    assert drain(blog) == {"sent": 2}

    source = blog.post_url("news")
    # The edit changed the post: both webmention targets hear again, the removed one included;
    # the pingback target is only marked (a pingback cannot be taken back).
    assert queued == {by_wm: ("queued", True), by_pb: ("sent", True), kept: ("queued", False)}
    assert sorted(site.webmentions()) == sorted([(source, by_wm), (source, kept)] * 2)
    assert site.pingbacks() == [(source, by_pb)]
    # Saving again unchanged tells nobody anything.
    publish(blog, "news", body=links(kept))
    assert drain(blog) == {}
    assert outbox(blog, "news")[by_wm].link_removed


def test_a_link_put_back_after_its_removal_was_announced_is_sent_again(blog, target_blogs):
    site = target_blogs()
    target = site.post("/wm", "none", webmention="/webmention")
    blog.add_post("news", body=links(target))
    publish(blog, "news")
    drain(blog)
    publish(blog, "news", body="<p>No links now.</p>")
    drain(blog)

    publish(blog, "news", body=links(target))
    assert drain(blog) == {"sent": 1}

    assert len(site.webmentions()) == 3
    assert not outbox(blog, "news")[target].link_removed


def test_a_link_removed_before_its_webmention_left_is_never_sent(blog, target_blogs):
    site = target_blogs()
    kept, removed = site.post("/kept", "none", webmention="/webmention"), site.post(
        "/removed", "none", webmention="/webmention")
    blog.add_post("news", body=links(kept, removed))
    publish(blog, "news")
    publish(blog, "news", body=links(kept))
    drain(blog)
    assert site.webmentions() == [(blog.post_url("news"), kept)]
    assert list(outbox(blog, "news")) == [kept]


def test_deleting_a_post_resends_its_webmentions_and_drops_what_never_left(blog, target_blogs):
    site = target_blogs()
    sent_wm = site.post("/wm", "none", webmention="/webmention")
    sent_pb = site.post("/pb", "header")
    blog.add_post("news", body=links(sent_wm, sent_pb))
    publish(blog, "news")
    drain(blog)
    later = site.post("/later", "none", webmention="/webmention")
    publish(
        blog, "news", body=links(sent_wm, sent_pb, later), published_at=utcnow() + timedelta(days=1)
    )  # a new link, not due yet

    rows = {row.target_url: row for row in delete_post(blog, "news")}
    drain(blog)

    source = blog.post_url("news")
    assert set(rows) == {sent_wm, sent_pb}  # the unsent one is forgotten
    assert site.webmentions() == [(source, sent_wm), (source, sent_wm)]
    assert site.pingbacks() == [(source, sent_pb)]
    assert requests.get(source, timeout=10).status_code == 410


def test_the_editor_delete_button_makes_the_post_410_and_queues_the_resend(blog, target_blogs):
    from admin_support import admin_client

    site = target_blogs()
    target = site.post("/wm", "none", webmention="/webmention")
    post = blog.add_post("news", body=links(target))
    publish(blog, "news")
    drain(blog)
    client = admin_client(blog)
    editor = lxml.html.fromstring(client.get(f"/admin/posts/{post.id}/edit").content)
    [form] = editor.xpath('//form[contains(@class, "delete-post")]')
    token = form.xpath('.//input[@name="csrf_token"]/@value')[0]

    deleted = client.post(form.get("action"), data={"csrf_token": token})
    drain(blog)

    assert deleted.status_code == 302
    assert client.get("/posts/news").status_code == 410
    assert blog.post_url("news") not in client.get("/").text
    assert site.webmentions() == [(blog.post_url("news"), target)] * 2
    after = lxml.html.fromstring(client.get(f"/admin/posts/{post.id}/edit").content)
    assert after.xpath('//form[contains(@class, "delete-post")]') == []
    assert "Deleted" in after.text_content()
    assert [cell.text_content() for cell in after.xpath('//table[@class="outgoing"]//td[2]')] == [
        "webmention"
    ]


def test_every_discovery_case_through_the_outbox_gets_exactly_one_correct_webmention(
    blog, target_site  # noqa: F811 - the fixture imported above
):
    expected = {}
    for case in CASES:
        endpoint = case(target_site)
        start = next(
            path
            for path in target_site.pages
            if path.endswith("/post") and target_site.url + path not in expected
        )
        expected[target_site.url + start] = endpoint
    blog.add_post("news", body=links(*expected))

    publish(blog, "news")
    drain(blog)

    source = blog.post_url("news")
    webmentions = sorted((where, form["target"]) for where, form in target_site.posts if form)
    assert all(
        form == {"source": source, "target": form["target"]}
        for _, form in target_site.posts
        if form
    )
    assert webmentions == sorted(
        (endpoint, target) for target, endpoint in expected.items() if endpoint is not None
    )
    assert len(webmentions) >= 15
    rows = outbox(blog, "news")
    assert {rows[t].protocol for t, e in expected.items() if e is not None} == {"webmention"}
    assert {rows[t].status for t, e in expected.items() if e is not None} == {"sent"}

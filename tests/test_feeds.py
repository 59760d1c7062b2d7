"""Atom feeds of approved linkbacks, per post and for the site, read by a real feed parser."""

from __future__ import annotations

import xmlrpc.client

import feedparser
import lxml.html

from example_blog.extensions import linkback

SITE_URL = "https://blog.example.test"


def _pingback(
    blog, source_site, path: str, slug: str, title: str, text: str = "I wrote about"
) -> str:
    source = source_site.linking_page(path, blog.post_url(slug), title=title, text=text)
    xmlrpc.client.ServerProxy(blog.url + "/xmlrpc").pingback.ping(source, blog.post_url(slug))
    return source


def _approve_all(blog) -> None:
    with blog.app.app_context():
        model = blog.app.extensions["linkback"].models.IncomingLinkback
        for row in model.query.all():
            linkback.set_status(row, "approved")


def test_the_post_feed_lists_its_approved_linkbacks_with_remote_text_escaped(blog, source_site):
    post = blog.add_post("original", title="The original")
    blog.add_post("other", title="Another post")
    hostile = "<script>alert(1)</script> & friends"
    first = _pingback(blog, source_site, "/a", "original", title=hostile, text="Quite <b>right</b>")
    _pingback(blog, source_site, "/b", "other", title="Elsewhere")
    _approve_all(blog)
    spam = _pingback(blog, source_site, "/c", "original", title="Marked as spam")
    with blog.app.app_context():
        model = blog.app.extensions["linkback"].models.IncomingLinkback
        linkback.set_status(model.query.filter_by(source_url=spam).one(), "spam")

    response = blog.app.test_client().get(f"/linkbacks/{post.id}/feed.atom")

    assert response.status_code == 200
    assert response.mimetype == "application/atom+xml"
    assert b"<script>" not in response.data
    feed = feedparser.parse(response.data)
    assert not feed.bozo, feed.bozo_exception
    assert feed.feed.title == "Linkbacks to “The original”"
    [entry] = feed.entries  # the spam and the other post's linkback are not in it
    assert entry.link == first
    assert entry.title == f"Pingback: {hostile}"
    assert "Quite right" in entry.summary
    assert entry.author == "127.0.0.1"
    assert entry.id.startswith("tag:")


def test_the_site_feed_lists_every_post_s_approved_linkbacks(app_config, request, source_site):
    app_config["LINKBACK_SITE_URL"] = SITE_URL
    app_config["LINKBACK_SITE_HOSTS"] = [app_config["SERVER_NAME"]]  # the test server's address
    blog = request.getfixturevalue("blog")
    blog.add_post("original", title="The original")
    blog.add_post("other", title="Another post")
    _pingback(blog, source_site, "/a", "original", title="First")
    _pingback(blog, source_site, "/b", "other", title="Second")
    _approve_all(blog)

    feed = feedparser.parse(blog.app.test_client().get("/linkbacks/feed.atom").data)

    assert not feed.bozo, feed.bozo_exception
    assert sorted(e.title for e in feed.entries) == ["Pingback: First", "Pingback: Second"]
    [self_link] = [link.href for link in feed.feed.links if link.rel == "self"]
    assert self_link == f"{SITE_URL}/linkbacks/feed.atom"  # from configuration, not the Host header


def test_drafts_have_no_feed(blog):
    from datetime import timedelta

    from flask_linkback.models import utcnow

    draft = blog.add_post("later", published_at=utcnow() + timedelta(days=1))
    assert blog.app.test_client().get(f"/linkbacks/{draft.id}/feed.atom").status_code == 404
    assert blog.app.test_client().get("/linkbacks/999/feed.atom").status_code == 404


def test_the_post_page_and_home_page_advertise_their_feeds(blog):
    post = blog.add_post("original", title="The original")
    client = blog.app.test_client()

    for path, href in [
        ("/posts/original", f"{blog.url}/linkbacks/{post.id}/feed.atom"),
        ("/", f"{blog.url}/linkbacks/feed.atom"),
    ]:
        page = lxml.html.fromstring(client.get(path).data)
        [link] = page.xpath("//head/link[@rel='alternate'][@type='application/atom+xml']")
        assert link.get("href") == href

"""Two example blogs on two ports, talking Webmention through their outboxes: a reply shows up,
an edit that drops the link takes it away, and a deleted post (410 Gone) takes its mention away."""

from __future__ import annotations

from typing import Any

import lxml.html
import pytest
import requests
from conftest import Blog

from example_blog.extensions import db, linkback
from example_blog.models import Post
from flask_linkback.models import utcnow


class Sender:
    """Blog B: another example blog whose outbox sends to the blog under test."""

    def __init__(self, app: Any, url: str) -> None:
        self.app, self.url = app, url

    def write(self, slug: str, title: str, body: str) -> None:
        with self.app.test_request_context():
            db.session.add(Post(slug=slug, title=title, body=body, published_at=utcnow()))
            db.session.commit()
            linkback.post_published(Post.query.filter_by(slug=slug).one())

    def edit(self, slug: str, body: str) -> None:
        with self.app.test_request_context():
            post = Post.query.filter_by(slug=slug).one()
            post.body = body
            db.session.commit()
            linkback.post_published(post)

    def delete(self, slug: str) -> None:
        with self.app.test_request_context():
            post = Post.query.filter_by(slug=slug).one()
            post.deleted_at = utcnow()
            db.session.commit()
            linkback.post_deleted(post)

    def send(self) -> dict[str, int]:
        # pytest-flask keeps the first blog's request context pushed; push this blog's.
        with self.app.test_request_context():
            return linkback.send_pending()

    def outbox(self, slug: str) -> list[tuple[str, str, str]]:
        with self.app.test_request_context():
            post = Post.query.filter_by(slug=slug).one()
            return [(row.protocol, row.status, row.endpoint) for row in linkback.outgoing_for(post)]


@pytest.fixture
def sender(other_blog_factory: Any) -> Sender:
    other = other_blog_factory(BLOG_AUTHOR="Bea Blogger")
    return Sender(other.app, other.url)


def shown(blog: Blog, slug: str) -> lxml.html.HtmlElement:
    response = requests.get(blog.post_url(slug), timeout=10)
    assert response.status_code == 200
    return lxml.html.fromstring(response.content)


def test_reply_edit_and_delete_on_one_blog_show_and_vanish_on_the_other(blog, sender, verified):
    blog.add_post("question", title="A question")
    question = blog.post_url("question")

    # B replies: its outbox discovers A's endpoint and sends a webmention (not a pingback).
    sender.write(
        "answer",
        "My answer",
        f'<p>In reply to <a class="u-in-reply-to" href="{question}">'
        "the question</a>: yes, and here is why.</p>",
    )
    assert sender.send() == {"sent": 1}
    verified()
    assert sender.outbox("answer") == [("webmention", "sent", blog.url + "/webmention")]
    [row] = blog.linkbacks()
    assert (row.kind, row.mention_type, row.author_name, row.status) == (
        "webmention",
        "reply",
        "Bea Blogger",
        "pending",
    )
    result = blog.app.test_cli_runner().invoke(args=["linkback", "approve", str(row.id)])
    assert result.exit_code == 0, result.output
    [reply] = shown(blog, "question").find_class("linkback-reply")
    assert reply.find_class("linkback-author-name")[0].text_content() == "Bea Blogger"

    # B edits the link out: the webmention goes again, A re-fetches and drops the reply.
    sender.edit("answer", "<p>On second thought, no link here.</p>")
    assert sender.send() == {"sent": 1}
    verified()
    assert blog.linkbacks() == []
    assert shown(blog, "question").find_class("linkback-reply") == []

    # B writes another post linking A, which A's admin approves; then B deletes it.
    sender.write("aside", "An aside", f'<p>See <a href="{question}">this question</a>.</p>')
    assert sender.send() == {"sent": 1}
    verified()
    [mention] = blog.linkbacks()
    assert (mention.mention_type, mention.source_url) == ("mention", sender.url + "/posts/aside")
    result = blog.app.test_cli_runner().invoke(args=["linkback", "approve", str(mention.id)])
    assert result.exit_code == 0, result.output
    assert len(shown(blog, "question").xpath(f'//a[@href="{sender.url}/posts/aside"]')) == 1

    sender.delete("aside")
    assert requests.get(sender.url + "/posts/aside", timeout=10).status_code == 410
    assert sender.send() == {"sent": 1}
    verified()
    assert blog.linkbacks() == []
    assert shown(blog, "question").xpath(f'//a[@href="{sender.url}/posts/aside"]') == []


def test_an_edited_reply_on_one_blog_shows_its_new_text_on_the_other(blog, sender, verified):
    blog.add_post("question", title="A question")
    question = blog.post_url("question")
    reply = f'<p>In reply to <a class="u-in-reply-to" href="{question}">the question</a>: {{}}</p>'
    sender.write("answer", "My answer", reply.format("yes, because of the first reason."))
    assert sender.send() == {"sent": 1}
    verified()
    [row] = blog.linkbacks()
    result = blog.app.test_cli_runner().invoke(args=["linkback", "approve", str(row.id)])
    assert result.exit_code == 0, result.output
    [shown_reply] = shown(blog, "question").find_class("linkback-reply")
    assert "the first reason" in shown_reply.text_content()

    # B corrects the reply, keeping the link: its outbox re-sends the webmention once.
    sender.edit("answer", reply.format("yes, because of a better reason."))
    assert sender.send() == {"sent": 1}
    verified()
    [shown_reply] = shown(blog, "question").find_class("linkback-reply")
    assert "a better reason" in shown_reply.text_content()
    assert "the first reason" not in shown_reply.text_content()
    [updated] = blog.linkbacks()
    assert (updated.id, updated.status) == (row.id, "approved")

    # Saved again unchanged: nothing more goes out.
    sender.edit("answer", reply.format("yes, because of a better reason."))
    assert sender.send() == {}

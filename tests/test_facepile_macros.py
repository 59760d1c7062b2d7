"""The presentation macros: replies as comments, likes and reposts as facepiles, the rest listed;
every remote string escaped and only http(s) photos shown, whatever was stored."""

from __future__ import annotations

from typing import Any

import lxml.html
import requests
from flask import render_template_string

from example_blog.extensions import db
from flask_linkback.models import Status
from flask_linkback.urls import normalize_url


def store(blog: Any, post: Any, n: int, **fields: Any) -> None:
    """Store one linkback row directly, as any past version or a hostile source might have
    left it."""
    source = fields.pop("source_url", f"https://site{n}.example/entry/{n}")
    with blog.app.app_context():
        model = blog.app.extensions["linkback"].models.IncomingLinkback
        db.session.add(
            model(
                kind=fields.pop("kind", "webmention"),
                source_url=source,
                source_key=normalize_url(source),
                source_host=f"site{n}.example",
                target_url=blog.post_url(post.slug),
                post_id=str(post.id),
                title=fields.pop("title", f"Entry {n}"),
                status=fields.pop("status", Status.APPROVED.value),
                **fields,
            )
        )
        db.session.commit()


def page(blog: Any, slug: str) -> lxml.html.HtmlElement:
    response = requests.get(blog.post_url(slug), timeout=10)
    assert response.status_code == 200
    return lxml.html.fromstring(response.content)


def test_likes_and_reposts_are_facepiles_with_counts_and_sized_avatars(blog):
    post = blog.add_post("p")
    for n in range(3):
        store(
            blog,
            post,
            n,
            mention_type="like",
            author_name=f"Liker {n}",
            author_url=f"https://liker{n}.example/",
            author_photo=f"https://liker{n}.example/me.jpg",
        )
    for n in range(3, 5):
        store(
            blog,
            post,
            n,
            mention_type="repost",
            author_name=f"Reposter {n}",
            author_photo=f"https://cdn.example/{n}.png",
        )
    store(blog, post, 9, mention_type="like", author_name="Held", status=Status.PENDING.value)
    store(blog, post, 10, mention_type="like", author_name="Spammer", status=Status.SPAM.value)

    html = page(blog, "p")

    [likes] = html.find_class("linkback-facepile-likes")
    [reposts] = html.find_class("linkback-facepile-reposts")
    assert likes.find_class("linkback-facepile-count")[0].text_content() == "3"
    assert reposts.find_class("linkback-facepile-count")[0].text_content() == "2"
    faces = likes.find_class("linkback-face")
    assert [face.find("a").get("title") for face in faces] == ["Liker 0", "Liker 1", "Liker 2"]
    assert [face.find("a").get("href") for face in faces] == [
        f"https://liker{n}.example/" for n in range(3)
    ]
    for img in likes.iter("img"):
        assert (img.get("width"), img.get("height")) == ("32", "32")
        assert "width: 32px" in img.get("style")
    # Reposts without an author URL link to the reposting page itself.
    assert [a.get("href") for a in reposts.iter("a")] == [
        "https://site3.example/entry/3",
        "https://site4.example/entry/4",
    ]
    assert html.find_class("linkback-list") == []  # likes and reposts are not listed twice


def test_remote_text_is_escaped_and_only_http_photos_are_shown(blog):
    post = blog.add_post("p")
    store(
        blog,
        post,
        1,
        mention_type="reply",
        author_name='<script>alert("name")</script>',
        author_url="javascript:alert(1)",
        author_photo="javascript:alert(2)",
        content='<p>Hi<script>alert(3)</script><img src=x onerror="alert(4)"></p>',
    )
    store(
        blog,
        post,
        2,
        mention_type="like",
        author_name='"><b>bold</b>',
        author_photo="data:image/png;base64,AAAA",
    )
    store(
        blog,
        post,
        3,
        mention_type="mention",
        title="<i>not italic</i>",
        excerpt="<b>not bold</b>",
        author_name="Mentioner",
    )

    html = page(blog, "p")

    assert html.xpath("//script") == []
    assert html.xpath("//*[@onerror]") == []
    assert html.xpath("//b") == [] and html.xpath("//i") == []
    assert [img.get("src") for img in html.xpath("//*[@id='linkbacks']//img")] == []
    [reply] = html.find_class("linkback-reply")
    assert (
        reply.find_class("linkback-author-name")[0].text_content()
        == '<script>alert("name")</script>'
    )
    assert (
        reply.find_class("linkback-author-link")[0].get("href") == "https://site1.example/entry/1"
    )
    assert reply.find_class("linkback-content")[0].text_content() == "Hi"
    [face] = html.find_class("linkback-face")
    assert face.find("a").get("title") == '"><b>bold</b>'
    assert face.find_class("linkback-avatar-missing")[0].text_content() == '"'
    [listed] = html.find_class("linkback-list")[0].find_class("linkback")
    assert listed.find_class("linkback-source")[0].text_content() == "<i>not italic</i>"
    assert listed.find_class("linkback-excerpt")[0].text_content() == "<b>not bold</b>"


def test_reply_shows_author_photo_link_content_and_date(blog):
    post = blog.add_post("p")
    from datetime import datetime

    store(
        blog,
        post,
        1,
        mention_type="reply",
        author_name="Ann",
        author_url="https://ann.example/",
        author_photo="https://ann.example/ann.jpg",
        content="<p>Good <em>point</em>.</p>",
        published_at=datetime(2026, 11, 20, 10, 0),
    )
    store(blog, post, 2, mention_type="reply", content=None, excerpt="[…] plain excerpt […]")

    replies = page(blog, "p").find_class("linkback-reply")

    assert len(replies) == 2
    first, second = replies
    assert first.find_class("linkback-author-name")[0].text_content() == "Ann"
    assert first.find_class("linkback-author-link")[0].get("href") == "https://ann.example/"
    img = first.find(".//img")
    assert (img.get("src"), img.get("width"), img.get("height")) == (
        "https://ann.example/ann.jpg",
        "48",
        "48",
    )
    assert first.xpath(".//*[contains(@class, 'linkback-content')]/p/em/text()") == ["point"]
    assert first.xpath(".//time/@datetime") == ["2026-11-20T10:00:00Z"]
    assert first.find_class("linkback-permalink")[0].get("href") == "https://site1.example/entry/1"
    # Without an h-card, the author is the source's host, never "Anonymous".
    assert second.find_class("linkback-author-name")[0].text_content() == "site2.example"
    assert second.find_class("linkback-excerpt")[0].text_content() == "[…] plain excerpt […]"


def test_linkback_list_alone_still_lists_every_approved_linkback(blog):
    post = blog.add_post("p")
    store(blog, post, 1, mention_type="reply", kind="webmention")
    store(blog, post, 2, mention_type="like", kind="webmention")
    store(blog, post, 3, mention_type="mention", kind="pingback")

    with blog.app.test_request_context():
        everything = render_template_string(
            '{% import "linkback/macros.html" as lb %}{{ lb.linkback_list(post) }}', post=post
        )
        mentions = render_template_string(
            '{% import "linkback/macros.html" as lb %}'
            "{{ lb.linkback_list(post, mentions_only=True) }}",
            post=post,
        )

    def listed(html: str) -> list[str]:
        return [a.get("href") for a in lxml.html.fromstring(html).find_class("linkback-source")]

    assert listed(everything) == [f"https://site{n}.example/entry/{n}" for n in (1, 2, 3)]
    assert listed(mentions) == ["https://site3.example/entry/3"]

"""The example post page read as IndieWeb sites read it: mf2py, then mf2util's interpretation.

Each response must be a comment, like or repost OF the post's h-entry (not a
stray top-level h-cite), with its own URL, its author's h-card, and dates a
consumer can place in time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import lxml.html
import mf2py
import mf2util
import requests

from example_blog.extensions import db
from flask_linkback.models import Status
from flask_linkback.urls import normalize_url


def store(blog: Any, post: Any, source: str, **fields: Any) -> None:
    with blog.app.app_context():
        model = blog.app.extensions["linkback"].models.IncomingLinkback
        db.session.add(
            model(
                kind=fields.pop("kind", "webmention"),
                source_url=source,
                source_key=normalize_url(source),
                source_host=source.split("/")[2],
                target_url=blog.post_url(post.slug),
                post_id=str(post.id),
                title=fields.pop("title", ""),
                status=fields.pop("status", Status.APPROVED.value),
                **fields,
            )
        )
        db.session.commit()


def photo_url(value: Any) -> str | None:
    """mf2py 2 gives a photo with alt text as {"value", "alt"}; older parsers a plain URL."""
    return value.get("value") if isinstance(value, dict) else value


def aware(value: Any) -> bool:
    return (
        isinstance(value, datetime) and value.tzinfo is not None and value.utcoffset() is not None
    )


def read_post(blog: Any, slug: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(mf2py's parse of the page, mf2util's interpretation of its h-entry)."""
    url = blog.post_url(slug)
    response = requests.get(url, timeout=10)
    assert response.status_code == 200
    parsed = mf2py.parse(doc=response.text, url=url)
    return parsed, mf2util.interpret_entry(parsed, url)


def test_responses_are_comments_likes_and_reposts_of_the_post_entry(blog):
    post = blog.add_post("answered", title="A post people answered")
    store(
        blog,
        post,
        "https://ann.example/replies/1",
        mention_type="reply",
        author_name="Ann",
        author_url="https://ann.example/",
        author_photo="https://ann.example/ann.jpg",
        content="<p>Good point.</p>",
        published_at=datetime(2026, 11, 20, 10, 30),
    )
    store(
        blog,
        post,
        "https://bob.example/notes/7",
        mention_type="reply",
        author_name="Bob",
        excerpt="[…] Bob disagrees […]",
    )
    store(
        blog,
        post,
        "https://lee.example/likes/3",
        mention_type="like",
        author_name="Lee",
        author_url="https://lee.example/",
        author_photo="https://lee.example/lee.png",
        published_at=datetime(2026, 11, 21, 8, 0),
    )
    store(
        blog,
        post,
        "https://rob.example/reposts/9",
        mention_type="repost",
        author_name="Rob",
        author_url="https://rob.example/",
    )
    store(
        blog,
        post,
        "https://old.example/2026/answer",
        kind="pingback",
        title="My answer",
        blog_name="The Old Blog",
        excerpt="[…] as the post said […]",
    )
    store(
        blog,
        post,
        "https://spam.example/x",
        mention_type="like",
        author_name="Spammer",
        status=Status.SPAM.value,
    )

    parsed, entry = read_post(blog, "answered")

    # One h-entry at the top; the responses are inside it, not stray top-level h-cites.
    assert [item["type"] for item in parsed["items"]] == [["h-entry"]]
    assert entry["url"] == blog.post_url("answered")
    comments = {c["url"]: c for c in entry["comment"]}
    assert set(comments) == {
        "https://ann.example/replies/1",
        "https://bob.example/notes/7",
        "https://old.example/2026/answer",
    }
    [like] = entry["like"]
    [repost] = entry["repost"]
    # Each response's URL is its own page, never its author's home page.
    assert like["url"] == "https://lee.example/likes/3"
    assert repost["url"] == "https://rob.example/reposts/9"

    ann = comments["https://ann.example/replies/1"]
    assert ann["author"]["name"] == "Ann"
    assert ann["author"]["url"] == "https://ann.example/"
    assert photo_url(ann["author"]["photo"]) == "https://ann.example/ann.jpg"
    assert "Good point." in ann["content-plain"]
    assert aware(ann["published"]) and ann["published"].isoformat() == "2026-11-20T10:30:00+00:00"
    # An author the source gave no URL or photo for has a name only: no made-up URL.
    bob = comments["https://bob.example/notes/7"]
    assert bob["author"] == {"name": "Bob"}
    assert comments["https://old.example/2026/answer"]["author"]["name"] == "The Old Blog"

    assert like["author"]["name"] == "Lee"
    assert like["author"]["url"] == "https://lee.example/"
    assert photo_url(like["author"]["photo"]) == "https://lee.example/lee.png"
    assert aware(like["published"])
    assert repost["author"]["name"] == "Rob" and repost["author"]["url"] == "https://rob.example/"


def test_post_author_has_an_h_card_with_photo_and_the_date_has_a_timezone(blog):
    blog.add_post("dated", published_at=datetime(2026, 11, 30, 9, 15))

    _parsed, entry = read_post(blog, "dated")

    author = entry["author"]
    assert author["name"] == blog.app.config["BLOG_AUTHOR"]
    assert author["url"] == blog.url + "/"
    photo = photo_url(author["photo"])
    assert photo == blog.url + "/static/avatar.png"
    # The photo is served by the blog itself, as a real image.
    image = requests.get(photo, timeout=10)
    assert image.status_code == 200 and image.headers["Content-Type"] == "image/png"
    assert image.content.startswith(b"\x89PNG")
    assert (
        aware(entry["published"]) and entry["published"].isoformat() == "2026-11-30T09:15:00+00:00"
    )


def test_the_blogs_own_comments_are_comments_of_the_entry_too(blog):
    post = blog.add_post("talked-about")
    client = blog.app.test_client()
    page = client.get("/posts/talked-about")
    [token] = lxml.html.fromstring(page.data).xpath("//input[@name='csrf_token']/@value")
    client.post(
        "/posts/talked-about", data={"csrf_token": token, "author": "Carol", "body": "Thanks!"}
    )
    store(blog, post, "https://ann.example/replies/2", mention_type="reply", author_name="Ann")

    _, entry = read_post(blog, "talked-about")

    names = sorted(comment["author"]["name"] for comment in entry["comment"])
    assert names == ["Ann", "Carol"]

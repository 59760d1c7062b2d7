"""The demo: two example blogs on two ports, one pinging the other for real."""

from __future__ import annotations

import xmlrpc.client
from collections.abc import Iterator
from typing import Any

import lxml.html
import pytest

from example_blog import create_app
from example_blog.extensions import db as blog_db

from conftest import Blog, LiveServer


@pytest.fixture
def other_blog(tmp_path: Any) -> Iterator[Blog]:
    """A second, independent example blog (its own SQLite file and port)."""
    server = LiveServer()
    app = create_app({
        "TESTING": True,
        "SECRET_KEY": "other",
        "SERVER_NAME": server.netloc,
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'other.sqlite3'}",
        "LINKBACK_ALLOW_PRIVATE_ADDRESSES": True,
    })
    with app.app_context():
        blog_db.create_all()
    server.app = app
    server.start()
    yield Blog(app, server.url)
    server.stop()
    with app.app_context():
        blog_db.engine.dispose()


def test_a_post_on_one_blog_pings_a_post_on_the_other(blog, other_blog):
    blog.add_post("original", title="The original")
    other_blog.add_post(
        "answer",
        title="An answer from across town",
        body=f'<p>I disagree with <a href="{blog.post_url("original")}">the original post</a> on one point.</p>',
    )

    answer = xmlrpc.client.ServerProxy(blog.url + "/xmlrpc").pingback.ping(
        other_blog.post_url("answer"), blog.post_url("original"))

    assert "registered" in answer
    [row] = blog.linkbacks()
    assert row.title == "An answer from across town"  # the h-entry's name, not the page <title>
    assert "the original post" in row.excerpt
    assert other_blog.linkbacks() == []  # the sender stores nothing about it
    result = blog.app.test_cli_runner().invoke(args=["linkback", "approve", str(row.id)])
    assert result.exit_code == 0, result.output
    page = lxml.html.fromstring(blog.app.test_client().get("/posts/original").data)
    [link] = page.find_class("linkback-source")
    assert (link.get("href"), link.text_content()) == (other_blog.post_url("answer"), row.title)

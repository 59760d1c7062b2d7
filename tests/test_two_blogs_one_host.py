"""Two example blogs under one host, at /alice/ and /bob/ of one server (werkzeug's
DispatcherMiddleware): each is its own site, so their posts ping each other over HTTP, while a
link to a page of one's own site that is not a post is recorded as skipped, with its reason."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from conftest import Database, LiveServer
from werkzeug.exceptions import NotFound
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from example_blog import create_app
from example_blog.extensions import db, linkback
from example_blog.models import Post
from flask_linkback.models import utcnow


@dataclass
class PrefixedBlog:
    app: Any
    url: str  # the blog's root, e.g. http://127.0.0.1:PORT/alice

    def write(self, slug: str, body: str) -> str:
        with self.app.test_request_context():
            db.session.add(Post(slug=slug, title=slug.title(), body=body, published_at=utcnow()))
            db.session.commit()
            linkback.post_published(Post.query.filter_by(slug=slug).one())
        return f"{self.url}/posts/{slug}"

    def send(self) -> dict[str, int]:
        with self.app.test_request_context():
            return linkback.send_pending()

    def outbox(self, slug: str) -> dict[str, tuple[str, str, str | None, bool]]:
        with self.app.test_request_context():
            post = Post.query.filter_by(slug=slug).one()
            return {row.target_url: (row.protocol, row.status, row.reason, row.local)
                    for row in linkback.outgoing_for(post)}

    def received(self) -> list[tuple[str, str]]:
        """(source, target) of every linkback this blog stored, once verification is done."""
        state = self.app.extensions["linkback"]
        assert state.inbound.join(self.app, timeout=15), "verification did not finish"
        with self.app.app_context():
            model = state.models.IncomingLinkback
            return [(row.source_url, row.target_url) for row in model.query.order_by(model.id)]


@pytest.fixture
def alice_and_bob(database: Database, tmp_path: Any) -> Iterator[tuple[PrefixedBlog, PrefixedBlog]]:
    server = LiveServer()
    blogs = []
    for name, uri, options in (("alice", database.url, database.engine_options),
                               ("bob", f"sqlite:///{tmp_path / 'bob.sqlite3'}", {})):
        app = create_app({
            "TESTING": True, "SECRET_KEY": name, "SERVER_NAME": server.netloc,
            "APPLICATION_ROOT": f"/{name}", "SESSION_COOKIE_PATH": f"/{name}",
            "SQLALCHEMY_DATABASE_URI": uri, "SQLALCHEMY_ENGINE_OPTIONS": options,
            "LINKBACK_ALLOW_PRIVATE_ADDRESSES": True, "LINKBACK_FETCH_TIMEOUT": 2.0,
            "BLOG_TITLE": f"{name.title()}'s notes", "LINKBACK_ENVIRONMENT": "production",
        })
        with app.app_context():
            db.create_all()
        blogs.append(PrefixedBlog(app, f"{server.url}/{name}"))
    alice, bob = blogs
    server.app = DispatcherMiddleware(NotFound(), {"/alice": alice.app, "/bob": bob.app})
    server.start()
    yield alice, bob
    server.stop()
    for blog in blogs:
        state = blog.app.extensions["linkback"]
        state.inbound.wait_idle(timeout=15)
        state.inbound.shutdown()
        with blog.app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_two_blogs_under_one_host_ping_each_other(alice_and_bob):
    alice, bob = alice_and_bob
    question = bob.write("question", "<p>Which way is north?</p>")
    older = alice.write("older", "<p>An older note.</p>")
    host_root = alice.url.removesuffix("/alice") + "/"

    answer = alice.write("answer", (
        f'<p>In reply to <a class="u-in-reply-to" href="{question}">Bob</a>: up. '
        f'See <a href="{older}">my older note</a>, <a href="{alice.url}/">my home page</a> '
        f'and <a href="{host_root}">this host</a>.</p>'))
    assert alice.send() == {"sent": 2, "failed": 1}

    assert alice.outbox("answer") == {
        question: ("webmention", "sent", None, False),   # another site on this host: sent
        older: ("pingback", "sent", None, True),          # our own post: recorded locally
        f"{alice.url}/": ("pingback", "skipped", "not-a-post", True),
        host_root: ("webmention", "failed", None, False),  # outside our root: tried like any other
    }
    assert bob.received() == [(answer, question)]
    assert (answer, older) in alice.received()

    # And back: Bob's reply reaches Alice's post over HTTP too.
    reply = bob.write("reply", f'<p>Thanks for <a href="{answer}">your answer</a>.</p>')
    assert bob.send() == {"sent": 1}
    assert bob.outbox("reply") == {answer: ("webmention", "sent", None, False)}
    assert (reply, answer) in alice.received()

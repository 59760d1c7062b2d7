"""Small helpers shared by the outgoing-ping tests: publish a post, drain, read the outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from example_blog.extensions import db, linkback
from example_blog.models import Post


def publish(blog: Any, slug: str, now: datetime | None = None, **changes: Any) -> list[Any]:
    """Save changes to a post and call the publishing hook, as the editor does."""
    with blog.app.app_context():
        post = Post.query.filter_by(slug=slug).one()
        for name, value in changes.items():
            setattr(post, name, value)
        db.session.commit()
        rows = linkback.post_published(post, now=now)
        for row in rows:
            db.session.expunge(row)
        return rows


def drain(blog: Any, now: datetime | None = None) -> dict[str, int]:
    with blog.app.app_context():
        return linkback.send_pending(now=now)


def outbox(blog: Any, slug: str) -> dict[str, Any]:
    """The post's outgoing pings by target URL, detached from the session."""
    with blog.app.app_context():
        post = Post.query.filter_by(slug=slug).one()
        rows = linkback.outgoing_for(post)
        for row in rows:
            db.session.expunge(row)
        return {row.target_url: row for row in rows}


def links(*urls: str) -> str:
    return "".join(f'<p>See <a href="{url}">this</a>.</p>' for url in urls)

"""The extension objects, and the blog's glue for flask-linkback (the host interface)."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from flask import current_app, redirect, request, session, url_for
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from werkzeug.wrappers import Response

from flask_linkback import Linkback, PostInfo

if TYPE_CHECKING:  # models.py imports db from here
    from .models import Post

db = SQLAlchemy()
linkback = Linkback(db=db)
# `flask db migrate` sees the blog's tables and the extension's: both are on db.metadata.
migrate = Migrate()


@linkback.post_loader
def load_post(post_id: str) -> Post | None:
    from .models import Post

    if not (post_id.isascii() and post_id.isdigit() and int(post_id) < 2**31):
        return None  # not an id this blog could have issued
    return db.session.get(Post, int(post_id))


@linkback.url_resolver
def post_for_url(url: str) -> Post | None:
    from .models import Post

    # The blog may be served under a path prefix (APPLICATION_ROOT, e.g. "/alice").
    root: str = current_app.config["APPLICATION_ROOT"].strip("/")
    path = urlsplit(url).path.strip("/")
    if root:
        if not path.startswith(root + "/"):
            return None
        path = path[len(root) + 1:]
    parts = path.split("/")
    if len(parts) == 2 and parts[0] == "posts":
        found: Post | None = Post.query.filter_by(slug=parts[1]).first()
        return found
    return None


@linkback.post_info
def describe_post(post: Post) -> PostInfo:
    return PostInfo(
        id=str(post.id),
        url=url_for("blog.post", slug=post.slug, _external=True),
        title=post.title,
        excerpt=post.excerpt,
        html=post.body,
        # A deleted post owes no new pings (post_deleted re-sends its webmentions).
        published_at=post.published_at if post.deleted_at is None else None,
        pings_open=post.pings_open and post.is_published,
        comments_open=post.comments_open,
        public=post.is_published,
        trackback_to=tuple(line.strip() for line in (post.trackback_to or "").splitlines()
                           if line.strip()),
    )


@linkback.admin_check
def may_moderate() -> bool | Response:
    """The blog's admin may use the linkback admin pages; anyone else is sent to log in."""
    if session.get("admin") is True:
        return True
    return redirect(url_for("admin.login", next=request.full_path.rstrip("?")))

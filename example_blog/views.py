"""The public side of the blog: the post list, a post with its comments and linkbacks."""

from __future__ import annotations

from datetime import timedelta

import click
from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import joinedload

from flask_linkback.models import utcnow

from .extensions import db
from .forms import CommentForm
from .models import Comment, Post

bp = Blueprint("blog", __name__)


@bp.route("/")
def index() -> str:
    posts = (Post.query.filter(Post.published_at.isnot(None), Post.published_at <= utcnow(),
                               Post.deleted_at.is_(None))
             .order_by(Post.published_at.desc()).all())
    return render_template("index.html", posts=posts)


@bp.route("/posts/<slug>", methods=["GET", "POST"])
def post(slug: str) -> ResponseReturnValue:
    # The comments come with the post (one query): with its linkbacks and the settings, a post
    # page costs three queries however many responses it has.
    post = Post.query.options(joinedload(Post.comments)).filter_by(slug=slug).first()
    if post is not None and post.deleted_at is not None:
        abort(410)  # gone for good: a webmention receiver drops the mentions it had from here
    if post is None or not post.is_published:
        abort(404)
    form = CommentForm()
    if post.comments_open and form.validate_on_submit():
        db.session.add(Comment(post=post, author=form.author.data, body=form.body.data))
        db.session.commit()
        flash("Thanks for your comment.")
        return redirect(url_for("blog.post", slug=slug) + "#comments")
    return render_template("post.html", post=post, form=form)


SAMPLE_POSTS = [
    (
        "hello-linkbacks",
        "Hello, linkbacks",
        (
            '<p>This blog speaks <a href="https://www.hixie.ch/specs/pingback/pingback">Pingback</a>'
            " and TrackBack. Link to any post here from your own blog and it will show up below"
            " it.</p>"
        ),
    ),
    (
        "why-pingbacks",
        "Why pingbacks matter",
        (
            "<p>A pingback tells a writer that someone answered them. Read "
            '<a href="/posts/hello-linkbacks">the first post</a> for how this blog handles'
            " them.</p>"
        ),
    ),
    (
        "comments-closed",
        "Comments closed, pings open",
        "<p>Comments are closed on this post, but its pingback list is open: link to it and"
        " see.</p>",
    ),
]


def seed_posts() -> str:
    """Create the tables and, on an empty blog, a few sample posts; say what was done."""
    db.create_all()
    if Post.query.first() is not None:
        return "The blog already has posts; nothing seeded."
    now = utcnow()
    for age, (slug, title, body) in enumerate(reversed(SAMPLE_POSTS)):
        db.session.add(
            Post(
                slug=slug,
                title=title,
                body=body,
                published_at=now - timedelta(hours=age + 1),
                comments_open=slug != "comments-closed",
            )
        )
    db.session.commit()
    return f"Seeded {len(SAMPLE_POSTS)} posts."


@click.command("seed")
def seed_command() -> None:
    """Create the tables and, on an empty blog, a few sample posts."""
    click.echo(seed_posts())

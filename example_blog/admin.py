"""The owner's side: log in, write posts, approve linkbacks."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from functools import wraps
from typing import Any, ParamSpec
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue

from flask_linkback.models import Status, utcnow

from .extensions import db, linkback
from .forms import ActionForm, LoginForm, PostForm
from .models import Post

P = ParamSpec("P")
bp = Blueprint("admin", __name__, url_prefix="/admin")


def is_admin() -> bool:
    return session.get("admin") is True


def admin_required(view: Callable[P, ResponseReturnValue]) -> Callable[P, ResponseReturnValue]:
    @wraps(view)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> ResponseReturnValue:
        if not is_admin():
            return redirect(url_for("admin.login", next=request.path))
        return view(*args, **kwargs)

    return wrapped


@bp.app_context_processor
def inject_admin() -> dict[str, Any]:
    admin = is_admin()
    return {"is_admin": admin, "pending_linkbacks": linkback.pending_count() if admin else 0}


def safe_next(target: str) -> str | None:
    r"""``target`` if it is a path on this site to return to after logging in, else None.

    Browsers drop tabs and newlines from URLs and read ``\`` as ``/``, so
    ``/\t/evil.example/`` and ``/\evil.example/`` both go to
    ``//evil.example/``: any such character refuses the URL outright. What is
    left must parse as a bare path (no scheme, no host) starting with one "/".
    """
    if not target or "\\" in target or not target.isprintable() or target != target.strip():
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None  # "///host" parses as an empty netloc and the path "/host"
    return target


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    form = LoginForm()
    if form.validate_on_submit():
        config = current_app.config
        good_user = hmac.compare_digest(form.username.data, config["BLOG_ADMIN_USER"])
        good_password = hmac.compare_digest(form.password.data, config["BLOG_ADMIN_PASSWORD"])
        if good_user and good_password:
            session.clear()
            session["admin"] = True
            return redirect(safe_next(request.args.get("next", "")) or url_for("admin.dashboard"))
        flash("Wrong user or password.")
    return render_template("login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout() -> ResponseReturnValue:
    session.clear()
    return redirect(url_for("blog.index"))


@bp.route("/")
@admin_required
def dashboard() -> ResponseReturnValue:
    posts = Post.query.order_by(Post.created_at.desc()).all()
    Linkback = linkback.models.IncomingLinkback
    pending = (Linkback.query.filter_by(status=Status.PENDING.value)
               .order_by(Linkback.created_at.desc(), Linkback.id.desc()).limit(5).all())
    return render_template("admin.html", posts=posts, pending=pending, form=ActionForm())


@bp.route("/posts/new", methods=["GET", "POST"])
@bp.route("/posts/<int:post_id>/edit", methods=["GET", "POST"])
@admin_required
def edit(post_id: int | None = None) -> ResponseReturnValue:
    # A new post takes pings as the Discussion settings say; each post can override it.
    post = (db.session.get(Post, post_id) if post_id
            else Post(pings_open=linkback.settings().pings_open_default, comments_open=True))
    if post is None:
        abort(404)
    form = PostForm(obj=post)
    if form.validate_on_submit():
        form.populate_obj(post)
        post.trackback_to = (form.trackback_to.data or "").strip()
        db.session.add(post)
        db.session.commit()
        # Queues the pings (due at the publish time; the outbox worker sends
        # them), or with the box unticked drops those not sent yet.
        linkback.post_published(post, send_pings=form.notify.data)
        flash("Saved.")
        return redirect(url_for("admin.edit", post_id=post.id))
    outgoing = linkback.outgoing_for(post) if post.id else []
    received = linkback.received_for(post) if post.id else []
    return render_template(
        "editor.html",
        form=form,
        post=post,
        outgoing=outgoing,
        received=received,
        delete_form=ActionForm(),
        now_utc=utcnow(),
    )


@bp.route("/posts/<int:post_id>/check", methods=["POST"])
@admin_required
def check_link(post_id: int) -> ResponseReturnValue:
    """Run discovery on one of the post's ping targets now and show what it offers."""
    if not ActionForm().validate_on_submit():
        abort(400)
    post = db.session.get(Post, post_id)
    if post is None:
        abort(404)
    outgoing = linkback.outgoing_for(post)
    url = request.form.get("url", "")
    if url not in {ping.target_url for ping in outgoing}:
        abort(404)  # only the post's own links: the editor is not a general fetcher
    form = PostForm(obj=post)
    return render_template(
        "editor.html",
        form=form,
        post=post,
        outgoing=outgoing,
        received=linkback.received_for(post),
        delete_form=ActionForm(),
        now_utc=utcnow(),
        checked=linkback.check_link(url),
    )


@bp.route("/posts/<int:post_id>/delete", methods=["POST"])
@admin_required
def delete(post_id: int) -> ResponseReturnValue:
    """Soft-delete: the post's URL answers 410 Gone, and the webmentions it sent go out again."""
    if not ActionForm().validate_on_submit():
        abort(400)
    post = db.session.get(Post, post_id)
    if post is None:
        abort(404)
    if post.deleted_at is None:
        post.deleted_at = utcnow()
        db.session.commit()
        linkback.post_deleted(post)
    flash("Deleted: its page now answers 410 Gone.")
    return redirect(url_for("admin.dashboard"))


@bp.route("/linkbacks/<int:linkback_id>/<action>", methods=["POST"])
@admin_required
def moderate(linkback_id: int, action: str) -> ResponseReturnValue:
    if not ActionForm().validate_on_submit():
        abort(400)
    row = db.session.get(linkback.models.IncomingLinkback, linkback_id)
    if row is None:
        abort(404)
    if action == "delete":
        db.session.delete(row)
        db.session.commit()
    elif action in (Status.APPROVED, Status.SPAM, Status.PENDING):
        linkback.set_status(row, action, reason="by the admin")
    else:
        abort(404)
    return redirect(url_for("admin.dashboard"))

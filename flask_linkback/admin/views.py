"""The admin blueprint: the moderation queue (pending, approved, spam, trash) and the settings.

Who may see it is the host's decision (``@linkback.admin_check``); with no
callback registered every page answers 403. The queue pages by keyset
(newest first, ``before=<created_at>~<id>``), so any page costs two queries:
the rows and the per-tab counts.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
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
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response as BaseResponse

from .. import signals, tables
from ..environment import sending_off_reason
from ..host import HostNotConfigured
from ..models import Kind, Status, utcnow
from ..settings import current_settings, save_settings, trust_host
from ..signals import current_app_object
from ..state import current_state
from .forms import ACTIONS, EmptyForm, ModerateForm, SettingsForm
from .owner_views import add_owner_routes

logger = logging.getLogger("flask_linkback")

TABS = (Status.PENDING, Status.APPROVED, Status.SPAM, Status.TRASH)
#: What each tab offers for its rows, in button order.
TAB_ACTIONS = {
    Status.PENDING: ("approve", "trust", "spam", "trash"),
    Status.APPROVED: ("unapprove", "spam", "trash"),
    Status.SPAM: ("restore", "approve", "delete"),
    Status.TRASH: ("untrash", "delete"),
}
TAB_LABELS = {Status.PENDING: "Pending", Status.APPROVED: "Approved", Status.SPAM: "Spam",
              Status.TRASH: "Trash"}
KINDS = tuple(kind.value for kind in Kind)
MENTION_TYPES = ("reply", "like", "repost", "bookmark", "mention")
#: The queue's filters (query-string names) that every tab, page and action link keeps.
FILTERS = ("q", "post", "kind", "type")
#: Rows an "Undo" after trashing can bring back (a bulk trash of more restores the first ones).
UNDO_MAX = 500
STATIC = Path(__file__).resolve().parent.parent / "static" / "linkback"


def make_admin_blueprint(config: Mapping[str, Any]) -> Blueprint:
    bp = Blueprint("linkback_admin", __name__, url_prefix=config["LINKBACK_ADMIN_URL_PREFIX"],
                   static_folder=str(STATIC), static_url_path="/static")
    bp.before_request(_check_access)
    tables.register(bp)
    bp.context_processor(_admin_context)
    bp.after_request(_deny_framing)
    bp.add_url_rule("/", "index", index)
    bp.add_url_rule("/queue/<status>", "queue", queue)
    bp.add_url_rule("/moderate", "moderate", moderate, methods=["POST"])
    bp.add_url_rule("/empty", "empty", empty, methods=["POST"])
    bp.add_url_rule("/settings", "settings", settings, methods=["GET", "POST"])
    add_owner_routes(bp)
    return bp


def _check_access() -> Any:
    checker = current_state().extension.admin_checker
    if checker is None:
        logger.error(
            "flask-linkback admin pages refused: no admin check is registered. Register one:\n\n"
            "@linkback.admin_check\ndef is_admin() -> bool: return current_user.is_admin")
        abort(403, description="The linkback admin pages are closed: the site has not said who "
                               "its admins are (@linkback.admin_check).")
    answer = checker()
    if isinstance(answer, BaseResponse):
        return answer
    if answer is not True:
        abort(403)
    return None


def _admin_context() -> dict[str, Any]:
    return {"linkback_admin_tabs": TABS, "linkback_tab_labels": TAB_LABELS,
            "linkback_sending_off": sending_off_reason()}


def _deny_framing(response: BaseResponse) -> BaseResponse:
    """No admin page may be shown inside another site's frame (clickjacking the moderation buttons).

    Both headers: ``frame-ancestors`` for browsers that read CSP, ``X-Frame-Options`` for older
    ones. A CSP the host already set is extended, not replaced.
    """
    response.headers["X-Frame-Options"] = "DENY"
    policy = response.headers.get("Content-Security-Policy", "")
    if "frame-ancestors" not in policy:
        parts = (policy.strip().rstrip(";"), "frame-ancestors 'none'")
        policy = "; ".join(part for part in parts if part)
        response.headers["Content-Security-Policy"] = policy
    return response


def index() -> Any:
    return redirect(url_for(".queue", status=Status.PENDING.value))


def _counts(where: list[Any] | None = None) -> dict[str, int]:
    Linkback = current_state().models.IncomingLinkback
    query = sa.select(Linkback.status, sa.func.count()).group_by(Linkback.status)
    for condition in where or []:
        query = query.where(condition)
    counts = {tab.value: 0 for tab in TABS}
    for status, n in current_state().db.session.execute(query):
        counts[status] = n
    return counts


def pending_count() -> int:
    """Linkbacks waiting for the admin (one query); for the host's navigation."""
    Linkback = current_state().models.IncomingLinkback
    count: int = current_state().db.session.scalar(
        sa.select(sa.func.count()).select_from(Linkback)
        .where(Linkback.status == Status.PENDING.value))
    return count


def received_for(post_id: str, limit: int = 200) -> list[Any]:
    """A post's linkbacks outside the Trash, newest first (at most ``limit``)."""
    Linkback = current_state().models.IncomingLinkback
    return list(current_state().db.session.scalars(
        sa.select(Linkback)
        .where(Linkback.post_id == post_id, Linkback.status != Status.TRASH.value)
        .order_by(Linkback.created_at.desc(), Linkback.id.desc()).limit(limit)))


def _parse_cursor(text: str | None) -> tuple[datetime, int] | None:
    if not text:
        return None
    stamp, _, ident = text.rpartition("~")
    try:
        return datetime.fromisoformat(stamp), int(ident)
    except ValueError:
        return None


def _like(text: str) -> str:
    """``text`` as a LIKE pattern matching it anywhere, with its own % and _ taken literally."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _filters() -> dict[str, str]:
    """The queue's filters from the query string; unknown kinds and types are dropped."""
    values = {name: (request.args.get(name) or "").strip()[:200] for name in FILTERS}
    if values["kind"] not in KINDS:
        values["kind"] = ""
    if values["type"] not in MENTION_TYPES:
        values["type"] = ""
    return {name: value for name, value in values.items() if value}


def _conditions(filters: Mapping[str, str]) -> list[Any]:
    Linkback = current_state().models.IncomingLinkback
    where: list[Any] = []
    if "q" in filters:
        pattern = _like(filters["q"])
        where.append(sa.or_(*(column.ilike(pattern, escape="\\") for column in
                              (Linkback.source_url, Linkback.title, Linkback.excerpt))))
    if "post" in filters:
        where.append(Linkback.post_id == filters["post"])
    if "kind" in filters:
        where.append(Linkback.kind == filters["kind"])
    if "type" in filters:
        where.append(Linkback.mention_type == filters["type"])
    return where


def post_titles(post_ids: Any) -> dict[str, str]:
    """post id -> the post's title as the host describes it ("" when the host can't say)."""
    callbacks = current_state().callbacks
    titles: dict[str, str] = {}
    for post_id in post_ids:
        try:
            post = callbacks.load(post_id)
            titles[post_id] = callbacks.describe(post).title if post is not None else ""
        except HostNotConfigured:
            titles[post_id] = ""
    return titles


def counts_by_post(post_ids: Any) -> dict[str, dict[str, int]]:
    """post id -> {status: count} for these posts, in one query."""
    Linkback = current_state().models.IncomingLinkback
    ids = list(post_ids)
    counts: dict[str, dict[str, int]] = {post_id: {} for post_id in ids}
    if ids:
        rows = current_state().db.session.execute(
            sa.select(Linkback.post_id, Linkback.status, sa.func.count())
            .where(Linkback.post_id.in_(ids)).group_by(Linkback.post_id, Linkback.status))
        for post_id, status, n in rows:
            counts[post_id][status] = n
    return counts


def _post_menu(titles: Mapping[str, str], selected: str | None) -> list[tuple[str, str]]:
    """(post id, label) for the "Post" filter: the posts on this page and the selected one.

    Not every post of the site: each title costs the host a lookup, and the
    per-post links in the table lead to any other post's linkbacks.
    """
    ids = list(titles)
    if selected and selected not in titles:
        ids.append(selected)
        titles = {**titles, **post_titles([selected])}
    return sorted(((post_id, titles[post_id] or f"post {post_id}") for post_id in ids),
                  key=lambda item: item[1].lower())


def queue(status: str) -> str:
    try:
        tab = Status(status)
    except ValueError:
        abort(404)
    Linkback = current_state().models.IncomingLinkback
    size = current_app.config["LINKBACK_ADMIN_PAGE_SIZE"]
    filters = _filters()
    where = _conditions(filters)
    query = (sa.select(Linkback).where(Linkback.status == tab.value, *where)
             .order_by(Linkback.created_at.desc(), Linkback.id.desc()))
    cursor = _parse_cursor(request.args.get("before"))
    if cursor is not None:
        created, ident = cursor
        # A row-value comparison, so the (status, created_at) index serves it.
        query = query.where(sa.tuple_(Linkback.created_at, Linkback.id) < sa.tuple_(created, ident))
    rows = list(current_state().db.session.scalars(query.limit(size + 1)))
    older = None
    if len(rows) > size:
        rows = rows[:size]
        last = rows[-1]
        older = f"{last.created_at.isoformat()}~{last.id}"
    post_ids = dict.fromkeys(row.post_id for row in rows)
    titles = post_titles(post_ids)
    undo = session.pop("_linkback_undo", None)
    return render_template(
        "linkback/admin/queue.html",
        tab=tab, tabs=TABS, tab_labels=TAB_LABELS, counts=_counts(where), rows=rows, older=older,
        paged=cursor is not None, actions=TAB_ACTIONS[tab], action_labels=ACTIONS,
        form=ModerateForm(formdata=None), empty_form=EmptyForm(formdata=None),
        filters=filters, kinds=KINDS, mention_types=MENTION_TYPES,
        post_menu=_post_menu(titles, filters.get("post")), titles=titles,
        post_counts=counts_by_post(post_ids), undo=undo if isinstance(undo, list) else None,
    )


def moderate() -> Any:
    formdata: MultiDict[str, str] = request.form
    one = request.form.get("one", "")
    if one:
        # A row's own button: "approve:12" stands for action=approve, ids=[12].
        action, _, ident = one.partition(":")
        formdata = MultiDict([("csrf_token", request.form.get("csrf_token", "")),
                              ("action", action), ("ids", ident)])
    form = ModerateForm(formdata=formdata)
    back = _back_url()
    if not form.validate():
        if "csrf_token" in form.errors:
            abort(400, description=f"Nothing done: {form.errors['csrf_token'][0]}")
        for errors in form.errors.values():
            for error in errors:
                flash(f"Nothing done: {error}")
        return redirect(back)
    state = current_state()
    Linkback = state.models.IncomingLinkback
    rows = list(state.db.session.scalars(
        sa.select(Linkback).where(Linkback.id.in_(form.ids.data)).order_by(Linkback.id)))
    if not rows:
        abort(404)
    if form.action.data == "delete" and not form.confirmed.data:
        # Deleting is for good: ask first, on a page of its own (no script needed).
        return render_template("linkback/admin/confirm.html", rows=rows, back=back,
                               form=ModerateForm(formdata=None),
                               titles=post_titles({r.post_id for r in rows}))
    done = _apply(form.action.data, rows)
    if form.action.data == "trash":
        session["_linkback_undo"] = [row.id for row in rows[:UNDO_MAX]]
    flash(done)
    return redirect(back)


def empty() -> Any:
    """Empty Trash or Empty Spam: a confirmation page first, then every row of that tab goes."""
    form = EmptyForm()
    if not form.validate():
        abort(400, description="Nothing done: " + "; ".join(
            error for errors in form.errors.values() for error in errors))
    tab = Status(form.status.data)
    state = current_state()
    Linkback = state.models.IncomingLinkback
    if not form.confirmed.data:
        count = state.db.session.scalar(
            sa.select(sa.func.count()).select_from(Linkback).where(Linkback.status == tab.value))
        return render_template("linkback/admin/confirm.html", rows=None, empty_tab=tab,
                               empty_count=count, tab_labels=TAB_LABELS,
                               back=url_for(".queue", status=tab.value),
                               form=EmptyForm(formdata=None))
    deleted = 0
    while True:
        batch = list(state.db.session.scalars(
            sa.select(Linkback).where(Linkback.status == tab.value)
            .order_by(Linkback.id).limit(500)))
        if not batch:
            break
        _delete(batch)
        deleted += len(batch)
    plural = "s" if deleted != 1 else ""
    flash(f"Emptied {TAB_LABELS[tab]}: deleted {deleted} linkback{plural} for good.")
    return redirect(url_for(".queue", status=tab.value))


def _delete(rows: list[Any]) -> None:
    """Delete rows for good in one commit, then send ``linkback_deleted`` for each."""
    db_session = current_state().db.session
    for row in rows:
        db_session.delete(row)
    db_session.commit()
    app = current_app_object()
    for row in rows:
        signals.linkback_deleted.send(app, linkback=row)


def _apply(action: str, rows: list[Any]) -> str:
    extension = current_state().extension
    n = len(rows)
    what = f"{n} linkback{'s' if n != 1 else ''}"
    if action == "delete":
        _delete(rows)
        return f"Deleted {what} for good."
    if action == "trash":
        now = utcnow()
        for row in rows:
            if row.status != Status.TRASH.value:
                row.trashed_from, row.trashed_at = row.status, now
                row.status = Status.TRASH.value
        current_state().db.session.commit()
        app = current_app_object()
        for row in rows:
            signals.linkback_trashed.send(app, linkback=row)
        return f"Moved {what} to the Trash."
    if action == "untrash":
        for row in rows:
            if row.status == Status.TRASH.value:
                before = Status(row.trashed_from) if row.trashed_from in (
                    Status.PENDING, Status.APPROVED, Status.SPAM) else Status.PENDING
                row.trashed_from = row.trashed_at = None
                extension.set_status(row, before)
        return f"Restored {what} from the Trash."
    if action == "trust":
        hosts = sorted({row.source_host for row in rows})
        for host in hosts:
            trust_host(host)
        for row in rows:
            extension.set_status(row, Status.APPROVED,
                                 reason=f"approved: {row.source_host} is trusted")
        return (f"Approved {what}; from now on linkbacks from {', '.join(hosts)} "
                "are approved at once.")
    status, reason, verb = {
        "approve": (Status.APPROVED, "approved by the admin", "Approved"),
        "spam": (Status.SPAM, "marked as spam by the admin", "Marked as spam:"),
        "restore": (Status.PENDING, "restored from spam by the admin", "Restored to pending:"),
        "unapprove": (Status.PENDING, "unapproved by the admin", "Back to pending:"),
    }[action]
    for row in rows:
        row.trashed_from = row.trashed_at = None
        extension.set_status(row, status, reason=reason)
    return f"{verb} {what}."


def _back_url() -> str:
    """Where to go after an action: the queue page the form came from."""
    target = request.form.get("next", "")
    prefix = current_app.config["LINKBACK_ADMIN_URL_PREFIX"].rstrip("/") + "/"
    if target.startswith(prefix) and not target.startswith("//"):
        return target
    return url_for(".index")


def settings() -> Any:
    form = (SettingsForm() if request.method == "POST"
            else SettingsForm.from_settings(current_settings()))
    if request.method == "POST":
        if form.validate():
            new = save_settings(**form.changes())
            signals.settings_changed.send(current_app_object(), settings=new)
            flash("Settings saved.")
            return redirect(url_for(".settings"))
        return render_template("linkback/admin/settings.html", form=form), 400
    return render_template("linkback/admin/settings.html", form=form)

"""The admin blueprint: the moderation queue (pending, approved, spam) and the settings form.

Who may see it is the host's decision (``@linkback.admin_check``); with no
callback registered every page answers 403. The queue pages by keyset
(newest first, ``before=<created_at>~<id>``), so any page costs two queries:
the rows and the per-tab counts.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response as BaseResponse

from .. import signals
from ..models import Status
from ..settings import current_settings, save_settings, trust_host
from ..state import current_state
from .forms import ACTIONS, ModerateForm, SettingsForm

logger = logging.getLogger("flask_linkback")

TABS = (Status.PENDING, Status.APPROVED, Status.SPAM)
#: What each tab offers for its rows, in button order.
TAB_ACTIONS = {
    Status.PENDING: ("approve", "trust", "spam", "delete"),
    Status.APPROVED: ("unapprove", "spam", "delete"),
    Status.SPAM: ("restore", "approve", "delete"),
}


def make_admin_blueprint(config: Mapping[str, Any]) -> Blueprint:
    bp = Blueprint("linkback_admin", __name__, url_prefix=config["LINKBACK_ADMIN_URL_PREFIX"])
    bp.before_request(_check_access)
    bp.after_request(_deny_framing)
    bp.add_url_rule("/", "index", index)
    bp.add_url_rule("/queue/<status>", "queue", queue)
    bp.add_url_rule("/moderate", "moderate", moderate, methods=["POST"])
    bp.add_url_rule("/settings", "settings", settings, methods=["GET", "POST"])
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


def _deny_framing(response: BaseResponse) -> BaseResponse:
    """No admin page may be shown inside another site's frame (clickjacking the moderation buttons).

    Both headers: ``frame-ancestors`` for browsers that read CSP, ``X-Frame-Options`` for older
    ones. A CSP the host already set is extended, not replaced.
    """
    response.headers["X-Frame-Options"] = "DENY"
    policy = response.headers.get("Content-Security-Policy", "")
    if "frame-ancestors" not in policy:
        policy = "; ".join(part for part in (policy.strip().rstrip(";"), "frame-ancestors 'none'") if part)
        response.headers["Content-Security-Policy"] = policy
    return response


def index() -> Any:
    return redirect(url_for(".queue", status=Status.PENDING.value))


def _counts() -> dict[str, int]:
    Linkback = current_state().models.IncomingLinkback
    rows = current_state().db.session.execute(
        sa.select(Linkback.status, sa.func.count()).group_by(Linkback.status))
    counts = {tab.value: 0 for tab in TABS}
    counts.update({status: n for status, n in rows})
    return counts


def pending_count() -> int:
    """Linkbacks waiting for the admin (one query); for the host's navigation."""
    Linkback = current_state().models.IncomingLinkback
    return current_state().db.session.scalar(
        sa.select(sa.func.count()).select_from(Linkback).where(Linkback.status == Status.PENDING.value))


def _parse_cursor(text: str | None) -> tuple[datetime, int] | None:
    if not text:
        return None
    stamp, _, ident = text.rpartition("~")
    try:
        return datetime.fromisoformat(stamp), int(ident)
    except ValueError:
        return None


def queue(status: str) -> str:
    try:
        tab = Status(status)
    except ValueError:
        abort(404)
    Linkback = current_state().models.IncomingLinkback
    size = current_app.config["LINKBACK_ADMIN_PAGE_SIZE"]
    query = (sa.select(Linkback).where(Linkback.status == tab.value)
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
    return render_template(
        "linkback/admin/queue.html",
        tab=tab, tabs=TABS, counts=_counts(), rows=rows, older=older, paged=cursor is not None,
        actions=TAB_ACTIONS[tab], action_labels=ACTIONS, form=ModerateForm(formdata=None),
    )


def moderate() -> Any:
    formdata = request.form
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
    rows = list(state.db.session.scalars(sa.select(Linkback).where(Linkback.id.in_(form.ids.data))))
    if not rows:
        abort(404)
    done = _apply(form.action.data, rows)
    flash(done)
    return redirect(back)


def _apply(action: str, rows: list[Any]) -> str:
    extension = current_state().extension
    n = len(rows)
    what = f"{n} linkback{'s' if n != 1 else ''}"
    if action == "delete":
        for row in rows:
            extension.delete(row)
        return f"Deleted {what}."
    if action == "trust":
        hosts = sorted({row.source_host for row in rows})
        for host in hosts:
            trust_host(host)
        for row in rows:
            extension.set_status(row, Status.APPROVED, reason=f"approved: {row.source_host} is trusted")
        return f"Approved {what}; from now on linkbacks from {', '.join(hosts)} are approved at once."
    status, reason, verb = {
        "approve": (Status.APPROVED, "approved by the admin", "Approved"),
        "spam": (Status.SPAM, "marked as spam by the admin", "Marked as spam:"),
        "restore": (Status.PENDING, "restored from spam by the admin", "Restored to pending:"),
        "unapprove": (Status.PENDING, "unapproved by the admin", "Back to pending:"),
    }[action]
    for row in rows:
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
    form = SettingsForm() if request.method == "POST" else SettingsForm.from_settings(current_settings())
    if request.method == "POST":
        if form.validate():
            new = save_settings(**form.changes())
            signals.settings_changed.send(current_app._get_current_object(), settings=new)
            flash("Settings saved.")
            return redirect(url_for(".settings"))
        return render_template("linkback/admin/settings.html", form=form), 400
    return render_template("linkback/admin/settings.html", form=form)

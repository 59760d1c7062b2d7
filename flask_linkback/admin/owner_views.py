"""Admin pages for the blog owner's side: one linkback to review (the e-mail's links) and
the log of refused pings."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, render_template, request

from ..refusals import search
from ..state import current_state
from .forms import ACTIONS, ModerateForm

#: What the e-mail's links may ask the review page to offer first.
REVIEW_ACTIONS = ("approve", "spam", "unapprove", "restore")


def add_owner_routes(bp: Blueprint) -> None:
    bp.add_url_rule("/linkback/<int:linkback_id>", "review", review)
    bp.add_url_rule("/refusals", "refusals", refusals)


def review(linkback_id: int) -> Any:
    """One linkback with its moderation buttons; ``?do=approve`` puts that one first.

    A link in an e-mail is a GET, so it only shows the page: the change is a
    POST from this page's form, with its CSRF token.
    """
    row = current_state().db.session.get(current_state().models.IncomingLinkback, linkback_id)
    if row is None:
        abort(404)
    wanted = request.args.get("do", "")
    actions = [a for a in ("approve", "spam", "unapprove", "restore", "delete")
               if _offered(a, row.status)]
    if wanted in actions:
        actions.remove(wanted)
        actions.insert(0, wanted)
    return render_template("linkback/admin/review.html", item=row, actions=actions,
                           wanted=wanted if wanted in REVIEW_ACTIONS else "",
                           action_labels=ACTIONS, form=ModerateForm(formdata=None))


def _offered(action: str, status: str) -> bool:
    return {"approve": status != "approved", "spam": status != "spam",
            "unapprove": status == "approved", "restore": status == "spam",
            "delete": True}[action]


def refusals() -> Any:
    """The recent refused pings, newest first, searchable by source URL."""
    query = request.args.get("source", "")[:500]
    rows = search(query, limit=current_app.config["LINKBACK_ADMIN_PAGE_SIZE"] * 4)
    return render_template("linkback/admin/refusals.html", rows=rows, query=query,
                           size=current_app.config["LINKBACK_REFUSAL_LOG_SIZE"])

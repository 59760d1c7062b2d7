"""Webmention intake (W3C Recommendation §3.2): check at once, verify later.

The request only does what needs no network: ``source`` and ``target``
present, both http(s), not the same, and the target a post here that takes
linkbacks. Anything else is a ``400`` with a plain-text reason. A good
request is recorded, queued, and answered ``202 Accepted`` with a
``Location`` status URL; a worker then runs the shared pipeline (verify ->
moderate -> store), where a known (source, target) is an update or, when the
source is gone or dropped the link, a delete.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any
from urllib.parse import parse_qsl

from flask import Flask, Response, current_app, jsonify, render_template, request, url_for

from ..models import Kind, RequestStatus, Status
from ..state import current_state
from ..urls import is_http_url, same_url
from .background import QueueFull
from .body import BodyTooLarge, read_body
from .receive import Intake, Refusal, Removed, receive, resolve_target

logger = logging.getLogger("flask_linkback")

FORM_TYPES = frozenset({"", "application/x-www-form-urlencoded"})
STATUS_TEXT = {
    RequestStatus.QUEUED: "queued: waiting to be verified",
    RequestStatus.ACCEPTED: "accepted: verified and shown on the post",
    RequestStatus.PENDING: "pending moderation: verified, waiting for the site owner's approval",
    RequestStatus.REJECTED: "rejected",
    RequestStatus.DELETED: "deleted: the earlier mention was removed",
}


class BadRequest(ValueError):
    """A request that fails the synchronous checks; the message goes back to the sender."""


def webmention_endpoint() -> Response:
    if request.method != "POST":
        return Response(render_template("linkback/webmention_form.html"), 200)
    config = current_app.config
    if not config["LINKBACK_ACCEPT_WEBMENTIONS"]:
        return _plain("this site does not accept webmentions", 400)
    try:
        source, target, post_id = _check(read_body())
    except BodyTooLarge as error:
        return _plain(str(error), 413)
    except BadRequest as error:
        return _plain(str(error), 400)

    state = current_state()
    Record = state.models.WebmentionRequest
    record = Record(token=secrets.token_urlsafe(24), source_url=source[:2048],
                    target_url=target[:2048], post_id=post_id, sender_ip=request.remote_addr,
                    status=RequestStatus.QUEUED.value)
    session = state.db.session
    session.add(record)
    session.commit()
    try:
        state.webmention_queue.submit(
            verify_in_background, current_app._get_current_object(), record.id, request.host_url,
            workers=config["LINKBACK_WEBMENTION_WORKERS"], limit=config["LINKBACK_WEBMENTION_QUEUE"],
        )
    except (QueueFull, RuntimeError) as error:
        session.delete(record)
        session.commit()
        logger.warning("webmention %s -> %s not queued: %s", source, target, error)
        return _plain("too many webmentions are waiting to be verified; try again later", 503,
                      {"Retry-After": "60"})
    status_url = url_for("linkback.webmention_status", token=record.token, _external=True)
    return _plain(f"webmention queued for verification; its status is at {status_url}", 202,
                  {"Location": status_url})


def _check(body: bytes) -> tuple[str, str, str]:
    """(source, target, post id) of a well-formed webmention, else :class:`BadRequest`."""
    if request.mimetype not in FORM_TYPES:
        raise BadRequest("send source and target form-encoded (application/x-www-form-urlencoded)")
    try:
        fields = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("the form is not valid UTF-8 form data") from None
    source, target = fields.get("source", "").strip(), fields.get("target", "").strip()
    if not source:
        raise BadRequest("source is missing")
    if not target:
        raise BadRequest("target is missing")
    if not is_http_url(source):
        raise BadRequest("source must be an http or https URL")
    if not is_http_url(target):
        raise BadRequest("target must be an http or https URL")
    if same_url(source, target):
        raise BadRequest("source and target are the same URL")
    try:
        _, info = resolve_target(target)
    except Refusal as refusal:
        raise BadRequest(_target_reason(refusal.message)) from None
    if same_url(source, info.url):
        raise BadRequest("source and target are the same page")
    return source, target, info.id


def _target_reason(message: str) -> str:
    return message.replace("the target URI", "target").replace("linkbacks are", "mentions are")


def verify_in_background(app: Flask, record_id: int, host_url: str) -> None:
    """Verify one queued webmention and record the verdict for its status URL.

    Runs in a request context built from the original request's host, so the
    host's ``url_for(..., _external=True)`` and "is this URL on this site"
    answer as they did when the webmention arrived.
    """
    with app.test_request_context("/", base_url=host_url):
        state = current_state()
        session = state.db.session
        record = session.get(state.models.WebmentionRequest, record_id)
        if record is None:
            return
        intake = Intake(Kind.WEBMENTION, record.source_url, record.target_url,
                        sender_ip=record.sender_ip, update=True)
        try:
            row = receive(intake)
        except Removed as removed:
            status, reason, linkback_id = RequestStatus.DELETED, removed.message, None
        except Refusal as refusal:
            status, reason, linkback_id = RequestStatus.REJECTED, refusal.message, None
        except Exception:
            logger.exception("verifying webmention %s -> %s failed", record.source_url, record.target_url)
            session.rollback()
            status, reason, linkback_id = RequestStatus.REJECTED, "internal error while verifying", None
        else:
            linkback_id = row.id
            status, reason = {
                Status.APPROVED.value: (RequestStatus.ACCEPTED, ""),
                Status.PENDING.value: (RequestStatus.PENDING, ""),
            }.get(row.status, (RequestStatus.REJECTED, "held as spam"))
        record = session.get(state.models.WebmentionRequest, record_id)
        if record is None:
            return
        record.status = status.value
        record.reason = reason[:300]
        record.linkback_id = linkback_id
        session.commit()


def status_view(token: str) -> Any:
    """The status of one received webmention: HTML for people, JSON for programs."""
    record = current_state().models.WebmentionRequest.query.filter_by(token=token).first()
    if record is None:
        return _plain("no webmention has this status URL", 404)
    status = RequestStatus(record.status)
    data = {
        "status": status.value,
        "summary": STATUS_TEXT[status],
        "reason": record.reason or None,
        "source": record.source_url,
        "target": record.target_url,
        "received": record.created_at.isoformat() + "Z",
        "updated": record.updated_at.isoformat() + "Z",
    }
    if request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json":
        response = jsonify(data)
    else:
        response = Response(render_template("linkback/webmention_status.html", **data))
    response.headers["Vary"] = "Accept"
    response.headers["Cache-Control"] = "no-store"
    return response


def _plain(text: str, status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(text + "\n", status, headers, mimetype="text/plain")

"""Webmention intake (W3C Recommendation §3.2): check at once, verify later.

The request only does what needs no network: ``source`` and ``target``
present, both http(s), not the same, and the target a post here that takes
linkbacks. Anything else is a ``400`` with a plain-text reason. A good
request is written to the inbound queue, with a status record, and answered
``202 Accepted`` with a ``Location`` status URL; whichever process claims the
job runs the shared pipeline (verify -> moderate -> store), where a known
(source, target) is an update or, when the source is gone or dropped the
link, a delete. A mention re-sent while it still waits joins that job.

The status page follows the linkback's current state: a mention approved,
marked as spam or deleted by the site owner after verification reads so.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any
from urllib.parse import parse_qsl

from flask import Response, jsonify, render_template, request

from .. import signals
from ..models import Kind, RequestStatus, Status
from ..settings import current_settings
from ..signals import current_app_object
from ..site_url import external_url
from ..state import current_state
from ..urls import is_http_url, same_url
from .body import BodyTooLarge, read_body
from .queue import QueueFull, submit
from .ratelimit import RateLimited, too_many
from .receive import Intake, Refusal

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
    if not current_settings().accept_webmentions:
        return _plain("this site does not accept webmentions", 400)
    try:
        body = read_body()
        source, target = _check(body)
    except BodyTooLarge as error:
        return _plain(str(error), 413)
    except BadRequest as error:
        _refused(body, str(error))
        return _plain(str(error), 400)

    token = secrets.token_urlsafe(24)
    intake = Intake(Kind.WEBMENTION, source, target, sender_ip=request.remote_addr, update=True)
    try:
        submit(intake, token=token)
    except QueueFull as full:
        return _plain(full.message, 503, {"Retry-After": str(full.retry_after)})
    except Refusal as refusal:
        if isinstance(refusal, RateLimited):
            return too_many(refusal)
        return _plain(_target_reason(refusal.message), 400)
    status_url = external_url("linkback.webmention_status", token=token)
    return _plain(f"webmention queued for verification; its status is at {status_url}", 202,
                  {"Location": status_url})


def _refused(body: bytes, reason: str) -> None:
    """Tell ``linkback_refused`` receivers (the refusal log) about a mention refused at once."""
    form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    signals.linkback_refused.send(current_app_object(), kind=Kind.WEBMENTION,
                                  source=form.get("source", ""), target=form.get("target", ""),
                                  reason=reason)


def _check(body: bytes) -> tuple[str, str]:
    """(source, target) of a well-formed webmention, else :class:`BadRequest`."""
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
    return source, target


def _target_reason(message: str) -> str:
    return message.replace("the target URI", "target").replace("linkbacks are", "mentions are")


def status_view(token: str) -> Any:
    """The status of one received webmention: HTML for people, JSON for programs."""
    state = current_state()
    record = state.models.WebmentionRequest.query.filter_by(token=token).first()
    if record is None:
        return _plain("no webmention has this status URL", 404)
    status, reason = _current_status(record)
    data = {
        "status": status.value,
        "summary": STATUS_TEXT[status],
        "reason": reason or None,
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


def _current_status(record: Any) -> tuple[RequestStatus, str]:
    """The verdict as it stands now: the linkback's current state, once there is one."""
    status = RequestStatus(record.status)
    if record.linkback_id is None or status not in (RequestStatus.ACCEPTED, RequestStatus.PENDING,
                                                     RequestStatus.REJECTED):
        return status, record.reason
    linkback = current_state().db.session.get(current_state().models.IncomingLinkback,
                                              record.linkback_id)
    if linkback is None:
        return RequestStatus.DELETED, "removed by the site owner"
    return {
        Status.APPROVED.value: (RequestStatus.ACCEPTED, ""),
        Status.PENDING.value: (RequestStatus.PENDING, ""),
        Status.SPAM.value: (RequestStatus.REJECTED, "held as spam"),
    }.get(linkback.status, (RequestStatus.DELETED, "removed by the site owner"))


def _plain(text: str, status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(text + "\n", status, headers, mimetype="text/plain")

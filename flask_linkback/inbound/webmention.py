"""Webmention intake (W3C Recommendation §3.2): check at once, verify later.

The request only does what needs no network: ``source`` and ``target``
present, both http(s), not the same, and the target a post here that takes
linkbacks. Anything else is a ``400`` with a plain-text reason. A good
request is queued and answered ``202 Accepted`` with a ``Location`` status
URL; a worker then runs the shared pipeline (verify -> moderate -> store),
where a known (source, target) is an update or, when the source is gone or
dropped the link, a delete, and records the verdict for the status URL.

The request itself writes nothing: its status token is signed with the app's
SECRET_KEY, so until the worker records a verdict any process of the site
can tell a genuine token ("queued") from a made-up one (404). That keeps a
database commit out of the endpoint, which a flood of webmentions would
otherwise serialise on.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from flask import Flask, Response, current_app, jsonify, render_template, request, url_for
from itsdangerous import BadData, URLSafeTimedSerializer

from ..logtext import loggable
from ..models import Kind, RequestStatus, Status, utcnow
from ..settings import current_settings
from ..state import current_state
from ..urls import is_http_url, normalize_url, same_url, strip_fragment
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
    if not current_settings().accept_webmentions:
        return _plain("this site does not accept webmentions", 400)
    try:
        source, target, post_id = _check(read_body())
    except BodyTooLarge as error:
        return _plain(str(error), 413)
    except BadRequest as error:
        return _plain(str(error), 400)

    token = _serializer().dumps(secrets.token_urlsafe(16))
    queued = Queued(token, source, target, post_id, request.remote_addr, utcnow(), time.monotonic())
    try:
        current_state().webmention_queue.submit_keyed(
            (normalize_url(source), post_id), queued,
            verify_in_background, current_app._get_current_object(), request.host_url,
            workers=config["LINKBACK_WEBMENTION_WORKERS"], limit=config["LINKBACK_WEBMENTION_QUEUE"],
        )
    except (QueueFull, RuntimeError) as error:
        logger.warning("webmention %s -> %s not queued: %s", loggable(source), loggable(target),
                       loggable(error))
        return _plain("too many webmentions are waiting to be verified; try again later", 503,
                      {"Retry-After": "60"})
    status_url = url_for("linkback.webmention_status", token=token, _external=True)
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
    post_id, post_url = _accepting_post(target)
    if same_url(source, post_url):
        raise BadRequest("source and target are the same page")
    return source, target, post_id


TARGET_CACHE_SECONDS = 2.0
#: A genuine token without a recorded verdict reads "queued" for this long, then 404:
#: a job lost to a restart, or a record pruned, does not stay "queued" forever.
QUEUED_MAX_SECONDS = 3600


def _accepting_post(target: str) -> tuple[str, str]:
    """(post id, permalink) of the post ``target`` names, if it takes mentions; else BadRequest.

    Answers are remembered for TARGET_CACHE_SECONDS per (host, target), so a
    burst of webmentions to one post costs one lookup in the host's database.
    That is safe because the worker resolves the target again before storing:
    a post closed meanwhile still refuses the mention.
    """
    key = (request.host.lower(), normalize_url(strip_fragment(target)))
    cache = current_state().webmention_targets
    hit = cache.get(key)
    if hit is not None and hit[0] > time.monotonic():
        return hit[1], hit[2]
    try:
        _, info = resolve_target(target)
    except Refusal as refusal:
        raise BadRequest(_target_reason(refusal.message)) from None
    if len(cache) >= 1024:
        cache.clear()
    cache[key] = (time.monotonic() + TARGET_CACHE_SECONDS, info.id, info.url)
    return info.id, info.url


def _target_reason(message: str) -> str:
    return message.replace("the target URI", "target").replace("linkbacks are", "mentions are")


@dataclass(frozen=True)
class Queued:
    """A webmention that passed the synchronous checks, on its way to a worker."""

    token: str
    source: str
    target: str
    post_id: str
    sender_ip: str | None
    received_at: datetime
    #: ``time.monotonic()`` at arrival: the source must be fetched after it.
    arrived: float = 0.0


def _serializer() -> URLSafeTimedSerializer:
    if not current_app.secret_key:
        raise RuntimeError("flask-linkback signs webmention status URLs: set the app's SECRET_KEY")
    return URLSafeTimedSerializer(current_app.secret_key, salt="flask-linkback-webmention-status")


def verify_in_background(items: list[Queued], app: Flask, host_url: str) -> None:
    """Verify queued webmentions for one (source, post) once; record the verdict for each.

    Several items mean the same mention was re-sent while it waited: one
    verification (of the latest) answers them all. Runs in a request context
    built from the original request's host, so the host's
    ``url_for(..., _external=True)`` and "is this URL on this site" answer as
    they did when the webmention arrived.
    """
    queued = items[-1]
    with app.test_request_context("/", base_url=host_url):
        state = current_state()
        session = state.db.session
        intake = Intake(Kind.WEBMENTION, queued.source, queued.target,
                        sender_ip=queued.sender_ip, update=True,
                        fresh_after=items[0].arrived)
        try:
            row = receive(intake)
        except Removed as removed:
            status, reason, linkback_id = RequestStatus.DELETED, removed.message, None
        except Refusal as refusal:
            status, reason, linkback_id = RequestStatus.REJECTED, refusal.message, None
        except Exception:
            logger.exception("verifying webmention %s -> %s failed", loggable(queued.source),
                             loggable(queued.target))
            session.rollback()
            status, reason, linkback_id = RequestStatus.REJECTED, "internal error while verifying", None
        else:
            linkback_id = row.id
            status, reason = {
                Status.APPROVED.value: (RequestStatus.ACCEPTED, ""),
                Status.PENDING.value: (RequestStatus.PENDING, ""),
            }.get(row.status, (RequestStatus.REJECTED, "held as spam"))
        session.add_all(state.models.WebmentionRequest(
            token=item.token, source_url=item.source[:2048], target_url=item.target[:2048],
            post_id=item.post_id, sender_ip=item.sender_ip, status=status.value,
            reason=reason[:300], linkback_id=linkback_id, created_at=item.received_at,
        ) for item in items)
        session.commit()


def status_view(token: str) -> Any:
    """The status of one received webmention: HTML for people, JSON for programs."""
    record = current_state().models.WebmentionRequest.query.filter_by(token=token).first()
    if record is not None:
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
    else:
        try:
            _, signed_at = _serializer().loads(token, max_age=QUEUED_MAX_SECONDS, return_timestamp=True)
        except BadData:  # made up, altered, or old with its record pruned (or its job lost)
            return _plain("no webmention has this status URL", 404)
        received = signed_at.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"
        data = {"status": RequestStatus.QUEUED.value, "summary": STATUS_TEXT[RequestStatus.QUEUED],
                "reason": None, "source": None, "target": None, "received": received,
                "updated": received}
    if request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json":
        response = jsonify(data)
    else:
        response = Response(render_template("linkback/webmention_status.html", **data))
    response.headers["Vary"] = "Accept"
    response.headers["Cache-Control"] = "no-store"
    return response


def _plain(text: str, status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(text + "\n", status, headers, mimetype="text/plain")

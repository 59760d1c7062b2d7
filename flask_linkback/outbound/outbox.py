"""Publishing a post fills the outbox: one row per (post, target, protocol), due at go-live.

Links come from the post's HTML (the real parser); TrackBack URLs from what
the author typed. A link gets one row, sent by Webmention or Pingback as the
target offers (discovery decides at send time). A target that already got
its ping is left alone on update; new links get rows; links removed before
their ping went out lose their rows; a removed link that got a *webmention*
is re-sent once, so the target re-fetches the post and drops the mention
(Webmention §3.1.4); a pingback is never re-sent. Deleting a post
(:func:`post_deleted`) re-sends every webmention it sent. Links to this
site's own posts become local rows, recorded through the receiving pipeline
without HTTP.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy.exc import IntegrityError

from ..host import PostInfo
from ..html import Document
from ..models import utcnow
from ..site import netloc_key, site_netlocs
from ..state import current_state
from ..urls import is_http_url, normalize_url, strip_fragment
from .discover import DiscoveryCache
from .model import DUE_STATUSES, LINK_PROTOCOLS, PingStatus, Protocol

logger = logging.getLogger("flask_linkback")


class OutboxRuntime:
    """Per-app, per-process helpers of the outbox: the clock, the discovery cache, the scheduler.

    ``clock`` returns naive UTC; tests replace it to move time without waiting.
    """

    def __init__(self) -> None:
        self.clock: Callable[[], datetime] = utcnow
        self.discovery = DiscoveryCache(clock=time.monotonic)
        self.scheduler: Any = None
        self.lock = threading.Lock()


def runtime() -> OutboxRuntime:
    state = current_state()
    found = getattr(state, "outbox", None)
    if found is None:
        found = state.outbox = OutboxRuntime()
    return found


def send_pings_for(info: PostInfo) -> bool:
    """The post's own choice, else the admin's "notify linked blogs" (default LINKBACK_SEND_PINGS)."""
    from ..settings import current_settings

    return info.send_pings if info.send_pings is not None else current_settings().notify_linked_blogs


def own_netlocs(info: PostInfo) -> set[str]:
    """This site's names, and the post's own host (the outbox may run outside a request)."""
    return site_netlocs() | {netloc_key(info.url)}


def plan_targets(info: PostInfo) -> dict[tuple[str, str], tuple[str, bool]]:
    """``(protocol, target) -> (target host, local)`` for every ping the post should send.

    Links to this site that are not posts (the home page, a tag page) and
    links to the post itself are not pinged.
    """
    state = current_state()
    own = own_netlocs(info)
    me = normalize_url(strip_fragment(info.url))
    seen: set[str] = set()
    first_choice_webmention = bool(current_app.config["LINKBACK_PREFER_WEBMENTION"])
    plan: dict[tuple[str, str], tuple[str, bool]] = {}
    for link in Document(info.html or "", info.url).http_links():
        target = strip_fragment(link.href)
        key = normalize_url(target)
        if key in seen or key == me:
            continue
        seen.add(key)
        host = netloc_key(target)
        local = host in own
        if local:
            if current_app.config["LINKBACK_SELF_PINGS"] == "off":
                continue
            post = state.callbacks.resolve(target)
            if post is None or state.callbacks.describe(post).id == info.id:
                continue
        protocol = (Protocol.WEBMENTION.value if first_choice_webmention and not local
                    else Protocol.PINGBACK.value)
        plan[(protocol, target[:2048])] = (host[:255], local)
    for url in info.trackback_to:
        url = url.strip()
        if is_http_url(url):
            plan[(Protocol.TRACKBACK.value, url[:2048])] = (netloc_key(url)[:255], False)
    return plan


def post_published(post: Any, *, send_pings: bool | None = None,
                   now: datetime | None = None) -> list[Any]:
    """Queue the pings a published (or updated) post owes; return its outbox rows.

    Nothing is sent here: rows are due at the post's publish time and the
    worker sends them. Safe to call on every save. ``send_pings`` overrides
    the post's own setting for this call (an editor's "notify" box); with
    pings off, pings not yet sent are dropped.
    """
    state = current_state()
    info = state.callbacks.describe(post)
    if send_pings is not None:
        info = replace(info, send_pings=send_pings)
    Ping = state.models.OutgoingPing
    session = state.db.session
    now = now or runtime().clock()
    if info.published_at is None or not send_pings_for(info):
        _drop_unsent(Ping, info.id, keep=set())
        session.commit()
        return outgoing_for(info)
    due = max(info.published_at, now)
    plan = plan_targets(info)
    for attempt in range(2):
        try:
            _sync_rows(Ping, info, plan, due, now)
            session.commit()
            break
        except IntegrityError:
            # Another process queued the same target between our read and our insert.
            session.rollback()
            if attempt:
                raise
    _wake_scheduler(due)
    return outgoing_for(info)


def _row_key(protocol: str, target: str) -> tuple[str, str]:
    """A link's row is one whatever protocol it goes by; TrackBack rows are their own."""
    return ("link" if protocol in LINK_PROTOCOLS else protocol, target)


def _sync_rows(Ping: Any, info: PostInfo, plan: dict[tuple[str, str], tuple[str, bool]],
               due: datetime, now: datetime) -> None:
    session = current_state().db.session
    existing = {_row_key(row.protocol, row.target_url): row
                for row in Ping.query.filter_by(post_id=info.id)}
    planned = {_row_key(protocol, target) for protocol, target in plan}
    for key, row in existing.items():
        if key not in planned:
            _link_gone(row, now)
    for (protocol, target), (host, local) in plan.items():
        row = existing.get(_row_key(protocol, target))
        if row is None:
            session.add(Ping(post_id=info.id, source_url=info.url[:2048], target_url=target,
                             target_host=host, protocol=protocol, local=local,
                             status=PingStatus.QUEUED.value, next_attempt_at=due))
            continue
        if row.link_removed:
            # The link is back: a target told of its removal must hear of it again.
            row.link_removed = False
            if row.status not in DUE_STATUSES:
                _requeue(row, due)
        elif row.status in DUE_STATUSES:
            row.source_url = info.url[:2048]
            if row.status == PingStatus.QUEUED.value and row.sent_at is None:
                row.next_attempt_at = due


def _link_gone(row: Any, now: datetime) -> None:
    """The post no longer links to ``row``'s target (or is gone): forget or re-send.

    A ping that never went out is forgotten; a webmention that did is re-sent
    once (its receiver re-fetches the post, sees no link or a 410, and drops
    the mention); pingbacks and trackbacks have no way to take one back.
    """
    if row.link_removed:
        return
    if row.sent_at is None:
        if row.status in DUE_STATUSES:
            current_state().db.session.delete(row)
        return
    if row.protocol == Protocol.WEBMENTION.value and not row.local \
            and row.status != PingStatus.SENDING.value:
        row.link_removed = True
        if row.status not in DUE_STATUSES:
            _requeue(row, now)


def _requeue(row: Any, due: datetime) -> None:
    row.status = PingStatus.QUEUED.value
    row.attempts = 0
    row.last_error = ""
    row.next_attempt_at = due


def _drop_unsent(Ping: Any, post_id: str, keep: set[tuple[str, str]]) -> None:
    """Forget queued pings for links the post no longer has (they never went out)."""
    session = current_state().db.session
    for row in Ping.query.filter(Ping.post_id == post_id, Ping.status.in_(DUE_STATUSES)):
        if (row.protocol, row.target_url) not in keep and row.sent_at is None:
            session.delete(row)


def post_deleted(post: Any, *, now: datetime | None = None) -> list[Any]:
    """The host deleted (or unpublished for good) a post: re-send its webmentions.

    Every target that got a webmention from the post gets it again, due now;
    the post's URL should by then answer ``410 Gone`` so each receiver drops
    the mention. Pings that never went out are forgotten. ``post`` is the
    host's post (its callbacks must still describe it) or its
    :class:`~flask_linkback.host.PostInfo`. Returns the post's outbox rows.
    """
    state = current_state()
    info = post if isinstance(post, PostInfo) else state.callbacks.describe(post)
    Ping = state.models.OutgoingPing
    now = now or runtime().clock()
    for row in Ping.query.filter_by(post_id=info.id).all():
        _link_gone(row, now)
    state.db.session.commit()
    _wake_scheduler(now)
    return outgoing_for(info)


def outgoing_for(post: Any) -> list[Any]:
    """The post's outbox rows, oldest first: what was pinged, what failed and why, what waits."""
    state = current_state()
    info = post if isinstance(post, PostInfo) else state.callbacks.describe(post)
    Ping = state.models.OutgoingPing
    return Ping.query.filter_by(post_id=info.id).order_by(Ping.created_at, Ping.id).all()


def _wake_scheduler(due: datetime) -> None:
    from .scheduler import wake

    wake(current_app._get_current_object(), due)

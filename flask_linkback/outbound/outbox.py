"""Publishing a post fills the outbox: one row per (post, target, protocol), due at go-live.

Links come from the post's HTML (the real parser); TrackBack URLs from what
the author typed. A link gets one row, sent by Webmention or Pingback as the
target offers (discovery decides at send time). On update, new links get
rows; links removed before their ping went out lose their rows; every sent
row whose link is gone is marked ``link_removed``. When the post's content
changed (a digest of its title and HTML), every webmention it sent goes
again once, removed links included, so each target re-fetches the post and
updates or drops the mention (Webmention §3.1.4); pingbacks and trackbacks
are never re-sent. Deleting a post (:func:`post_deleted`) re-sends every
webmention it sent. Links to this site's own posts become local rows,
recorded through the receiving pipeline without HTTP; links to its other
pages, or to the post itself, are rows ``skipped`` with their reason.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy.exc import IntegrityError

from ..host import PostInfo
from ..html import Document
from ..models import utcnow
from ..settings import current_settings
from ..site import configured_site, netloc_key
from ..state import current_state
from ..urls import is_http_url, normalize_url, strip_fragment
from .discover import DiscoveryCache
from .model import (
    DUE_STATUSES,
    LINK_PROTOCOLS,
    PLANNED_SKIPS,
    SKIP_MESSAGES,
    PingStatus,
    Protocol,
    SkipReason,
)

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
        #: Set by the running scheduler: ``wake(due)`` makes it drain the outbox at ``due``.
        self.wake: Callable[[datetime], None] | None = None


def runtime() -> OutboxRuntime:
    return current_state().outbox


def send_pings_for(info: PostInfo) -> bool:
    """The post's own choice, else the admin's "notify linked blogs" (default
    LINKBACK_SEND_PINGS)."""
    if info.send_pings is not None:
        return info.send_pings
    return current_settings().notify_linked_blogs


def in_site_scope(url: str, info: PostInfo) -> bool:
    """True when ``url`` is inside this site: one of its names *and* under its path prefix.

    The site is the configured one (LINKBACK_SITE_URL, else SERVER_NAME and
    APPLICATION_ROOT; see :mod:`flask_linkback.site`), so two blogs under one
    host (``example.org/alice/``, ``example.org/bob/``) are two sites and a
    link from one to the other is sent like any other. With no site
    configured, the post's own host stands in for it.
    """
    site = configured_site()
    if site is not None:
        return site.contains(url)
    return netloc_key(url) == netloc_key(info.url)


@dataclass(frozen=True)
class Planned:
    """What a save decided for one link: its host, whether it is ours, and why not sent (if not)."""

    host: str
    local: bool = False
    skip: SkipReason | None = None


def plan_targets(info: PostInfo) -> dict[tuple[str, str], Planned]:
    """``(protocol, target) -> Planned`` for every link and TrackBack URL of the post.

    Targets are kept exactly as the post links them (only a ``#fragment`` is
    cut, as HTTP never sends it). Links to this site that are not posts (the
    home page, a tag page), to the post itself, and to its other posts when
    self-pings are off are planned as skipped, with the reason.
    """
    state = current_state()
    me = normalize_url(strip_fragment(info.url))
    seen: set[str] = set()
    first_choice_webmention = bool(current_app.config["LINKBACK_PREFER_WEBMENTION"])
    plan: dict[tuple[str, str], Planned] = {}
    for link in Document(info.html or "", info.url).http_links():
        target = strip_fragment(link.href)
        key = normalize_url(target)
        if key in seen:
            continue
        seen.add(key)
        host = netloc_key(target)
        local = in_site_scope(target, info)
        skip = None
        if key == me:
            skip = SkipReason.THIS_POST
        elif local:
            post = state.callbacks.resolve(target)
            if post is None:
                skip = SkipReason.NOT_A_POST
            elif state.callbacks.describe(post).id == info.id:
                skip = SkipReason.THIS_POST
            elif current_app.config["LINKBACK_SELF_PINGS"] == "off":
                skip = SkipReason.SELF_PINGS_OFF
        protocol = (Protocol.WEBMENTION.value if first_choice_webmention and not local
                    else Protocol.PINGBACK.value)
        plan[(protocol, target[:2048])] = Planned(host[:255], local or skip is not None, skip)
    for url in info.trackback_to:
        url = url.strip()
        if is_http_url(url):
            plan[(Protocol.TRACKBACK.value, url[:2048])] = Planned(netloc_key(url)[:255])
    return plan


def content_digest(info: PostInfo) -> str:
    """What a receiver shows of the post (title and HTML), as a SHA-256 hex digest."""
    return hashlib.sha256(f"{info.title}\0{info.html or ''}".encode()).hexdigest()


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


def _sync_rows(Ping: Any, info: PostInfo, plan: dict[tuple[str, str], Planned],
               due: datetime, now: datetime) -> None:
    session = current_state().db.session
    digest = content_digest(info)
    existing = {_row_key(row.protocol, row.target_url): row
                for row in Ping.query.filter_by(post_id=info.id)}
    planned = {_row_key(protocol, target) for protocol, target in plan}
    for key, row in existing.items():
        if key not in planned:
            _link_gone(row, now)
    for (protocol, target), plan_row in plan.items():
        row = existing.get(_row_key(protocol, target))
        if row is None:
            skip = plan_row.skip
            session.add(Ping(post_id=info.id, source_url=info.url[:2048], target_url=target,
                             target_host=plan_row.host, protocol=protocol, local=plan_row.local,
                             status=PingStatus.SKIPPED.value if skip else PingStatus.QUEUED.value,
                             reason=skip.value if skip else None,
                             last_error=SKIP_MESSAGES[skip] if skip else "",
                             next_attempt_at=due, content_hash=digest))
            continue
        if plan_row.skip is not None:
            if row.sent_at is None and (row.status in DUE_STATUSES or row.reason in PLANNED_SKIPS):
                row.status, row.reason = PingStatus.SKIPPED.value, plan_row.skip.value
                row.last_error, row.local = SKIP_MESSAGES[plan_row.skip], plan_row.local
            continue
        if row.status == PingStatus.SKIPPED.value and row.reason in PLANNED_SKIPS:
            # Skipped when saved before (e.g. the page was not a post yet): send it now.
            row.reason, row.local, row.protocol = None, plan_row.local, protocol
            _requeue(row, due)
        elif row.link_removed:
            # The link is back: a target told of its removal must hear of it again.
            row.link_removed = False
            if _resent_on_update(row) and row.status not in DUE_STATUSES:
                _requeue(row, due)
        elif row.status in DUE_STATUSES:
            row.source_url = info.url[:2048]
            if row.status == PingStatus.QUEUED.value and row.sent_at is None:
                row.next_attempt_at = due
    for row in existing.values():
        if row in session.deleted:
            continue
        changed = row.content_hash is not None and row.content_hash != digest
        row.content_hash = digest
        # Webmention §3.1.4: an updated post re-sends every webmention it sent,
        # removed links included, once per change. A row in flight is re-sent
        # by the worker when it sees the new digest (sent_hash != content_hash).
        if changed and _resent_on_update(row) and row.status not in DUE_STATUSES \
                and row.status != PingStatus.SENDING.value:
            _requeue(row, due)


def _resent_on_update(row: Any) -> bool:
    """A webmention that went out once: its target re-fetches the post to see the change."""
    return row.protocol == Protocol.WEBMENTION.value and not row.local and row.sent_at is not None


def _link_gone(row: Any, now: datetime) -> None:
    """The post no longer links to ``row``'s target (or is gone): forget, mark, or re-send.

    A ping that never went out is forgotten (and so is a link skipped when
    saved); one that did is marked ``link_removed``, whatever its protocol;
    a webmention is also re-sent once (its receiver re-fetches the post, sees
    no link or a 410, and drops the mention); pingbacks and trackbacks have no
    way to take one back.
    """
    if row.link_removed:
        return
    if row.sent_at is None and row.status != PingStatus.SENDING.value:
        if row.status in DUE_STATUSES or row.reason in PLANNED_SKIPS:
            current_state().db.session.delete(row)
        return
    row.link_removed = True
    if row.status == PingStatus.SENDING.value:
        # In flight: the worker re-sends it after, seeing the digest changed.
        row.content_hash = _GONE
    elif row.protocol == Protocol.WEBMENTION.value and not row.local:
        if row.status in DUE_STATUSES:  # a re-send already waits: the removal cannot
            row.next_attempt_at = min(row.next_attempt_at, now)
        else:
            _requeue(row, now)


#: The digest a row in flight gets when its link goes: never a real one, so it is re-sent.
_GONE = "gone"


def _requeue(row: Any, due: datetime) -> None:
    row.status = PingStatus.QUEUED.value
    row.reason = None
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
    rows: list[Any] = Ping.query.filter_by(post_id=info.id).order_by(Ping.created_at, Ping.id).all()
    return rows


def _wake_scheduler(due: datetime) -> None:
    wake = runtime().wake
    if wake is not None:
        wake(due)

"""The one receiving pipeline: intake -> verify -> moderate -> store.

Each protocol module turns a request into an :class:`Intake` and turns a
:class:`Refusal` back into its own answer (an XML-RPC fault, a TrackBack
error, an HTTP 400). Everything in between is shared, so every kind gets the
same checks, the same fetcher, the same rules and the same dedupe.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from .. import signals
from ..host import PostInfo
from ..html import strip_control_chars
from ..logtext import loggable
from ..mf2 import Entry, read_entry
from ..models import Kind, Status, utcnow
from ..signals import current_app_object
from ..site import SiteNotConfigured, current_site, is_local_url
from ..state import current_state
from ..urls import host_of, is_http_url, normalize_url, same_url, strip_fragment
from . import rules

# Re-exported: Reason and Refusal were defined here before refusal.py.
from .refusal import Reason as Reason
from .refusal import Refusal as Refusal
from .refusal import Removed as Removed
from .verify import Evidence, verify_local, verify_remote

logger = logging.getLogger("flask_linkback")


@dataclass
class Intake:
    """A ping as a protocol module hands it over."""

    kind: Kind
    source: str
    target: str
    sender_ip: str | None = None
    title: str | None = None
    excerpt: str | None = None
    blog_name: str | None = None
    require_link: bool = True
    #: Re-verify a known (source, post) instead of refusing it as a duplicate
    #: (Webmention: a re-sent mention is an update, or a delete).
    update: bool = False
    #: Only a source fetch begun after this ``time.monotonic()`` value will do (Webmention).
    fresh_after: float | None = None
    extras: dict[str, Any] = field(default_factory=dict)


def clean_url(url: str) -> str:
    """Undo what senders do to URLs: surrounding space and ``&amp;`` (WordPress decodes it too)."""
    return url.strip().replace("&amp;", "&")



#: How long a request may reuse a target's resolution made by an earlier request of this
#: process: a flood naming one post looks it up once a second, not once a ping. The worker
#: resolves afresh before verifying, so a post closed meanwhile is still refused.
TARGET_REUSE_SECONDS = 1.0
_TARGETS_KEPT = 256


def resolve_target(target: str, kind: Kind | None = None, *,
                   reuse: bool = False) -> tuple[Any, PostInfo]:
    """The post a target URL names, or the refusal that says why it can't take a ``kind`` ping.

    With ``reuse``, a resolution made in the last TARGET_REUSE_SECONDS may
    stand in; the post is then None (only its :class:`PostInfo` is kept).
    """
    state = current_state()
    if not is_http_url(target):
        raise Refusal(Reason.TARGET_MISSING, "the target URI must be an http(s) URL on this site")
    try:
        site = current_site()
    except SiteNotConfigured as error:
        # The owner's mistake, said plainly: the log and the sender both read it.
        raise Refusal(Reason.GENERIC, f"this site cannot take linkbacks yet: {error}") from None
    if not site.contains(target):
        raise Refusal(Reason.TARGET_CLOSED, "the target URI is not on this site")
    now = time.monotonic()
    kept = state.target_cache.get(target) if reuse else None
    if kept is not None and kept[0] > now and not rules.closed_reason(kept[1], kind):
        # Only an open post's resolution stands in: a stale one can queue a ping that the
        # worker then refuses, never refuse one that the owner has just let in.
        post, info = None, kept[1]
    else:
        post = state.callbacks.resolve(strip_fragment(target))
        if post is None:
            raise Refusal(Reason.TARGET_MISSING, "the target URI does not exist on this site")
        info = state.callbacks.describe(post)
        if reuse:
            if len(state.target_cache) >= _TARGETS_KEPT:  # many spellings of targets: start over
                state.target_cache.clear()
            state.target_cache[target] = (now + TARGET_REUSE_SECONDS, info)
    closed = rules.closed_reason(info, kind)
    if closed:
        raise Refusal(Reason.TARGET_CLOSED, closed)
    return post, info


@dataclass(frozen=True)
class Admitted:
    """A ping that passed every check needing no network: what the queue stores."""

    post: Any
    info: PostInfo
    #: The source as it will be verified: a post of this site by its canonical URL.
    source: str
    source_key: str
    target: str
    #: The post of this site that the source is, if it is one (a self-ping).
    local_post: Any | None
    existing: Any | None


def admit(intake: Intake, post: Any | None = None, *, reuse: bool = False,
          load_existing: bool = True) -> Admitted:
    """Run the checks that need no network, in the order that leaks least; or raise Refusal.

    The request runs these before queueing the ping (``reuse``: the target's
    resolution may be a second old, see :func:`resolve_target`), and the
    worker runs them again before verifying it (the post may have closed
    meanwhile). Only the worker needs the stored linkback itself (to update
    or remove it): without ``load_existing``, ``existing`` is None and a
    known (source, post) is only looked for when it must be refused.
    """
    state = current_state()
    source, target = clean_url(intake.source), clean_url(intake.target)
    if not is_http_url(source) or strip_control_chars(source) != source:
        raise Refusal(Reason.SOURCE_MISSING, "the source URI must be an http(s) URL")
    if strip_control_chars(target) != target:
        raise Refusal(Reason.TARGET_MISSING, "the target URI must be an http(s) URL on this site")
    if post is None:
        post, info = resolve_target(target, intake.kind, reuse=reuse)
    else:
        info = state.callbacks.describe(post)
        closed = rules.closed_reason(info, intake.kind)
        if closed:
            raise Refusal(Reason.TARGET_CLOSED, closed)
    if same_url(source, target) or same_url(source, info.url):
        raise Refusal(Reason.GENERIC, "the source and target URIs are the same")

    local_post = None
    if is_local_url(source):
        # Only this site's real, public posts are local sources, each by its one
        # canonical URL: any other page of ours (a status page, a search) could be
        # made to show a stranger's link, and /post?utm=1, ?utm=2 ... would be
        # endless "own" sources.
        local_post = state.callbacks.resolve(strip_fragment(source))
        local_info = state.callbacks.describe(local_post) if local_post is not None else None
        if local_info is None or not local_info.public:
            raise Refusal(Reason.SOURCE_MISSING,
                          "the source URI is a page of this site that is not one of its posts")
        source = local_info.url
        if same_url(source, info.url):
            raise Refusal(Reason.GENERIC, "the source and target URIs are the same")
        if current_app.config["LINKBACK_SELF_PINGS"] == "off":
            raise Refusal(Reason.ACCESS_DENIED,
                          "linkbacks between this site's own posts are turned off")

    source_key = normalize_url(source)
    Linkback = state.models.IncomingLinkback
    if load_existing:
        existing = _existing(Linkback, source_key, info.id)
        known = existing is not None
    else:
        existing = None
        known = not intake.update and _known(Linkback, source_key, info.id)
    if known and not intake.update:
        raise Refusal(Reason.ALREADY_REGISTERED, "the linkback has already been registered")
    return Admitted(post, info, source, source_key, target, local_post, existing)


def receive(intake: Intake, post: Any | None = None) -> Any:
    """Verify, moderate and store one ping; return the stored row or raise :class:`Refusal`."""
    try:
        return _receive(intake, post)
    except Refusal as refusal:
        log_refusal(intake, refusal)
        raise


def log_refusal(intake: Intake, refusal: Refusal) -> None:
    """Log a refused ping and send ``linkback_refused``: one place for both."""
    logger.info(
        "%s refused: %s -> %s: [%d] %s",
        intake.kind, loggable(intake.source), loggable(intake.target), refusal.reason,
        loggable(refusal.message),
    )
    signals.linkback_refused.send(
        current_app_object(),
        kind=intake.kind, source=intake.source, target=intake.target, reason=refusal.message,
    )


def _receive(intake: Intake, post: Any | None, retried: bool = False) -> Any:
    state = current_state()
    admitted = admit(intake, post)
    post, info, source, target = admitted.post, admitted.info, admitted.source, admitted.target
    existing, local_post, source_key = admitted.existing, admitted.local_post, admitted.source_key
    Linkback = state.models.IncomingLinkback

    targets = (target, info.url)
    evidence: Evidence | None = None
    try:
        if local_post is not None:
            evidence = verify_local(state.callbacks.describe(local_post), targets)
        elif intake.require_link:
            evidence = verify_remote(source, targets, any_type=intake.kind == Kind.WEBMENTION,
                                     fresh_after=intake.fresh_after)
    except Refusal as refusal:
        if existing is not None and (refusal.gone or refusal.reason == Reason.NO_LINK):
            _remove(existing, refusal)
        raise
    if existing is not None and _unchanged(existing, intake, evidence):
        return existing
    entry = read_entry(evidence.document, targets) if evidence is not None else None

    if existing is not None:
        return _update(existing, intake, evidence, entry, source)

    candidate = rules.Candidate(
        kind=intake.kind,
        source_url=source,
        source_host=host_of(source),
        post=info,
        evidence=evidence,
        local_source=local_post is not None,
        sender_ip=intake.sender_ip,
        title=(intake.title or "").strip(),
        excerpt=(intake.excerpt or "").strip(),
        blog_name=(intake.blog_name or "").strip(),
    )
    verdict = rules.moderate(candidate, state.rules)

    row = Linkback(
        kind=intake.kind.value,
        source_url=strip_fragment(source)[:2048],
        source_key=source_key[:2048],
        source_host=candidate.source_host[:255],
        target_url=info.url[:2048],
        post_id=info.id,
        title=_title(intake, evidence, source, entry)[:300],
        excerpt=_excerpt(intake, evidence),
        blog_name=_clean_text(intake.blog_name or "")[:300] or None,
        status=verdict.status.value,
        reason=verdict.reason[:300],
        sender_ip=intake.sender_ip,
    )
    _enrich(row, entry)
    row.content_hash = evidence.content_hash or None if evidence else None
    session = state.db.session
    session.add(row)
    try:
        session.commit()
    except IntegrityError:
        # Another request stored the same (source, post) between our check and now.
        session.rollback()
        if intake.update and not retried:  # an update: take the path for a known pair
            return _receive(intake, post, retried=True)
        raise Refusal(Reason.ALREADY_REGISTERED,
                      "the linkback has already been registered") from None

    app = current_app_object()
    logger.info("%s stored: %s -> %s as %s (%s)", row.kind, loggable(row.source_url),
                loggable(row.target_url), row.status, loggable(row.reason))
    signals.linkback_received.send(app, linkback=row)
    if row.status == Status.APPROVED:
        signals.linkback_approved.send(app, linkback=row)
    elif row.status == Status.SPAM:
        signals.linkback_spammed.send(app, linkback=row)
    return row


def _existing(Linkback: Any, source_key: str, post_id: str) -> Any | None:
    return Linkback.query.filter_by(source_key=source_key[:2048], post_id=post_id).first()


def _known(Linkback: Any, source_key: str, post_id: str) -> bool:
    """Whether the (source, post) is stored: its id only, no ORM row (a request's check)."""
    return current_state().db.session.scalar(
        sa.select(Linkback.id).where(Linkback.source_key == source_key[:2048],
                                     Linkback.post_id == post_id)) is not None


def _enrich(row: Any, entry: Entry | None) -> None:
    """Copy what the source's microformats say onto the row (cleared when they say nothing)."""
    entry = entry or Entry()
    row.mention_type = entry.mention_type
    row.author_name = entry.author_name
    row.author_url = entry.author_url
    row.author_photo = entry.author_photo
    row.content = entry.content
    row.published_at = entry.published


def _update(row: Any, intake: Intake, evidence: Evidence | None, entry: Entry | None,
            source: str) -> Any:
    """A re-sent linkback that still verifies: refresh what the source says, keep its status.

    The kind becomes the protocol that sent it last; moderation is not re-run,
    so a sender cannot lift its own mention out of the spam folder.
    """
    row.kind = intake.kind.value
    row.source_url = strip_fragment(source)[:2048]
    row.title = _title(intake, evidence, source, entry)[:300]
    row.excerpt = _excerpt(intake, evidence)
    if intake.blog_name:
        row.blog_name = intake.blog_name[:300]
    _enrich(row, entry)
    row.content_hash = evidence.content_hash or None if evidence else None
    row.updated_at = utcnow()
    current_state().db.session.commit()
    logger.info("%s updated: %s -> %s (%s)", row.kind, loggable(row.source_url),
                loggable(row.target_url), row.status)
    signals.linkback_updated.send(current_app_object(), linkback=row)
    return row


def _unchanged(row: Any, intake: Intake, evidence: Evidence | None) -> bool:
    """True when a re-sent ping brings nothing new: same kind, same source bytes as last time.

    Senders re-send unchanged mentions often (on every edit, on every cron
    run); this skips re-reading the microformats and writing the row.
    """
    return (evidence is not None and bool(evidence.content_hash)
            and row.content_hash == evidence.content_hash and row.kind == intake.kind.value
            and not intake.title and not intake.excerpt and not intake.blog_name)


def _remove(row: Any, refusal: Refusal) -> None:
    """Delete a known linkback whose source is gone or dropped the link, and say so."""
    session = current_state().db.session
    session.delete(row)
    session.commit()
    logger.info("%s removed: %s -> %s: %s", row.kind, loggable(row.source_url),
                loggable(row.target_url), loggable(refusal.message))
    signals.linkback_removed.send(current_app_object(), linkback=row,
                                  reason=refusal.message)
    raise Removed(refusal.reason, f"{refusal.message}; the linkback was removed",
                  gone=refusal.gone) from refusal


TITLE_CHARS = 250
EXCERPT_CHARS = 252


def _clean_text(text: str) -> str:
    """Remote text without control characters (PostgreSQL refuses NUL; none belong in a title)."""
    return strip_control_chars(text).strip()


def _title(intake: Intake, evidence: Evidence | None, source: str,
           entry: Entry | None = None) -> str:
    """The sender's title (TrackBack), else the h-entry's name, else the page's, else the
    blog or the URL."""
    title = (_clean_text(intake.title or "") or (_clean_text(entry.name or "") if entry else None)
             or (evidence.title if evidence else None))
    return _cut(title or _clean_text(intake.blog_name or "") or source, TITLE_CHARS)


def _excerpt(intake: Intake, evidence: Evidence | None) -> str:
    """The sender's excerpt (TrackBack) or the text around the link in the source."""
    excerpt = _clean_text(intake.excerpt or "")
    if excerpt:
        return _cut(" ".join(excerpt.split()), EXCERPT_CHARS)
    return evidence.excerpt if evidence else ""


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"

"""Atom feeds of approved linkbacks: one for the whole site, one per post.

Entries are built with ElementTree, so remote text (titles, excerpts, names)
is escaped as XML text and can carry no markup into a reader. Links are
absolute, from LINKBACK_SITE_URL (else SERVER_NAME; else, as a last resort,
the request). Drafts, scheduled and closed-to-the-public posts have no feed.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, abort, current_app

from . import tables
from .host import PostInfo
from .html import strip_control_chars
from .models import Status, utcnow
from .site_url import external_url, site_context
from .state import current_state
from .urls import host_of

ATOM = "http://www.w3.org/2005/Atom"
KIND_WORDS = {"pingback": "Pingback", "trackback": "TrackBack", "webmention": "Mention"}


def make_feed_blueprint(config: Mapping[str, Any]) -> Blueprint:
    bp = Blueprint("linkback_feeds", __name__, url_prefix=config["LINKBACK_FEED_URL"].rstrip("/"))
    bp.add_url_rule("/feed.atom", "site", site_feed)
    bp.add_url_rule("/<post_id>/feed.atom", "post", post_feed)
    tables.register(bp)
    return bp


def site_feed() -> Response:
    with site_context(required=False):
        state = current_state()
        Linkback = state.models.IncomingLinkback
        rows = _newest(sa.select(Linkback).where(Linkback.status == Status.APPROVED.value))
        posts: dict[str, PostInfo | None] = {}
        entries: list[tuple[Any, PostInfo]] = []
        for row in rows:
            if row.post_id not in posts:
                posts[row.post_id] = _public_post(row.post_id)
            info = posts[row.post_id]
            if info is not None:
                entries.append((row, info))
        site = (current_app.config["LINKBACK_BLOG_NAME"]
                or host_of(external_url("linkback_feeds.site")))
        return _feed(f"Linkbacks to {site}", external_url("linkback_feeds.site"),
                     external_url("linkback_feeds.site"), entries)


def post_feed(post_id: str) -> Response:
    with site_context(required=False):
        info = _public_post(post_id)
        if info is None:
            abort(404)
        Linkback = current_state().models.IncomingLinkback
        rows = _newest(sa.select(Linkback).where(Linkback.post_id == info.id,
                                                 Linkback.status == Status.APPROVED.value))
        self_url = external_url("linkback_feeds.post", post_id=info.id)
        return _feed(f"Linkbacks to “{_clean(info.title)}”", self_url, info.url,
                     [(row, info) for row in rows])


def _newest(select: Any) -> list[Any]:
    Linkback = current_state().models.IncomingLinkback
    size = current_app.config["LINKBACK_FEED_ENTRIES"]
    return list(current_state().db.session.scalars(
        select.order_by(Linkback.created_at.desc(), Linkback.id.desc()).limit(size)))


def _public_post(post_id: str) -> PostInfo | None:
    callbacks = current_state().callbacks
    post = callbacks.load(post_id)
    if post is None:
        return None
    info = callbacks.describe(post)
    if not info.public or (info.published_at and info.published_at > utcnow()):
        return None
    return info


def _clean(text: Any) -> str:
    return strip_control_chars(str(text or "")).strip()


def _stamp(when: datetime | None) -> str:
    return (when or utcnow()).replace(microsecond=0).isoformat() + "Z"


def _tag(row_or_url: str) -> str:
    """A stable Atom id: a tag URI on this site's host (RFC 4151)."""
    return f"tag:{host_of(external_url('linkback_feeds.site'))},2024:{row_or_url}"


def _feed(title: str, self_url: str, alternate: str,
          entries: list[tuple[Any, PostInfo]]) -> Response:
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    ET.SubElement(feed, f"{{{ATOM}}}title").text = title
    ET.SubElement(feed, f"{{{ATOM}}}id").text = self_url
    ET.SubElement(feed, f"{{{ATOM}}}link", rel="self", type="application/atom+xml", href=self_url)
    ET.SubElement(feed, f"{{{ATOM}}}link", rel="alternate", type="text/html", href=alternate)
    updated = max((row.updated_at for row, _ in entries), default=None)
    ET.SubElement(feed, f"{{{ATOM}}}updated").text = _stamp(updated)
    ET.SubElement(ET.SubElement(feed, f"{{{ATOM}}}author"), f"{{{ATOM}}}name").text = (
        current_app.config["LINKBACK_BLOG_NAME"] or host_of(self_url))
    ET.SubElement(feed, f"{{{ATOM}}}generator").text = "flask-linkback"
    for row, info in entries:
        entry = ET.SubElement(feed, f"{{{ATOM}}}entry")
        kind = KIND_WORDS.get(row.kind, row.kind)
        if row.kind == "webmention" and row.mention_type not in (None, "", "mention"):
            kind = str(row.mention_type).capitalize()
        ET.SubElement(entry, f"{{{ATOM}}}title").text = f"{kind}: {_clean(row.display_title)}"
        ET.SubElement(entry, f"{{{ATOM}}}id").text = _tag(f"linkback-{row.id}")
        ET.SubElement(entry, f"{{{ATOM}}}link", rel="alternate", href=_clean(row.source_url))
        ET.SubElement(entry, f"{{{ATOM}}}link", rel="related", href=info.url,
                      title=_clean(info.title))
        ET.SubElement(entry, f"{{{ATOM}}}published").text = _stamp(row.created_at)
        ET.SubElement(entry, f"{{{ATOM}}}updated").text = _stamp(row.updated_at)
        author = ET.SubElement(entry, f"{{{ATOM}}}author")
        ET.SubElement(author, f"{{{ATOM}}}name").text = _clean(
            row.author_name or row.blog_name or row.source_host)
        if row.author_url:
            ET.SubElement(author, f"{{{ATOM}}}uri").text = _clean(row.author_url)
        summary = (_clean(row.excerpt)
                   or f"{_clean(row.display_title)} links to “{_clean(info.title)}”.")
        ET.SubElement(entry, f"{{{ATOM}}}summary", type="text").text = summary
    body = ET.tostring(feed, encoding="unicode", xml_declaration=False)
    return Response('<?xml version="1.0" encoding="utf-8"?>\n' + body,
                    content_type="application/atom+xml; charset=utf-8")


def feed_url(post: Any = None) -> str:
    """The absolute URL of the site's linkback feed, or of ``post``'s (a template global)."""
    with site_context(required=False):
        if post is None:
            return external_url("linkback_feeds.site")
        info = post if isinstance(post, PostInfo) else current_state().callbacks.describe(post)
        return external_url("linkback_feeds.post", post_id=info.id)

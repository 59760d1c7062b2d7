"""What the template macros read: one object per post, built on demand."""

from __future__ import annotations

from functools import cached_property
from typing import Any
from xml.sax.saxutils import quoteattr

from flask import g, url_for
from markupsafe import Markup

from .host import PostInfo
from .html import strip_control_chars
from .mf2 import clean_html
from .models import Status
from .settings import current_settings
from .state import current_state
from .urls import host_of, is_http_url

FACEPILE_AND_REPLY_TYPES = frozenset({"reply", "like", "repost"})
RDF_NAMESPACES = (
    'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" '
    'xmlns:trackback="http://madskills.com/public/xml/rss/module/trackback/"'
)


class PostLinkbacks:
    """The linkback side of one post, for templates: URLs, RDF and the approved list."""

    def __init__(self, info: PostInfo) -> None:
        self.info = info

    @property
    def pings_open(self) -> bool:
        return self.info.pings_open

    @cached_property
    def pingback_url(self) -> str:
        return url_for("linkback.xmlrpc", _external=True)

    @cached_property
    def trackback_url(self) -> str:
        return url_for("linkback.trackback", post_id=self.info.id, _external=True)

    @cached_property
    def approved(self) -> list[Any]:
        Linkback = current_state().models.IncomingLinkback
        return (Linkback.query.filter_by(post_id=self.info.id, status=Status.APPROVED.value)
                .order_by(Linkback.created_at, Linkback.id).all())

    @property
    def count(self) -> int:
        return len(self.approved)

    @property
    def rdf(self) -> Markup:
        """TrackBack autodiscovery RDF, to sit inside an HTML comment (so no "--" inside)."""
        def attr(value: str) -> str:
            return quoteattr(strip_control_chars(value)).replace("--", "&#45;&#45;")

        return Markup(
            f"<rdf:RDF {RDF_NAMESPACES}>\n"
            f"<rdf:Description rdf:about={attr(self.info.url)} dc:identifier={attr(self.info.url)}"
            f" dc:title={attr(self.info.title)} trackback:ping={attr(self.trackback_url)} />\n"
            "</rdf:RDF>"
        )

    def advertise(self) -> str:
        """Mark this response for the ``X-Pingback`` and ``Link: rel="webmention"`` headers.

        Returns "" so templates can call it.
        """
        if self.pings_open:
            g._linkback_advertise = self.pingback_url
        if self.accepts_webmentions:
            g._linkback_webmention = self.webmention_url
        return ""

    # Webmention and microformats ---------------------------------------------------

    @property
    def accepts_webmentions(self) -> bool:
        return self.pings_open and current_settings().accept_webmentions

    @cached_property
    def webmention_url(self) -> str:
        return url_for("linkback.webmention", _external=True)

    @cached_property
    def replies(self) -> list[Any]:
        """Approved replies (``in-reply-to`` this post), shown as comments."""
        return [item for item in self.approved if item.mention_type == "reply"]

    @cached_property
    def likes(self) -> list[Any]:
        return [item for item in self.approved if item.mention_type == "like"]

    @cached_property
    def reposts(self) -> list[Any]:
        return [item for item in self.approved if item.mention_type == "repost"]

    @cached_property
    def mentions(self) -> list[Any]:
        """Everything else approved: mentions, bookmarks, and plain pingbacks and trackbacks."""
        return [item for item in self.approved if item.mention_type not in FACEPILE_AND_REPLY_TYPES]

    @staticmethod
    def author_name(item: Any) -> str:
        """Who wrote it: the h-card's name, else the sending blog, else the source's host."""
        return item.author_name or item.blog_name or host_of(item.source_url) or item.source_url

    @staticmethod
    def author_link(item: Any) -> str:
        """The author's http(s) URL, else the source page."""
        return item.author_url if item.author_url and is_http_url(item.author_url) else item.source_url

    @staticmethod
    def photo(item: Any) -> str | None:
        """The author's photo URL when it is http(s); never ``data:``, ``javascript:`` ..."""
        return item.author_photo if item.author_photo and is_http_url(item.author_photo) else None

    @staticmethod
    def content(item: Any) -> Markup:
        """The stored content, sanitised again on the way out (defence in depth)."""
        return Markup(clean_html(item.content)) if item.content else Markup("")


def linkbacks_for(post: Any) -> PostLinkbacks:
    """Template global: ``linkbacks_for(post)`` with a host post or a PostInfo."""
    return PostLinkbacks(current_state().callbacks.describe(post))

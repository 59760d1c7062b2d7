"""What the template macros read: one object per post, built on demand."""

from __future__ import annotations

import re
from functools import cached_property
from typing import Any
from xml.sax.saxutils import quoteattr

from flask import g, url_for
from markupsafe import Markup

from .host import PostInfo
from .models import Status
from .state import current_state

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
            value = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", "", value)  # not allowed in XML 1.0
            return quoteattr(value).replace("--", "&#45;&#45;")

        return Markup(
            f"<rdf:RDF {RDF_NAMESPACES}>\n"
            f"<rdf:Description rdf:about={attr(self.info.url)} dc:identifier={attr(self.info.url)}"
            f" dc:title={attr(self.info.title)} trackback:ping={attr(self.trackback_url)} />\n"
            "</rdf:RDF>"
        )

    def advertise(self) -> str:
        """Mark this response for the ``X-Pingback`` header; returns "" so templates can call it."""
        if self.pings_open:
            g._linkback_advertise = self.pingback_url
        return ""


def linkbacks_for(post: Any) -> PostLinkbacks:
    """Template global: ``linkbacks_for(post)`` with a host post or a PostInfo."""
    return PostLinkbacks(current_state().callbacks.describe(post))

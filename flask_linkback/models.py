"""The extension's tables, defined on the host's Flask-SQLAlchemy ``db``.

The models are built once per ``db`` object (the host's ``db.create_all()``
then creates them too). Reach them through ``linkback.models`` or
``current_app.extensions["linkback"].models``.
"""

from __future__ import annotations

import enum
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

__all__ = ["Kind", "Models", "RequestStatus", "Status", "define_models", "utcnow"]


class Kind(enum.StrEnum):
    """How a linkback reached us; data, not a class per protocol."""

    PINGBACK = "pingback"
    TRACKBACK = "trackback"
    WEBMENTION = "webmention"


class Status(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    SPAM = "spam"


def utcnow() -> datetime:
    """Naive UTC, so SQLite and PostgreSQL store and compare the same values."""
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class Models:
    IncomingLinkback: Any
    OutgoingPing: Any = None
    WebmentionRequest: Any = None
    InboundJob: Any = None


_BY_DB: weakref.WeakKeyDictionary[Any, Models] = weakref.WeakKeyDictionary()


def define_models(db: Any) -> Models:
    """Define (once) and return the extension's models for this ``db``."""
    models = _BY_DB.get(db)
    if models is None:
        from .inbound.model import define_inbound_job
        from .outbound.model import define_outgoing

        models = _BY_DB[db] = Models(IncomingLinkback=_incoming(db), OutgoingPing=define_outgoing(db),
                                     WebmentionRequest=_webmention_request(db),
                                     InboundJob=define_inbound_job(db))
    return models


def _incoming(db: Any) -> Any:
    class IncomingLinkback(db.Model):  # type: ignore[name-defined,misc]
        """One linkback to one of the host's posts, whatever protocol brought it.

        Unique per (source, post): a pingback and a webmention for the same
        pair are one row, and two racing requests cannot store it twice.
        ``source_key`` is the normalised source URL that uniqueness is checked on;
        ``source_url`` is the URL as the sender gave it (what readers click).
        """

        __tablename__ = "linkback_incoming"
        __table_args__ = (
            sa.UniqueConstraint("source_key", "post_id", name="uq_linkback_incoming_source_post"),
            sa.Index("ix_linkback_incoming_post_status", "post_id", "status"),
            sa.Index("ix_linkback_incoming_status_created", "status", "created_at"),
        )

        id = sa.Column(sa.Integer, primary_key=True)
        kind = sa.Column(sa.String(16), nullable=False)
        source_url = sa.Column(sa.String(2048), nullable=False)
        source_key = sa.Column(sa.String(2048), nullable=False)
        source_host = sa.Column(sa.String(255), nullable=False, index=True)
        target_url = sa.Column(sa.String(2048), nullable=False)
        post_id = sa.Column(sa.String(64), nullable=False)
        title = sa.Column(sa.String(300), nullable=False, default="")
        excerpt = sa.Column(sa.Text, nullable=False, default="")
        blog_name = sa.Column(sa.String(300))
        author_name = sa.Column(sa.String(300))
        author_url = sa.Column(sa.String(2048))
        author_photo = sa.Column(sa.String(2048))
        mention_type = sa.Column(sa.String(16), nullable=False, default="mention")
        content = sa.Column(sa.Text)
        published_at = sa.Column(sa.DateTime)
        #: SHA-256 of the source as last verified; a re-sent ping of an unchanged source is a no-op.
        content_hash = sa.Column(sa.String(64))
        status = sa.Column(sa.String(16), nullable=False, default=Status.PENDING.value)
        reason = sa.Column(sa.String(300), nullable=False, default="")
        sender_ip = sa.Column(sa.String(45))
        created_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)
        updated_at = sa.Column(sa.DateTime, nullable=False, default=utcnow, onupdate=utcnow)

        @property
        def display_title(self) -> str:
            """What a list shows: the title, else the sending blog, else the URL."""
            return self.title or self.blog_name or self.source_url

        def __repr__(self) -> str:
            return f"<IncomingLinkback {self.id} {self.kind} {self.source_url} -> {self.post_id} {self.status}>"

    return IncomingLinkback


class RequestStatus(enum.StrEnum):
    """Where a received webmention stands, as its status URL reports it."""

    QUEUED = "queued"
    ACCEPTED = "accepted"
    PENDING = "pending"
    REJECTED = "rejected"
    DELETED = "deleted"


def _webmention_request(db: Any) -> Any:
    class WebmentionRequest(db.Model):  # type: ignore[name-defined,misc]
        """The verdict on one received webmention, for its status URL.

        Written when the webmention is queued (``job_id`` names its row in the
        inbound queue) and given the verdict when it is verified; afterwards
        the status page follows the linkback's current state. Kept apart from
        the linkbacks table so a re-sent mention being re-verified stays
        visible under the post meanwhile. ``token`` is the unguessable part of
        the status URL.
        """

        __tablename__ = "linkback_webmention_request"

        id = sa.Column(sa.Integer, primary_key=True)
        token = sa.Column(sa.String(128), nullable=False, unique=True)
        source_url = sa.Column(sa.String(2048), nullable=False)
        target_url = sa.Column(sa.String(2048), nullable=False)
        post_id = sa.Column(sa.String(64), nullable=False)
        status = sa.Column(sa.String(16), nullable=False, default=RequestStatus.QUEUED.value)
        reason = sa.Column(sa.String(300), nullable=False, default="")
        linkback_id = sa.Column(sa.Integer)
        job_id = sa.Column(sa.Integer, index=True)
        sender_ip = sa.Column(sa.String(45))
        created_at = sa.Column(sa.DateTime, nullable=False, default=utcnow, index=True)
        updated_at = sa.Column(sa.DateTime, nullable=False, default=utcnow, onupdate=utcnow)

        def __repr__(self) -> str:
            return f"<WebmentionRequest {self.id} {self.source_url} -> {self.target_url} {self.status}>"

    return WebmentionRequest

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
from typing import TYPE_CHECKING, Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

if TYPE_CHECKING:
    from flask_sqlalchemy import SQLAlchemy

__all__ = ["InboundJobColumns", "IncomingLinkbackColumns", "JobStatus", "Kind",
           "LinkbackSettingColumns", "Models", "OutgoingPingColumns", "PingStatus", "Protocol",
           "RequestStatus", "SkipReason", "Status", "TableColumns", "WebmentionRequestColumns",
           "define_models", "utcnow"]


class Kind(enum.StrEnum):
    """How a linkback reached us; data, not a class per protocol."""

    PINGBACK = "pingback"
    TRACKBACK = "trackback"
    WEBMENTION = "webmention"


class Status(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    SPAM = "spam"
    #: In the Trash: hidden everywhere, restorable (``trashed_from``) until the trash is emptied.
    TRASH = "trash"


def utcnow() -> datetime:
    """Naive UTC, so SQLite and PostgreSQL store and compare the same values."""
    return datetime.now(UTC).replace(tzinfo=None)


class TableColumns:
    """What the host's ``db.Model`` adds to a row class, said for type checkers.

    The tables are mapped on the host's own ``db`` (one class per ``db``), so
    the columns live in the ``*Columns`` classes below, which ``define_models``
    mixes into ``db.Model`` subclasses.
    """

    if TYPE_CHECKING:
        query: ClassVar[Any]
        __tablename__: ClassVar[str]

        def __init__(self, **columns: Any) -> None: ...


@dataclass(frozen=True)
class Models:
    """The extension's models on one ``db``."""

    IncomingLinkback: type[IncomingLinkbackColumns]
    OutgoingPing: type[OutgoingPingColumns]
    WebmentionRequest: type[WebmentionRequestColumns]
    InboundJob: type[InboundJobColumns]
    LinkbackSetting: type[LinkbackSettingColumns]


_BY_DB: weakref.WeakKeyDictionary[SQLAlchemy, Models] = weakref.WeakKeyDictionary()


def define_models(db: SQLAlchemy) -> Models:
    """Define (once) and return the extension's models for this ``db``."""
    models = _BY_DB.get(db)
    if models is None:
        models = _BY_DB[db] = Models(IncomingLinkback=_incoming(db),
                                     OutgoingPing=define_outgoing(db),
                                     WebmentionRequest=_webmention_request(db),
                                     InboundJob=define_inbound_job(db),
                                     LinkbackSetting=define_settings_model(db))
    return models


class IncomingLinkbackColumns(TableColumns):
    """One linkback to one of the host's posts, whatever protocol brought it.

    Unique per (source, post): a pingback and a webmention for the same
    pair are one row, and two racing requests cannot store it twice.
    ``source_key`` is the normalised source URL that uniqueness is checked on;
    ``source_url`` is the URL as the sender gave it (what readers click).
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(16))
    source_url: Mapped[str] = mapped_column(sa.String(2048))
    source_key: Mapped[str] = mapped_column(sa.String(2048))
    source_host: Mapped[str] = mapped_column(sa.String(255), index=True)
    target_url: Mapped[str] = mapped_column(sa.String(2048))
    post_id: Mapped[str] = mapped_column(sa.String(64))
    title: Mapped[str] = mapped_column(sa.String(300), default="")
    excerpt: Mapped[str] = mapped_column(sa.Text, default="")
    blog_name: Mapped[str | None] = mapped_column(sa.String(300))
    author_name: Mapped[str | None] = mapped_column(sa.String(300))
    author_url: Mapped[str | None] = mapped_column(sa.String(2048))
    author_photo: Mapped[str | None] = mapped_column(sa.String(2048))
    mention_type: Mapped[str] = mapped_column(sa.String(16), default="mention")
    content: Mapped[str | None] = mapped_column(sa.Text)
    published_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    #: SHA-256 of the source as last verified; a re-sent ping of an unchanged source is a no-op.
    content_hash: Mapped[str | None] = mapped_column(sa.String(64))
    status: Mapped[str] = mapped_column(sa.String(16), default=Status.PENDING.value)
    reason: Mapped[str] = mapped_column(sa.String(300), default="")
    sender_ip: Mapped[str | None] = mapped_column(sa.String(45))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime, default=utcnow, onupdate=utcnow)
    #: When the admin trashed it, and the status it had then (Undo puts it back there).
    trashed_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    trashed_from: Mapped[str | None] = mapped_column(sa.String(16))

    @property
    def display_title(self) -> str:
        """What a list shows: the title, else the sending blog, else the URL."""
        return self.title or self.blog_name or self.source_url

    def __repr__(self) -> str:
        return (f"<IncomingLinkback {self.id} {self.kind} {self.source_url} -> {self.post_id} "
                f"{self.status}>")


def _incoming(db: SQLAlchemy) -> type[IncomingLinkbackColumns]:
    class IncomingLinkback(IncomingLinkbackColumns, db.Model):  # type: ignore[name-defined,misc]
        """``linkback_incoming`` on this ``db`` (the columns: :class:`IncomingLinkbackColumns`)."""

        __tablename__ = "linkback_incoming"
        __table_args__ = (
            sa.UniqueConstraint("source_key", "post_id", name="uq_linkback_incoming_source_post"),
            sa.Index("ix_linkback_incoming_post_status", "post_id", "status"),
            sa.Index("ix_linkback_incoming_status_created", "status", "created_at"),
            # A post page reads one page of a post's approved linkbacks in date order.
            sa.Index("ix_linkback_incoming_post_page",
                     "post_id", "status", "created_at", "id", "mention_type"),
        )

    return IncomingLinkback


class RequestStatus(enum.StrEnum):
    """Where a received webmention stands, as its status URL reports it."""

    QUEUED = "queued"
    ACCEPTED = "accepted"
    PENDING = "pending"
    REJECTED = "rejected"
    DELETED = "deleted"


class WebmentionRequestColumns(TableColumns):
    """The verdict on one received webmention, for its status URL.

    Written when the webmention is queued (``job_id`` names its row in the
    inbound queue) and given the verdict when it is verified; afterwards
    the status page follows the linkback's current state. Kept apart from
    the linkbacks table so a re-sent mention being re-verified stays
    visible under the post meanwhile. ``token`` is the unguessable part of
    the status URL.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(sa.String(128), unique=True)
    source_url: Mapped[str] = mapped_column(sa.String(2048))
    target_url: Mapped[str] = mapped_column(sa.String(2048))
    post_id: Mapped[str] = mapped_column(sa.String(64))
    status: Mapped[str] = mapped_column(sa.String(16), default=RequestStatus.QUEUED.value)
    reason: Mapped[str] = mapped_column(sa.String(300), default="")
    linkback_id: Mapped[int | None] = mapped_column(sa.Integer)
    job_id: Mapped[int | None] = mapped_column(sa.Integer, index=True)
    sender_ip: Mapped[str | None] = mapped_column(sa.String(45))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime, default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"<WebmentionRequest {self.id} {self.source_url} -> {self.target_url} {self.status}>"


def _webmention_request(db: SQLAlchemy) -> type[WebmentionRequestColumns]:
    class WebmentionRequest(WebmentionRequestColumns, db.Model):  # type: ignore[name-defined,misc]
        """``linkback_webmention_request`` on this ``db``.

        The columns are in :class:`WebmentionRequestColumns`.
        """

        __tablename__ = "linkback_webmention_request"

    return WebmentionRequest


class Protocol(enum.StrEnum):
    PINGBACK = "pingback"
    TRACKBACK = "trackback"
    WEBMENTION = "webmention"


#: The protocols a link in a post's HTML is announced by: one row per link, whose
#: protocol is the one tried first until discovery settles it (then, the one used).
LINK_PROTOCOLS = (Protocol.WEBMENTION.value, Protocol.PINGBACK.value)


class PingStatus(enum.StrEnum):
    """Where a row is: due (queued, retry), being sent, or done (sent, failed, skipped)."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"
    SKIPPED = "skipped"


DUE_STATUSES = (PingStatus.QUEUED.value, PingStatus.RETRY.value)


class SkipReason(enum.StrEnum):
    """Why a row is ``skipped``: kept in ``reason``; the words for people go in ``last_error``."""

    #: The target offers no Webmention or Pingback endpoint (found when sending).
    NO_ENDPOINT = "no-endpoint"
    #: A link to the post itself.
    THIS_POST = "this-post"
    #: A page of this site that is not one of its posts (home, tag, archive pages).
    NOT_A_POST = "not-a-post"
    #: A link to another post of this site, with LINKBACK_SELF_PINGS = "off".
    SELF_PINGS_OFF = "self-pings-off"


#: Reasons decided when the post is saved (no HTTP): the next save decides again.
PLANNED_SKIPS = frozenset({SkipReason.THIS_POST.value, SkipReason.NOT_A_POST.value,
                           SkipReason.SELF_PINGS_OFF.value})

SKIP_MESSAGES = {
    SkipReason.THIS_POST: "not sent: a link to the post itself",
    SkipReason.NOT_A_POST: "not sent: a page of this site that is not one of its posts",
    SkipReason.SELF_PINGS_OFF: "not sent: a link to another post of this site, and "
                               "LINKBACK_SELF_PINGS is off",
}


class OutgoingPingColumns(TableColumns):
    """One ping this site owes (or sent) to one target for one of its posts.

    ``next_attempt_at`` is when it may go out (the post's publish time at
    first); ``claimed_by``/``claimed_at`` mark a worker sending it, so two
    workers never send the same row. ``local`` rows are links to this
    site's own posts, recorded without HTTP. ``sent_at`` is when it last
    went out successfully (kept while a re-send waits), so a Webmention
    row re-queued after its link was removed, or its post deleted, is
    told apart from one never sent.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    source_url: Mapped[str] = mapped_column(sa.String(2048))
    target_url: Mapped[str] = mapped_column(sa.String(2048))
    target_host: Mapped[str] = mapped_column(sa.String(255), default="")
    protocol: Mapped[str] = mapped_column(sa.String(16))
    local: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    endpoint: Mapped[str | None] = mapped_column(sa.String(2048))
    status: Mapped[str] = mapped_column(sa.String(16), default=PingStatus.QUEUED.value)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(sa.DateTime, default=utcnow)
    last_error: Mapped[str] = mapped_column(sa.String(500), default="")
    response: Mapped[str] = mapped_column(sa.Text, default="")
    claimed_by: Mapped[str | None] = mapped_column(sa.String(64))
    claimed_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    sent_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    #: The post no longer links to the target (or was deleted), whatever the
    #: protocol; a webmention row is re-sent once so the target can drop the mention.
    link_removed: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    #: Why a ``skipped`` row was not sent (a :class:`SkipReason` value).
    reason: Mapped[str | None] = mapped_column(sa.String(32))
    #: A digest of the post's title and HTML when it was last saved; a
    #: webmention that went out is re-sent when it changes (Webmention §3.1.4).
    content_hash: Mapped[str | None] = mapped_column(sa.String(64))
    #: ``content_hash`` as it was when the last successful send was claimed:
    #: an edit saved while a webmention was in flight is re-sent after it.
    sent_hash: Mapped[str | None] = mapped_column(sa.String(64))
    #: A webmention receiver's status URL (the ``Location`` of its 201/202 answer).
    status_url: Mapped[str | None] = mapped_column(sa.String(2048))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime, default=utcnow, onupdate=utcnow)

    @property
    def done(self) -> bool:
        return self.status in (PingStatus.SENT, PingStatus.FAILED, PingStatus.SKIPPED)

    def __repr__(self) -> str:
        return (f"<OutgoingPing {self.id} {self.protocol} post {self.post_id} -> "
                f"{self.target_url} {self.status}>")


def define_outgoing(db: SQLAlchemy) -> type[OutgoingPingColumns]:
    class OutgoingPing(OutgoingPingColumns, db.Model):  # type: ignore[name-defined,misc]
        """``linkback_outgoing`` on this ``db`` (the columns: :class:`OutgoingPingColumns`)."""

        __tablename__ = "linkback_outgoing"
        __table_args__ = (
            sa.UniqueConstraint("post_id", "target_url", "protocol",
                                name="uq_linkback_outgoing_post_target_protocol"),
            sa.Index("ix_linkback_outgoing_status_due", "status", "next_attempt_at"),
            sa.Index("ix_linkback_outgoing_host_status", "target_host", "status"),
        )

    return OutgoingPing


class JobStatus(enum.StrEnum):
    """Waiting, being verified by one process, or done (the verdict is on the row)."""

    QUEUED = "queued"
    VERIFYING = "verifying"
    DONE = "done"


WAITING = (JobStatus.QUEUED.value, JobStatus.VERIFYING.value)


class InboundJobColumns(TableColumns):
    """One received ping waiting for (or done with) verification.

    ``sender_key`` is the sender's address (an IPv6 sender's /64) and
    ``source_host`` the source's ``host[:port]``: the claim query takes
    jobs round-robin over both and caps how many of either are verified
    at once, so one flood cannot starve everybody else. Re-sent pings of
    a waiting (source, post) join its row (``repeats``) instead of adding
    one: the partial unique index lets only one queued row exist per pair.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(16))
    source_url: Mapped[str] = mapped_column(sa.String(2048))
    source_key: Mapped[str] = mapped_column(sa.String(2048))
    source_host: Mapped[str] = mapped_column(sa.String(255))
    target_url: Mapped[str] = mapped_column(sa.String(2048))
    post_id: Mapped[str] = mapped_column(sa.String(64))
    sender_ip: Mapped[str | None] = mapped_column(sa.String(45))
    sender_key: Mapped[str] = mapped_column(sa.String(64), default="")
    title: Mapped[str | None] = mapped_column(sa.Text)
    excerpt: Mapped[str | None] = mapped_column(sa.Text)
    blog_name: Mapped[str | None] = mapped_column(sa.Text)
    require_link: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    update: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    status: Mapped[str] = mapped_column(sa.String(16), default=JobStatus.QUEUED.value)
    #: Re-sends that joined this row while it waited; they count against the queue's bound.
    repeats: Mapped[int] = mapped_column(sa.Integer, default=0)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(sa.String(100))
    claimed_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    received_at: Mapped[datetime] = mapped_column(sa.DateTime, default=utcnow)
    #: When the last re-send arrived: the source must be fetched after it.
    fresh_at: Mapped[datetime] = mapped_column(sa.DateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    #: The verdict: accepted, pending, spam, rejected, deleted or error.
    verdict: Mapped[str | None] = mapped_column(sa.String(16))
    fault: Mapped[int | None] = mapped_column(sa.Integer)
    reason: Mapped[str] = mapped_column(sa.String(300), default="")
    linkback_id: Mapped[int | None] = mapped_column(sa.Integer)

    def __repr__(self) -> str:
        return (f"<InboundJob {self.id} {self.kind} {self.source_url} -> {self.post_id} "
                f"{self.status}>")


def define_inbound_job(db: SQLAlchemy) -> type[InboundJobColumns]:
    class InboundJob(InboundJobColumns, db.Model):  # type: ignore[name-defined,misc]
        """``linkback_inbound_job`` on this ``db`` (the columns: :class:`InboundJobColumns`)."""

        __tablename__ = "linkback_inbound_job"
        __table_args__ = (
            sa.Index("ix_linkback_inbound_job_status", "status", "id"),
            sa.Index("ix_linkback_inbound_job_waiting_pair", "source_key", "post_id", unique=True,
                     sqlite_where=sa.text("status = 'queued'"),
                     postgresql_where=sa.text("status = 'queued'")),
        )

    return InboundJob


class LinkbackSettingColumns(TableColumns):
    """One saved Discussion setting; ``value`` is JSON."""

    key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    value: Mapped[str] = mapped_column(sa.Text)
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime, default=utcnow, onupdate=utcnow)


def define_settings_model(db: SQLAlchemy) -> type[LinkbackSettingColumns]:
    """The key/value table the Discussion settings are saved in (see ``settings.py``)."""
    class LinkbackSetting(LinkbackSettingColumns, db.Model):  # type: ignore[name-defined,misc]
        """``linkback_settings`` on this ``db`` (the columns: :class:`LinkbackSettingColumns`)."""

        __tablename__ = "linkback_settings"

    return LinkbackSetting

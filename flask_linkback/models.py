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

__all__ = ["JobStatus", "Kind", "Models", "PingStatus", "Protocol", "RequestStatus", "SkipReason",
           "Status", "define_models", "utcnow"]


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


@dataclass(frozen=True)
class Models:
    IncomingLinkback: Any
    OutgoingPing: Any = None
    WebmentionRequest: Any = None
    InboundJob: Any = None
    LinkbackSetting: Any = None


_BY_DB: weakref.WeakKeyDictionary[Any, Models] = weakref.WeakKeyDictionary()


def define_models(db: Any) -> Models:
    """Define (once) and return the extension's models for this ``db``."""
    models = _BY_DB.get(db)
    if models is None:
        models = _BY_DB[db] = Models(IncomingLinkback=_incoming(db), OutgoingPing=define_outgoing(db),
                                     WebmentionRequest=_webmention_request(db),
                                     InboundJob=define_inbound_job(db),
                                     LinkbackSetting=define_settings_model(db))
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
            # A post page reads one page of a post's approved linkbacks in date order.
            sa.Index("ix_linkback_incoming_post_page",
                     "post_id", "status", "created_at", "id", "mention_type"),
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
        #: When the admin trashed it, and the status it had then (Undo puts it back there).
        trashed_at = sa.Column(sa.DateTime, nullable=True)
        trashed_from = sa.Column(sa.String(16), nullable=True)

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


def define_outgoing(db: Any) -> Any:
    class OutgoingPing(db.Model):  # type: ignore[name-defined,misc]
        """One ping this site owes (or sent) to one target for one of its posts.

        ``next_attempt_at`` is when it may go out (the post's publish time at
        first); ``claimed_by``/``claimed_at`` mark a worker sending it, so two
        workers never send the same row. ``local`` rows are links to this
        site's own posts, recorded without HTTP. ``sent_at`` is when it last
        went out successfully (kept while a re-send waits), so a Webmention
        row re-queued after its link was removed, or its post deleted, is
        told apart from one never sent.
        """

        __tablename__ = "linkback_outgoing"
        __table_args__ = (
            sa.UniqueConstraint("post_id", "target_url", "protocol",
                                name="uq_linkback_outgoing_post_target_protocol"),
            sa.Index("ix_linkback_outgoing_status_due", "status", "next_attempt_at"),
            sa.Index("ix_linkback_outgoing_host_status", "target_host", "status"),
        )

        id = sa.Column(sa.Integer, primary_key=True)
        post_id = sa.Column(sa.String(64), nullable=False, index=True)
        source_url = sa.Column(sa.String(2048), nullable=False)
        target_url = sa.Column(sa.String(2048), nullable=False)
        target_host = sa.Column(sa.String(255), nullable=False, default="")
        protocol = sa.Column(sa.String(16), nullable=False)
        local = sa.Column(sa.Boolean, nullable=False, default=False)
        endpoint = sa.Column(sa.String(2048))
        status = sa.Column(sa.String(16), nullable=False, default=PingStatus.QUEUED.value)
        attempts = sa.Column(sa.Integer, nullable=False, default=0)
        next_attempt_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)
        last_error = sa.Column(sa.String(500), nullable=False, default="")
        response = sa.Column(sa.Text, nullable=False, default="")
        claimed_by = sa.Column(sa.String(64))
        claimed_at = sa.Column(sa.DateTime)
        sent_at = sa.Column(sa.DateTime)
        #: The post no longer links to the target (or was deleted), whatever the
        #: protocol; a webmention row is re-sent once so the target can drop the mention.
        link_removed = sa.Column(sa.Boolean, nullable=False, default=False)
        #: Why a ``skipped`` row was not sent (a :class:`SkipReason` value).
        reason = sa.Column(sa.String(32))
        #: A digest of the post's title and HTML when it was last saved; a
        #: webmention that went out is re-sent when it changes (Webmention §3.1.4).
        content_hash = sa.Column(sa.String(64))
        #: ``content_hash`` as it was when the last successful send was claimed:
        #: an edit saved while a webmention was in flight is re-sent after it.
        sent_hash = sa.Column(sa.String(64))
        #: A webmention receiver's status URL (the ``Location`` of its 201/202 answer).
        status_url = sa.Column(sa.String(2048))
        created_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)
        updated_at = sa.Column(sa.DateTime, nullable=False, default=utcnow, onupdate=utcnow)

        @property
        def done(self) -> bool:
            return self.status in (PingStatus.SENT, PingStatus.FAILED, PingStatus.SKIPPED)

        def __repr__(self) -> str:
            return (f"<OutgoingPing {self.id} {self.protocol} post {self.post_id} -> "
                    f"{self.target_url} {self.status}>")

    return OutgoingPing


class JobStatus(enum.StrEnum):
    """Waiting, being verified by one process, or done (the verdict is on the row)."""

    QUEUED = "queued"
    VERIFYING = "verifying"
    DONE = "done"


WAITING = (JobStatus.QUEUED.value, JobStatus.VERIFYING.value)


def define_inbound_job(db: Any) -> Any:
    class InboundJob(db.Model):  # type: ignore[name-defined,misc]
        """One received ping waiting for (or done with) verification.

        ``sender_key`` is the sender's address (an IPv6 sender's /64) and
        ``source_host`` the source's ``host[:port]``: the claim query takes
        jobs round-robin over both and caps how many of either are verified
        at once, so one flood cannot starve everybody else. Re-sent pings of
        a waiting (source, post) join its row (``repeats``) instead of adding
        one: the partial unique index lets only one queued row exist per pair.
        """

        __tablename__ = "linkback_inbound_job"
        __table_args__ = (
            sa.Index("ix_linkback_inbound_job_status", "status", "id"),
            sa.Index("ix_linkback_inbound_job_waiting_pair", "source_key", "post_id", unique=True,
                     sqlite_where=sa.text("status = 'queued'"),
                     postgresql_where=sa.text("status = 'queued'")),
        )

        id = sa.Column(sa.Integer, primary_key=True)
        kind = sa.Column(sa.String(16), nullable=False)
        source_url = sa.Column(sa.String(2048), nullable=False)
        source_key = sa.Column(sa.String(2048), nullable=False)
        source_host = sa.Column(sa.String(255), nullable=False)
        target_url = sa.Column(sa.String(2048), nullable=False)
        post_id = sa.Column(sa.String(64), nullable=False)
        sender_ip = sa.Column(sa.String(45))
        sender_key = sa.Column(sa.String(64), nullable=False, default="")
        title = sa.Column(sa.Text)
        excerpt = sa.Column(sa.Text)
        blog_name = sa.Column(sa.Text)
        require_link = sa.Column(sa.Boolean, nullable=False, default=True)
        update = sa.Column(sa.Boolean, nullable=False, default=False)
        status = sa.Column(sa.String(16), nullable=False, default=JobStatus.QUEUED.value)
        #: Re-sends that joined this row while it waited; they count against the queue's bound.
        repeats = sa.Column(sa.Integer, nullable=False, default=0)
        attempts = sa.Column(sa.Integer, nullable=False, default=0)
        claimed_by = sa.Column(sa.String(100))
        claimed_at = sa.Column(sa.DateTime)
        received_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)
        #: When the last re-send arrived: the source must be fetched after it.
        fresh_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)
        finished_at = sa.Column(sa.DateTime)
        #: The verdict: accepted, pending, spam, rejected, deleted or error.
        verdict = sa.Column(sa.String(16))
        fault = sa.Column(sa.Integer)
        reason = sa.Column(sa.String(300), nullable=False, default="")
        linkback_id = sa.Column(sa.Integer)

        def __repr__(self) -> str:
            return f"<InboundJob {self.id} {self.kind} {self.source_url} -> {self.post_id} {self.status}>"

    return InboundJob


def define_settings_model(db: Any) -> Any:
    """The key/value table the Discussion settings are saved in (see ``settings.py``)."""
    class LinkbackSetting(db.Model):  # type: ignore[name-defined,misc]
        """One saved Discussion setting; ``value`` is JSON."""

        __tablename__ = "linkback_settings"

        key = sa.Column(sa.String(64), primary_key=True)
        value = sa.Column(sa.Text, nullable=False)
        updated_at = sa.Column(sa.DateTime, nullable=False, default=utcnow, onupdate=utcnow)

    return LinkbackSetting

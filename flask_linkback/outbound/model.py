"""The outbox table: one row per (post, target URL, protocol), and what became of it."""

from __future__ import annotations

import enum
from typing import Any

import sqlalchemy as sa

from ..models import utcnow

__all__ = ["PingStatus", "Protocol", "SkipReason", "define_outgoing"]


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

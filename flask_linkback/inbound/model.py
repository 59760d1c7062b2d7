"""The inbound queue's table: one row per ping accepted for verification.

A ping is written here by the request that received it (after the checks that
need no network) and verified later by whichever process claims it. The row
is the only copy: a process killed at any moment loses no accepted ping.
"""

from __future__ import annotations

import enum
from typing import Any

import sqlalchemy as sa

from ..models import utcnow

__all__ = ["JobStatus", "define_inbound_job"]


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

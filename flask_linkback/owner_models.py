"""Tables for the blog owner's side: the e-mail outbox and the log of refused pings.

Defined once per ``db`` beside the linkback tables (the host's
``db.create_all()`` or its migrations create them too).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .models import TableColumns, utcnow

if TYPE_CHECKING:
    from flask_sqlalchemy import SQLAlchemy


@dataclass(frozen=True)
class OwnerModels:
    MailMessage: type[MailMessageColumns]
    Refusal: type[LinkbackRefusalColumns]


_BY_DB: weakref.WeakKeyDictionary[SQLAlchemy, OwnerModels] = weakref.WeakKeyDictionary()


def define_owner_models(db: SQLAlchemy) -> OwnerModels:
    models = _BY_DB.get(db)
    if models is None:
        models = _BY_DB[db] = OwnerModels(MailMessage=_mail(db), Refusal=_refusal(db))
    return models


class MailMessageColumns(TableColumns):
    """One notification e-mail to the owner, written when a linkback arrives, sent by the worker.

    A table rather than a thread: a mail server that is down, or a
    restart, delays the message instead of losing it, and no request
    ever waits for SMTP.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    recipients: Mapped[str] = mapped_column(sa.Text)
    subject: Mapped[str] = mapped_column(sa.String(300))
    body: Mapped[str] = mapped_column(sa.Text)
    linkback_id: Mapped[int | None] = mapped_column(sa.Integer)
    status: Mapped[str] = mapped_column(sa.String(16), default="queued")
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(sa.DateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(sa.DateTime)
    last_error: Mapped[str] = mapped_column(sa.String(500), default="")
    created_at: Mapped[datetime] = mapped_column(sa.DateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(sa.DateTime)


def _mail(db: SQLAlchemy) -> type[MailMessageColumns]:
    class MailMessage(MailMessageColumns, db.Model):  # type: ignore[name-defined,misc]
        """``linkback_mail`` on this ``db`` (the columns: :class:`MailMessageColumns`)."""

        __tablename__ = "linkback_mail"
        __table_args__ = (sa.Index("ix_linkback_mail_status_due", "status", "next_attempt_at"),)

    return MailMessage


class LinkbackRefusalColumns(TableColumns):
    """One refused incoming ping, so the owner can tell a reader why theirs did not show up.

    Capped at LINKBACK_REFUSAL_LOG_SIZE rows: the oldest go first.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(16))
    source_url: Mapped[str] = mapped_column(sa.String(2048), default="")
    target_url: Mapped[str] = mapped_column(sa.String(2048), default="")
    reason: Mapped[str] = mapped_column(sa.String(500), default="")
    sender_ip: Mapped[str | None] = mapped_column(sa.String(45))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime, default=utcnow, index=True)


def _refusal(db: SQLAlchemy) -> type[LinkbackRefusalColumns]:
    class LinkbackRefusal(LinkbackRefusalColumns, db.Model):  # type: ignore[name-defined,misc]
        """``linkback_refusal`` on this ``db`` (the columns: :class:`LinkbackRefusalColumns`)."""

        __tablename__ = "linkback_refusal"

    return LinkbackRefusal

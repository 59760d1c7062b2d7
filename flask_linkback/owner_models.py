"""Tables for the blog owner's side: the e-mail outbox and the log of refused pings.

Defined once per ``db`` beside the linkback tables (the host's
``db.create_all()`` or its migrations create them too).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from .models import utcnow


@dataclass(frozen=True)
class OwnerModels:
    MailMessage: Any
    Refusal: Any


_BY_DB: weakref.WeakKeyDictionary[Any, OwnerModels] = weakref.WeakKeyDictionary()


def define_owner_models(db: Any) -> OwnerModels:
    models = _BY_DB.get(db)
    if models is None:
        models = _BY_DB[db] = OwnerModels(MailMessage=_mail(db), Refusal=_refusal(db))
    return models


def _mail(db: Any) -> Any:
    class MailMessage(db.Model):  # type: ignore[name-defined,misc]
        """One notification e-mail to the owner, written when a linkback arrives, sent by the worker.

        A table rather than a thread: a mail server that is down, or a
        restart, delays the message instead of losing it, and no request
        ever waits for SMTP.
        """

        __tablename__ = "linkback_mail"
        __table_args__ = (sa.Index("ix_linkback_mail_status_due", "status", "next_attempt_at"),)

        id = sa.Column(sa.Integer, primary_key=True)
        recipients = sa.Column(sa.Text, nullable=False)
        subject = sa.Column(sa.String(300), nullable=False)
        body = sa.Column(sa.Text, nullable=False)
        linkback_id = sa.Column(sa.Integer)
        status = sa.Column(sa.String(16), nullable=False, default="queued")
        attempts = sa.Column(sa.Integer, nullable=False, default=0)
        next_attempt_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)
        claimed_at = sa.Column(sa.DateTime)
        last_error = sa.Column(sa.String(500), nullable=False, default="")
        created_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)
        sent_at = sa.Column(sa.DateTime)

    return MailMessage


def _refusal(db: Any) -> Any:
    class LinkbackRefusal(db.Model):  # type: ignore[name-defined,misc]
        """One refused incoming ping, so the owner can tell a reader why theirs did not show up.

        Capped at LINKBACK_REFUSAL_LOG_SIZE rows: the oldest go first.
        """

        __tablename__ = "linkback_refusal"

        id = sa.Column(sa.Integer, primary_key=True)
        kind = sa.Column(sa.String(16), nullable=False)
        source_url = sa.Column(sa.String(2048), nullable=False, default="")
        target_url = sa.Column(sa.String(2048), nullable=False, default="")
        reason = sa.Column(sa.String(500), nullable=False, default="")
        sender_ip = sa.Column(sa.String(45))
        created_at = sa.Column(sa.DateTime, nullable=False, default=utcnow, index=True)

    return LinkbackRefusal

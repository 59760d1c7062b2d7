"""E-mail the owner when a linkback is held for moderation or approved on arrival.

WordPress's "Email me whenever", for linkbacks. When a linkback is stored
(the ``linkback_received`` signal, in whatever thread verified it) and the
admin's "e-mail me" setting is on, one message is written to the
``linkback_mail`` table; the outbox worker (the scheduler's poll, ``flask
linkback send`` or ``flask linkback worker``) sends due messages with
smtplib. A request never talks to the mail server, and a mail server that
is down delays messages (retried with backoff) instead of losing them.

The message carries absolute links to the admin (review to approve, review
to mark as spam, the queue) built from LINKBACK_SITE_URL (else SERVER_NAME),
never from a request's Host header.
"""

from __future__ import annotations

import contextlib
import logging
import smtplib
import socket
import ssl
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app

from .html import collapse_ws, strip_control_chars
from .models import Status, utcnow
from .owner_models import define_owner_models
from .settings import current_settings
from .site_url import SiteURLMissing, external_url, site_context
from .state import current_state
from .urls import host_of

logger = logging.getLogger("flask_linkback")

CLAIM_TIMEOUT = timedelta(minutes=10)
RETRY_BASE = timedelta(minutes=1)
MAX_BACKOFF = timedelta(hours=6)
BATCH = 50


def _line(text: Any, limit: int = 300) -> str:
    """Remote text made safe for one line of a plain-text message or a header."""
    line = collapse_ws(strip_control_chars(str(text or "")))
    return line if len(line) <= limit else line[: limit - 1] + "…"


def on_linkback_received(app: Flask, linkback: Any, **_: Any) -> None:
    """``linkback_received`` receiver: queue a notification when the owner asked for one."""
    if linkback.status not in (Status.PENDING.value, Status.APPROVED.value):
        return  # spam is not worth an e-mail (WordPress agrees)
    state = app.extensions.get("linkback")
    if state is None:
        return
    try:
        if not current_settings().notify_by_email:
            return
        recipients = list(app.config["LINKBACK_MAIL_RECIPIENTS"])
        if not recipients:
            logger.warning("linkback e-mail is on but LINKBACK_MAIL_RECIPIENTS is empty: not sent")
            return
        subject, body = compose(linkback)
        Mail = define_owner_models(state.db).MailMessage
        session = state.db.session
        session.add(Mail(recipients=", ".join(recipients), subject=subject[:300], body=body,
                         linkback_id=linkback.id))
        session.commit()
    except SiteURLMissing as error:
        logger.error("linkback e-mail not queued: %s", error)
        return
    except Exception:  # the linkback is stored already; a notification must not undo that
        state.db.session.rollback()
        logger.exception("linkback e-mail for %s not queued", linkback.source_url)
        return
    _wake(app)


def compose(linkback: Any) -> tuple[str, str]:
    """(subject, plain-text body) of the notification for one stored linkback."""
    state = current_state()
    config = current_app.config
    with site_context():
        post = state.callbacks.load(linkback.post_id)
        post_title = (state.callbacks.describe(post).title if post is not None
                      else linkback.target_url)
    review = external_url("linkback_admin.review", linkback_id=linkback.id)
    queue = external_url("linkback_admin.queue", status=Status.PENDING.value)
    site = config["LINKBACK_BLOG_NAME"] or host_of(queue)
    held = linkback.status == Status.PENDING.value
    kind = linkback.kind.capitalize() if linkback.kind != "webmention" else "Webmention"
    if held:
        subject = f'[{_line(site, 80)}] Please moderate: "{_line(post_title, 120)}"'
        opening = (f'A new {linkback.kind} to your post "{_line(post_title)}" '
                   "is waiting for your approval.")
    else:
        subject = f'[{_line(site, 80)}] New {linkback.kind} on "{_line(post_title, 120)}"'
        opening = (f'A new {linkback.kind} to your post "{_line(post_title)}" '
                   "was approved on arrival.")
    lines = [opening, "", f"Post:    {linkback.target_url}",
             f"From:    {_line(linkback.source_url, 2048)}",
             f"Title:   {_line(linkback.display_title)}"]
    if linkback.blog_name:
        lines.append(f"Blog:    {_line(linkback.blog_name)}")
    if linkback.author_name:
        lines.append(f"Author:  {_line(linkback.author_name)}")
    lines.append(f"Kind:    {kind}")
    if linkback.excerpt:
        lines.append(f"Excerpt: {_line(linkback.excerpt, 600)}")
    if linkback.reason:
        lines.append(f"Why:     {_line(linkback.reason)}")
    lines.append("")
    if held:
        lines += [f"Approve it: {review}?do=approve", f"Mark it as spam: {review}?do=spam"]
    else:
        lines += [f"Mark it as spam: {review}?do=spam",
                  f"Put it back in the queue: {review}?do=unapprove"]
    lines += [f"Moderation queue: {queue}", "",
              "You get this e-mail because \"E-mail me\" is on in the Discussion settings."]
    return subject, "\n".join(lines) + "\n"


def _wake(app: Flask) -> None:
    """Ask a running scheduler to send now rather than at its next poll."""
    wake = app.extensions["linkback"].outbox.wake
    if wake is None:  # no scheduler runs in this process
        return
    try:
        wake(utcnow())
    except Exception:
        logger.debug("could not wake the scheduler for a linkback e-mail", exc_info=True)


def send_queued_mail(now: Any = None) -> dict[str, int]:
    """Send every due notification once (in an app context); counts per outcome.

    Each message is claimed with a guarded UPDATE before it is sent, so
    several workers send each one once.
    """
    state = current_state()
    Mail = define_owner_models(state.db).MailMessage
    session = state.db.session
    now = now or utcnow()
    counts: dict[str, int] = {}
    session.execute(sa.update(Mail).where(Mail.status == "sending",
                                          Mail.claimed_at < now - CLAIM_TIMEOUT)
                    .values(status="retry"))
    session.commit()
    due = sa.and_(Mail.status.in_(("queued", "retry")), Mail.next_attempt_at <= now)
    ids = list(session.scalars(sa.select(Mail.id).where(due).order_by(Mail.id).limit(BATCH)))
    if not ids:
        return counts
    claimed = []
    for ident in ids:
        result = session.execute(sa.update(Mail).where(Mail.id == ident, due)
                                 .values(status="sending", claimed_at=now))
        if result.rowcount == 1:
            claimed.append(ident)
    session.commit()
    if not claimed:
        return counts
    config = current_app.config
    connection: smtplib.SMTP | None = None
    try:
        rows = session.scalars(sa.select(Mail).where(Mail.id.in_(claimed)).order_by(Mail.id)).all()
        for row in rows:
            try:
                if connection is None:
                    connection = _connect(config)
                connection.send_message(_message(row, config))
            except (smtplib.SMTPException, OSError) as error:
                row.attempts += 1
                row.last_error = f"{type(error).__name__}: {error}"[:500]
                if row.attempts >= config["LINKBACK_MAIL_MAX_ATTEMPTS"]:
                    row.status = "failed"
                    logger.error("linkback e-mail %s failed for good: %s", row.id, row.last_error)
                else:
                    row.status = "retry"
                    backoff = min(RETRY_BASE * 2 ** (row.attempts - 1), MAX_BACKOFF)
                    row.next_attempt_at = now + backoff
                    logger.warning("linkback e-mail %s not sent, will retry: %s",
                                   row.id, row.last_error)
                if isinstance(error, (smtplib.SMTPServerDisconnected, OSError)):
                    connection = None
            else:
                row.status, row.sent_at, row.last_error = "sent", utcnow(), ""
                row.attempts += 1
                logger.info("linkback e-mail sent to %s: %s", row.recipients, row.subject)
            counts[row.status] = counts.get(row.status, 0) + 1
            row.claimed_at = None
            session.commit()
    finally:
        if connection is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                connection.quit()
    return counts


def _connect(config: Any) -> smtplib.SMTP:
    host, port, timeout = (config["LINKBACK_MAIL_SERVER"], config["LINKBACK_MAIL_PORT"],
                           config["LINKBACK_MAIL_TIMEOUT"])
    context = ssl.create_default_context()
    connection: smtplib.SMTP
    if config["LINKBACK_MAIL_USE_SSL"]:
        connection = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
    else:
        connection = smtplib.SMTP(host, port, timeout=timeout)
        if config["LINKBACK_MAIL_USE_TLS"]:
            connection.starttls(context=context)
    if config["LINKBACK_MAIL_USERNAME"]:
        connection.login(config["LINKBACK_MAIL_USERNAME"], config["LINKBACK_MAIL_PASSWORD"] or "")
    return connection


def _message(row: Any, config: Any) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = row.subject
    message["From"] = config["LINKBACK_MAIL_SENDER"] or f"flask-linkback@{socket.getfqdn()}"
    message["To"] = row.recipients
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid("linkback")
    message.set_content(row.body)
    return message

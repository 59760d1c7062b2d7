"""The extension object: ``Linkback(app, db)`` or ``Linkback(db=db)`` + ``init_app(app)``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from flask import Flask, Response, g

from . import config as _config
from . import environment, owner, signals
from .admin import make_admin_blueprint
from .admin.views import pending_count, received_for
from .cli import linkback_cli
from .host import HostCallbacks, PostInfo
from .inbound.blueprint import make_blueprint
from .inbound.queue import InboundRunner
from .inbound.ratelimit import RateLimits
from .inbound.rules import DEFAULT_RULES
from .inbound.verify import SourceCache
from .models import Models, Status, define_models
from .outbound import outbox, scheduler
from .outbound.check import check_link
from .outbound.worker import drain
from .presentation import linkbacks_for
from .settings import current_settings
from .signals import current_app_object
from .site import SiteNotConfigured, configured_site
from .state import LinkbackState, current_state

F = TypeVar("F", bound=Callable[..., Any])
logger = logging.getLogger("flask_linkback")


class Linkback:
    """Pingback, TrackBack and Webmention for a Flask blog.

    Keeps no app: per-app state lives in ``app.extensions["linkback"]``. The
    host registers its callbacks with the decorators below (see ``host.py``).
    """

    def __init__(self, app: Flask | None = None, db: Any = None) -> None:
        self.db = db
        self.callbacks = HostCallbacks()
        self.extra_rules: list[Callable[..., Any]] = []
        self.spam_checker: Callable[..., Any] | None = None
        self.admin_checker: Callable[[], Any] | None = None
        if app is not None:
            self.init_app(app, db)

    def init_app(self, app: Flask, db: Any = None) -> None:
        """Set config defaults, check them, and register endpoints, template globals and CLI."""
        db = db if db is not None else self.db
        if db is None:
            raise TypeError(
                "flask-linkback needs the app's Flask-SQLAlchemy object: "
                "Linkback(app, db), Linkback(db=db) or linkback.init_app(app, db)"
            )
        if self.db is None:
            self.db = db
        _config.set_defaults(app.config)
        _config.validate(app.config)
        if configured_site(app) is None:
            logger.warning("flask-linkback: %s; until then every incoming ping is refused",
                           SiteNotConfigured())
        app.extensions["linkback"] = LinkbackState(
            self, db, source_cache=SourceCache(app.config["LINKBACK_SOURCE_CACHE_BYTES"]),
            rate_limits=RateLimits(app.config),
            inbound=InboundRunner(), default_rules=DEFAULT_RULES, outbox=outbox.OutboxRuntime())
        blueprint = make_blueprint(app.config)
        app.register_blueprint(blueprint)
        # Pings come from other sites and carry no CSRF token. Flask-WTF's
        # CSRFProtect, if set up before us, must leave the endpoints alone.
        csrf = app.extensions.get("csrf")
        if csrf is not None:
            csrf.exempt(blueprint)
        app.add_template_global(linkbacks_for, "linkbacks_for")
        owner.init_app(app, db)
        app.register_blueprint(make_admin_blueprint(app.config))
        app.after_request(_advertise_header)
        app.cli.add_command(linkback_cli)
        self._init_outbox(app)

    def _init_outbox(self, app: Flask) -> None:

        if scheduler.should_autostart(app):
            # Not now: the host may still be importing its models, and a background
            # thread touching the database before they are all defined breaks the
            # mappers for the life of the process. The first request starts it.
            app.before_request(_start_scheduler_once)

    @property
    def models(self) -> Models:
        if self.db is None:
            raise RuntimeError("flask-linkback has no db yet: pass it to Linkback() or init_app()")
        return define_models(self.db)

    # Host callbacks (see host.py) ------------------------------------------------

    def post_loader(self, callback: F) -> F:
        """Register ``(post_id: str) -> post | None``."""
        self.callbacks.post_loader = callback
        return callback

    def url_resolver(self, callback: F) -> F:
        """Register ``(url: str) -> post | None`` for URLs on this site."""
        self.callbacks.url_resolver = callback
        return callback

    def post_info(self, callback: F) -> F:
        """Register ``(post) -> PostInfo``."""
        self.callbacks.post_info = callback
        return callback

    def rule(self, callback: F) -> F:
        """Add a moderation rule ``(Candidate) -> Verdict | None``, run before the built-in ones."""
        self.extra_rules.append(callback)
        return callback

    def spam_check(self, callback: F) -> F:
        """Register an external spam service ``(Candidate) -> bool | str | None`` (off by default).

        Return True, or a reason string, to mark the ping as spam. An exception
        holds the ping for moderation instead of losing it.
        """
        self.spam_checker = callback
        return callback

    def admin_check(self, callback: F) -> F:
        """Register ``() -> bool | Response``: may this request use the admin pages?

        Deny by default: with no callback every admin page answers 403. Return
        a response (a redirect to the host's login page) to send it instead.
        """
        self.admin_checker = callback
        return callback

    # Request-time helpers -------------------------------------------------------

    def advertise(self, post: Any) -> None:
        """Add the ``X-Pingback`` and webmention ``Link`` headers to this response.

        The head-tags macro does this too.
        """
        linkbacks_for(post).advertise()

    def describe(self, post: Any) -> PostInfo:
        return current_state().callbacks.describe(post)

    # Outgoing pings (see outbound/) -----------------------------------------------

    def post_published(self, post: Any, *, send_pings: bool | None = None,
                       now: datetime | None = None) -> list[Any]:
        """Call when a post is saved, published or updated: queue the pings it owes.

        Links in its HTML get a Webmention or a Pingback (whichever the target
        offers; Webmention when both), its ``trackback_to`` URLs a TrackBack,
        due at its publish time; targets pinged before are not pinged again,
        except that a link removed after its webmention went out is re-sent.
        Nothing is sent in the caller's request: the outbox worker sends.
        ``send_pings`` overrides ``PostInfo.send_pings`` for this call.
        Returns the post's outbox rows.
        """
        return outbox.post_published(post, send_pings=send_pings, now=now)

    def post_deleted(self, post: Any, *, now: datetime | None = None) -> list[Any]:
        """Call when a post is deleted: re-send its webmentions so their targets drop them.

        Make the post's URL answer ``410 Gone`` first (keep the post, or at
        least let ``post_info`` describe it: pass the post or its
        :class:`PostInfo`). Pings not sent yet are dropped; pingbacks and
        trackbacks cannot be taken back. Returns the post's outbox rows.
        """
        return outbox.post_deleted(post, now=now)

    def outgoing_for(self, post: Any) -> list[Any]:
        """The post's outgoing pings (``OutgoingPing`` rows): sent, failed and why, waiting."""
        return outbox.outgoing_for(post)

    def send_pending(self, *, now: datetime | None = None) -> dict[str, int]:
        """Send every due ping now, in this thread's app context; counts per final status."""
        return dict(drain(now=now))

    def check_link(self, url: str) -> Any:
        """Fetch ``url`` now and say what it offers (Webmention, Pingback, TrackBack): a
        :class:`~flask_linkback.outbound.check.LinkCheck`. For the editor's "check this link"."""
        return check_link(url)

    def sending_enabled(self) -> bool:
        """May this site ping other sites? Only in production (see ``LINKBACK_ENVIRONMENT``)."""
        return environment.sending_enabled()

    def start_scheduler(self, app: Flask) -> None:
        """Start the background outbox scheduler for ``app`` in this process (idempotent)."""
        scheduler.start(app)

    def stop_scheduler(self, app: Flask) -> None:
        scheduler.stop(app)

    # Moderation -----------------------------------------------------------------

    def set_status(self, linkback: Any, status: Status | str, reason: str = "") -> None:
        """Approve, hold or mark as spam one stored linkback, and send the matching signal."""
        status = Status(status)
        linkback.status = status.value
        if reason:
            linkback.reason = reason[:300]
        current_state().db.session.commit()
        app = current_app_object()
        if status == Status.APPROVED:
            signals.linkback_approved.send(app, linkback=linkback)
        elif status == Status.SPAM:
            signals.linkback_spammed.send(app, linkback=linkback)
        else:
            signals.linkback_held.send(app, linkback=linkback)

    def delete(self, linkback: Any) -> None:
        """Delete one stored linkback for good, and send ``linkback_deleted``."""
        session = current_state().db.session
        session.delete(linkback)
        session.commit()
        signals.linkback_deleted.send(current_app_object(), linkback=linkback)

    def received_for(self, post: Any) -> list[Any]:
        """The linkbacks a post received, any status but Trash, newest first; for the host's
        post editor (the admin queue filtered by post has the actions)."""
        return received_for(self.describe(post).id)

    def pending_count(self) -> int:
        """How many linkbacks wait for moderation (one query); for the host's navigation."""
        return pending_count()

    def settings(self) -> Any:
        """The Discussion settings in force (see ``settings.py``); for hosts and templates."""
        return current_settings()


def _start_scheduler_once() -> None:
    app = current_app_object()
    if app.extensions["linkback"].outbox.scheduler is None:
        scheduler.start(app)


def _advertise_header(response: Response) -> Response:
    url = g.pop("_linkback_advertise", None)
    if url and "X-Pingback" not in response.headers:
        response.headers["X-Pingback"] = url
    webmention = g.pop("_linkback_webmention", None)
    links = response.headers.getlist("Link")
    if webmention and not any("webmention" in value.lower() for value in links):
        response.headers.add("Link", f'<{webmention}>; rel="webmention"')
    return response

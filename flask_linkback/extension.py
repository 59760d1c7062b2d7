"""The extension object: ``Linkback(app, db)`` or ``Linkback(db=db)`` + ``init_app(app)``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, g

from . import config as _config
from . import signals
from .host import HostCallbacks, PostInfo
from .models import Models, Status, define_models
from .state import LinkbackState, current_state

F = TypeVar("F", bound=Callable[..., Any])


class Linkback:
    """Pingback, TrackBack and Webmention for a Flask blog.

    Keeps no app: per-app state lives in ``app.extensions["linkback"]``. The
    host registers its callbacks with the decorators below (see ``host.py``).
    """

    def __init__(self, app: Flask | None = None, db: Any = None) -> None:
        self.db = db
        self.callbacks = HostCallbacks()
        self.extra_rules: list[Callable[..., Any]] = []
        if app is not None:
            self.init_app(app, db)

    def init_app(self, app: Flask, db: Any = None) -> None:
        """Set config defaults, check them, and register endpoints, template globals and CLI."""
        from .cli import linkback_cli
        from .inbound import make_blueprint
        from .presentation import linkbacks_for

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
        app.extensions["linkback"] = LinkbackState(self, db)
        blueprint = make_blueprint(app.config)
        app.register_blueprint(blueprint)
        # Pings come from other sites and carry no CSRF token. Flask-WTF's
        # CSRFProtect, if set up before us, must leave the endpoints alone.
        csrf = app.extensions.get("csrf")
        if csrf is not None:
            csrf.exempt(blueprint)
        app.add_template_global(linkbacks_for, "linkbacks_for")
        app.after_request(_advertise_header)
        app.cli.add_command(linkback_cli)

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
        """Add a moderation rule ``(Candidate) -> Verdict | None``, run before the built-in ones.

        Rules are read when ``init_app`` runs: register them before it.
        """
        self.extra_rules.append(callback)
        return callback

    # Request-time helpers -------------------------------------------------------

    def advertise(self, post: Any) -> None:
        """Add the ``X-Pingback`` and webmention ``Link`` headers to this response.

        The head-tags macro does this too.
        """
        from .presentation import linkbacks_for

        linkbacks_for(post).advertise()

    def describe(self, post: Any) -> PostInfo:
        return current_state().callbacks.describe(post)

    # Moderation -----------------------------------------------------------------

    def set_status(self, linkback: Any, status: Status | str, reason: str = "") -> None:
        """Approve, hold or mark as spam one stored linkback, and send the matching signal."""
        from flask import current_app

        status = Status(status)
        linkback.status = status.value
        if reason:
            linkback.reason = reason[:300]
        current_state().db.session.commit()
        app = current_app._get_current_object()
        if status == Status.APPROVED:
            signals.linkback_approved.send(app, linkback=linkback)
        elif status == Status.SPAM:
            signals.linkback_spammed.send(app, linkback=linkback)


def _advertise_header(response: Response) -> Response:
    url = g.pop("_linkback_advertise", None)
    if url and "X-Pingback" not in response.headers:
        response.headers["X-Pingback"] = url
    webmention = g.pop("_linkback_webmention", None)
    if webmention and not any("webmention" in value.lower() for value in response.headers.getlist("Link")):
        response.headers.add("Link", f'<{webmention}>; rel="webmention"')
    return response

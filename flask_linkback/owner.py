"""Wiring for the blog owner's side: e-mail notifications, the refusal log, the feeds."""

from __future__ import annotations

from typing import Any

from flask import Flask

from . import signals
from .feeds import feed_url, make_feed_blueprint
from .notify import on_linkback_received
from .owner_models import define_owner_models
from .refusals import on_linkback_refused


def init_app(app: Flask, db: Any) -> None:
    """Define the tables, connect the signal receivers (once), register the feeds."""
    define_owner_models(db)
    # Module-level receivers, connected once for every app; each checks its sender's config.
    signals.linkback_received.connect(on_linkback_received)
    signals.linkback_refused.connect(on_linkback_refused)
    app.register_blueprint(make_feed_blueprint(app.config))
    app.add_template_global(feed_url, "linkback_feed_url")

"""Which kind of site this is, and whether it may ping the rest of the web.

Staging and development copies of a blog share its posts (often a copy of
its database) and must never ping the blogs those posts link to: readers
would see a second, broken copy of every ping. ``LINKBACK_ENVIRONMENT`` says
what this site is; left at None it is "development" under ``app.debug`` or
``app.testing`` and "production" otherwise. Only production sends pings to
other sites. Links between this site's own posts are recorded anyway: they
never leave the process.
"""

from __future__ import annotations

from flask import Flask

from .signals import current_app_object

ENVIRONMENTS = ("production", "staging", "development", "local")


def environment(app: Flask | None = None) -> str:
    """``LINKBACK_ENVIRONMENT``, or what ``app.debug``/``app.testing`` imply when it is None."""
    app = app or current_app_object()
    configured = app.config.get("LINKBACK_ENVIRONMENT")
    if configured:
        return str(configured)
    return "development" if app.debug or app.testing else "production"


def sending_enabled(app: Flask | None = None) -> bool:
    """True when outgoing pings may go to other sites (production only)."""
    return environment(app) == "production"


def sending_off_reason(app: Flask | None = None) -> str | None:
    """Why outgoing pings stay queued here, in words for the admin; None when they go out."""
    app = app or current_app_object()
    if sending_enabled(app):
        return None
    env = environment(app)
    how = ("LINKBACK_ENVIRONMENT says so" if app.config.get("LINKBACK_ENVIRONMENT")
           else "the app runs in debug or testing mode")
    return (f"This site is a {env} copy ({how}): pings to other blogs stay queued and are not "
            f'sent. Set LINKBACK_ENVIRONMENT = "production" on the live site.')

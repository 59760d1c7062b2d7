"""Blinker signals the host can connect to, sent with the app as sender."""

from __future__ import annotations

from blinker import Namespace
from flask import Flask, current_app

_signals = Namespace()


def current_app_object() -> Flask:
    """The app behind ``current_app`` (the proxy's object): every signal's sender."""
    # A LocalProxy method, which Flask's annotation of current_app (as Flask) hides.
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    return app

#: A linkback was stored (any status). Keyword: ``linkback``.
linkback_received = _signals.signal("linkback-received")
#: A linkback was approved by a rule or an admin. Keyword: ``linkback``.
linkback_approved = _signals.signal("linkback-approved")
#: A linkback was marked as spam. Keyword: ``linkback``.
linkback_spammed = _signals.signal("linkback-spammed")
#: An incoming ping was refused. Keywords: ``kind``, ``source``, ``target``, ``reason``.
linkback_refused = _signals.signal("linkback-refused")
#: A linkback was put back in the moderation queue (restored from spam, unapproved). ``linkback``.
linkback_held = _signals.signal("linkback-held")
#: A linkback was deleted by an admin. Keyword: ``linkback`` (no longer in the database).
linkback_deleted = _signals.signal("linkback-deleted")
#: The Discussion settings were saved. Keyword: ``settings`` (a DiscussionSettings).
settings_changed = _signals.signal("settings-changed")
#: An outgoing ping was delivered (or the receiver already had it). Keyword: ``ping``.
ping_sent = _signals.signal("ping-sent")
#: An outgoing ping failed for good. Keyword: ``ping``.
ping_failed = _signals.signal("ping-failed")
#: A known linkback was re-sent and re-verified; its fields were refreshed. Keyword: ``linkback``.
linkback_updated = _signals.signal("linkback-updated")
#: A known linkback was deleted because its source is gone (410) or no longer links.
#: Keywords: ``linkback`` (already deleted), ``reason``.
linkback_removed = _signals.signal("linkback-removed")
#: An admin moved a linkback to the Trash (hidden, restorable; ``linkback_deleted`` follows
#: only when the trash is emptied). Keyword: ``linkback``.
linkback_trashed = _signals.signal("linkback-trashed")

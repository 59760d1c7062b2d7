"""The Discussion settings: what an admin changes at run time, stored in the database.

Each setting's default comes from a ``LINKBACK_*`` config key; a value saved
from the admin form (a row of ``linkback_settings``) overrides it without a
restart. Request-time code reads :func:`current_settings`, which costs one
query per request at most (outside a request, one per call).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, fields, replace
from typing import Any

from flask import current_app, request

from .state import current_state

__all__ = ["DiscussionSettings", "current_settings", "save_settings", "settings_defaults"]


@dataclass(frozen=True)
class DiscussionSettings:
    """The settings the admin form edits (WordPress's Settings > Discussion, for linkbacks)."""

    #: New posts take pingbacks and trackbacks unless the author turns it off (per post).
    pings_open_default: bool
    #: Notify the blogs a post links to when it is published (outgoing pings).
    notify_linked_blogs: bool
    #: Hold every linkback for moderation, whatever its source.
    hold_all: bool
    #: Approve linkbacks from this site's own posts at once.
    approve_own: bool
    #: Approve linkbacks from hosts that had one approved before.
    approve_known_sources: bool
    #: Fetch a TrackBack's source and refuse it unless it links to the post.
    trackback_require_link: bool
    #: Hosts (and their subdomains) or IP addresses whose linkbacks are marked spam.
    blocked_hosts: tuple[str, ...]
    #: Words or phrases that mark a linkback as spam when found in its source.
    blocked_words: tuple[str, ...]
    #: Hosts whose linkbacks are approved at once ("trust this site").
    trusted_hosts: tuple[str, ...]
    #: Hold a linkback whose source page has more links than this (0: no limit).
    max_links: int
    #: Accept webmentions (and advertise the endpoint) on posts that take linkbacks.
    accept_webmentions: bool = True
    # Moderation word list and closing pings on old posts.
    #: Words or phrases that hold a linkback for moderation (not spam) when found in its source.
    held_words: tuple[str, ...] = ()
    #: Refuse pingbacks to posts published more than this many days ago (0: never close).
    close_pingbacks_after_days: int = 0
    #: The same for TrackBacks.
    close_trackbacks_after_days: int = 0
    #: The same for webmentions.
    close_webmentions_after_days: int = 0
    #: E-mail the owner when a linkback is held for moderation or approved on arrival.
    notify_by_email: bool = False


#: setting -> the config key its default comes from (None: computed in settings_defaults).
CONFIG_KEYS: dict[str, str | None] = {
    "pings_open_default": "LINKBACK_PINGS_OPEN_DEFAULT",
    "notify_linked_blogs": "LINKBACK_SEND_PINGS",
    "hold_all": None,  # LINKBACK_MODERATION == "all"
    "approve_own": None,  # LINKBACK_SELF_PINGS == "approved"
    "approve_known_sources": None,  # LINKBACK_MODERATION != "all"
    "trackback_require_link": "LINKBACK_TRACKBACK_REQUIRE_LINK",
    "blocked_hosts": "LINKBACK_BLOCKED_HOSTS",
    "blocked_words": "LINKBACK_BLOCKED_WORDS",
    "trusted_hosts": "LINKBACK_TRUSTED_HOSTS",
    "max_links": "LINKBACK_MAX_LINKS",
    "accept_webmentions": "LINKBACK_ACCEPT_WEBMENTIONS",
    # Moderation word list and closing pings on old posts.
    "held_words": "LINKBACK_HELD_WORDS",
    "close_pingbacks_after_days": "LINKBACK_CLOSE_PINGBACKS_AFTER_DAYS",
    "close_trackbacks_after_days": "LINKBACK_CLOSE_TRACKBACKS_AFTER_DAYS",
    "close_webmentions_after_days": "LINKBACK_CLOSE_WEBMENTIONS_AFTER_DAYS",
    "notify_by_email": "LINKBACK_MAIL_NOTIFY",
}
NAMES = tuple(f.name for f in fields(DiscussionSettings))


def settings_defaults(config: Any = None) -> DiscussionSettings:
    """The settings as the app's config alone gives them."""
    config = current_app.config if config is None else config
    values: dict[str, Any] = {}
    for name, key in CONFIG_KEYS.items():
        if key is not None:
            values[name] = config[key]
    values["hold_all"] = config["LINKBACK_MODERATION"] == "all"
    values["approve_known_sources"] = config["LINKBACK_MODERATION"] != "all"
    values["approve_own"] = config["LINKBACK_SELF_PINGS"] == "approved"
    return _coerce(values)


#: Seconds a process reuses the settings it read; a save in this process takes effect at
#: once, one in another process within this time. Spares every ping a settings query.
PROCESS_CACHE_SECONDS = 1.0


def current_settings() -> DiscussionSettings:
    """The settings in force: saved values over config defaults, read once per request."""
    cached = getattr(request, "_linkback_settings", None) if request else None
    if isinstance(cached, DiscussionSettings):
        return cached
    state = current_state()
    expires, shared = state.settings_cache or (0.0, None)
    if isinstance(shared, DiscussionSettings) and expires > time.monotonic():
        _remember(shared)
        return shared
    settings = settings_defaults()
    Setting = settings_model()
    stored = {row.key: row.value for row in Setting.query.all()}
    overrides: dict[str, Any] = {}
    for name in NAMES:
        if name in stored:
            try:
                overrides[name] = json.loads(stored[name])
            except ValueError:  # a hand-edited row: fall back to the default
                continue
    settings = _coerce({**_as_dict(settings), **overrides})
    state.settings_cache = (time.monotonic() + PROCESS_CACHE_SECONDS, settings)
    _remember(settings)
    return settings


def save_settings(**changes: Any) -> DiscussionSettings:
    """Store the given settings (by field name) and return the settings now in force."""
    unknown = set(changes) - set(NAMES)
    if unknown:
        raise TypeError(f"unknown Discussion settings: {', '.join(sorted(unknown))}")
    new = replace(current_settings(), **changes)
    new = _coerce(_as_dict(new))
    Setting = settings_model()
    session = current_state().db.session
    for name in changes:
        value = json.dumps(getattr(new, name) if not isinstance(getattr(new, name), tuple)
                           else list(getattr(new, name)))
        row = session.get(Setting, name)
        if row is None:
            session.add(Setting(key=name, value=value))
        else:
            row.value = value
    session.commit()
    current_state().settings_cache = None
    _remember(new)
    return new


def _remember(settings: DiscussionSettings) -> None:
    """Keep the settings for the rest of this request (not on ``g``: an app context may
    outlive many requests, in tests and CLI commands)."""
    if request:
        request._linkback_settings = settings  # type: ignore[attr-defined]


def trust_host(host: str) -> DiscussionSettings:
    """Add ``host`` to the trusted hosts (no-op when it is there already)."""
    settings = current_settings()
    host = host.lower()
    if host in settings.trusted_hosts:
        return settings
    return save_settings(trusted_hosts=(*settings.trusted_hosts, host))


def _as_dict(settings: DiscussionSettings) -> dict[str, Any]:
    return {name: getattr(settings, name) for name in NAMES}


def _coerce(values: dict[str, Any]) -> DiscussionSettings:
    out: dict[str, Any] = {}
    for name in NAMES:
        value = values[name]
        if name in ("blocked_hosts", "blocked_words", "trusted_hosts", "held_words"):
            out[name] = tuple(str(v).strip().lower() for v in value if str(v).strip())
        elif name == "max_links" or name.endswith("_after_days"):
            out[name] = max(int(value), 0)
        else:
            out[name] = bool(value)
    return DiscussionSettings(**out)


def settings_model() -> Any:
    """The ``linkback_settings`` model of this app's ``db``."""
    return current_state().models.LinkbackSetting

"""Every ``LINKBACK_*`` configuration key, its default, and its check.

The README's configuration table is written from this list; a wrong value
fails at ``init_app`` with a message naming the key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from . import __about__


def _positive_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def _non_negative_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _positive_int(value: Any) -> bool:
    return _non_negative_int(value) and value > 0


def _bool(value: Any) -> bool:
    return isinstance(value, bool)


def _url_path(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("/")


def _choice(*choices: str) -> Callable[[Any], bool]:
    return lambda value: value in choices


def _str(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def _hosts(value: Any) -> bool:
    return isinstance(value, (list, tuple, set, frozenset)) and all(isinstance(h, str) for h in value)


def _rate_limits(value: Any) -> bool:
    from limits import parse_many

    if not isinstance(value, str) or not value.strip():
        return False
    try:
        parse_many(value)
    except ValueError:
        return False
    return True


def _storage_uri(value: Any) -> bool:
    return isinstance(value, str) and "://" in value


#: key -> (default, check, what a valid value looks like)
DEFAULTS: dict[str, tuple[Any, Callable[[Any], bool], str]] = {
    "LINKBACK_XMLRPC_URL": ("/xmlrpc", _url_path, "a URL path starting with /"),
    "LINKBACK_TRACKBACK_URL": ("/trackback", _url_path, "a URL path starting with /"),
    "LINKBACK_SITE_HOSTS": ((), _hosts, "a list of host[:port] strings"),
    "LINKBACK_ALLOW_PRIVATE_ADDRESSES": (False, _bool, "True or False"),
    "LINKBACK_FETCH_TIMEOUT": (5.0, _positive_number, "a number of seconds > 0"),
    "LINKBACK_FETCH_MAX_BYTES": (1_000_000, _positive_int, "a number of bytes > 0"),
    "LINKBACK_FETCH_MAX_REDIRECTS": (5, _non_negative_int, "a whole number >= 0"),
    "LINKBACK_USER_AGENT": (
        f"flask-linkback/{__about__.__version__} (+{__about__.__url__})",
        _str,
        "a non-empty string",
    ),
    "LINKBACK_MAX_REQUEST_BYTES": (65_536, _positive_int, "a number of bytes > 0"),
    "LINKBACK_SOURCE_FETCH_WINDOW": (30.0, _positive_number, "a number of seconds > 0"),
    "LINKBACK_SOURCE_HOST_CONCURRENCY": (2, _positive_int, "a whole number > 0"),
    "LINKBACK_EXCERPT_CHARS": (100, _positive_int, "a whole number > 0"),
    "LINKBACK_PINGBACK_MASK_FAULTS": (False, _bool, "True or False"),
    "LINKBACK_TRACKBACK_REQUIRE_LINK": (True, _bool, "True or False"),
    "LINKBACK_MODERATION": ("new-sources", _choice("all", "new-sources", "none"),
                            '"all", "new-sources" or "none"'),
    "LINKBACK_SELF_PINGS": ("approved", _choice("approved", "pending", "off"),
                            '"approved", "pending" or "off"'),
    # Discussion settings: defaults for what the admin form stores in the database.
    "LINKBACK_PINGS_OPEN_DEFAULT": (True, _bool, "True or False"),
    "LINKBACK_BLOCKED_HOSTS": ((), _hosts, "a list of host names or IP addresses"),
    "LINKBACK_BLOCKED_WORDS": ((), _hosts, "a list of words or phrases"),
    "LINKBACK_TRUSTED_HOSTS": ((), _hosts, "a list of host names"),
    "LINKBACK_MAX_LINKS": (100, _non_negative_int, "a whole number >= 0 (0: no limit)"),
    "LINKBACK_LINK_LIST_MIN_LINKS": (8, _positive_int, "a whole number > 0"),
    # The admin pages.
    "LINKBACK_ADMIN_URL_PREFIX": ("/linkback-admin", _url_path, "a URL path starting with /"),
    "LINKBACK_ADMIN_PAGE_SIZE": (50, _positive_int, "a whole number > 0"),
    # Rate limits on the Pingback and TrackBack endpoints.
    "LINKBACK_RATELIMIT_ENABLED": (True, _bool, "True or False"),
    "LINKBACK_RATELIMIT_PER_IP": ("60/minute;600/hour", _rate_limits,
                                  'rate limits such as "60/minute;600/hour"'),
    "LINKBACK_RATELIMIT_PER_SOURCE_HOST": ("30/minute;300/hour", _rate_limits,
                                           'rate limits such as "30/minute;300/hour"'),
    "LINKBACK_RATELIMIT_STORAGE_URI": ("memory://", _storage_uri,
                                       'a storage URI such as "memory://" or "redis://host:6379"'),
    # Outgoing pings (the outbox).
    "LINKBACK_SEND_PINGS": (True, _bool, "True or False"),
    "LINKBACK_BLOG_NAME": ("", lambda v: isinstance(v, str), "a string"),
    "LINKBACK_SCHEDULER": (True, _bool, "True or False"),
    "LINKBACK_OUTBOX_POLL_SECONDS": (15, lambda v: _positive_number(v) and v < 60,
                                     "a number of seconds > 0 and < 60"),
    "LINKBACK_OUTBOX_WORKERS": (100, _positive_int, "a whole number > 0"),
    "LINKBACK_OUTBOX_HOST_CONCURRENCY": (2, _positive_int, "a whole number > 0"),
    "LINKBACK_OUTBOX_MAX_ATTEMPTS": (8, _positive_int, "a whole number > 0"),
    "LINKBACK_OUTBOX_RETRY_SECONDS": (60, _positive_number, "a number of seconds > 0"),
    "LINKBACK_OUTBOX_429_SPACING": (15, _positive_number, "a number of seconds > 0"),
    "LINKBACK_OUTBOX_CLAIM_TIMEOUT": (600, _positive_number, "a number of seconds > 0"),
    "LINKBACK_DISCOVERY_CACHE_SECONDS": (600, lambda v: _positive_number(v) or v == 0,
                                         "a number of seconds >= 0"),
    "LINKBACK_WEBMENTION_URL": ("/webmention", _url_path, "a URL path starting with /"),
    "LINKBACK_ACCEPT_WEBMENTIONS": (True, _bool, "True or False"),
    "LINKBACK_WEBMENTION_WORKERS": (2, _positive_int, "a whole number > 0"),
    "LINKBACK_WEBMENTION_QUEUE": (1000, _positive_int, "a whole number > 0"),
    "LINKBACK_PREFER_WEBMENTION": (True, _bool, "True or False"),
    # Bounded memory (issue 9.4).
    #: Most bytes of fetched source pages kept per process for the fetch-once window; past it the
    #: oldest are let go.
    "LINKBACK_SOURCE_CACHE_BYTES": (16 * 1024 * 1024, _positive_int, "a number of bytes > 0"),
}


def set_defaults(config: dict[str, Any]) -> None:
    for key, (default, _, _) in DEFAULTS.items():
        config.setdefault(key, default)


def validate(config: Mapping[str, Any]) -> None:
    """Fail at start-up, naming the key, rather than at the first ping."""
    for key, (_, check, expected) in DEFAULTS.items():
        value = config[key]
        if not check(value):
            raise ValueError(f"{key} must be {expected}, got {value!r}")

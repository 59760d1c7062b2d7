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
    "LINKBACK_WEBMENTION_URL": ("/webmention", _url_path, "a URL path starting with /"),
    "LINKBACK_ACCEPT_WEBMENTIONS": (True, _bool, "True or False"),
    "LINKBACK_WEBMENTION_WORKERS": (2, _positive_int, "a whole number > 0"),
    "LINKBACK_WEBMENTION_QUEUE": (1000, _positive_int, "a whole number > 0"),
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

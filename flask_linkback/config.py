"""Every ``LINKBACK_*`` configuration key, its default, and its check.

The configuration reference in the docs is generated from ``DEFAULTS``:
the ``#:`` comment above a key is its description, and a plain comment line
inside the mapping starts a group. A wrong value fails at ``init_app`` with
a message naming the key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from limits import parse_many

from . import __about__
from .environment import ENVIRONMENTS


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
    return (isinstance(value, (list, tuple, set, frozenset))
            and all(isinstance(h, str) for h in value))


def _site_url(value: Any) -> bool:
    if value is None:
        return True
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname) and not parts.query


def _rate_limits(value: Any) -> bool:
    if not isinstance(value, str) or not value.strip():
        return False
    try:
        parse_many(value)
    except ValueError:
        return False
    return True


def _storage_uri(value: Any) -> bool:
    return isinstance(value, str) and "://" in value


def _optional_str(value: Any) -> bool:
    return value is None or isinstance(value, str)


#: key -> (default, check, what a valid value looks like)
DEFAULTS: dict[str, tuple[Any, Callable[[Any], bool], str]] = {
    # Receiving: endpoints, fetching and verifying source pages, moderation.
    #: URL path of the Pingback XML-RPC endpoint.
    "LINKBACK_XMLRPC_URL": ("/xmlrpc", _url_path, "a URL path starting with /"),
    #: URL path under which each post's TrackBack URL lives (``/trackback/<post_id>``).
    "LINKBACK_TRACKBACK_URL": ("/trackback", _url_path, "a URL path starting with /"),
    #: This site's root URL (scheme, host, port and path prefix): what counts as "this site" for
    #: targets, own sources and links. ``None``: ``SERVER_NAME`` with ``PREFERRED_URL_SCHEME`` and
    #: ``APPLICATION_ROOT``. Never taken from a request's ``Host`` header; with neither set, every
    #: ping is refused.
    "LINKBACK_SITE_URL": (None, _site_url,
                          'None or this site\'s root URL such as "https://example.org/blog/"'),
    #: More ``host[:port]`` names this site answers to (under the same path prefix), besides the
    #: one in its site URL.
    "LINKBACK_SITE_HOSTS": ((), _hosts, "a list of host[:port] strings"),
    #: Let the fetcher connect to private, loopback, link-local and other non-public addresses. For
    #: development and tests only.
    "LINKBACK_ALLOW_PRIVATE_ADDRESSES": (False, _bool, "True or False"),
    #: Time limit in seconds for one fetch of a source page, redirects and body included.
    "LINKBACK_FETCH_TIMEOUT": (5.0, _positive_number, "a number of seconds > 0"),
    #: Largest source page body, in bytes, the fetcher reads.
    "LINKBACK_FETCH_MAX_BYTES": (1_000_000, _positive_int, "a number of bytes > 0"),
    #: Most redirects the fetcher follows.
    "LINKBACK_FETCH_MAX_REDIRECTS": (5, _non_negative_int, "a whole number >= 0"),
    #: ``User-Agent`` header of every fetch.
    "LINKBACK_USER_AGENT": (
        f"flask-linkback/{__about__.__version__} (+{__about__.__url__})",
        _str,
        "a non-empty string",
    ),
    #: Largest incoming Pingback, TrackBack or Webmention request body; larger ones are answered
    #: with HTTP 413 before parsing.
    "LINKBACK_MAX_REQUEST_BYTES": (65_536, _positive_int, "a number of bytes > 0"),
    #: A source URL is fetched at most once in this many seconds (per process); pings naming it
    #: within the window share the result.
    "LINKBACK_SOURCE_FETCH_WINDOW": (30.0, _positive_number, "a number of seconds > 0"),
    #: Most fetches running at once to one source host per process, and most queued pings about
    #: one source ``host[:port]`` verified at once across all processes.
    "LINKBACK_SOURCE_HOST_CONCURRENCY": (2, _positive_int, "a whole number > 0"),
    #: Characters of text kept on each side of the link in the excerpt taken from the source page.
    "LINKBACK_EXCERPT_CHARS": (100, _positive_int, "a whole number > 0"),
    #: Answer every refused pingback with fault code 0 and an empty message, as WordPress does,
    #: except fault 48 (already registered); the log keeps the reason.
    "LINKBACK_PINGBACK_MASK_FAULTS": (False, _bool, "True or False"),
    #: Fetch a TrackBack's source URL and refuse the TrackBack unless it links to the post.
    "LINKBACK_TRACKBACK_REQUIRE_LINK": (True, _bool, "True or False"),
    #: ``"all"``: hold every linkback for moderation; ``"new-sources"``: approve linkbacks from
    #: hosts that had one approved before, hold the rest; ``"none"``: approve every linkback that
    #: verified.
    "LINKBACK_MODERATION": ("new-sources", _choice("all", "new-sources", "none"),
                            '"all", "new-sources" or "none"'),
    #: Linkbacks from this site's own posts (verified from their HTML, without HTTP):
    #: ``"approved"``, ``"pending"`` (held), or ``"off"`` (refused).
    "LINKBACK_SELF_PINGS": ("approved", _choice("approved", "pending", "off"),
                            '"approved", "pending" or "off"'),
    # Discussion settings: defaults for what the admin form stores in the database.
    #: Default of the "allow link notifications on new posts" setting.
    "LINKBACK_PINGS_OPEN_DEFAULT": (True, _bool, "True or False"),
    #: Default blocked sites: hosts (with subdomains) or IPs whose linkbacks are stored as spam.
    "LINKBACK_BLOCKED_HOSTS": ((), _hosts, "a list of host names or IP addresses"),
    #: Default blocked words: a source containing one is stored as spam.
    "LINKBACK_BLOCKED_WORDS": ((), _hosts, "a list of words or phrases"),
    #: Default trusted sites: their linkbacks are approved at once.
    "LINKBACK_TRUSTED_HOSTS": ((), _hosts, "a list of host names"),
    #: Default maximum number of links in a source page before its linkback is held (0: no limit).
    "LINKBACK_MAX_LINKS": (100, _non_negative_int, "a whole number >= 0 (0: no limit)"),
    #: Links a source's list must hold, around a bare link to you, for the ping to be held as a
    #: link list.
    "LINKBACK_LINK_LIST_MIN_LINKS": (8, _positive_int, "a whole number > 0"),
    # The admin pages.
    #: Where the admin pages (moderation queue, Discussion settings) are mounted.
    "LINKBACK_ADMIN_URL_PREFIX": ("/linkback-admin", _url_path, "a URL path starting with /"),
    #: Rows per page of the moderation queue.
    "LINKBACK_ADMIN_PAGE_SIZE": (50, _positive_int, "a whole number > 0"),
    # Rate limits on the Pingback and TrackBack endpoints.
    #: Rate-limit POSTs to the Pingback and TrackBack endpoints.
    "LINKBACK_RATELIMIT_ENABLED": (True, _bool, "True or False"),
    #: Limits per sender (an IPv4 address, or an IPv6 /64), in the ``limits`` notation; over them
    #: the answer is HTTP 429.
    "LINKBACK_RATELIMIT_PER_IP": ("60/minute;600/hour", _rate_limits,
                                  'rate limits such as "60/minute;600/hour"'),
    #: Limits per sender and source host (a blog publishing a post pings every post it links to at
    #: once: allow a burst).
    "LINKBACK_RATELIMIT_PER_SOURCE_HOST": ("30/minute;300/hour", _rate_limits,
                                           'rate limits such as "30/minute;300/hour"'),
    #: Where the rate-limit counters live (``memory://``, ``redis://...``, ``memcached://...``).
    "LINKBACK_RATELIMIT_STORAGE_URI": ("memory://", _storage_uri,
                                       'a storage URI such as "memory://" or "redis://host:6379"'),
    # Outgoing pings (the outbox).
    #: Default of the "notify linked blogs" setting: ping the blogs your posts link to ("attempt to
    #: notify any blogs linked to from the post"); ``PostInfo.send_pings`` overrides it per post.
    "LINKBACK_SEND_PINGS": (True, _bool, "True or False"),
    #: The ``blog_name`` sent with TrackBacks (WordPress shows it as the author): your blog's
    #: title; empty means your site's host name.
    "LINKBACK_BLOG_NAME": ("", lambda v: isinstance(v, str), "a string"),
    #: Start the outbox scheduler with the app (not under ``app.testing`` or ``flask`` commands
    #: other than ``run``). ``False`` for a separate ``flask linkback worker``.
    "LINKBACK_SCHEDULER": (True, _bool, "True or False"),
    #: How often the scheduler looks for due pings (under 60). A post going live is also sent at
    #: once.
    "LINKBACK_OUTBOX_POLL_SECONDS": (15, lambda v: _positive_number(v) and v < 60,
                                     "a number of seconds > 0 and < 60"),
    #: Most pings sent at once per process (threads, created only while sending; they use no
    #: database connection).
    "LINKBACK_OUTBOX_WORKERS": (100, _positive_int, "a whole number > 0"),
    #: Most pings sent at once to one receiving ``host:port``.
    "LINKBACK_OUTBOX_HOST_CONCURRENCY": (2, _positive_int, "a whole number > 0"),
    #: Attempts before a ping that keeps failing transiently is marked failed.
    "LINKBACK_OUTBOX_MAX_ATTEMPTS": (8, _positive_int, "a whole number > 0"),
    #: Wait before the first retry; each further retry waits twice as long (at most a day).
    "LINKBACK_OUTBOX_RETRY_SECONDS": (60, _positive_number, "a number of seconds > 0"),
    #: After a 429 from a site, seconds between pings to it (WordPress refuses a second ping within
    #: 15 s).
    "LINKBACK_OUTBOX_429_SPACING": (15, _positive_number, "a number of seconds > 0"),
    #: A ping claimed longer ago than this belongs to a worker that died, and is retried.
    "LINKBACK_OUTBOX_CLAIM_TIMEOUT": (600, _positive_number, "a number of seconds > 0"),
    #: The longest a page's Webmention and Pingback endpoints (or their absence) are remembered,
    #: per process, and how long when its caching headers say nothing (``no-store``,
    #: ``no-cache``, ``max-age`` and ``Expires`` are followed below it); ``0`` turns the cache off.
    "LINKBACK_DISCOVERY_CACHE_SECONDS": (600, lambda v: _positive_number(v) or v == 0,
                                         "a number of seconds >= 0"),
    #: URL path of the Webmention endpoint; status pages live under ``<path>/status/<token>``.
    "LINKBACK_WEBMENTION_URL": ("/webmention", _url_path, "a URL path starting with /"),
    #: Default of the "accept webmentions" Discussion setting: accept webmentions and advertise the
    #: endpoint (``Link`` header and ``<link rel="webmention">``). When off the endpoint answers
    #: 400 and nothing is advertised.
    "LINKBACK_ACCEPT_WEBMENTIONS": (True, _bool, "True or False"),
    # The inbound queue: every received ping is verified from it (inbound/queue.py).
    #: Threads per process that verify queued pings. ``0``: this process only queues them and
    #: ``flask linkback worker`` (or another process) verifies. A process whose scheduler is off
    #: (a web process beside a worker) uses them only for the verdicts its requests wait for.
    "LINKBACK_INBOUND_WORKERS": (4, _non_negative_int,
                                 "a whole number >= 0 (0: this process only queues, a worker "
                                 "verifies)"),
    #: Most pings waiting for verification in all (re-sends that joined a waiting one count);
    #: past it Pingback answers fault 50 and TrackBack and Webmention HTTP 503 with ``Retry-After``.
    "LINKBACK_INBOUND_QUEUE_MAX": (1000, _positive_int, "a whole number > 0"),
    #: Most waiting pings from one sender (an address, an IPv6 /64) and, separately, about one
    #: source ``host[:port]``.
    "LINKBACK_INBOUND_QUEUE_PER_SENDER": (50, _positive_int, "a whole number > 0"),
    #: Most pings from one sender verified at once, across all processes.
    "LINKBACK_INBOUND_SENDER_CONCURRENCY": (2, _positive_int, "a whole number > 0"),
    #: A verification claimed longer ago than this belongs to a process that died, and is run
    #: again (claims of dead processes on the same machine are taken over at once).
    "LINKBACK_INBOUND_CLAIM_TIMEOUT": (120, _positive_number, "a number of seconds > 0"),
    #: Attempts before a ping whose verification keeps failing is given up (verdict ``error``).
    "LINKBACK_INBOUND_MAX_ATTEMPTS": (3, _positive_int, "a whole number > 0"),
    #: How long a verified job's row is kept (for the admin and for re-runs) before the queue
    #: deletes it.
    "LINKBACK_INBOUND_KEEP_SECONDS": (86_400, _positive_number, "a number of seconds > 0"),
    #: How often the scheduler looks for queued pings (each finished verification also takes the
    #: next one at once).
    "LINKBACK_INBOUND_POLL_SECONDS": (2, _positive_number, "a number of seconds > 0"),
    #: How long a Pingback or TrackBack request waits for its verdict while a verification slot is
    #: free; past it the answer is "queued for verification" (TrackBack: success) and the queue
    #: decides. ``0``: always answer at once.
    "LINKBACK_PINGBACK_WAIT": (2.0, lambda v: _positive_number(v) or v == 0,
                               "a number of seconds >= 0 (0: always answer at once)"),
    #: A linked page that offers both Webmention and Pingback gets a webmention only; ``False``: a
    #: pingback only.
    "LINKBACK_PREFER_WEBMENTION": (True, _bool, "True or False"),
    # Post pages: linkbacks shown a page at a time.
    #: Linkbacks a post page shows at a time; ``?linkback-page=N`` shows the others.
    "LINKBACK_PER_PAGE": (50, _positive_int, "a whole number > 0"),
    #: ``"oldest"``: page 1 holds the oldest linkbacks; ``"newest"``: the newest, newest first.
    "LINKBACK_ORDER": ("oldest", _choice("oldest", "newest"), '"oldest" or "newest"'),
    # Moderation word list and closing pings on old posts (Discussion settings' defaults).
    #: Default held words: a source containing one waits for moderation (not spam).
    "LINKBACK_HELD_WORDS": ((), _hosts, "a list of words or phrases"),
    #: Default days after which a post takes no more pingbacks (0: never); comments are apart.
    "LINKBACK_CLOSE_PINGBACKS_AFTER_DAYS": (0, _non_negative_int,
                                          "a whole number of days >= 0 (0: never)"),
    #: Default days after which a post takes no more TrackBacks (0: never).
    "LINKBACK_CLOSE_TRACKBACKS_AFTER_DAYS": (0, _non_negative_int,
                                           "a whole number of days >= 0 (0: never)"),
    #: Default days after which a post takes no more webmentions (0: never).
    "LINKBACK_CLOSE_WEBMENTIONS_AFTER_DAYS": (0, _non_negative_int,
                                            "a whole number of days >= 0 (0: never)"),
    # The blog owner's side (issue 12): absolute URLs, e-mail, refusal log, feeds, environment.
    #: Default of the "e-mail me" Discussion setting: mail the owner when a linkback is held or
    #: approved on arrival (sent by the worker, never in a request).
    "LINKBACK_MAIL_NOTIFY": (False, _bool, "True or False"),
    #: SMTP server that notifications go through.
    "LINKBACK_MAIL_SERVER": ("localhost", _str, "a host name"),
    #: SMTP port.
    "LINKBACK_MAIL_PORT": (25, _positive_int, "a port number"),
    #: Use STARTTLS on the SMTP connection.
    "LINKBACK_MAIL_USE_TLS": (False, _bool, "True or False"),
    #: Connect to the SMTP server over TLS from the start.
    "LINKBACK_MAIL_USE_SSL": (False, _bool, "True or False"),
    #: SMTP user name, if the server wants one.
    "LINKBACK_MAIL_USERNAME": (None, _optional_str, "None or a string"),
    #: SMTP password, if the server wants one.
    "LINKBACK_MAIL_PASSWORD": (None, _optional_str, "None or a string"),
    #: The From address of notifications.
    "LINKBACK_MAIL_SENDER": ("", lambda v: isinstance(v, str), "an e-mail address"),
    #: Who gets notifications.
    "LINKBACK_MAIL_RECIPIENTS": ((), _hosts, "a list of e-mail addresses"),
    #: Time limit for one SMTP conversation.
    "LINKBACK_MAIL_TIMEOUT": (10.0, _positive_number, "a number of seconds > 0"),
    #: Attempts before a notification that keeps failing is given up.
    "LINKBACK_MAIL_MAX_ATTEMPTS": (5, _positive_int, "a whole number > 0"),
    #: Most recent refused pings kept for the admin's refusal log (0: none).
    "LINKBACK_REFUSAL_LOG_SIZE": (1000, _non_negative_int, "a whole number >= 0 (0: no log)"),
    #: URL path of the Atom feeds of approved linkbacks (``<path>/feed.atom`` for the site,
    #: ``<path>/<post_id>/feed.atom`` per post).
    "LINKBACK_FEED_URL": ("/linkbacks", _url_path, "a URL path starting with /"),
    #: Entries in a feed.
    "LINKBACK_FEED_ENTRIES": (50, _positive_int, "a whole number > 0"),
    #: Where this copy runs: only ``"production"`` pings other sites. ``None``: production unless
    #: ``app.debug`` or ``app.testing``.
    "LINKBACK_ENVIRONMENT": (None, lambda v: v is None or v in ENVIRONMENTS,
                             'None, "production", "staging", "development" or "local"'),
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
    if config["LINKBACK_MAIL_USE_TLS"] and config["LINKBACK_MAIL_USE_SSL"]:
        raise ValueError("LINKBACK_MAIL_USE_TLS (STARTTLS) and LINKBACK_MAIL_USE_SSL (SMTPS) "
                         "exclude each other: set one")
    if config["LINKBACK_ACCEPT_WEBMENTIONS"] and not config.get("SECRET_KEY"):
        raise ValueError(
            "flask-linkback signs webmention status URLs with the app's SECRET_KEY, and it is "
            "not set: set SECRET_KEY before init_app, or LINKBACK_ACCEPT_WEBMENTIONS = False")

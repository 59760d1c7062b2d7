"""Moderation rules: small, named, each returning a verdict with a reason or passing.

Rules run in order and the first verdict wins; the reason is what the admin
sees in the moderation queue. The host may put its own in front with
``@linkback.rule``. The order: spam rules first (blocklists, the external
spam service), then this site's own pings, then the rules that hold
suspicious pings (too many links, link lists), then the settings that hold
or approve the rest. The Discussion settings are read at request time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from flask import current_app

from ..host import PostInfo
from ..html import collapse_ws
from ..models import Kind, Status, utcnow
from ..settings import current_settings
from ..site import site_netlocs
from ..state import current_state
from ..urls import normalize_url

if TYPE_CHECKING:
    from .verify import Evidence


@dataclass(frozen=True)
class Candidate:
    """A verified ping, before it is stored."""

    kind: Kind
    source_url: str
    source_host: str
    post: PostInfo
    evidence: Evidence | None
    local_source: bool
    sender_ip: str | None
    #: What the sender said about the source (TrackBack's fields; empty for Pingback).
    title: str = ""
    excerpt: str = ""
    blog_name: str = ""


@dataclass(frozen=True)
class Verdict:
    status: Status
    reason: str


Rule = Callable[[Candidate], Verdict | None]


def blocked_host(candidate: Candidate) -> Verdict | None:
    """A source host (or a parent domain of it) or sender IP on the blocklist is spam."""
    blocked = current_settings().blocked_hosts
    host = candidate.source_host.lower()
    for entry in blocked:
        if host == entry or host.endswith("." + entry):
            return Verdict(Status.SPAM, f"the source host {host} is on the blocklist ({entry})")
        if candidate.sender_ip and candidate.sender_ip == entry:
            return Verdict(Status.SPAM, f"the sender IP {entry} is on the blocklist")
    return None


def blocked_word(candidate: Candidate) -> Verdict | None:
    """A blocklisted word in the source URL, its title, the sender's text or the page is spam."""
    words = current_settings().blocked_words
    if not words:
        return None
    haystack = _haystack(candidate)
    for word in words:
        if word in haystack:
            return Verdict(Status.SPAM, f"the source contains the blocklisted word {word!r}")
    return None


def held_word(candidate: Candidate) -> Verdict | None:
    """A word from the moderation list holds the linkback for the admin (WordPress's
    "hold in the queue if it contains"); it is not spam."""
    words = current_settings().held_words
    if not words:
        return None
    haystack = _haystack(candidate)
    for word in words:
        if word in haystack:
            return Verdict(Status.PENDING,
                           f"the source contains {word!r}, on the moderation word list")
    return None


def _haystack(candidate: Candidate) -> str:
    """The source URL, the sender's text, the page's title and text, lowercased, for word lists."""
    evidence = candidate.evidence
    return " ".join((
        candidate.source_url, candidate.title, candidate.excerpt, candidate.blog_name,
        (evidence.title or "") if evidence else "",
        evidence.document.text if evidence else "",
    )).lower()


_CLOSE_AFTER = {
    Kind.PINGBACK: ("close_pingbacks_after_days", "pingbacks"),
    Kind.TRACKBACK: ("close_trackbacks_after_days", "TrackBacks"),
    Kind.WEBMENTION: ("close_webmentions_after_days", "webmentions"),
}


def closed_reason(info: PostInfo, kind: Kind | None = None) -> str | None:
    """Why ``info`` takes no ``kind`` ping now, or None when it takes them.

    Closed when the post says so, or when it was published longer ago than
    the Discussion setting for that kind allows (each kind has its own number
    of days, apart from the host's comments). Without a ``kind`` only the
    post's own switch counts.
    """
    if not info.pings_open:
        return "linkbacks are closed on the target post"
    if kind is None or info.published_at is None:
        return None
    name, label = _CLOSE_AFTER[Kind(kind)]
    days = getattr(current_settings(), name)
    if days and utcnow() - info.published_at > timedelta(days=days):
        return f"{label} are closed on posts older than {days} days"
    return None


def spam_service(candidate: Candidate) -> Verdict | None:
    """Ask the host's spam service (``@linkback.spam_check``), when one is registered.

    The callback returns True (or a reason string) for spam, False or None
    otherwise. A service that fails holds the ping rather than losing it.
    """
    check = current_state().extension.spam_checker
    if check is None:
        return None
    try:
        answer = check(candidate)
    except Exception as error:  # noqa: BLE001 - a third-party service must not break intake
        current_app.logger.warning("the spam service failed: %r", error)
        return Verdict(Status.PENDING, "the spam service could not be asked: held for moderation")
    if answer is True:
        return Verdict(Status.SPAM, "the spam service says this is spam")
    if isinstance(answer, str) and answer:
        return Verdict(Status.SPAM, f"the spam service says: {answer}")
    return None


def own_site(candidate: Candidate) -> Verdict | None:
    """A blog's pings to its own posts never wait for approval (unless the settings say so)."""
    if not candidate.local_source:
        return None
    if not current_settings().approve_own:
        return Verdict(Status.PENDING, "a link from this site's own post (own pings are held)")
    return Verdict(Status.APPROVED, "a link from this site's own post")


def too_many_links(candidate: Candidate) -> Verdict | None:
    """A source page with more links than the max-links setting is held."""
    limit = current_settings().max_links
    if not limit or candidate.evidence is None:
        return None
    count = len(candidate.evidence.document.http_links())
    if count > limit:
        return Verdict(Status.PENDING, f"the source has {count} links (more than {limit})")
    return None


#: Characters of the block's own text (outside links) below which a linked block is "bare".
LINK_LIST_PROSE_CHARS = 40


def link_list(candidate: Candidate) -> Verdict | None:
    """Hold a source that only lists the link among many others, with no prose of its own.

    As copy-pasted lists of prompt responses are: the link sits in a block
    (a list item, a paragraph) with hardly any text besides link text, that
    block's container holds many such links, and the page as a whole is
    mostly link text.
    """
    evidence = candidate.evidence
    if evidence is None or evidence.link is None:
        return None
    document = evidence.document
    block = _block_of(evidence.link.element)
    if _own_prose(block) >= LINK_LIST_PROSE_CHARS:
        return None
    container = block.getparent() if block.getparent() is not None else block
    neighbours = sum(1 for _ in container.iter("a"))
    minimum = current_app.config["LINKBACK_LINK_LIST_MIN_LINKS"]
    if neighbours < minimum:
        return None
    if document.text_length and document.link_text_length * 2 < document.text_length:
        return None
    return Verdict(Status.PENDING, f"a link list: the source lists this link among {neighbours} "
                                   "links with no text of its own around it")


_BLOCK_TAGS = frozenset({"p", "li", "dd", "dt", "td", "th", "blockquote", "figcaption", "pre",
                         "h1", "h2", "h3", "h4", "h5", "h6", "div", "section", "article", "main",
                         "body"})


def _block_of(element: Any) -> Any:
    while element.getparent() is not None and element.tag not in _BLOCK_TAGS:
        element = element.getparent()
    return element


def _own_prose(block: Any) -> int:
    """Characters of ``block``'s visible text that are not inside a link."""
    total = len(collapse_ws(block.text_content()))
    linked = sum(len(collapse_ws(a.text_content())) for a in block.iter("a"))
    return max(total - linked, 0)


def moderation_setting(candidate: Candidate) -> Verdict | None:
    """"Hold all pings" holds everything; LINKBACK_MODERATION="none" approves what verified."""
    if current_settings().hold_all:
        return Verdict(Status.PENDING, "every linkback is held for moderation")
    if current_app.config["LINKBACK_MODERATION"] == "none":
        return Verdict(Status.APPROVED, "moderation is off")
    return None


def trusted_host(candidate: Candidate) -> Verdict | None:
    """A host the admin trusted ("trust this site") is approved."""
    host = candidate.source_host.lower()
    for entry in current_settings().trusted_hosts:
        if host == entry or host.endswith("." + entry):
            return Verdict(Status.APPROVED, f"{host} is a trusted site")
    return None


def previously_approved(candidate: Candidate) -> Verdict | None:
    """A site with a linkback approved before is approved (WordPress's 'previously approved').

    "A site" is an origin (scheme, host and port), not a host: two blogs on
    one host are two sites. This site's own origin never counts here; its own
    posts are handled by ``own_site`` and nothing else of ours vouches for a page.
    """
    if not current_settings().approve_known_sources or candidate.local_source:
        return None
    origin = source_origin(candidate.source_url)
    own = {source_origin(f"{scheme}://{name}/")
           for name in site_netlocs() for scheme in ("http", "https")}
    if not origin or origin in own:
        return None
    Linkback = current_state().models.IncomingLinkback
    approved = Linkback.query.filter(
        Linkback.source_host == candidate.source_host,
        Linkback.source_key.startswith(origin + "/", autoescape=True),
        Linkback.status == Status.APPROVED.value,
    )
    if current_state().db.session.query(approved.exists()).scalar():
        return Verdict(Status.APPROVED, f"{origin} has linkbacks approved before")
    return None


def source_origin(url: str) -> str:
    """``scheme://host[:port]`` of a URL, normalised as ``source_key`` is (empty if none)."""
    parts = urlsplit(normalize_url(url))
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else ""


def new_source(candidate: Candidate) -> Verdict:
    return Verdict(Status.PENDING,
                   f"first linkback from {candidate.source_host}: held for moderation")


DEFAULT_RULES: tuple[Rule, ...] = (
    blocked_host, blocked_word, spam_service, own_site, held_word, too_many_links, link_list,
    moderation_setting, trusted_host, previously_approved, new_source,
)


def moderate(candidate: Candidate, rules: Iterable[Rule]) -> Verdict:
    for rule in rules:
        verdict = rule(candidate)
        if verdict is not None:
            return verdict
    return new_source(candidate)

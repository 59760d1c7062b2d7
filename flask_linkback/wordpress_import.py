"""Import the pingbacks and trackbacks of a WordPress export (WXR) onto the host's posts.

A blog moving off WordPress keeps the linkbacks it already has. The export
(Tools > Export, an RSS 2.0 file with the ``wp:`` namespace) is read as a
stream with defusedxml: one ``<item>`` at a time, each dropped once read, so
a 100 MB export never sits in memory whole, and a file with a DTD (entity
bombs, external entities) is refused before anything is read.

Each exported post is matched to a host post through the host's
``url_resolver``: by its ``<link>``, by that link's path on this site (a blog
that moved to a new domain but kept its permalinks), then by its slug when
the caller gives a URL template for slugs (the host interface has no
slug lookup of its own). Only comments of type ``pingback`` and
``trackback`` are imported; ordinary comments are out of scope and counted
as skipped. Rows are stored as WordPress had them (status, date, IP), with
no fetch, no moderation rules and no signals: they are history, not news.
The unique (source, post) key makes a second import of the same file add
nothing.
"""

from __future__ import annotations

import html
import ipaddress
import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any
from urllib.parse import urlsplit, urlunsplit
from xml.etree.ElementTree import Element, ParseError

import lxml.etree
import lxml.html
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse
from sqlalchemy.exc import IntegrityError

from .html import collapse_ws, ellipsize, strip_control_chars
from .models import Kind, Status
from .site import configured_site, netloc_key, site_netlocs
from .state import current_state
from .urls import host_of, is_http_url, normalize_url, strip_fragment

__all__ = ["ExportedComment", "ExportedPost", "ImportSummary", "WXRError", "import_wordpress",
           "read_wxr"]

logger = logging.getLogger("flask_linkback")

#: Every WXR version so far (1.0 to 1.2) lives under this namespace prefix.
WP_NAMESPACE_PREFIX = "{http://wordpress.org/export/"
LINKBACK_TYPES = {"pingback": Kind.PINGBACK, "trackback": Kind.TRACKBACK}
STATUSES = {"1": Status.APPROVED, "0": Status.PENDING, "spam": Status.SPAM}
TITLE_CHARS = 250
EXCERPT_CHARS = 500
BATCH = 200
SHOWN_UNKNOWN = 20

# Why a comment was not imported: the keys of ImportSummary.skipped.
UNKNOWN_POST = "unknown post"
DUPLICATE = "duplicate"
OUT_OF_SCOPE = "comment type out of scope"
BAD_URL = "bad URL"
TRASHED = "in WordPress's trash"


class WXRError(ValueError):
    """The file is not a WordPress export we can read safely; the message says why."""


@dataclass(frozen=True)
class ExportedComment:
    """One ``wp:comment`` as exported (strings as written, empty when absent)."""

    type: str
    author: str
    author_url: str
    author_ip: str
    date_gmt: str
    content: str
    approved: str


@dataclass(frozen=True)
class ExportedPost:
    """One ``<item>``: what identifies the post, and its comments."""

    link: str
    slug: str
    post_type: str
    title: str
    comments: tuple[ExportedComment, ...]


@dataclass
class ImportSummary:
    """What an import did: rows imported (by kind and status) and comments skipped, by reason."""

    dry_run: bool = False
    imported: Counter[tuple[str, str]] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    #: The first exported posts (link, else slug) with linkbacks that matched no post here.
    unknown_posts: list[str] = field(default_factory=list)
    unknown_post_count: int = 0
    #: Comment types met that are not pingbacks or trackbacks ("comment" and others).
    other_types: Counter[str] = field(default_factory=Counter)

    def lines(self) -> list[str]:
        """The summary as the command prints it."""
        total = sum(self.imported.values())
        verb = "Would import" if self.dry_run else "Imported"
        lines = [f"{verb} {total} linkback{'' if total == 1 else 's'}"
                 + (f": {_counts(self.imported)}." if total else ".")]
        skipped = sum(self.skipped.values())
        lines.append(f"Skipped {skipped}" + (":" if skipped else "."))
        for reason, count in sorted(self.skipped.items()):
            lines.append(f"  {count} {reason}{_explain(reason, self)}")
        for post in self.unknown_posts:
            lines.append(f"    no post here for {post}")
        if self.unknown_post_count > len(self.unknown_posts):
            more = self.unknown_post_count - len(self.unknown_posts)
            lines.append(f"    ... and {more} more posts")
        if self.dry_run:
            lines.append("Dry run: nothing was written.")
        return lines


def _counts(imported: Counter[tuple[str, str]]) -> str:
    return ", ".join(f"{n} {status} {kind}{'' if n == 1 else 's'}"
                     for (kind, status), n in sorted(imported.items()))


def _explain(reason: str, summary: ImportSummary) -> str:
    if reason == OUT_OF_SCOPE:
        types = ", ".join(f"{n} {t}{'' if n == 1 else 's'}"
                          for t, n in sorted(summary.other_types.items()))
        return f" ({types}): only pingbacks and trackbacks are imported, not comments"
    if reason == DUPLICATE:
        return " (already stored here for the same source and post, or twice in the file)"
    if reason == BAD_URL:
        return " (the source is not an http(s) URL)"
    if reason == UNKNOWN_POST:
        return " (their post matched none of this site's posts)"
    return ""


# Reading ---------------------------------------------------------------------------


def read_wxr(file: str | IO[bytes]) -> Iterator[ExportedPost]:
    """The items of a WXR file, one at a time, each freed once read.

    Raises :class:`WXRError` for a file with a DTD or entities (refused
    before they are expanded), malformed XML, or a file that is not a
    WordPress export.
    """
    depth = 0
    parents: list[Element] = []
    seen_wp = False
    try:
        for event, element in iterparse(file, events=("start", "end"), forbid_dtd=True):
            if event == "start":
                depth += 1
                parents.append(element)
                if not seen_wp and element.tag.startswith(WP_NAMESPACE_PREFIX):
                    seen_wp = True
                continue
            depth -= 1
            parents.pop()
            # rss > channel > item: handle each child of <channel>, then drop it.
            if depth == 2 and len(parents) == 2:
                if _local(element.tag) == "item":
                    yield _post(element)
                parents[1].remove(element)
    except DefusedXmlException as error:
        raise WXRError(f"refused: the file declares a DTD or entities ({type(error).__name__}); "
                       "a WordPress export has neither") from None
    except ParseError as error:
        raise WXRError(f"not well-formed XML: {error}") from None
    if not seen_wp:
        raise WXRError("not a WordPress export: no element in the "
                       "http://wordpress.org/export/ namespace")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _is_wp(tag: str, name: str) -> bool:
    return tag.startswith(WP_NAMESPACE_PREFIX) and _local(tag) == name


def _text(element: Element, name: str, wp: bool = True) -> str:
    for child in element:
        if (_is_wp(child.tag, name) if wp else child.tag == name):
            return (child.text or "").strip()
    return ""


def _post(item: Element) -> ExportedPost:
    comments = tuple(
        ExportedComment(
            type=_text(child, "comment_type"),
            author=_text(child, "comment_author"),
            author_url=_text(child, "comment_author_url"),
            author_ip=_text(child, "comment_author_IP"),
            date_gmt=_text(child, "comment_date_gmt"),
            content=_text(child, "comment_content"),
            approved=_text(child, "comment_approved"),
        )
        for child in item if _is_wp(child.tag, "comment")
    )
    return ExportedPost(link=_text(item, "link", wp=False), slug=_text(item, "post_name"),
                        post_type=_text(item, "post_type"), title=_text(item, "title", wp=False),
                        comments=comments)


# Importing -------------------------------------------------------------------------


@dataclass
class _Matcher:
    """Exported post -> host post, through the host's url_resolver only."""

    site_url: str | None
    slug_url: str | None
    netlocs: set[str]

    def candidates(self, post: ExportedPost) -> Iterator[str]:
        link = strip_fragment(post.link)
        if is_http_url(link):
            if netloc_key(link) in self.netlocs:
                yield link
            elif self.site_url:
                yield _moved(link, self.site_url)
        if post.slug and self.slug_url:
            yield self.slug_url.replace("{slug}", post.slug)

    def find(self, post: ExportedPost) -> Any | None:
        callbacks = current_state().callbacks
        for url in self.candidates(post):
            if is_http_url(url) and netloc_key(url) in self.netlocs:
                found = callbacks.resolve(url)
                if found is not None:
                    return found
        return None


def _moved(link: str, site_url: str) -> str:
    """``link``'s path and query under ``site_url`` (which may have a path prefix)."""
    old, new = urlsplit(link), urlsplit(site_url)
    return urlunsplit((new.scheme, new.netloc, new.path.rstrip("/") + old.path, old.query, ""))


def default_site_url() -> str | None:
    """This site's configured root URL (LINKBACK_SITE_URL or SERVER_NAME), without its last
    slash."""
    site = configured_site()
    return site.url.rstrip("/") if site else None


def import_wordpress(file: str | IO[bytes], *, dry_run: bool = False, site_url: str | None = None,
                     slug_url: str | None = None) -> ImportSummary:
    """Import the pingbacks and trackbacks of a WXR file; return what was done and skipped.

    ``site_url`` is this site's base URL (default: from SERVER_NAME or
    LINKBACK_SITE_HOSTS): an exported link on another host is tried at the
    same path under it. ``slug_url`` is a URL template with ``{slug}`` (for
    example ``https://example.org/posts/{slug}``) tried when the link
    matches nothing. With ``dry_run`` nothing is written. Raises
    :class:`WXRError` for a file it will not read; rows already committed by
    then stay (a second run skips them as duplicates).
    """
    state = current_state()
    site_url = site_url or default_site_url()
    netlocs = site_netlocs() | ({netloc_key(site_url)} if site_url else set())
    if slug_url and is_http_url(slug_url.replace("{slug}", "x")):
        netlocs.add(netloc_key(slug_url.replace("{slug}", "x")))
    matcher = _Matcher(site_url, slug_url, netlocs)
    summary = ImportSummary(dry_run=dry_run)
    Linkback = state.models.IncomingLinkback
    seen: set[tuple[str, str]] = set()
    pending: list[Any] = []

    for exported in read_wxr(file):
        linkbacks = [c for c in exported.comments if c.type in LINKBACK_TYPES]
        for comment in exported.comments:
            if comment.type not in LINKBACK_TYPES:
                summary.skipped[OUT_OF_SCOPE] += 1
                summary.other_types[comment.type or "comment"] += 1
        if not linkbacks:
            continue
        post = matcher.find(exported)
        if post is None:
            summary.skipped[UNKNOWN_POST] += len(linkbacks)
            summary.unknown_post_count += 1
            if len(summary.unknown_posts) < SHOWN_UNKNOWN:
                summary.unknown_posts.append(exported.link or exported.slug or exported.title)
            continue
        info = state.callbacks.describe(post)
        for comment in linkbacks:
            row = _row(Linkback, comment, info, summary)
            if row is None:
                continue
            key = (row.source_key, row.post_id)
            if key in seen or _stored(Linkback, *key):
                summary.skipped[DUPLICATE] += 1
                continue
            seen.add(key)
            summary.imported[(row.kind, row.status)] += 1
            if not dry_run:
                pending.append(row)
                if len(pending) >= BATCH:
                    _store(pending, summary)
    if not dry_run:
        _store(pending, summary)
    logger.info("WordPress import%s: %s", " (dry run)" if dry_run else "",
                "; ".join(summary.lines()))
    return summary


def _row(Linkback: Any, comment: ExportedComment, info: Any,
         summary: ImportSummary) -> Any | None:
    """The row for one exported pingback or trackback, or None (counted as skipped)."""
    source = strip_fragment(strip_control_chars(comment.author_url).strip())
    if not is_http_url(source):
        summary.skipped[BAD_URL] += 1
        return None
    status = STATUSES.get(comment.approved)
    if status is None:  # "trash", "post-trashed": deleted in WordPress
        summary.skipped[TRASHED] += 1
        return None
    kind = LINKBACK_TYPES[comment.type]
    title, excerpt = _title_and_excerpt(kind, comment)
    blog_name = _author(comment.author) if kind == Kind.TRACKBACK else ""
    created = _date(comment.date_gmt)
    dates = {"created_at": created, "updated_at": created} if created else {}
    return Linkback(
        kind=kind.value,
        source_url=source[:2048],
        source_key=normalize_url(source)[:2048],
        source_host=host_of(source)[:255],
        target_url=info.url[:2048],
        post_id=info.id,
        title=ellipsize(title or blog_name or source, TITLE_CHARS)[:300],
        excerpt=ellipsize(excerpt, EXCERPT_CHARS),
        blog_name=blog_name[:300] or None,
        status=status.value,
        reason="imported from a WordPress export",
        sender_ip=_ip(comment.author_ip),
        **dates,
    )


def _title_and_excerpt(kind: Kind, comment: ExportedComment) -> tuple[str, str]:
    """WordPress stores a pingback's source title as its author, and a trackback's
    content as ``<strong>title</strong>`` then the excerpt; the blog name is its author."""
    root = _fragment(comment.content)
    leading_strong = len(root) and root[0].tag == "strong" and not (root.text or "").strip()
    if kind == Kind.TRACKBACK and leading_strong:
        strong = root[0]
        title = strong.text_content()
        tail, strong.tail = strong.tail or "", None
        root.remove(strong)
        root.text = tail + (root.text or "")
        return _clean(title), _clean(root.text_content())
    title = _author(comment.author) if kind == Kind.PINGBACK else ""
    return title, _clean(root.text_content())


def _fragment(content: str) -> Any:
    """The comment's HTML as an element (text only: no network, no entities resolved)."""
    parser = lxml.html.HTMLParser(no_network=True)
    try:
        return lxml.html.fragment_fromstring(content or "", create_parent="div", parser=parser)
    except (lxml.etree.ParserError, ValueError):
        return lxml.html.fragment_fromstring("", create_parent="div")


def _clean(text: str) -> str:
    return collapse_ws(strip_control_chars(text))


def _author(text: str) -> str:
    """The comment author as plain text: WordPress stores a pingback's source title as HTML."""
    return _clean(html.unescape(text))


def _date(value: str) -> datetime | None:
    """``comment_date_gmt`` as naive UTC; None (now) for WordPress's zero date or junk."""
    try:
        return datetime.strptime(value, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None


def _ip(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def _stored(Linkback: Any, source_key: str, post_id: str) -> bool:
    query = Linkback.query.filter_by(source_key=source_key, post_id=post_id)
    return bool(current_state().db.session.query(query.exists()).scalar())


def _store(rows: list[Any], summary: ImportSummary) -> None:
    """Commit a batch; when a ping raced in meanwhile, store the rest one by one."""
    session = current_state().db.session
    session.add_all(rows)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        for row in rows:
            session.add(row)
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                summary.imported[(row.kind, row.status)] -= 1
                summary.skipped[DUPLICATE] += 1
    rows.clear()

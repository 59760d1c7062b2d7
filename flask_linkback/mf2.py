"""Read a source page's microformats2: who wrote it, what it says, and what kind of response it is.

Parsing is mf2py's; this module only chooses. It takes the ``h-entry`` that
links to the target, finds its author by the IndieWeb authorship algorithm,
sanitises its content with nh3, and names the response type from
``in-reply-to``, ``repost-of``, ``like-of`` or ``bookmark-of`` (else a
mention). Pure functions: no fetch, no app, so hostile pages are cheap to test.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import lxml.html
import mf2py
import nh3
from markupsafe import escape

from .html import Document, collapse_ws, ellipsize
from .logtext import loggable
from .urls import is_http_url, normalize_url, strip_fragment

__all__ = ["MENTION_TYPES", "Entry", "clean_html", "read_entry"]

logger = logging.getLogger("flask_linkback")

#: property -> response type, in the order a type is chosen when several name the target.
TYPE_PROPERTIES = (
    ("in-reply-to", "reply"),
    ("repost-of", "repost"),
    ("like-of", "like"),
    ("bookmark-of", "bookmark"),
)
MENTION_TYPES = frozenset({"reply", "repost", "like", "bookmark", "mention"})
# h-entry, or the classic "hentry" that mf2py also reads (backward compatible parsing).
_HAS_H_ENTRY = ("boolean(//*[contains(concat(' ', normalize-space(@class), ' '), ' h-entry ')"
                " or contains(concat(' ', normalize-space(@class), ' '), ' hentry ')])")

CONTENT_TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "cite", "code", "del", "em", "i", "ins", "li", "ol",
    "p", "pre", "q", "s", "small", "strong", "sub", "sup", "u", "ul",
})
CONTENT_MAX_CHARS = 20_000
NAME_MAX_CHARS = 300
URL_MAX_CHARS = 2048


@dataclass(frozen=True)
class Entry:
    """What a source's ``h-entry`` says about itself; every field may be missing."""

    mention_type: str = "mention"
    name: str | None = None
    author_name: str | None = None
    author_url: str | None = None
    author_photo: str | None = None
    content: str | None = None
    published: datetime | None = None
    url: str | None = None


def clean_html(html: str) -> str:
    """Sanitise remote HTML: a few text tags, http(s) links marked ``nofollow ugc``, nothing
    else."""
    return nh3.clean(
        html,
        tags=set(CONTENT_TAGS),
        attributes={"a": {"href", "title"}, "abbr": {"title"}, "q": {"cite"}},
        url_schemes={"http", "https"},
        link_rel="nofollow ugc noopener",
        strip_comments=True,
    )


def read_entry(document: Document, targets: Iterable[str]) -> Entry | None:
    """The ``h-entry`` of ``document`` that links to one of ``targets``, or None without mf2."""
    wanted = {normalize_url(strip_fragment(t)) for t in targets if is_http_url(t)}
    if not document.root.xpath(_HAS_H_ENTRY):
        return None  # most pingback sources: skip the (much slower) mf2 parse
    try:
        html = lxml.html.tostring(document.root, encoding="unicode")
        parsed = mf2py.parse(doc=html, url=document.url or None, html_parser="lxml")
    except Exception:  # a parser crash on a hostile page is "no mf2", never a failed ping
        logger.warning("could not read microformats from %s", loggable(document.url), exc_info=True)
        return None
    entries = list(_entries(parsed.get("items", [])))
    if not entries:
        return None
    entry, feed = next(((e, f) for e, f in entries if _links_to(e, wanted, document.url)),
                       entries[0])
    props = entry.get("properties", {})
    author = _author(entry, feed, parsed, document.url)
    name = _text(_first(props.get("name")))
    content = _content(_first(props.get("content")))
    if name and content and collapse_ws(name) in collapse_ws(_plain(content)):
        name = None  # an implied or repeated name is the note's text, not a title
    return Entry(
        mention_type=_mention_type(props, wanted),
        name=name and ellipsize(name, NAME_MAX_CHARS),
        author_name=author[0],
        author_url=author[1],
        author_photo=author[2],
        content=content,
        published=_datetime(_text(_first(props.get("published")))),
        url=_url(_first(props.get("url"))),
    )


# Finding the entry ---------------------------------------------------------------


Item = dict[str, Any]


def _entries(items: list[Any], feed: Item | None = None) -> Iterator[tuple[Item, Item | None]]:
    """Every h-entry, top-level first, with the h-feed it sits in (for the feed's author)."""
    nested: list[tuple[Any, Item | None]] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        types = item.get("type", [])
        if "h-entry" in types:
            yield item, feed
        if "h-feed" in types:
            nested.append((item.get("children", []), item))
        else:
            nested.append((item.get("children", []), feed))
    for children, parent in nested:
        yield from _entries(children, parent)


def _links_to(entry: dict[str, Any], wanted: set[str], base_url: str) -> bool:
    props = entry.get("properties", {})
    for prop, _ in TYPE_PROPERTIES:
        if any(_names(value, wanted) for value in props.get(prop, [])):
            return True
    return any(
        isinstance(content, dict) and content.get("html")
        and Document(content["html"], base_url).find_link_to(wanted) is not None
        for content in props.get("content", [])
    )


def _names(value: Any, wanted: set[str]) -> bool:
    """True when a property value (a URL, or an h-cite with a url) names a wanted URL."""
    candidates = [value]
    if isinstance(value, dict):
        candidates = [value.get("value"), *value.get("properties", {}).get("url", [])]
    return any(isinstance(c, str) and is_http_url(c) and normalize_url(strip_fragment(c)) in wanted
               for c in candidates)


def _mention_type(props: dict[str, Any], wanted: set[str]) -> str:
    for prop, kind in TYPE_PROPERTIES:
        if any(_names(value, wanted) for value in props.get(prop, [])):
            return kind
    return "mention"


# Authorship (https://indieweb.org/authorship-spec, without fetching author pages) --


def _author(entry: dict[str, Any], feed: dict[str, Any] | None, parsed: dict[str, Any],
            page_url: str) -> tuple[str | None, str | None, str | None]:
    authors = entry.get("properties", {}).get("author") or (
        feed.get("properties", {}).get("author") if feed else None)
    author = _first(authors)
    if author is None:
        rel_author = _first(parsed.get("rels", {}).get("author"))
        author = _card_with_url(parsed.get("items", []), rel_author) if rel_author else None
        author = author or rel_author
    if isinstance(author, str):
        card = _card_with_url(parsed.get("items", []), author) if is_http_url(author) else None
        if card is None:
            if is_http_url(author):
                return None, _url(author), None
            return _name(author), None, None
        author = card
    if not isinstance(author, dict):
        return None, None, None
    props = author.get("properties", {})
    name = _name(_text(_first(props.get("name"))) or _text(author.get("value")))
    url = _url(_first(props.get("url")))
    if name and is_http_url(name):  # <a class="p-author h-card" href=...>https://...</a>
        name, url = None, url or _url(name)
    return name, url, _url(_first(props.get("photo")))


def _card_with_url(items: list[Any], url: str) -> dict[str, Any] | None:
    """The page's h-card whose url (or uid) is ``url`` (authorship by rel-author)."""
    key = normalize_url(url) if is_http_url(url) else url
    for item in items:
        if isinstance(item, dict) and "h-card" in item.get("type", []):
            props = item.get("properties", {})
            urls = [u for u in [*props.get("url", []), *props.get("uid", [])] if isinstance(u, str)]
            if any(normalize_url(u) == key for u in urls if is_http_url(u)):
                return item
    return None


# Values --------------------------------------------------------------------------


def _first(values: Any) -> Any:
    return values[0] if isinstance(values, list) and values else None


def _text(value: Any) -> str | None:
    """The text of a property value: a string, or the ``value`` of an embedded item."""
    if isinstance(value, dict):
        value = value.get("value")
    if not isinstance(value, str):
        return None
    return collapse_ws(value) or None


def _name(value: str | None) -> str | None:
    return ellipsize(value, NAME_MAX_CHARS) if value else None


def _url(value: Any) -> str | None:
    """An http(s) URL from a property value; mf2py 2.x gives photos as {"value", "alt"}."""
    if isinstance(value, dict):
        value = value.get("value")
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value if is_http_url(value) and len(value) <= URL_MAX_CHARS else None


def _content(value: Any) -> str | None:
    """Sanitised HTML for the content; plain text is escaped into HTML."""
    if isinstance(value, dict) and isinstance(value.get("html"), str) and value["html"].strip():
        html = clean_html(value["html"]).strip()
    else:
        text = _text(value)
        html = str(escape(text)) if text else ""
    if not html:
        return None
    if len(html) > CONTENT_MAX_CHARS:
        html = str(escape(ellipsize(_plain(html), CONTENT_MAX_CHARS // 2)))
    return html


def _plain(html: str) -> str:
    return Document(f"<div>{html}</div>", "").text


def _datetime(value: str | None) -> datetime | None:
    """A naive-UTC datetime from an ISO 8601 ``published`` value, or None."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed

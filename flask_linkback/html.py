"""Read what linkbacks need from an HTML page, with a real parser (lxml).

Links, title, the text around a link, ``rel`` discovery (pingback, webmention)
and TrackBack RDF blocks. The parser decodes entities, ignores markup inside
comments and ``<script>``, and copes with the broken HTML found in the wild;
nothing here fetches or resolves anything over the network.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from urllib.parse import urljoin

import lxml.html
from defusedxml import ElementTree as SafeET
from lxml import etree

from .urls import is_http_url, normalize_url, strip_fragment

__all__ = ["Document", "Link", "TrackbackRDF", "collapse_ws", "ellipsize"]

ELLIPSIS = "\u2026"
_WS = re.compile(r"\s+")
# C0 controls but tab, newline, carriage return; and DEL. Not text, not allowed in XML 1.0
# (but DEL), refused by PostgreSQL (NUL).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_INVISIBLE = frozenset({"script", "style", "template", "noscript", "head", "title"})
_BLOCKS = frozenset(
    {
        "p", "li", "dd", "dt", "td", "th", "blockquote", "figcaption", "pre",
        "h1", "h2", "h3", "h4", "h5", "h6", "div", "section", "article", "main", "body",
    }
)  # fmt: skip
# Elements whose edges separate words; inline ones (a, b, em, span ...) don't.
_BREAKS = _BLOCKS | frozenset(
    {
        "br", "hr", "ul", "ol", "dl", "table", "tr", "caption", "header", "footer", "nav",
        "aside", "figure", "address", "details", "summary", "form", "fieldset", "option",
    }
)  # fmt: skip
_RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
_DC = "{http://purl.org/dc/elements/1.1/}"
_TB = "{http://madskills.com/public/xml/rss/module/trackback/}"


def collapse_ws(text: str) -> str:
    """Runs of whitespace become one space; ends are trimmed."""
    return _WS.sub(" ", text).strip()


def strip_control_chars(text: str) -> str:
    """``text`` without control characters other than tab, newline and carriage return."""
    return _CONTROL.sub("", text)


def ellipsize(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, at a word boundary, ending in "…"."""
    text = collapse_ws(text)
    if len(text) <= limit:
        return text
    cut = text[: max(limit - 1, 0)]
    if text[len(cut)] != " " and " " in cut[limit // 2 :]:  # the cut split a word: drop it
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip(" ,;:.-") + ELLIPSIS


@dataclass(frozen=True)
class Link:
    """An ``<a href>`` (or ``<area>``) of the page, its href made absolute."""

    href: str
    text: str
    rel: tuple[str, ...]
    element: lxml.html.HtmlElement


@dataclass(frozen=True)
class TrackbackRDF:
    """One TrackBack autodiscovery block: which permalink it describes and where to ping."""

    about: str
    identifier: str
    title: str
    ping: str


class Document:
    """A parsed HTML page; ``url`` is where it was fetched from (after redirects)."""

    def __init__(self, content: bytes | str, url: str = "", encoding: str | None = None) -> None:
        self.url = url
        self.root = _parse(content, encoding)

    @cached_property
    def base_url(self) -> str:
        """The URL relative links resolve against: ``<base href>`` if present, else the page URL."""
        for base in self.root.iter("base"):
            href = (base.get("href") or "").strip()
            resolved = _resolve(self.url, href) if href else None
            if resolved is not None:
                return resolved
        return self.url

    @cached_property
    def title(self) -> str | None:
        """The ``<title>`` text, whitespace collapsed, or None when missing or empty."""
        for element in self.root.iter("title"):
            text = collapse_ws(element.text_content())
            if text:
                return text
        return None

    def links(self) -> Iterator[Link]:
        """Every link with an href, in document order, hrefs resolved to absolute URLs.

        An href that cannot be resolved (``http://[::1``) is skipped, not raised.
        """
        for element in self.root.iter("a", "area"):
            href = element.get("href")
            resolved = None if href is None else _resolve(self.base_url, href.strip())
            if resolved is None:
                continue
            yield Link(
                href=resolved,
                text=collapse_ws(element.text_content()),
                rel=tuple((element.get("rel") or "").lower().split()),
                element=element,
            )

    def http_links(self) -> list[Link]:
        """The links that point at http(s) URLs (what a blog would ping)."""
        return [link for link in self.links() if is_http_url(link.href)]

    def find_link_to(self, targets: Iterable[str]) -> Link | None:
        """The first link pointing at any of ``targets`` (compared normalised, fragment ignored)."""
        wanted = {normalize_url(strip_fragment(target)) for target in targets}
        for link in self.links():
            if is_http_url(link.href) and normalize_url(strip_fragment(link.href)) in wanted:
                return link
        return None

    def context(self, link: Link, chars: int = 100) -> str:
        """The text around ``link``: up to ``chars`` characters either side, as "[…] text […]".

        The text comes from the link's paragraph (or nearest block), so the
        excerpt reads as the sentence that mentions the target.
        """
        block = link.element
        while block.getparent() is not None and block.tag not in _BLOCKS:
            block = block.getparent()
        before, after = _split_text(block, link.element)
        # Whitespace is collapsed but a space at the link's edges is kept aside,
        # so "<a>here</a>." reads "here." and not "here .".
        before, after = _WS.sub(" ", before), _WS.sub(" ", after)
        before_gap = " " if before.endswith(" ") else ""
        after_gap = " " if after.startswith(" ") else ""
        before, after = before.strip(), after.strip()
        if len(before) > chars:
            cut = before[-chars:]
            if before[-chars - 1] != " " and " " in cut:  # the cut split a word: drop its tail
                cut = cut[cut.find(" ") + 1 :]
            before = cut
        if len(after) > chars:
            cut = after[:chars]
            if after[chars] != " " and " " in cut:  # the cut split a word: drop its head
                cut = cut[: cut.rfind(" ")]
            after = cut
        middle = "".join(_visible_text(link.element, tail=False))
        text = collapse_ws(before + before_gap + middle + after_gap + after)
        return f"[{ELLIPSIS}] {text} [{ELLIPSIS}]"

    def rel_urls(self, rel: str) -> list[str]:
        """Absolute hrefs of ``<link>`` and ``<a>`` elements whose rel includes ``rel``.

        Document order; elements without href are skipped; an empty href means
        the page itself. Comments and scripts are never searched.
        """
        wanted = rel.lower()
        urls = []
        for element in self.root.iter("link", "a"):
            if wanted not in (element.get("rel") or "").lower().split():
                continue
            href = element.get("href")
            if href is None:
                continue
            href = href.strip()
            resolved = _resolve(self.base_url, href) if href else self.url
            if resolved is not None:
                urls.append(resolved)
        return urls

    def pingback_server(self) -> str | None:
        """The first ``<link rel="pingback">`` href, if any."""
        for element in self.root.iter("link"):
            href = (element.get("href") or "").strip()
            if "pingback" in (element.get("rel") or "").lower().split() and href:
                resolved = _resolve(self.base_url, href)
                if resolved is not None:
                    return resolved
        return None

    def trackback_rdf(self) -> list[TrackbackRDF]:
        """The TrackBack RDF blocks hidden in HTML comments, parsed with a hardened XML parser."""
        found = []
        for comment in self._comments():
            text = comment.text or ""
            start = text.find("<rdf:RDF")
            end = text.rfind("</rdf:RDF>")
            if start < 0 or end < 0:
                continue
            try:
                rdf = SafeET.fromstring(text[start : end + len("</rdf:RDF>")])
            except Exception:  # noqa: BLE001, S112 - malformed or hostile RDF is not a block
                continue
            for description in rdf.iter(f"{_RDF}Description"):
                ping = description.get(f"{_TB}ping")
                if ping:
                    found.append(
                        TrackbackRDF(
                            about=description.get(f"{_RDF}about", ""),
                            identifier=description.get(f"{_DC}identifier", ""),
                            title=description.get(f"{_DC}title", ""),
                            ping=ping,
                        )
                    )
        return found

    def _comments(self) -> Iterator[etree._Comment]:
        """Every comment in document order, including those before and after ``<html>``.

        A comment that opens the page (or a fragment) ends up as a sibling of
        the root element, where ``root.iter`` would never look.
        """
        preceding = [
            node for node in self.root.itersiblings(preceding=True) if node.tag is etree.Comment
        ]
        yield from reversed(preceding)
        yield from self.root.iter(etree.Comment)
        yield from (node for node in self.root.itersiblings() if node.tag is etree.Comment)

    @cached_property
    def text(self) -> str:
        """The visible text of the body, whitespace collapsed."""
        return collapse_ws("".join(_visible_text(self.root)))

    @property
    def text_length(self) -> int:
        return len(self.text)

    @property
    def link_text_length(self) -> int:
        """Characters of visible text that sit inside links (for spotting link lists)."""
        return sum(len(link.text) for link in self.links())


def _parse(content: bytes | str, encoding: str | None) -> lxml.html.HtmlElement:
    if isinstance(content, str):
        content = content.encode("utf-8")
        encoding = "utf-8"
    if not content.strip():
        return lxml.html.document_fromstring("<html></html>")
    try:
        parser = lxml.html.HTMLParser(encoding=encoding, no_network=True)
    except LookupError:
        parser = lxml.html.HTMLParser(no_network=True)
    try:
        return lxml.html.document_fromstring(content, parser=parser)
    except (etree.ParserError, ValueError, LookupError):
        return lxml.html.document_fromstring("<html></html>")


def _resolve(base: str, href: str) -> str | None:
    """``href`` made absolute against ``base``; None when it is too malformed to parse."""
    try:
        return urljoin(base, href)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return None


def _visible_text(element: lxml.html.HtmlElement, tail: bool = True) -> Iterator[str]:
    """Text pieces in document order, to be joined with "": block edges yield a space.

    Joining with spaces instead would split "<b>wor</b>ld" and put a space
    before the comma in "<b>this</b>, that".
    """
    if isinstance(element.tag, str) and element.tag.lower() not in _INVISIBLE:
        gap = " " if element.tag.lower() in _BREAKS else ""
        yield gap
        if element.text:
            yield element.text
        for child in element:
            yield from _visible_text(child)
        yield gap
    if tail and element.tail:
        yield element.tail


def _split_text(block: lxml.html.HtmlElement, link: lxml.html.HtmlElement) -> tuple[str, str]:
    """The visible text of ``block`` before and after ``link``."""
    before: list[str] = []
    after: list[str] = []
    seen = False

    def walk(element: lxml.html.HtmlElement) -> None:
        nonlocal seen
        if element is link:
            seen = True
            return
        if not isinstance(element.tag, str) or element.tag.lower() in _INVISIBLE:
            return
        gap = " " if element.tag.lower() in _BREAKS else ""
        (after if seen else before).append(gap + (element.text or ""))
        for child in element:
            walk(child)
            (after if seen else before).append(child.tail or "")
        (after if seen else before).append(gap)

    walk(block)
    return "".join(before), "".join(after)

"""What the template macros read: one object per post and request, built on demand.

A post page costs one query for its linkbacks however many it has: the rows
of the page being shown (``LINKBACK_PER_PAGE`` of them) and the totals come
back together.
"""

from __future__ import annotations

import inspect
import math
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from xml.sax.saxutils import quoteattr

import sqlalchemy as sa
from flask import current_app, g, has_request_context, request, url_for
from markupsafe import Markup

from .host import PostInfo
from .html import strip_control_chars
from .inbound import rules
from .mf2 import clean_html
from .models import Kind, Status, TableColumns
from .settings import current_settings
from .state import current_state
from .urls import host_of, is_http_url

FACEPILE_AND_REPLY_TYPES = frozenset({"reply", "like", "repost"})
#: The sections a post's responses are shown in; "mention" is every other type.
GROUPS = ("reply", "like", "repost", "mention")
#: The query argument that picks a page of linkbacks (as WordPress's ``cpage``).
PAGE_ARG = "linkback-page"
#: The element id the page links jump to (the ``responses`` macro's wrapper).
ANCHOR = "linkbacks"
#: microformats2 property of a response in its post's ``h-entry``, by group.
MF2_PROPERTIES = {"reply": "p-comment", "like": "u-like", "repost": "u-repost",
                  "mention": "p-comment"}
RDF_NAMESPACES = (
    'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" '
    'xmlns:trackback="http://madskills.com/public/xml/rss/module/trackback/"'
)


def group_of(mention_type: str | None) -> str:
    """The group a response is shown in: reply, like, repost, or mention (all the rest)."""
    return mention_type if mention_type in FACEPILE_AND_REPLY_TYPES else "mention"


def iso_datetime(value: datetime | None) -> str:
    """ISO 8601 in UTC with its zone (``...Z``), for ``datetime`` attributes; stored times are
    UTC."""
    if value is None:
        return ""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(timespec="seconds") + "Z"


PAGE_COUNTED_TYPES = tuple(sorted(FACEPILE_AND_REPLY_TYPES))
_PAGE_QUERIES: weakref.WeakKeyDictionary[Any, dict[bool, Any]] = weakref.WeakKeyDictionary()


def column_keys(model: Any) -> tuple[str, ...]:
    """The model's column attributes, in the order :func:`page_query` selects them."""
    return tuple(attr.key for attr in sa.inspect(model).column_attrs)


def page_query(model: Any, newest_first: bool) -> Any:
    """The SELECT for one page of a post's approved linkbacks, with the totals on every row.

    Parameters ``post_id``, ``skip`` and ``size``. Built once per model and order: a post
    page should not pay for building and compiling it again. It selects plain columns,
    not ORM objects (see :class:`ShownLinkback`). The totals ride along as scalar
    subqueries (run once, on the index), so the page is one round trip; window
    functions would do it too, but cost SQLite a pass over every row.
    """
    built = _PAGE_QUERIES.setdefault(model, {})
    if newest_first not in built:
        approved = sa.and_(model.post_id == sa.bindparam("post_id"),
                           model.status == Status.APPROVED.value)

        def counted(mention_type: str | None = None) -> Any:
            query = sa.select(sa.func.count()).select_from(model).where(approved)
            if mention_type is not None:
                query = query.where(model.mention_type == mention_type)
            return query.scalar_subquery()

        order = ((model.created_at.desc(), model.id.desc()) if newest_first
                 else (model.created_at, model.id))
        columns = [getattr(model, key) for key in column_keys(model)]
        built[newest_first] = (
            sa.select(*columns, counted().label("_lb_total"),
                      *(counted(t).label(f"_lb_{t}") for t in PAGE_COUNTED_TYPES))
            .where(approved)
            .order_by(*order)
            .offset(sa.bindparam("skip", type_=sa.Integer))
            .limit(sa.bindparam("size", type_=sa.Integer))
        )
    return built[newest_first]


class ShownLinkback:
    """One linkback as a page shows it: a plain object with the row's columns as attributes.

    Loading ORM objects costs several times more than the rows a page shows;
    :func:`shown_class` gives each model a subclass carrying the model's own
    properties and methods (``display_title``), so templates cannot tell.
    """

    #: The one column this module reads itself; the rest are for templates.
    mention_type: str

    def __init__(self, values: Iterable[tuple[str, Any]]) -> None:
        self.__dict__.update(values)


_SHOWN_CLASSES: weakref.WeakKeyDictionary[Any, type[ShownLinkback]] = weakref.WeakKeyDictionary()


def shown_class(model: Any) -> type[ShownLinkback]:
    """The :class:`ShownLinkback` subclass for ``model``, with the model's properties and
    methods."""
    shown = _SHOWN_CLASSES.get(model)
    if shown is None:
        copied: dict[str, Any] = {}
        # The model's own class and its columns class (models.py), base first.
        for cls in reversed(model.__mro__):
            if not issubclass(cls, TableColumns) or cls is TableColumns:
                continue
            copied.update({name: value for name, value in vars(cls).items()
                           if isinstance(value, property)
                           or (inspect.isfunction(value)
                               and (not name.startswith("__") or name == "__repr__"))})
        shown = _SHOWN_CLASSES[model] = type(f"Shown{model.__name__}", (ShownLinkback,), copied)
    return shown


@dataclass(frozen=True)
class LinkbackPager:
    """Where a list of linkbacks is: page ``number`` of ``pages``, and links to its neighbours."""

    number: int
    pages: int
    newest_first: bool
    permalink: str

    @property
    def has_prev(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages

    def url(self, number: int) -> str:
        """The post's permalink showing page ``number``; page 1 is the permalink itself."""
        scheme, netloc, path, query, _ = urlsplit(self.permalink)
        kept = [part for part in query.split("&") if part and not part.startswith(PAGE_ARG + "=")]
        if number > 1:
            kept.append(f"{PAGE_ARG}={number}")
        return urlunsplit((scheme, netloc, path, "&".join(kept), ANCHOR))

    @property
    def prev_url(self) -> str:
        return self.url(self.number - 1)

    @property
    def next_url(self) -> str:
        return self.url(self.number + 1)

    @property
    def prev_label(self) -> str:
        return "Newer linkbacks" if self.newest_first else "Older linkbacks"

    @property
    def next_label(self) -> str:
        return "Older linkbacks" if self.newest_first else "Newer linkbacks"


class PostLinkbacks:
    """The linkback side of one post, for templates: URLs, RDF, and a page of approved linkbacks.

    ``listed`` is the page being shown (``?linkback-page=N``, ``LINKBACK_PER_PAGE``
    linkbacks); ``replies``, ``likes``, ``reposts`` and ``mentions`` split it by
    type. ``count`` and :meth:`total` count every approved linkback.
    """

    def __init__(self, info: PostInfo) -> None:
        self.info = info

    @property
    def pings_open(self) -> bool:
        """The post's own switch (``PostInfo.pings_open``)."""
        return self.info.pings_open

    @cached_property
    def takes_pingbacks(self) -> bool:
        """Open, and not older than the Discussion settings' limit for pingbacks: only then is
        the endpoint advertised (as WordPress stops sending ``X-Pingback`` on closed posts)."""
        return rules.closed_reason(self.info, Kind.PINGBACK) is None

    @cached_property
    def takes_trackbacks(self) -> bool:
        """Open, and not older than the Discussion settings' limit for TrackBacks."""
        return rules.closed_reason(self.info, Kind.TRACKBACK) is None

    @cached_property
    def pingback_url(self) -> str:
        return url_for("linkback.xmlrpc", _external=True)

    @cached_property
    def trackback_url(self) -> str:
        return url_for("linkback.trackback", post_id=self.info.id, _external=True)

    # The page of linkbacks shown ---------------------------------------------------

    @cached_property
    def per_page(self) -> int:
        return int(current_app.config["LINKBACK_PER_PAGE"])

    @cached_property
    def newest_first(self) -> bool:
        order: str = current_app.config["LINKBACK_ORDER"]
        return order == "newest"

    @cached_property
    def requested_page(self) -> int:
        """The page the reader asked for (``?linkback-page=N``), 1 when absent or not a number."""
        if not has_request_context():
            return 1
        raw = request.args.get(PAGE_ARG, "")
        if raw.isascii() and raw.isdigit() and 0 < len(raw) < 7 and int(raw) > 0:
            return int(raw)
        return 1

    @cached_property
    def _page(self) -> tuple[int, dict[str, int], dict[str, list[Any]]]:
        """(page number, totals by group and "all", this page's items by group and "all").

        One query: the page's rows, each carrying the totals. A page past the last one
        (an old or made-up link) shows the last page, at the cost of two more queries.
        """
        number = self.requested_page
        totals, items = self._load_page(number)
        if number > 1 and not items["all"]:
            last = max(1, math.ceil(self._count_approved() / self.per_page))
            if last < number:
                number = last
                totals, items = self._load_page(number)
        return number, totals, items

    def _approved_filter(self) -> Any:
        Linkback = current_state().models.IncomingLinkback
        return sa.and_(Linkback.post_id == self.info.id, Linkback.status == Status.APPROVED.value)

    def _load_page(self, number: int) -> tuple[dict[str, int], dict[str, list[Any]]]:
        query = page_query(current_state().models.IncomingLinkback, self.newest_first)
        params = {"post_id": self.info.id, "skip": (number - 1) * self.per_page,
                  "size": self.per_page}
        totals = dict.fromkeys((*GROUPS, "all"), 0)
        items: dict[str, list[Any]] = {name: [] for name in (*GROUPS, "all")}
        model = current_state().models.IncomingLinkback
        shown, keys = shown_class(model), column_keys(model)
        for row in current_state().db.session.execute(query, params):
            # The row has the model's columns, then the page's counts (not zipped).
            item = shown(zip(keys, row, strict=False))
            totals.update(all=row._lb_total,
                          **{t: getattr(row, f"_lb_{t}") for t in PAGE_COUNTED_TYPES})
            items[group_of(item.mention_type)].append(item)
            items["all"].append(item)
        totals["mention"] = totals["all"] - sum(totals[t] for t in PAGE_COUNTED_TYPES)
        return totals, items

    def _count_approved(self) -> int:
        Linkback = current_state().models.IncomingLinkback
        query = sa.select(sa.func.count()).select_from(Linkback).where(self._approved_filter())
        return int(current_state().db.session.execute(query).scalar_one())

    @property
    def page(self) -> int:
        """The number of the page shown (clamped to the pages there are)."""
        return self._page[0]

    def total(self, group: str = "all") -> int:
        """Approved linkbacks in ``group`` (reply, like, repost, mention) or in all of them."""
        return self._page[1][group]

    @property
    def pager(self) -> LinkbackPager:
        """Which page of the post's linkbacks is shown, and links to the others.

        As WordPress pages comments, the pages cut one list of every approved
        linkback (``LINKBACK_PER_PAGE`` a page, oldest or newest first as
        ``LINKBACK_ORDER`` says); each section shows its part of that page.
        """
        return LinkbackPager(number=self.page, pages=max(1, math.ceil(self.count / self.per_page)),
                             newest_first=self.newest_first, permalink=self.info.url)

    @cached_property
    def count(self) -> int:
        """Every approved linkback of the post, whichever page is shown.

        Free once a list of this post was rendered; before (a post list, a
        count above the post) one ``COUNT`` query rather than the page's rows.
        """
        if "_page" in self.__dict__:
            return self.total("all")
        return self._count_approved()

    @property
    def listed(self) -> list[Any]:
        """This page of all approved linkbacks, whatever their type."""
        return self._page[2]["all"]

    @cached_property
    def approved(self) -> list[Any]:
        """Every approved linkback, oldest first. One more query, and a long list: the
        macros use the page views (``listed``, ``replies``, ...) instead."""
        Linkback = current_state().models.IncomingLinkback
        rows: list[Any] = (
            Linkback.query.filter_by(post_id=self.info.id, status=Status.APPROVED.value)
            .order_by(Linkback.created_at, Linkback.id).all())
        return rows

    @property
    def rdf(self) -> Markup:
        """TrackBack autodiscovery RDF, to sit inside an HTML comment (so no "--" inside)."""
        def attr(value: str) -> str:
            return quoteattr(strip_control_chars(value)).replace("--", "&#45;&#45;")

        # Every value is quoted by quoteattr above.
        return Markup(  # noqa: S704 - built from escaped attribute values only
            f"<rdf:RDF {RDF_NAMESPACES}>\n"
            f"<rdf:Description rdf:about={attr(self.info.url)} dc:identifier={attr(self.info.url)}"
            f" dc:title={attr(self.info.title)} trackback:ping={attr(self.trackback_url)} />\n"
            "</rdf:RDF>"
        )

    def advertise(self) -> str:
        """Mark this response for the ``X-Pingback`` and ``Link: rel="webmention"`` headers.

        Returns "" so templates can call it.
        """
        if self.takes_pingbacks:
            g._linkback_advertise = self.pingback_url
        if self.accepts_webmentions:
            g._linkback_webmention = self.webmention_url
        return ""

    # Webmention and microformats ---------------------------------------------------

    @cached_property
    def accepts_webmentions(self) -> bool:
        """Webmentions accepted (a Discussion setting), the post open and young enough."""
        return (current_settings().accept_webmentions
                and rules.closed_reason(self.info, Kind.WEBMENTION) is None)

    @cached_property
    def webmention_url(self) -> str:
        return url_for("linkback.webmention", _external=True)

    @property
    def replies(self) -> list[Any]:
        """This page of approved replies (``in-reply-to`` this post), shown as comments."""
        return self._page[2]["reply"]

    @property
    def likes(self) -> list[Any]:
        return self._page[2]["like"]

    @property
    def reposts(self) -> list[Any]:
        return self._page[2]["repost"]

    @property
    def mentions(self) -> list[Any]:
        """This page of everything else: mentions, bookmarks, plain pingbacks and trackbacks."""
        return self._page[2]["mention"]

    # Per item ----------------------------------------------------------------------

    @staticmethod
    def mf2_property(item: Any) -> str:
        """The item's microformats2 property in the post's ``h-entry``: p-comment, u-like or
        u-repost."""
        return MF2_PROPERTIES[group_of(item.mention_type)]

    @staticmethod
    def author_url(item: Any) -> str | None:
        """The author's own http(s) URL, when the source named one."""
        return item.author_url if item.author_url and is_http_url(item.author_url) else None

    @staticmethod
    def published(item: Any) -> str:
        """When the source says it was published, ISO 8601 with its zone; "" when unknown."""
        return iso_datetime(item.published_at)

    @staticmethod
    def author_name(item: Any) -> str:
        """Who wrote it: the h-card's name, else the sending blog, else the source's host."""
        name: str = (item.author_name or item.blog_name or host_of(item.source_url)
                     or item.source_url)
        return name

    @staticmethod
    def author_link(item: Any) -> str:
        """The author's http(s) URL, else the source page."""
        url: str = (item.author_url if item.author_url and is_http_url(item.author_url)
                    else item.source_url)
        return url

    @staticmethod
    def photo(item: Any) -> str | None:
        """The author's photo URL when it is http(s); never ``data:``, ``javascript:`` ..."""
        return item.author_photo if item.author_photo and is_http_url(item.author_photo) else None

    @staticmethod
    def content(item: Any) -> Markup:
        """The stored content, sanitised again on the way out (defence in depth)."""
        if not item.content:
            return Markup("")
        return Markup(clean_html(item.content))  # noqa: S704 - nh3 sanitised it just now


def linkbacks_for(post: Any) -> PostLinkbacks:
    """Template global: ``linkbacks_for(post)`` with a host post or a PostInfo.

    One object per post and request, so the macros of one page share its query.
    """
    if not has_request_context():
        return PostLinkbacks(current_state().callbacks.describe(post))
    memo: dict[int, tuple[Any, PostLinkbacks]] | None = getattr(request, "_linkback_posts", None)
    if memo is None:
        memo = request._linkback_posts = {}  # type: ignore[attr-defined]
    # Keyed by identity, holding the post so the id cannot be reused during the request.
    found = memo.get(id(post))
    if found is None:
        found = memo[id(post)] = (post, PostLinkbacks(current_state().callbacks.describe(post)))
    return found[1]

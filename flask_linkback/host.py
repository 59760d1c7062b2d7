"""What the host blog owes the extension, in one place.

The host owns its posts. It registers three small callbacks on the extension
(as Flask-Login's ``user_loader``), and that is the whole interface:

``@linkback.post_loader``
    ``(post_id: str) -> post | None``: load a post by the id it gave in
    :class:`PostInfo`. Used by TrackBack URLs and the moderation pages.

``@linkback.url_resolver``
    ``(url: str) -> post | None``: the post a URL on this site shows, or
    ``None``. Only called with URLs whose host is this site's.

``@linkback.post_info``
    ``(post) -> PostInfo``: describe one of the host's posts.

The host then tells the extension when a post is saved, published or
updated, by calling ``linkback.post_published(post)`` (it queues the pings
the post owes; ``PostInfo.trackback_to`` and ``PostInfo.send_pings`` shape
them), and renders the template macros. When it deletes a post it makes the
post's URL answer ``410 Gone`` and calls ``linkback.post_deleted(post)``
(the webmentions the post sent are sent again, so their targets drop them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = ["HostNotConfigured", "PostInfo"]


@dataclass(frozen=True)
class PostInfo:
    """The facts about one host post that linkbacks need.

    ``id`` is any string the host can load the post back from; ``url`` is the
    absolute, final permalink (WordPress follows no redirects when it verifies
    a pingback, so publish the URL readers land on). ``public`` is False for
    drafts and for posts scheduled for later: the outside world must not
    learn they exist (their TrackBack URL answers 404).
    """

    id: str
    url: str
    title: str
    excerpt: str = ""
    html: str = ""
    published_at: datetime | None = None
    pings_open: bool = True
    comments_open: bool = True
    public: bool = True
    #: URLs the author asked to send TrackBacks to ("Send trackbacks to").
    trackback_to: tuple[str, ...] = ()
    #: Notify the blogs this post links to; None follows LINKBACK_SEND_PINGS.
    send_pings: bool | None = None


class HostNotConfigured(RuntimeError):
    """The host app has not registered a callback the extension needs."""


_HOW_TO = {
    "post_loader": "@linkback.post_loader\n"
                   "def load_post(post_id: str): return Post.query.get(post_id)",
    "url_resolver": "@linkback.url_resolver\n"
                    "def post_for_url(url: str): ...  # the post this URL shows, or None",
    "post_info": "@linkback.post_info\n"
                 "def describe(post): return PostInfo(id=..., url=..., title=...)",
}


class HostCallbacks:
    """The registered callbacks, with errors that say how to register a missing one."""

    def __init__(self) -> None:
        self.post_loader: Callable[[str], Any] | None = None
        self.url_resolver: Callable[[str], Any] | None = None
        self.post_info: Callable[[Any], PostInfo] | None = None

    def require(self, name: str) -> Callable[..., Any]:
        callback: Callable[..., Any] | None = getattr(self, name)
        if callback is None:
            raise HostNotConfigured(
                f"flask-linkback needs a {name} callback. Register one on the extension:\n\n"
                f"{_HOW_TO[name]}"
            )
        return callback

    def load(self, post_id: str) -> Any | None:
        return self.require("post_loader")(post_id)

    def resolve(self, url: str) -> Any | None:
        return self.require("url_resolver")(url)

    def describe(self, post: Any) -> PostInfo:
        if isinstance(post, PostInfo):
            return post
        info = self.require("post_info")(post)
        if not isinstance(info, PostInfo):
            raise HostNotConfigured(
                "the post_info callback must return a flask_linkback.PostInfo, "
                f"got {type(info).__name__}"
            )
        return info

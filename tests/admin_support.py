"""Helpers for the admin tests: an admin's browser session over real HTTP, CSRF tokens read
from the real pages."""

from __future__ import annotations

import xmlrpc.client
from typing import Any

import lxml.html
import requests

QUEUE = "/linkback-admin/queue"
SETTINGS = "/linkback-admin/settings"
MODERATE = "/linkback-admin/moderate"

#: The settings form as the defaults fill it, in the browser's encoding (unchecked boxes absent).
DEFAULT_FORM = {
    "pings_open_default": "y",
    "notify_linked_blogs": "y",
    "approve_own": "y",
    "approve_known_sources": "y",
    "trackback_require_link": "y",
    "accept_webmentions": "y",
    "max_links": "100",
    "blocked_hosts": "",
    "blocked_words": "",
    "trusted_hosts": "",
    "held_words": "",
    "close_pingbacks_after_days": "0",
    "close_trackbacks_after_days": "0",
    "close_webmentions_after_days": "0",
}


class Client:
    """A ``requests`` session on the blog's live server; paths are relative to the blog."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.session = requests.Session()

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.get(self.base + path, allow_redirects=False, timeout=30, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.post(self.base + path, allow_redirects=False, timeout=30, **kwargs)


def anonymous_client(blog: Any) -> Client:
    return Client(blog.url)


def admin_client(blog: Any) -> Client:
    """A client logged in to the example blog as its admin (through the real login form)."""
    client = Client(blog.url)
    config = blog.app.config
    response = client.post("/admin/login", data={
        "csrf_token": csrf_token(client, "/admin/login"), "username": config["BLOG_ADMIN_USER"],
        "password": config["BLOG_ADMIN_PASSWORD"]})
    assert response.status_code == 302, response.text
    return client


def page(client: Client, path: str) -> lxml.html.HtmlElement:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return lxml.html.fromstring(response.content)


def csrf_token(client: Client, path: str) -> str:
    return page(client, path).xpath("//input[@name='csrf_token']/@value")[0]


def post_settings(client: Client, **changes: str | None) -> requests.Response:
    """Submit the settings form: the defaults, with ``changes`` (None leaves a field out)."""
    data = {**DEFAULT_FORM, "csrf_token": csrf_token(client, SETTINGS)}
    for name, value in changes.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    return client.post(SETTINGS, data=data)


def moderate(
    client: Client, action: str, ids: list[int], tab: str = "pending"
) -> requests.Response:
    """Tick these rows and press the bulk "Apply" button."""
    token = csrf_token(client, f"{QUEUE}/{tab}")
    return client.post(
        MODERATE,
        data={
            "csrf_token": token,
            "action": action,
            "ids": [str(i) for i in ids],
            "bulk": "1",
            "next": f"{QUEUE}/{tab}",
        },
    )


def press(
    client: Client, action: str, row_id: int, tab: str = "pending", ticked: tuple[int, ...] = ()
) -> requests.Response:
    """Press one row's own button (with other rows perhaps ticked and the bulk menu on Delete)."""
    token = csrf_token(client, f"{QUEUE}/{tab}")
    return client.post(
        MODERATE,
        data={
            "csrf_token": token,
            "one": f"{action}:{row_id}",
            "action": "delete",
            "ids": [str(i) for i in ticked],
            "next": f"{QUEUE}/{tab}",
        },
    )


def queue_rows(client: Client, tab: str = "pending", query: str = "") -> list[int]:
    root = page(client, f"{QUEUE}/{tab}{query}")
    return [int(row.get("id").rsplit("-", 1)[1]) for row in root.find_class("linkback-row")]


def ping(blog: Any, source: str, target: str) -> str:
    return xmlrpc.client.ServerProxy(blog.url + "/xmlrpc").pingback.ping(source, target)

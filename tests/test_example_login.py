"""The example blog's login: where it sends the admin afterwards must stay on this site."""

from __future__ import annotations

from urllib.parse import quote

import pytest
import requests
from admin_support import Client, csrf_token


def log_in(blog, query: str) -> tuple[Client, requests.Response]:
    """Log in through the real form at ``/admin/login?<query>``: the session and the answer."""
    client = Client(blog.url)
    config = blog.app.config
    path = f"/admin/login?{query}"
    answer = client.post(path, data={
        "csrf_token": csrf_token(client, path), "username": config["BLOG_ADMIN_USER"],
        "password": config["BLOG_ADMIN_PASSWORD"]})
    return client, answer


BYPASSES = [
    "/\t/evil.example/",
    "/\n/evil.example/",
    "/\r\n/evil.example/",
    "/\\evil.example/",
    "\\\\evil.example/",
    "/\\/evil.example/",
    "//evil.example/",
    "///evil.example/",
    " //evil.example/",
    "https://evil.example/",
    "https:evil.example",
    "HTTPS://evil.example/",
    "javascript:alert(1)",
    "evil.example/",
    "/\x00/evil.example/",
]


@pytest.mark.parametrize("target", BYPASSES)
def test_login_never_sends_the_admin_off_site(blog, target):
    client, answer = log_in(blog, f"next={quote(target, safe='')}")

    assert answer.status_code == 302
    assert answer.headers["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200  # logged in all the same


def test_login_with_a_tab_in_next_as_the_issue_sent_it_stays_on_site(blog):
    _, answer = log_in(blog, "next=/%09/evil.example/")

    assert answer.headers["Location"] == "/admin/"


@pytest.mark.parametrize("target", ["/linkback-admin/settings", "/admin/posts/new?draft=1#body",
                                    "/posts/why%2F"])
def test_login_returns_to_the_page_on_this_site_that_asked_for_it(blog, target):
    _, answer = log_in(blog, f"next={quote(target, safe='')}")

    assert answer.headers["Location"] == target

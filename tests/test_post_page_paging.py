"""A post with many linkbacks: a page of them at a time.

A fixed number of queries per page, and links to the rest.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import lxml.html
import pytest
import requests
import sqlalchemy as sa

from example_blog.extensions import db
from flask_linkback.models import Status, utcnow

TYPES = ("reply", "like", "repost", "mention")


def store_many(blog: Any, post: Any, n: int, status: str = Status.APPROVED.value) -> None:
    """``n`` linkbacks to ``post``, one a minute, their types in turn; number k is at ``/k``."""
    start = utcnow() - timedelta(days=30)
    with blog.app.app_context():
        model = blog.app.extensions["linkback"].models.IncomingLinkback
        db.session.execute(
            sa.insert(model),
            [
                {
                    "kind": "pingback" if TYPES[k % 4] == "mention" else "webmention",
                    "source_url": f"https://site{k}.example/{k}",
                    "source_key": f"https://site{k}.example/{k}",
                    "source_host": f"site{k}.example",
                    "target_url": blog.post_url(post.slug),
                    "post_id": str(post.id),
                    "title": f"Entry {k}",
                    "excerpt": "[…] around the link […]",
                    "author_name": f"Author {k}",
                    "mention_type": TYPES[k % 4],
                    "status": status,
                    "reason": "",
                    "content": "<p>A reply.</p>" if TYPES[k % 4] == "reply" else None,
                    "created_at": start + timedelta(minutes=k),
                    "updated_at": start,
                }
                for k in range(n)
            ],
        )
        db.session.commit()



def source_numbers(page: lxml.html.HtmlElement) -> list[int]:
    """The k of each source shown (https://sitek.example/k), sorted."""
    urls = page.xpath(
        "//*[@id='linkbacks']//a[contains(@class, 'linkback-source') or"
        " contains(@class, 'linkback-permalink')]/@href"
    )
    urls += page.xpath(
        "//*[@id='linkbacks']//li[contains(@class, 'linkback-face')]/data[@class='u-url']/@value"
    )
    return sorted(int(url.rsplit("/", 1)[1]) for url in urls)


def get(url: str) -> lxml.html.HtmlElement:
    response = requests.get(url, timeout=10)
    assert response.status_code == 200
    return lxml.html.fromstring(response.content, base_url=url)


def test_post_with_1000_linkbacks_costs_at_most_three_queries_and_shows_50(blog):
    post = blog.add_post("busy")
    store_many(blog, post, 1000)
    with blog.app.app_context():  # the newest five wait for moderation: not shown, not counted
        model = blog.app.extensions["linkback"].models.IncomingLinkback
        db.session.execute(
            sa.update(model)
            .where(model.source_url.in_([f"https://site{k}.example/{k}" for k in range(995, 1000)]))
            .values(status=Status.PENDING.value)
        )
        db.session.commit()
    blog.app.extensions["linkback"].settings_cache = None  # the worst case: settings read too
    client = blog.app.test_client()

    with blog.counted_queries() as statements:
        response = client.get("/posts/busy")

    assert response.status_code == 200
    assert len(statements) <= 3, statements
    page = lxml.html.fromstring(response.data)
    # The oldest 50 approved, split into their sections; every heading counts them all.
    assert source_numbers(page) == list(range(50))
    assert [el.text_content() for el in page.find_class("linkbacks-count")] == ["(249)", "(248)"]
    assert [el.text_content() for el in page.find_class("linkback-facepile-count")] == [
        "249",
        "249",
    ]
    assert page.find_class("linkback-page-number")[0].text_content() == "Page 1 of 20"
    assert page.find_class("linkback-page-prev") == []
    [newer] = page.find_class("linkback-page-next")
    assert newer.text_content().startswith("Newer linkbacks")
    assert newer.get("href") == blog.post_url("busy") + "?linkback-page=2#linkbacks"


def test_page_two_shows_the_next_fifty_and_links_back(blog):
    post = blog.add_post("busy")
    store_many(blog, post, 1000)
    first = get(blog.post_url("busy"))

    second = get(first.find_class("linkback-page-next")[0].get("href"))

    assert source_numbers(second) == list(range(50, 100))
    assert second.find_class("linkback-page-number")[0].text_content() == "Page 2 of 20"
    assert (
        second.find_class("linkback-page-prev")[0].get("href")
        == blog.post_url("busy") + "#linkbacks"
    )
    assert [el.text_content() for el in second.find_class("linkbacks-count")] == ["(250)", "(250)"]


def test_last_page_and_a_page_past_it_show_the_newest(blog):
    post = blog.add_post("busy")
    store_many(blog, post, 120)

    last = get(blog.post_url("busy") + "?linkback-page=3")
    past = get(blog.post_url("busy") + "?linkback-page=999999")

    assert source_numbers(last) == list(range(100, 120))
    assert source_numbers(past) == list(range(100, 120))
    assert last.find_class("linkback-page-next") == []
    assert past.find_class("linkback-page-number")[0].text_content() == "Page 3 of 3"


@pytest.mark.parametrize("arg", ["0", "-2", "two", "1e3", "٣"])
def test_a_page_argument_that_is_not_a_page_number_shows_the_first_page(blog, arg):
    post = blog.add_post("busy")
    store_many(blog, post, 120)

    page = get(blog.post_url("busy") + "?linkback-page=" + arg)

    assert source_numbers(page) == list(range(50))


@pytest.fixture
def newest_first_blog(app_config: dict[str, Any], request: pytest.FixtureRequest) -> Any:
    """The blog showing 10 linkbacks a page, newest first."""
    app_config.update(LINKBACK_ORDER="newest", LINKBACK_PER_PAGE=10)
    return request.getfixturevalue("blog")


def test_newest_first_pages_start_with_the_newest_and_link_to_older(newest_first_blog):
    blog = newest_first_blog
    post = blog.add_post("busy")
    store_many(blog, post, 25)

    first = get(blog.post_url("busy"))
    second = get(first.find_class("linkback-page-next")[0].get("href"))

    assert source_numbers(first) == list(range(15, 25))
    assert source_numbers(second) == list(range(5, 15))
    assert first.find_class("linkback-page-next")[0].text_content().startswith("Older linkbacks")
    assert second.find_class("linkback-page-prev")[0].text_content().endswith("Newer linkbacks")
    # Within a page too, the newest comes first.
    listed = [a.get("href") for a in first.find_class("linkback-source")]
    assert listed == [
        "https://site23.example/23",
        "https://site19.example/19",
        "https://site15.example/15",
    ]


def test_a_short_post_has_no_page_links(blog):
    post = blog.add_post("quiet")
    store_many(blog, post, 50)

    page = get(blog.post_url("quiet"))

    assert source_numbers(page) == list(range(50))
    assert page.find_class("linkback-pages") == []

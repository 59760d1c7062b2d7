"""The moderation queue: what it shows, every action one at a time and in bulk, paging."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import lxml.html
import pytest
import requests
import sqlalchemy as sa
from admin_support import (
    MODERATE,
    QUEUE,
    admin_client,
    anonymous_client,
    moderate,
    page,
    ping,
    press,
    queue_rows,
)

from example_blog.extensions import db
from flask_linkback import (
    current_settings,
    linkback_approved,
    linkback_deleted,
    linkback_held,
    linkback_spammed,
)
from flask_linkback.models import utcnow


def three_pings(blog: Any, source_site: Any) -> list[Any]:
    """Three pending pingbacks to three posts, from pages on the source site."""
    for n in range(3):
        blog.add_post(f"post-{n}", title=f"Post {n}")
        source = source_site.linking_page(f"/reply-{n}", blog.post_url(f"post-{n}"),
                                          title=f"Reply {n}", text=f"Thoughts number {n} on")
        ping(blog, source, blog.post_url(f"post-{n}"))
    return blog.linkbacks()


def statuses(blog: Any) -> dict[int, str]:
    return {row.id: row.status for row in blog.linkbacks()}


@contextmanager
def received(signal: Any) -> Iterator[list[Any]]:
    seen: list[Any] = []

    def receiver(sender: Any, linkback: Any, **extra: Any) -> None:
        seen.append(linkback.id)

    signal.connect(receiver)
    try:
        yield seen
    finally:
        signal.disconnect(receiver)


def test_pending_row_shows_source_title_excerpt_target_kind_and_why(blog, source_site):
    [first, *_] = three_pings(blog, source_site)
    root = page(admin_client(blog), f"{QUEUE}/pending")

    row = root.get_element_by_id(f"linkback-row-{first.id}")
    source = row.find_class("source")[0]
    assert (source.get("href"), source.text_content()) == (first.source_url, "Reply 0")
    assert source.get("rel") == "nofollow ugc noopener"
    assert "Thoughts number 0 on this post today" in row.find_class("excerpt")[0].text_content()
    assert row.find_class("target")[0].get("href") == blog.post_url("post-0")
    assert "pingback" in row.text_content()
    assert (
        row.find_class("reason")[0].text_content()
        == "first linkback from 127.0.0.1: held for moderation"
    )
    assert root.get_element_by_id("tab-pending").text_content().split() == ["Pending", "(3)"]


def test_remote_text_in_the_queue_is_escaped(blog, source_site):
    blog.add_post("target")
    source = source_site.linking_page(
        "/x", blog.post_url("target"), title="&lt;script&gt;alert(1)&lt;/script&gt;"
    )
    ping(blog, source, blog.post_url("target"))

    html = admin_client(blog).get(f"{QUEUE}/pending").text

    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_row_button_approves_that_row_only_and_it_appears_below_the_post(blog, source_site):
    rows = three_pings(blog, source_site)
    client = admin_client(blog)

    with received(linkback_approved) as approved:
        response = press(client, "approve", rows[1].id, ticked=(rows[0].id, rows[2].id))

    assert response.status_code == 302 and response.headers["Location"] == f"{QUEUE}/pending"
    assert statuses(blog) == {rows[0].id: "pending", rows[1].id: "approved", rows[2].id: "pending"}
    assert approved == [rows[1].id]
    assert blog.linkbacks()[1].reason == "approved by the admin"
    post = lxml.html.fromstring(requests.get(blog.post_url("post-1"), timeout=10).content)
    assert post.find_class("linkback-source")[0].text_content() == "Reply 1"
    assert "Approved 1 linkback." in client.get(f"{QUEUE}/pending").text


def test_bulk_spam_moves_rows_to_the_spam_tab_and_restore_brings_them_back(blog, source_site):
    rows = three_pings(blog, source_site)
    client = admin_client(blog)
    chosen = [rows[0].id, rows[2].id]

    with received(linkback_spammed) as spammed:
        moderate(client, "spam", chosen)

    assert spammed == chosen
    assert queue_rows(client, "pending") == [rows[1].id]
    assert sorted(queue_rows(client, "spam")) == chosen
    with received(linkback_held) as held:
        moderate(client, "restore", chosen, tab="spam")
    assert sorted(held) == chosen
    assert queue_rows(client, "spam") == []
    assert sorted(queue_rows(client, "pending")) == sorted(r.id for r in rows)


def test_bulk_delete_asks_first_then_removes_rows_for_good(blog, source_site):
    rows = three_pings(blog, source_site)
    client = admin_client(blog)

    with received(linkback_deleted) as deleted:
        asked = moderate(client, "delete", [rows[0].id, rows[1].id])
        assert asked.status_code == 200
        assert deleted == [] and len(blog.linkbacks()) == 3
        confirm = lxml.html.fromstring(asked.content).xpath(
            "//form[.//button[contains(@class, 'confirm-delete')]]"
        )[0]
        done = client.post(MODERATE, data=list(confirm.form_values()))

    assert done.status_code == 302
    assert deleted == [rows[0].id, rows[1].id]
    assert [row.id for row in blog.linkbacks()] == [rows[2].id]


def test_unapprove_takes_an_approved_row_off_the_post(blog, source_site):
    rows = three_pings(blog, source_site)
    client = admin_client(blog)
    moderate(client, "approve", [rows[0].id])

    press(client, "unapprove", rows[0].id, tab="approved")

    assert statuses(blog)[rows[0].id] == "pending"
    assert "linkback-source" not in requests.get(blog.post_url("post-0"), timeout=10).text


def test_trust_this_site_approves_it_and_its_future_pings(blog, source_site):
    rows = three_pings(blog, source_site)
    client = admin_client(blog)

    press(client, "trust", rows[0].id)

    assert statuses(blog)[rows[0].id] == "approved"
    with blog.app.test_request_context():
        assert current_settings().trusted_hosts == ("127.0.0.1",)
        # Only trust approves the next one: the "approved before" rule is off.
        from flask_linkback.settings import save_settings

        save_settings(approve_known_sources=False)
    blog.add_post("later")
    ping(blog, source_site.linking_page("/later", blog.post_url("later")), blog.post_url("later"))
    later = blog.linkbacks()[-1]
    assert (later.status, later.reason) == ("approved", "127.0.0.1 is a trusted site")


def test_action_without_a_csrf_token_is_refused_and_changes_nothing(blog, source_site):
    rows = three_pings(blog, source_site)
    client = admin_client(blog)

    response = client.post(MODERATE, data={"action": "approve", "ids": [str(rows[0].id)]})

    assert response.status_code == 400
    assert "CSRF token is missing" in response.text
    assert set(statuses(blog).values()) == {"pending"}


def test_anonymous_action_is_sent_to_log_in_and_changes_nothing(blog, source_site):
    rows = three_pings(blog, source_site)

    response = anonymous_client(blog).post(
        MODERATE, data={"action": "spam", "ids": [str(rows[0].id)]}
    )

    assert response.status_code == 302 and response.headers["Location"].startswith("/admin/login")
    assert set(statuses(blog).values()) == {"pending"}


@pytest.mark.parametrize(
    "action, ids, message",
    [
        ("approve", [], "select at least one linkback"),
        ("launch", ["1"], "Not a valid choice."),
    ],
)
def test_bad_action_or_no_selection_does_nothing_and_says_why(
    blog, source_site, action, ids, message
):
    three_pings(blog, source_site)
    client = admin_client(blog)
    token = page(client, f"{QUEUE}/pending").xpath("//input[@name='csrf_token']/@value")[0]

    response = client.post(MODERATE, data={"csrf_token": token, "action": action, "ids": ids})

    assert response.status_code == 302
    assert message in client.get(f"{QUEUE}/pending").text
    assert set(statuses(blog).values()) == {"pending"}


def test_unknown_tab_is_404_and_a_bad_page_cursor_shows_the_first_page(blog, source_site):
    rows = three_pings(blog, source_site)
    client = admin_client(blog)

    assert client.get(f"{QUEUE}/deleted").status_code == 404
    assert queue_rows(client, "pending", "?before=garbage") == [r.id for r in reversed(rows)]


def test_pending_count_is_shown_to_the_admin_only(blog, source_site):
    three_pings(blog, source_site)

    admin_home = lxml.html.fromstring(admin_client(blog).get("/").content)
    anonymous_home = lxml.html.fromstring(anonymous_client(blog).get("/").content)

    assert admin_home.find_class("pending-count")[0].text_content() == "(3 pending)"
    assert anonymous_home.find_class("pending-count") == []


# 10,000 rows ------------------------------------------------------------------------------


ROWS = 10_000


def fill_queue(blog: Any) -> None:
    """10,000 pending rows, three per second of created_at, so paging must break ties by id."""
    start = utcnow() - timedelta(days=2)
    with blog.app.app_context():
        model = blog.app.extensions["linkback"].models.IncomingLinkback
        db.session.execute(
            sa.insert(model),
            [
                {
                    "kind": "pingback",
                    "source_url": f"http://spam{n % 97}.example/{n}",
                    "source_key": f"http://spam{n % 97}.example/{n}",
                    "source_host": f"spam{n % 97}.example",
                    "target_url": blog.post_url("target"),
                    "post_id": "1",
                    "title": f"Row {n}",
                    "excerpt": "[…] text […]",
                    "status": "pending",
                    "reason": "held",
                    "created_at": start + timedelta(seconds=n // 3),
                    "updated_at": start,
                }
                for n in range(ROWS)
            ],
        )
        db.session.commit()


def test_first_page_of_ten_thousand_rows_takes_a_bounded_number_of_queries(blog):
    blog.add_post("target")
    fill_queue(blog)
    client = admin_client(blog)

    with blog.counted_queries() as statements:
        response = client.get(f"{QUEUE}/pending")

    assert response.status_code == 200
    root = lxml.html.fromstring(response.content)
    assert len(root.find_class("linkback-row")) == 50
    assert (
        root.find_class("linkback-row")[0].find_class("source")[0].text_content()
        == f"Row {ROWS - 1}"
    )
    assert root.get_element_by_id("tab-pending").text_content().split() == ["Pending", "(10000)"]
    # The rows, the per-tab counts, the per-post counts, the host's post (one lookup per post
    # on the page, for its title) and the blog's pending count in its navigation.
    assert len(statements) <= 5, statements


def test_older_pages_continue_where_the_last_one_ended_without_gaps(app_config, request):
    app_config["LINKBACK_ADMIN_PAGE_SIZE"] = 700
    blog = request.getfixturevalue("blog")
    blog.add_post("target")
    fill_queue(blog)
    client = admin_client(blog)

    seen: list[int] = []
    path = f"{QUEUE}/pending"
    while path:
        root = page(client, path)
        seen += [int(r.get("id").rsplit("-", 1)[1]) for r in root.find_class("linkback-row")]
        older = root.find_class("older")
        path = older[0].get("href") if older else None

    assert len(seen) == ROWS
    assert seen == sorted(seen, reverse=True)  # newest first; ties broken by id


def test_every_admin_page_refuses_to_be_framed(blog, source_site):
    rows = three_pings(blog, source_site)
    client = admin_client(blog)
    token = page(client, f"{QUEUE}/pending").xpath("//input[@name='csrf_token']/@value")[0]

    answers = {
        "index": client.get("/linkback-admin/"),
        **{tab: client.get(f"{QUEUE}/{tab}") for tab in ("pending", "approved", "spam")},
        "settings": client.get("/linkback-admin/settings"),
        "unknown tab": client.get(f"{QUEUE}/deleted"),
        "moderate": client.post(
            MODERATE, data={"csrf_token": token, "action": "spam", "ids": [str(rows[0].id)]}
        ),
        "anonymous": anonymous_client(blog).get(f"{QUEUE}/pending"),
    }

    assert {name: answer.status_code for name, answer in answers.items()} == {
        "index": 302,
        "pending": 200,
        "approved": 200,
        "spam": 200,
        "settings": 200,
        "unknown tab": 404,
        "moderate": 302,
        "anonymous": 302,
    }
    for name, answer in answers.items():
        assert answer.headers.get("X-Frame-Options") == "DENY", name
        assert "frame-ancestors 'none'" in answer.headers.get("Content-Security-Policy", ""), name
    # The host's own pages are the host's business.
    assert "X-Frame-Options" not in requests.get(blog.post_url("post-0"), timeout=10).headers

"""The queue as a WordPress owner expects it: Trash with undo, delete only after asking,
empty Trash/Spam, search, filters, post titles and counts, and the editor's list."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import lxml.html
import requests
import sqlalchemy as sa
from admin_support import (
    MODERATE,
    QUEUE,
    admin_client,
    csrf_token,
    moderate,
    page,
    ping,
    post_settings,
    press,
    queue_rows,
)

from example_blog.extensions import db
from flask_linkback.models import utcnow


def add_rows(blog: Any, *rows: dict[str, Any]) -> list[int]:
    """Store linkbacks directly (as verified pings would be); returns their ids."""
    start = utcnow() - timedelta(hours=1)
    with blog.app.app_context():
        model = blog.app.extensions["linkback"].models.IncomingLinkback
        ids = []
        for n, fields in enumerate(rows):
            source = fields.pop("source", f"http://site{n}.example/post-{n}")
            row = model(kind=fields.pop("kind", "pingback"), source_url=source, source_key=source,
                        source_host=source.split("/")[2], target_url=fields.pop("target_url"),
                        post_id=fields.pop("post_id"), status=fields.pop("status", "pending"),
                        reason="held", created_at=start + timedelta(minutes=n), **fields)
            db.session.add(row)
            db.session.commit()
            ids.append(row.id)
        return ids


def status_of(blog: Any) -> dict[int, str]:
    return {row.id: row.status for row in blog.linkbacks()}


def flash_and_undo(client: Any, tab: str = "pending") -> tuple[str, lxml.html.HtmlElement | None]:
    root = page(client, f"{QUEUE}/{tab}")
    forms = root.xpath("//div[contains(@class, 'undo')]//form")
    return root.text_content(), (forms[0] if forms else None)


# Trash -------------------------------------------------------------------------------------


def test_trash_hides_an_approved_linkback_and_undo_brings_it_back_approved(blog, source_site):
    blog.add_post("post", title="A post")
    ping(blog, source_site.linking_page("/r", blog.post_url("post"), title="Kind words"),
         blog.post_url("post"))
    [row] = blog.linkbacks()
    client = admin_client(blog)
    moderate(client, "approve", [row.id])
    assert "Kind words" in requests.get(blog.post_url("post"), timeout=10).text

    assert press(client, "trash", row.id, tab="approved").status_code == 302

    assert status_of(blog) == {row.id: "trash"}
    assert "Kind words" not in requests.get(blog.post_url("post"), timeout=10).text
    text, undo = flash_and_undo(client, "approved")
    assert "Moved 1 linkback to the Trash." in text
    assert undo is not None
    assert client.post(MODERATE, data=list(undo.form_values())).status_code == 302
    assert status_of(blog) == {row.id: "approved"}
    assert "Kind words" in requests.get(blog.post_url("post"), timeout=10).text


def test_the_undo_offer_is_shown_once(blog, source_site):
    post = blog.add_post("post")
    [ident] = add_rows(blog, {"target_url": blog.post_url("post"), "post_id": str(post.id)})
    client = admin_client(blog)
    press(client, "trash", ident)

    assert flash_and_undo(client)[1] is not None
    assert flash_and_undo(client)[1] is None


def test_restore_from_the_trash_tab_puts_each_row_back_where_it_was(blog):
    post = blog.add_post("post")
    target = {"target_url": blog.post_url("post"), "post_id": str(post.id)}
    pending, spam = add_rows(blog, dict(target), dict(target, status="spam"))
    client = admin_client(blog)
    moderate(client, "trash", [pending])
    moderate(client, "trash", [spam], tab="spam")
    assert sorted(queue_rows(client, "trash")) == sorted([pending, spam])

    moderate(client, "untrash", [pending, spam], tab="trash")

    assert status_of(blog) == {pending: "pending", spam: "spam"}
    assert queue_rows(client, "trash") == []


def test_delete_for_good_asks_on_a_page_of_its_own_first(blog):
    post = blog.add_post("post")
    [ident] = add_rows(blog, {"target_url": blog.post_url("post"), "post_id": str(post.id),
                              "status": "spam", "title": "Cheap pills"})
    client = admin_client(blog)

    asked = press(client, "delete", ident, tab="spam")

    assert asked.status_code == 200
    root = lxml.html.fromstring(asked.content)
    assert "Delete 1 linkback for good?" in root.text_content()
    assert "Cheap pills" in root.text_content()
    assert root.xpath("//a[contains(@class, 'cancel')]/@href") == [f"{QUEUE}/spam"]
    assert status_of(blog) == {ident: "spam"}
    confirm = root.xpath("//form[.//button[contains(@class, 'confirm-delete')]]")[0]
    assert client.post(MODERATE, data=list(confirm.form_values())).status_code == 302
    assert blog.linkbacks() == []


def test_empty_trash_and_empty_spam_ask_then_delete_only_that_folder(blog):
    post = blog.add_post("post")
    target = {"target_url": blog.post_url("post"), "post_id": str(post.id)}
    kept, spam1, spam2, trashed = add_rows(blog, dict(target), dict(target, status="spam"),
                                           dict(target, status="spam"),
                                           dict(target, status="trash"))
    client = admin_client(blog)

    for folder, gone in (("spam", {spam1, spam2}), ("trash", {trashed})):
        before = set(status_of(blog))
        button = page(client, f"{QUEUE}/{folder}").xpath(
            "//form[contains(@class, 'empty-folder')]"
        )[0]
        asked = client.post("/linkback-admin/empty", data=list(button.form_values()))
        assert asked.status_code == 200
        assert set(status_of(blog)) == before  # nothing deleted yet
        confirm = lxml.html.fromstring(asked.content).xpath(
            "//form[.//button[contains(@class, 'confirm-empty')]]"
        )[0]
        assert (
            client.post("/linkback-admin/empty", data=list(confirm.form_values())).status_code
            == 302
        )
        assert set(status_of(blog)) == before - gone

    assert status_of(blog) == {kept: "pending"}


def test_emptying_without_the_csrf_token_is_refused(blog):
    post = blog.add_post("post")
    add_rows(blog, {"target_url": blog.post_url("post"), "post_id": str(post.id), "status": "spam"})
    client = admin_client(blog)

    refused = client.post("/linkback-admin/empty", data={"status": "spam", "confirmed": "y"})

    assert refused.status_code == 400
    assert len(blog.linkbacks()) == 1


# Search and filters --------------------------------------------------------------------------


def test_search_finds_source_title_and_excerpt_and_takes_percent_and_underscore_literally(blog):
    post = blog.add_post("post")
    target = {"target_url": blog.post_url("post"), "post_id": str(post.id)}
    by_title, by_excerpt, by_url, other, underscore = add_rows(
        blog,
        dict(target, title="100% agree with this"),
        dict(target, title="A reply", excerpt="I give it 100 percent"),
        dict(target, source="http://percent.example/sure", title="Sure"),
        dict(target, title="Nothing like it"),
        dict(target, title="snake_case names"),
    )
    client = admin_client(blog)

    assert set(queue_rows(client, query="?q=100%25")) == {by_title}
    assert set(queue_rows(client, query="?q=percent")) == {by_excerpt, by_url}
    assert set(queue_rows(client, query="?q=e_c")) == {underscore}
    assert set(queue_rows(client, query="?q=AGREE")) == {by_title}
    assert other not in queue_rows(client, query="?q=100")
    root = page(client, f"{QUEUE}/pending?q=nothing+at+all")
    assert "No pending linkbacks match these filters." in root.text_content()


def test_filters_by_kind_type_and_post_keep_to_every_tab_link(blog):
    one, two = blog.add_post("one", title="First post"), blog.add_post("two", title="Second post")
    at_one = {"target_url": blog.post_url("one"), "post_id": str(one.id)}
    ping_one, reply_one, like_two, spam_reply = add_rows(
        blog,
        dict(at_one),
        dict(at_one, kind="webmention", mention_type="reply"),
        {
            "target_url": blog.post_url("two"),
            "post_id": str(two.id),
            "kind": "webmention",
            "mention_type": "like",
        },
        dict(at_one, kind="webmention", mention_type="reply", status="spam"),
    )
    client = admin_client(blog)

    assert set(queue_rows(client, query="?kind=webmention")) == {reply_one, like_two}
    assert set(queue_rows(client, query="?type=reply")) == {reply_one}
    assert set(queue_rows(client, query=f"?post={one.id}")) == {ping_one, reply_one}
    assert set(queue_rows(client, query=f"?post={one.id}&kind=webmention")) == {reply_one}
    assert set(queue_rows(client, query="?kind=gopher")) == {ping_one, reply_one, like_two}

    root = page(client, f"{QUEUE}/pending?type=reply")
    assert root.get_element_by_id("tab-pending").text_content().split() == ["Pending", "(1)"]
    spam_tab = root.get_element_by_id("tab-spam")
    assert spam_tab.text_content().split() == ["Spam", "(1)"]
    assert set(queue_rows(client, "spam", "?" + spam_tab.get("href").split("?", 1)[1])) == {
        spam_reply
    }
    menu = root.xpath("//select[@name='post']/option/text()")
    assert "First post" in menu


def test_queue_names_the_post_by_title_with_its_counts(blog):
    post = blog.add_post("post", title="Why I like trains")
    target = {"target_url": blog.post_url("post"), "post_id": str(post.id)}
    pending, _, _ = add_rows(
        blog, dict(target), dict(target, status="approved"), dict(target, status="approved")
    )
    root = page(admin_client(blog), f"{QUEUE}/pending")

    row = root.get_element_by_id(f"linkback-row-{pending}")
    target_link = row.find_class("target")[0]
    assert target_link.text_content() == "Why I like trains"
    assert target_link.get("href") == blog.post_url("post")
    counts = row.find_class("post-counts")[0]
    assert counts.text_content().split() == ["2", "approved", "·", "1", "pending"]
    assert counts.get("href") == f"{QUEUE}/pending?post={post.id}"


def test_the_post_editor_lists_the_linkbacks_it_received_without_the_trashed(blog):
    post, other = blog.add_post("post"), blog.add_post("other")
    ids = add_rows(
        blog,
        {"target_url": blog.post_url("post"), "post_id": str(post.id), "title": "Held one"},
        {
            "target_url": blog.post_url("post"),
            "post_id": str(post.id),
            "title": "Good one",
            "status": "approved",
        },
        {
            "target_url": blog.post_url("post"),
            "post_id": str(post.id),
            "title": "Binned",
            "status": "trash",
        },
        {"target_url": blog.post_url("other"), "post_id": str(other.id), "title": "Elsewhere"},
    )
    root = page(admin_client(blog), f"/admin/posts/{post.id}/edit")

    table = root.find_class("received")[0]
    assert [a.text_content() for a in table.xpath(".//td[1]/a")] == ["Good one", "Held one"]
    assert [td.text_content() for td in table.xpath(".//td[3]")] == ["approved", "pending"]
    assert root.find_class("moderate-post")[0].get("href") == f"{QUEUE}/pending?post={post.id}"
    assert ids


# The moderation word list -------------------------------------------------------------------


def test_a_held_word_holds_a_ping_from_a_trusted_site_without_calling_it_spam(blog, source_site):
    blog.add_post("target")
    client = admin_client(blog)
    assert (
        post_settings(client, held_words="Crypto\ncrypto", trusted_hosts="127.0.0.1").status_code
        == 302
    )
    assert (
        page(client, "/linkback-admin/settings")
        .get_element_by_id("held_words")
        .text_content()
        .strip()
        == "crypto"
    )

    ping(
        blog,
        source_site.linking_page("/r", blog.post_url("target"), text="my CRYPTO diary links"),
        blog.post_url("target"),
    )

    [row] = blog.linkbacks()
    assert (row.status, row.reason) == (
        "pending",
        "the source contains 'crypto', on the moderation word list",
    )


def test_moderate_without_csrf_token_is_refused_for_trash_too(blog):
    post = blog.add_post("post")
    [ident] = add_rows(blog, {"target_url": blog.post_url("post"), "post_id": str(post.id)})
    client = admin_client(blog)
    csrf_token(client, f"{QUEUE}/pending")

    refused = client.post(MODERATE, data={"action": "trash", "ids": [str(ident)]})

    assert refused.status_code == 400
    assert status_of(blog) == {ident: "pending"}


def test_old_rows_without_trash_columns_still_list(blog):
    post = blog.add_post("post")
    [ident] = add_rows(blog, {"target_url": blog.post_url("post"), "post_id": str(post.id)})
    with blog.app.app_context():
        model = blog.app.extensions["linkback"].models.IncomingLinkback
        db.session.execute(sa.update(model).values(trashed_at=None, trashed_from=None))
        db.session.commit()
    client = admin_client(blog)
    moderate(client, "trash", [ident])
    # A row trashed by hand (no remembered status) comes back as pending.
    with blog.app.app_context():
        db.session.execute(sa.update(model).values(trashed_from=None))
        db.session.commit()
    moderate(client, "untrash", [ident], tab="trash")
    assert status_of(blog) == {ident: "pending"}


def test_the_admin_stylesheet_is_served_by_the_blueprint_and_linked_from_every_page(blog):
    client = admin_client(blog)
    for path in (f"{QUEUE}/pending", "/linkback-admin/settings"):
        [href] = page(client, path).xpath("//link[@rel='stylesheet']/@href")
        assert href == "/linkback-admin/static/admin.css"
    sheet = client.get("/linkback-admin/static/admin.css")

    assert sheet.status_code == 200
    assert sheet.headers["Content-Type"].startswith("text/css")
    assert ":focus-visible" in sheet.text

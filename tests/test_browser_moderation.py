"""The owner's moderation screens in a real headless Chromium, on a desktop and a phone:
search, filters, trash and undo, the settings form, the editor's list; screenshots of each
go to test-output/ (queue, settings and editor, desktop and 390x844)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from test_admin_trash_and_search import add_rows
from test_browser_admin import OUTPUT, browser  # noqa: F401 - the Chromium fixture

from flask_linkback import current_settings

DESKTOP = {"width": 1200, "height": 800}
PHONE = {"width": 390, "height": 844}


def log_in(tab: Any, blog: Any) -> None:
    tab.goto(f"{blog.url}/admin/login")
    tab.fill("input[name=username]", blog.app.config["BLOG_ADMIN_USER"])
    tab.fill("input[name=password]", blog.app.config["BLOG_ADMIN_PASSWORD"])
    tab.click("text=Log in >> nth=-1")
    tab.wait_for_url(f"{blog.url}/admin/")


@pytest.fixture
def open_tab(browser: Any) -> Iterator[Any]:  # noqa: F811 - the imported fixture
    contexts: list[Any] = []

    def make(viewport: dict[str, int], **options: Any) -> Any:
        context = browser.new_context(viewport=viewport, **options)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        return page

    yield make
    for context in contexts:
        context.close()


def sample_queue(blog: Any) -> dict[str, Any]:
    trains = blog.add_post("trains", title="Why I like trains")
    bikes = blog.add_post("bikes", title="A bicycle diary")
    at_trains = {"target_url": blog.post_url("trains"), "post_id": str(trains.id)}
    at_bikes = {"target_url": blog.post_url("bikes"), "post_id": str(bikes.id)}
    ids = add_rows(
        blog,
        dict(
            at_trains,
            title="Steam engines and me",
            excerpt="[…] as the post on trains says […]",
            source="http://rails.example/steam",
        ),
        dict(
            at_trains,
            kind="webmention",
            mention_type="reply",
            title="Re: trains",
            author_name="Ada",
            excerpt="Trains are slow, but I agree.",
            source="http://ada.example/re",
        ),
        dict(
            at_bikes,
            kind="trackback",
            title="Two wheels good",
            blog_name="Cycling weekly",
            excerpt="A long and winding road of a sentence that goes on for a while to see "
                    "wrapping.",
            source="http://cycling.example/2026/12/01/two-wheels-good-a-very-long-url-that-must-wrap",
        ),
        dict(
            at_bikes,
            kind="webmention",
            mention_type="like",
            title="Liked it",
            source="http://bob.example/l",
        ),
    )
    return {"trains": trains, "bikes": bikes, "ids": ids}


def row_ids(tab: Any) -> list[int]:
    return [
        int(element.get_attribute("id").rsplit("-", 1)[1])
        for element in tab.locator(".linkback-row").element_handles()
    ]


def no_sideways_scroll(tab: Any) -> bool:
    return tab.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_search_filters_and_trash_with_undo_in_the_browser(blog, open_tab):
    data = sample_queue(blog)
    steam, reply, trackback, like = data["ids"]
    tab = open_tab(DESKTOP)
    log_in(tab, blog)
    tab.goto(f"{blog.url}/linkback-admin/queue/pending")
    assert sorted(row_ids(tab)) == sorted(data["ids"])
    assert tab.locator(f"#linkback-row-{steam} a.target").inner_text() == "Why I like trains"
    OUTPUT.mkdir(exist_ok=True)
    tab.screenshot(path=str(OUTPUT / "queue-desktop.png"), full_page=True)

    # Search: the labelled box, then the Filter button.
    tab.get_by_label("Search source, title and excerpt").fill("trains")
    tab.click("button.apply-filters")
    tab.wait_for_url("**q=trains**")
    assert sorted(row_ids(tab)) == sorted([steam, reply])

    # Narrow to webmentions, then to a post through the menu.
    tab.get_by_label("Kind").select_option("webmention")
    tab.click("button.apply-filters")
    tab.wait_for_url("**kind=webmention**")
    assert row_ids(tab) == [reply]
    tab.click("a.clear-filters")
    tab.get_by_label("Post").select_option(label="A bicycle diary")
    tab.click("button.apply-filters")
    tab.wait_for_url(f"**post={data['bikes'].id}**")
    assert sorted(row_ids(tab)) == sorted([trackback, like])
    tab.get_by_label("Type").select_option("like")
    tab.click("button.apply-filters")
    tab.wait_for_url("**type=like**")
    assert row_ids(tab) == [like]

    # Trash the like, then undo it: the filters stay on.
    tab.click(f"#linkback-row-{like} button.action-trash")
    tab.wait_for_selector("text=Moved 1 linkback to the Trash.")
    assert row_ids(tab) == []
    assert "type=like" in tab.url
    assert {r.id: r.status for r in blog.linkbacks()}[like] == "trash"
    tab.click("button.undo-trash")
    tab.wait_for_selector("text=Restored 1 linkback from the Trash.")
    assert row_ids(tab) == [like]
    assert {r.id: r.status for r in blog.linkbacks()}[like] == "pending"

    # Trash two in bulk, look in the Trash, and empty it after the confirmation page.
    tab.click("a.clear-filters")
    tab.check(f"#linkback-row-{steam} input[name=ids]")
    tab.check(f"#linkback-row-{like} input[name=ids]")
    tab.get_by_label("With the selected:").select_option("trash")
    tab.click("button.apply-bulk")
    tab.wait_for_selector("text=Moved 2 linkbacks to the Trash.")
    tab.click("#tab-trash")
    assert sorted(row_ids(tab)) == sorted([steam, like])
    tab.click("button.empty-trash")
    tab.wait_for_selector("text=Empty Trash?")
    assert len(blog.linkbacks()) == 4
    tab.click("button.confirm-empty")
    tab.wait_for_selector("text=Emptied Trash: deleted 2 linkbacks for good.")
    assert sorted(r.id for r in blog.linkbacks()) == sorted([reply, trackback])


def test_settings_save_in_the_browser_and_the_pages_look_right_on_desktop_and_phone(blog, open_tab):
    data = sample_queue(blog)
    for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        tab = open_tab(
            viewport, **({"is_mobile": True, "has_touch": True} if name == "phone" else {})
        )
        log_in(tab, blog)

        tab.goto(f"{blog.url}/linkback-admin/settings")
        assert no_sideways_scroll(tab), f"the settings page scrolls sideways on {name}"
        if name == "desktop":
            # This branch's own new fields (the notification settings come with another change).
            tab.get_by_label("Close pingbacks on posts older than (days; 0: never)").fill("30")
            tab.get_by_label("Hold for moderation", exact=False).fill("crypto\nforex")
            tab.click("button:has-text('Save changes')")
            tab.wait_for_selector("text=Settings saved.")
            assert (
                tab.get_by_label(
                    "Close pingbacks on posts older than (days; 0: never)"
                ).input_value()
                == "30"
            )
            with blog.app.app_context():
                settings = current_settings()
            assert (settings.close_pingbacks_after_days, settings.held_words) == (
                30,
                ("crypto", "forex"),
            )
        tab.screenshot(path=str(OUTPUT / f"settings-{name}.png"), full_page=True)

        tab.goto(f"{blog.url}/linkback-admin/queue/pending")
        assert no_sideways_scroll(tab), f"the queue scrolls sideways on {name}"
        first = tab.locator(".linkback-row").first
        approve = first.locator("button.action-approve")
        box, width = approve.bounding_box(), viewport["width"]
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width
        if name == "phone":
            # One card per linkback: the row is as wide as the screen allows, the header gone.
            assert tab.locator("thead").is_hidden()
            assert first.bounding_box()["width"] <= width
        tab.screenshot(path=str(OUTPUT / f"queue-{name}.png"), full_page=True)

        # Keyboard focus is visible: tab to the first link of the admin navigation.
        tab.focus(".linkback-nav a")
        outline = tab.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        tab.keyboard.press("Tab")
        tab.keyboard.press("Shift+Tab")
        outline = tab.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline not in ("none", ""), outline

        tab.goto(f"{blog.url}/admin/posts/{data['trains'].id}/edit")
        assert no_sideways_scroll(tab), f"the editor scrolls sideways on {name}"
        received = tab.locator("table.received")
        assert "Steam engines and me" in received.inner_text()
        assert "Re: trains" in received.inner_text()
        tab.screenshot(path=str(OUTPUT / f"editor-{name}.png"), full_page=True)


def test_every_admin_page_has_the_same_width(blog, open_tab):
    sample_queue(blog)
    tab = open_tab(DESKTOP)
    log_in(tab, blog)
    widths = {}
    for path in (
        "/admin/",
        "/linkback-admin/queue/pending",
        "/linkback-admin/queue/trash",
        "/linkback-admin/settings",
        "/admin/posts/1/edit",
    ):
        tab.goto(blog.url + path)
        widths[path] = tab.evaluate("document.querySelector('main').getBoundingClientRect().width")
    assert len(set(widths.values())) == 1, widths

"""The admin's day in a real headless Chromium: close pings, reopen them, approve a pingback.

Uses Debian's ``chromium`` driven by Playwright for Python (never Playwright's
own browser download). Without a browser the test is skipped with a message,
unless LINKBACK_REQUIRE_BROWSER=1 (as ``scripts/run-tests`` sets), where a
missing browser fails the run.
"""

from __future__ import annotations

import os
import shutil
import xmlrpc.client
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from admin_support import ping

CHROMIUM = os.environ.get("LINKBACK_CHROMIUM", "/usr/bin/chromium")
REQUIRE_BROWSER = os.environ.get("LINKBACK_REQUIRE_BROWSER") == "1"
OUTPUT = Path(__file__).resolve().parent.parent / "test-output"


def _browser_problem() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install -e '.[test]')"
    if not (os.path.isfile(CHROMIUM) or shutil.which(CHROMIUM)):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium, or set LINKBACK_CHROMIUM)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    problem = _browser_problem()
    if problem:
        if REQUIRE_BROWSER:
            pytest.fail(f"browser test required but cannot run: {problem}")
        pytest.skip(f"browser test skipped: {problem}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def tab(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        yield page
    finally:
        context.close()


def test_admin_closes_and_reopens_pings_then_approves_a_pingback_in_the_queue(
    blog, source_site, tab
):
    post = blog.add_post("open-post", title="An open post")
    source = source_site.linking_page(
        "/answer", blog.post_url("open-post"), title="My answer", text="I read and answered"
    )

    # Log in through the blog's own form.
    tab.goto(f"{blog.url}/admin/login")
    tab.fill("input[name=username]", blog.app.config["BLOG_ADMIN_USER"])
    tab.fill("input[name=password]", blog.app.config["BLOG_ADMIN_PASSWORD"])
    tab.click("text=Log in >> nth=-1")
    tab.wait_for_url(f"{blog.url}/admin/")

    # Turn incoming pings off for the post: a pingback is refused with fault 33.
    tab.goto(f"{blog.url}/admin/posts/{post.id}/edit")
    tab.uncheck("input[name=pings_open]")
    tab.click("button:has-text('Save')")
    tab.wait_for_selector("text=Saved.")
    with pytest.raises(xmlrpc.client.Fault) as refused:
        ping(blog, source, blog.post_url("open-post"))
    assert refused.value.faultCode == 33
    assert blog.linkbacks() == []

    # Turn them on again: the pingback arrives, pending.
    tab.check("input[name=pings_open]")
    tab.click("button:has-text('Save')")
    tab.wait_for_selector("text=Saved.")
    ping(blog, source, blog.post_url("open-post"))
    [row] = blog.linkbacks()
    assert row.status == "pending"

    # The admin sees the pending count, opens the queue and approves it.
    tab.goto(f"{blog.url}/")
    assert tab.inner_text(".pending-count") == "(1 pending)"
    tab.click("a.pending-linkbacks")
    queue_row = tab.locator(f"#linkback-row-{row.id}")
    assert "My answer" in queue_row.inner_text()
    assert "held for moderation" in queue_row.inner_text()
    OUTPUT.mkdir(exist_ok=True)
    tab.screenshot(path=str(OUTPUT / "moderation-queue.png"), full_page=True)
    queue_row.locator("button.action-approve").click()
    tab.wait_for_selector("text=Approved 1 linkback.")
    assert tab.locator(".linkback-row").count() == 0

    # It appears below the post.
    tab.goto(blog.post_url("open-post"))
    link = tab.locator(".linkback-list .linkback-source")
    assert link.inner_text() == "My answer"
    assert link.get_attribute("href") == source
    assert blog.linkbacks()[0].status == "approved"

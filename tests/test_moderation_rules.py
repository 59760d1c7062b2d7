"""Each spam and moderation rule, through real pings, with the reason the admin sees."""

from __future__ import annotations

import xmlrpc.client
from collections.abc import Iterator
from typing import Any

import lxml.html
import pytest
import requests
from admin_support import admin_client, ping, post_settings

from example_blog.extensions import linkback
from flask_linkback import Candidate, PostInfo, Status, current_settings
from flask_linkback.inbound import rules
from flask_linkback.settings import save_settings


def only_row(blog: Any) -> Any:
    [row] = blog.linkbacks()
    return row


def configure(request: pytest.FixtureRequest, app_config: dict[str, Any], **config: Any) -> Any:
    app_config.update(config)
    return request.getfixturevalue("blog")


def change_settings(blog: Any, **changes: Any) -> None:
    with blog.app.test_request_context():
        save_settings(**changes)


def links_page(target: str, *, others: int, prose: str = "", list_items: bool = True) -> str:
    """A page whose target link sits among ``others`` other links."""
    links = [
        f'<a href="https://example.org/response/{n}">Response number {n}</a>' for n in range(others)
    ]
    links.insert(others // 2, f'<a href="{target}">Response about this</a>')
    if list_items:
        body = "<ul>" + "".join(f"<li>{link}{prose}</li>" for link in links) + "</ul>"
    else:
        body = "<p>" + " ".join(f"{prose} {link}" for link in links) + "</p>"
    return f"<!doctype html><html><head><title>Links</title></head><body>{body}</body></html>"


# Blocklists ---------------------------------------------------------------------------


def test_blocklisted_source_host_is_stored_as_spam_with_the_reason(
    app_config, request, source_site
):
    blog = configure(request, app_config, LINKBACK_BLOCKED_HOSTS=["127.0.0.1"])
    blog.add_post("target")

    ping(blog, source_site.linking_page("/reply", blog.post_url("target")), blog.post_url("target"))

    row = only_row(blog)
    assert row.status == Status.SPAM.value
    assert row.reason == "the source host 127.0.0.1 is on the blocklist (127.0.0.1)"


@pytest.mark.parametrize(
    "host, blocked",
    [
        ("spam.example", True),
        ("www.spam.example", True),
        ("notspam.example", False),
        ("spam.example.org", False),
        ("other.example", False),
    ],
)
def test_blocklisted_host_covers_its_subdomains_only(blog, host, blocked):
    change_settings(blog, blocked_hosts=("spam.example",))
    candidate = Candidate(
        kind="pingback",
        source_url=f"http://{host}/p",
        source_host=host,
        post=PostInfo(id="1", url=blog.post_url("x"), title="x"),
        evidence=None,
        local_source=False,
        sender_ip="192.0.2.1",
    )

    with blog.app.test_request_context():
        verdict = rules.blocked_host(candidate)

    assert (verdict is not None and verdict.status == Status.SPAM) is blocked


def test_blocklisted_sender_ip_is_spam(blog):
    change_settings(blog, blocked_hosts=("192.0.2.7",))
    candidate = Candidate(
        kind="pingback",
        source_url="http://fine.example/p",
        source_host="fine.example",
        post=PostInfo(id="1", url=blog.post_url("x"), title="x"),
        evidence=None,
        local_source=False,
        sender_ip="192.0.2.7",
    )

    with blog.app.test_request_context():
        verdict = rules.blocked_host(candidate)

    assert verdict.reason == "the sender IP 192.0.2.7 is on the blocklist"


def test_blocklisted_word_in_the_source_page_is_spam(blog, source_site):
    change_settings(blog, blocked_words=("cheap pills",))
    blog.add_post("target")
    source = source_site.linking_page(
        "/reply", blog.post_url("target"), text="Buy CHEAP   pills here, and read"
    )

    ping(blog, source, blog.post_url("target"))

    row = only_row(blog)
    assert (row.status, row.reason) == (
        "spam",
        "the source contains the blocklisted word 'cheap pills'",
    )


def test_blocklisted_word_in_a_trackback_title_is_spam(blog, source_site):
    change_settings(blog, blocked_words=("casino",))
    post = blog.add_post("target")
    source = source_site.linking_page("/reply", blog.post_url("target"))

    response = requests.post(
        f"{blog.url}/trackback/{post.id}",
        timeout=10,
        data={"url": source, "title": "Best Casino bonus", "blog_name": "B"},
    )

    assert b"<error>0</error>" in response.content
    assert only_row(blog).reason == "the source contains the blocklisted word 'casino'"


def test_a_blocklist_saved_in_the_admin_form_applies_to_the_next_ping(blog, source_site):
    blog.add_post("target")
    client = admin_client(blog)
    assert post_settings(client, blocked_words="casino").status_code == 302

    ping(
        blog,
        source_site.linking_page("/reply", blog.post_url("target"), text="casino news on"),
        blog.post_url("target"),
    )

    assert only_row(blog).status == Status.SPAM.value


# Links ---------------------------------------------------------------------------------


def test_source_with_more_links_than_the_maximum_is_held(app_config, request, source_site):
    blog = configure(request, app_config, LINKBACK_MODERATION="none", LINKBACK_MAX_LINKS=10)
    blog.add_post("target")
    source = source_site.page(
        "/many",
        links_page(
            blog.post_url("target"), others=10, prose=" is a long sentence of my own about it."
        ),
    )

    ping(blog, source, blog.post_url("target"))

    row = only_row(blog)
    assert (row.status, row.reason) == ("pending", "the source has 11 links (more than 10)")


def test_source_with_links_up_to_the_maximum_passes(app_config, request, source_site):
    blog = configure(request, app_config, LINKBACK_MODERATION="none", LINKBACK_MAX_LINKS=11)
    blog.add_post("target")
    source = source_site.page(
        "/many",
        links_page(
            blog.post_url("target"), others=10, prose=" is a long sentence of my own about it."
        ),
    )

    ping(blog, source, blog.post_url("target"))

    assert only_row(blog).status == Status.APPROVED.value


def test_max_links_zero_means_no_limit(app_config, request, source_site):
    blog = configure(request, app_config, LINKBACK_MODERATION="none", LINKBACK_MAX_LINKS=0)
    blog.add_post("target")
    source = source_site.page(
        "/many",
        links_page(
            blog.post_url("target"), others=300, prose=" is a long sentence of my own about it."
        ),
    )

    ping(blog, source, blog.post_url("target"))

    assert only_row(blog).status == Status.APPROVED.value


def test_link_list_ping_is_held_as_a_link_list(app_config, request, source_site):
    blog = configure(request, app_config, LINKBACK_MODERATION="none")
    blog.add_post("target")
    source = source_site.page("/list", links_page(blog.post_url("target"), others=20))

    ping(blog, source, blog.post_url("target"))

    row = only_row(blog)
    assert row.status == Status.PENDING.value
    assert row.reason == (
        "a link list: the source lists this link among 21 links with no text of its own around it"
    )


@pytest.mark.parametrize(
    "page",
    [
        pytest.param(
            {
                "others": 20,
                "prose": " — I disagree with most of this, for three reasons.",
                "list_items": True,
            },
            id="list-with-prose-per-item",
        ),
        pytest.param(
            {
                "others": 20,
                "prose": "and then, as the writer argued at length,",
                "list_items": False,
            },
            id="paragraph-of-prose",
        ),
        pytest.param({"others": 3, "prose": ""}, id="short-list"),
    ],
)
def test_link_among_prose_or_in_a_short_list_is_not_a_link_list(
    app_config, request, source_site, page
):
    blog = configure(request, app_config, LINKBACK_MODERATION="none")
    blog.add_post("target")
    source = source_site.page("/page", links_page(blog.post_url("target"), **page))

    ping(blog, source, blog.post_url("target"))

    assert only_row(blog).status == Status.APPROVED.value


# The settings that hold or approve -------------------------------------------------------


def test_trusted_site_is_approved_on_its_first_ping(blog, source_site):
    change_settings(blog, trusted_hosts=("127.0.0.1",))
    blog.add_post("target")

    ping(blog, source_site.linking_page("/reply", blog.post_url("target")), blog.post_url("target"))

    row = only_row(blog)
    assert (row.status, row.reason) == ("approved", "127.0.0.1 is a trusted site")


def test_hold_all_holds_even_a_previously_approved_site(blog, source_site):
    blog.add_post("first")
    blog.add_post("second")
    ping(blog, source_site.linking_page("/a", blog.post_url("first")), blog.post_url("first"))
    change_settings(blog, hold_all=True)
    with blog.app.app_context():
        row = blog.app.extensions["linkback"].models.IncomingLinkback.query.one()
        linkback.set_status(row, Status.APPROVED)

    ping(blog, source_site.linking_page("/b", blog.post_url("second")), blog.post_url("second"))

    second = blog.linkbacks()[-1]
    assert (second.status, second.reason) == ("pending", "every linkback is held for moderation")


def test_previously_approved_sites_wait_when_that_setting_is_off(blog, source_site):
    blog.add_post("first")
    blog.add_post("second")
    ping(blog, source_site.linking_page("/a", blog.post_url("first")), blog.post_url("first"))
    with blog.app.app_context():
        row = blog.app.extensions["linkback"].models.IncomingLinkback.query.one()
        linkback.set_status(row, Status.APPROVED)
    change_settings(blog, approve_known_sources=False)

    ping(blog, source_site.linking_page("/b", blog.post_url("second")), blog.post_url("second"))

    assert blog.linkbacks()[-1].status == Status.PENDING.value


def _self_ping(blog: Any) -> Any:
    blog.add_post("older")
    blog.add_post(
        "newer", body=f'<p>See <a href="{blog.post_url("older")}">the older post</a>.</p>'
    )
    ping(blog, blog.post_url("newer"), blog.post_url("older"))
    return only_row(blog)


def test_self_ping_is_approved_without_admin_action_even_when_all_else_is_held(blog):
    change_settings(blog, hold_all=True, approve_known_sources=False)

    row = _self_ping(blog)

    assert (row.status, row.reason) == ("approved", "a link from this site's own post")


def test_self_ping_waits_when_own_pings_are_not_auto_approved(blog):
    change_settings(blog, approve_own=False)

    row = _self_ping(blog)

    assert (row.status, row.reason) == (
        "pending",
        "a link from this site's own post (own pings are held)",
    )


def test_trackback_without_a_link_back_is_accepted_when_the_setting_is_off(blog, source_site):
    post = blog.add_post("target")
    source = source_site.page("/nolink", "<html><body><p>No link here.</p></body></html>")
    url = f"{blog.url}/trackback/{post.id}"

    refused = requests.post(url, data={"url": source, "title": "T"}, timeout=10)
    change_settings(blog, trackback_require_link=False)
    accepted = requests.post(url, data={"url": source, "title": "T"}, timeout=10)

    assert b"does not contain a link" in refused.content
    assert b"<error>0</error>" in accepted.content
    assert source_site.hits("/nolink") == 1  # the second one was not fetched
    assert only_row(blog).title == "T"


# The external spam service ---------------------------------------------------------------


@pytest.fixture
def spam_service() -> Iterator[dict[str, Any]]:
    """Register a spam check on the example blog's extension for one test."""
    calls: dict[str, Any] = {"answer": None, "seen": []}

    def check(candidate: Candidate) -> Any:
        calls["seen"].append(candidate)
        if isinstance(calls["answer"], Exception):
            raise calls["answer"]
        return calls["answer"]

    assert linkback.spam_checker is None, "a spam service is off by default"
    linkback.spam_check(check)
    try:
        yield calls
    finally:
        linkback.spam_checker = None


@pytest.mark.parametrize(
    "answer, status, reason",
    [
        (True, "spam", "the spam service says this is spam"),
        ("known spammer", "spam", "the spam service says: known spammer"),
        (False, "pending", "first linkback from 127.0.0.1: held for moderation"),
        (None, "pending", "first linkback from 127.0.0.1: held for moderation"),
        (
            TimeoutError("service down"),
            "pending",
            "the spam service could not be asked: held for moderation",
        ),
    ],
)
def test_spam_service_verdict_is_used(blog, source_site, spam_service, answer, status, reason):
    spam_service["answer"] = answer
    blog.add_post("target")
    source = source_site.linking_page("/reply", blog.post_url("target"), text="Some thoughts on")

    ping(blog, source, blog.post_url("target"))

    row = only_row(blog)
    assert (row.status, row.reason) == (status, reason)
    [candidate] = spam_service["seen"]
    assert candidate.source_url == source
    assert "Some thoughts on" in candidate.evidence.document.text


def test_blocklist_answers_before_the_spam_service_is_asked(blog, source_site, spam_service):
    change_settings(blog, blocked_hosts=("127.0.0.1",))
    blog.add_post("target")

    ping(blog, source_site.linking_page("/reply", blog.post_url("target")), blog.post_url("target"))

    assert spam_service["seen"] == []


# Posts: defaults and toggles -------------------------------------------------------------


def test_comments_closed_with_pings_open_shows_only_the_pingback_list(
    app_config, request, source_site
):
    blog = configure(request, app_config, LINKBACK_MODERATION="none")
    blog.add_post("quiet", comments_open=False, pings_open=True)

    ping(
        blog,
        source_site.linking_page("/reply", blog.post_url("quiet"), title="An answer"),
        blog.post_url("quiet"),
    )

    html = requests.get(blog.post_url("quiet"), timeout=10).text
    assert "Comments are closed." in html
    assert 'name="body"' not in html  # no comment form
    [source] = lxml.html.fromstring(html).find_class("linkback-source")
    assert source.text_content() == "An answer"
    assert "TrackBack URL for this post" in html


def test_pings_closed_on_a_post_is_fault_33(blog, source_site):
    blog.add_post("closed", pings_open=False)

    with pytest.raises(xmlrpc.client.Fault) as fault:
        ping(blog, source_site.linking_page("/r", blog.post_url("closed")), blog.post_url("closed"))

    assert fault.value.faultCode == 33


@pytest.mark.parametrize("default", [True, False])
def test_new_post_editor_starts_with_the_pings_default(blog, default):
    client = admin_client(blog)
    post_settings(client, pings_open_default="y" if default else None)

    html = client.get("/admin/posts/new").text

    import lxml.html

    [box] = lxml.html.fromstring(html).xpath("//input[@name='pings_open']")
    assert (box.get("checked") is not None) is default
    with blog.app.test_request_context():
        assert current_settings().pings_open_default is default

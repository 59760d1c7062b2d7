"""Incoming Webmention through real HTTP: checks, 202 + status URL, background verification,
microformats, update and delete, and one row per (source, target) across protocols."""

from __future__ import annotations

import threading
import xmlrpc.client
from collections.abc import Iterator
from typing import Any

import lxml.html
import pytest
import requests

from flask_linkback.models import Status

JSON = {"Accept": "application/json"}


class Webmentions:
    """Sends webmentions to the blog over HTTP and waits for their verification."""

    def __init__(self, blog: Any) -> None:
        self.blog = blog
        self.runner = blog.app.extensions["linkback"].inbound

    def send(self, source: str, target: str, **extra: str) -> requests.Response:
        return requests.post(
            self.blog.url + "/webmention",
            data={"source": source, "target": target, **extra},
            allow_redirects=False,
            timeout=10,
        )

    def wait(self) -> None:
        assert self.runner.join(self.blog.app, timeout=15), "webmention verification did not finish"

    def status(self, location: str) -> dict[str, Any]:
        response = requests.get(location, headers=JSON, timeout=10)
        assert response.status_code == 200
        return response.json()

    def requests_stored(self) -> int:
        with self.blog.app.app_context():
            return self.blog.app.extensions["linkback"].models.WebmentionRequest.query.count()

    def post_page(self, slug: str) -> tuple[requests.Response, lxml.html.HtmlElement]:
        response = requests.get(self.blog.post_url(slug), timeout=10)
        return response, lxml.html.fromstring(response.content)


@pytest.fixture
def wm(blog) -> Iterator[Webmentions]:
    helper = Webmentions(blog)
    yield helper
    helper.runner.wait_idle(timeout=15)  # no job may touch the database after the test drops it


@pytest.fixture
def no_moderation() -> None:
    """Approve every webmention that verifies (LINKBACK_MODERATION="none")."""


@pytest.fixture
def fresh_fetches() -> None:
    """Fetch the source anew for each verification (the fetch-once window would reuse it)."""


@pytest.fixture
def app_config(app_config: dict[str, Any], request: pytest.FixtureRequest) -> dict[str, Any]:
    if "no_moderation" in request.fixturenames:
        app_config["LINKBACK_MODERATION"] = "none"
    if "fresh_fetches" in request.fixturenames:
        app_config["LINKBACK_SOURCE_FETCH_WINDOW"] = 1e-6
    return app_config


def h_entry(
    target: str,
    prop: str | None,
    name: str,
    photo: str,
    *,
    title: str = "A post",
    text: str = "Nice post!",
    author_url: str = "/",
) -> str:
    """A source page: an h-entry by an h-card, responding to ``target`` through ``prop``."""
    response = f'<a class="{prop}" href="{target}">the post</a>' if prop else ""
    content = text if prop else f'{text} I wrote about <a href="{target}">this post</a>.'
    return (
        f"<!doctype html><html><head><title>{title}</title></head><body>"
        f'<article class="h-entry"><h1 class="p-name">{title}</h1>'
        f'<div class="p-author h-card"><img class="u-photo" src="{photo}" alt="">'
        f'<a class="p-name u-url" href="{author_url}">{name}</a></div>'
        f'{response}<div class="e-content">{content}</div>'
        f'<time class="dt-published" datetime="2026-11-20T10:00:00Z">20 Nov</time>'
        f"</article></body></html>"
    )


KINDS = [
    ("reply", "u-in-reply-to", "Rita Reply"),
    ("like", "u-like-of", "Lee Like"),
    ("repost", "u-repost-of", "Rob Repost"),
    ("mention", None, "Mo Mention"),
]


def test_reply_like_repost_and_mention_are_stored_typed_with_their_author_and_rendered(
    no_moderation, blog, source_site, wm
):
    blog.add_post("target-post", title="The target")
    target = blog.post_url("target-post")
    for kind, prop, name in KINDS:
        source_site.page(
            f"/{kind}",
            h_entry(
                target, prop, name, f"/{kind}.png", title=f"My {kind}", author_url=f"/people/{kind}"
            ),
        )

    for kind, _, _ in KINDS:
        assert wm.send(f"{source_site.url}/{kind}", target).status_code == 202
    wm.wait()

    rows = {row.source_url.rsplit("/", 1)[1]: row for row in blog.linkbacks()}
    assert sorted(rows) == sorted(kind for kind, _, _ in KINDS)
    for kind, _, name in KINDS:
        row = rows[kind]
        assert (row.kind, row.status, row.mention_type) == ("webmention", "approved", kind)
        assert (row.author_name, row.author_url, row.author_photo) == (
            name,
            f"{source_site.url}/people/{kind}",
            f"{source_site.url}/{kind}.png",
        )
        assert row.published_at.isoformat() == "2026-11-20T10:00:00"

    _, page = wm.post_page("target-post")
    [reply] = page.find_class("linkback-reply")
    assert reply.find_class("linkback-author-name")[0].text_content() == "Rita Reply"
    assert (
        reply.find_class("linkback-author-link")[0].get("href") == f"{source_site.url}/people/reply"
    )
    assert reply.find_class("u-photo")[0].get("src") == f"{source_site.url}/reply.png"
    assert "Nice post!" in reply.find_class("linkback-content")[0].text_content()
    for kind in ("like", "repost"):
        [pile] = page.find_class(f"linkback-facepile-{kind}s")
        assert pile.find_class("linkback-facepile-count")[0].text_content() == "1"
        [face] = pile.find_class("linkback-face")
        assert face.find("a").get("title") == rows[kind].author_name
        assert face.find("a").get("href") == f"{source_site.url}/people/{kind}"
        assert face.find(".//img").get("src") == f"{source_site.url}/{kind}.png"
    [listed] = page.find_class("linkback-list")[0].find_class("linkback")
    assert listed.find_class("linkback-source")[0].get("href") == f"{source_site.url}/mention"
    assert listed.find_class("linkback-source")[0].text_content() == "My mention"


def test_valid_webmention_gets_202_and_a_status_url_that_moves_from_queued_to_accepted(
    no_moderation, blog, source_site, wm
):
    blog.add_post("target-post")
    target = blog.post_url("target-post")
    release = threading.Event()

    def slow_source():  # held until the test has seen the queued state
        release.wait(timeout=10)
        yield h_entry(target, "u-in-reply-to", "Ann", "/a.png").encode()

    source = source_site.page("/slow", slow_source)

    response = wm.send(source, target)

    assert response.status_code == 202
    location = response.headers["Location"]
    assert location.startswith(blog.url + "/webmention/status/")
    assert len(location.rsplit("/", 1)[1]) >= 32
    assert wm.status(location)["status"] == "queued"
    assert blog.linkbacks() == []
    release.set()
    wm.wait()
    assert wm.status(location) | {"received": None, "updated": None} == {
        "status": "accepted",
        "summary": "accepted: verified and shown on the post",
        "reason": None,
        "source": source,
        "target": target,
        "received": None,
        "updated": None,
    }
    html = requests.get(location, headers={"Accept": "text/html"}, timeout=10)
    assert html.headers["Content-Type"].startswith("text/html")
    assert (
        "accepted"
        in lxml.html.fromstring(html.content).find_class("webmention-status")[0].text_content()
    )


def test_status_says_pending_moderation_for_a_first_webmention_from_a_new_site(
    blog, source_site, wm
):
    blog.add_post("target-post")
    target = blog.post_url("target-post")
    location = wm.send(source_site.linking_page("/p", target), target).headers["Location"]
    wm.wait()

    assert wm.status(location)["status"] == "pending"
    assert [row.status for row in blog.linkbacks()] == [Status.PENDING.value]
    _, page = wm.post_page("target-post")
    assert page.find_class("linkback-list") == []


def test_status_says_rejected_with_the_reason_when_the_source_does_not_link(blog, source_site, wm):
    blog.add_post("target-post")
    target = blog.post_url("target-post")
    source = source_site.page("/nolink", "<html><title>x</title><p>Nothing here.</p></html>")

    location = wm.send(source, target).headers["Location"]
    wm.wait()

    status = wm.status(location)
    assert status["status"] == "rejected"
    assert "does not contain a link" in status["reason"]
    assert blog.linkbacks() == []


def test_unknown_status_token_is_404(blog, wm):
    assert requests.get(blog.url + "/webmention/status/nope", timeout=10).status_code == 404


def _invalid_cases(blog: Any, site: Any) -> list[tuple[str, dict[str, str], str]]:
    target = blog.post_url("open")
    source = site.url + "/reply"
    return [
        ("missing source", {"target": target}, "source is missing"),
        ("missing target", {"source": source}, "target is missing"),
        ("missing both", {}, "source is missing"),
        ("empty source", {"source": "  ", "target": target}, "source is missing"),
        ("equal urls", {"source": target, "target": target}, "same URL"),
        ("equal but for fragment", {"source": target, "target": target + "#x"}, "same URL"),
        (
            "ftp source",
            {"source": "ftp://127.0.0.1/file", "target": target},
            "source must be an http",
        ),
        (
            "ftp target",
            {"source": source, "target": "ftp://127.0.0.1/posts/open"},
            "target must be an http",
        ),
        ("relative target", {"source": source, "target": "/posts/open"}, "target must be an http"),
        (
            "foreign target",
            {"source": source, "target": "http://example.org/posts/open"},
            "not on this site",
        ),
        ("no such post", {"source": source, "target": blog.post_url("nope")}, "does not exist"),
        ("home page", {"source": source, "target": blog.url + "/"}, "does not exist"),
        ("closed post", {"source": source, "target": blog.post_url("closed")}, "closed"),
        ("draft post", {"source": source, "target": blog.post_url("draft")}, "closed"),
    ]


INVALID_NAMES = [
    "missing source",
    "missing target",
    "missing both",
    "empty source",
    "equal urls",
    "equal but for fragment",
    "ftp source",
    "ftp target",
    "relative target",
    "foreign target",
    "no such post",
    "home page",
    "closed post",
    "draft post",
]


@pytest.mark.parametrize("name", INVALID_NAMES)
def test_invalid_webmention_is_400_with_a_plain_reason_and_nothing_is_fetched_or_stored(
    blog, source_site, wm, name
):
    blog.add_post("open")
    blog.add_post("closed", pings_open=False)
    blog.add_post("draft", published_at=None)
    [(_, form, reason)] = [case for case in _invalid_cases(blog, source_site) if case[0] == name]

    response = requests.post(blog.url + "/webmention", data=form, timeout=10)

    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("text/plain")
    assert reason in response.text
    assert wm.requests_stored() == 0
    assert source_site.requests == []
    assert blog.linkbacks() == []


def test_webmention_that_is_not_form_encoded_is_400(blog, wm):
    blog.add_post("open")
    response = requests.post(
        blog.url + "/webmention",
        json={"source": "http://a.example/", "target": blog.post_url("open")},
        timeout=10,
    )

    assert response.status_code == 400
    assert "form-encoded" in response.text


def test_get_on_the_endpoint_shows_a_form_for_sending_by_hand(blog):
    page = lxml.html.fromstring(requests.get(blog.url + "/webmention", timeout=10).content)

    assert sorted(i.get("name") for i in page.iter("input")) == ["source", "target"]


def test_a_full_queue_answers_503_with_retry_after(app_config, blog, source_site, wm):
    blog.app.config["LINKBACK_INBOUND_QUEUE_MAX"] = 1
    blog.add_post("target-post")
    target = blog.post_url("target-post")
    release = threading.Event()

    def held():
        release.wait(timeout=10)
        yield b"<html><title>x</title></html>"

    first = wm.send(source_site.page("/held", held), target)
    second = wm.send(source_site.linking_page("/other", target), target)
    release.set()

    assert first.status_code == 202
    assert second.status_code == 503
    assert second.headers["Retry-After"] == "60"
    wm.wait()
    assert wm.requests_stored() == 1


def test_resent_webmention_with_a_changed_source_updates_title_author_and_content(
    no_moderation, fresh_fetches, blog, source_site, wm
):
    blog.add_post("target-post")
    target = blog.post_url("target-post")
    source = source_site.page(
        "/reply",
        h_entry(target, "u-in-reply-to", "Ann", "/a.png", title="First title", text="First words"),
    )
    wm.send(source, target)
    wm.wait()
    [before] = blog.linkbacks()

    source_site.page(
        "/reply",
        h_entry(
            target, "u-in-reply-to", "Ann B.", "/b.png", title="Second title", text="Second words"
        ),
    )
    location = wm.send(source, target).headers["Location"]
    wm.wait()

    [after] = blog.linkbacks()
    assert after.id == before.id
    assert (before.title, after.title) == ("First title", "Second title")
    assert (after.author_name, after.author_photo) == ("Ann B.", source_site.url + "/b.png")
    assert "Second words" in after.content
    assert after.status == Status.APPROVED.value
    assert wm.status(location)["status"] == "accepted"
    _, page = wm.post_page("target-post")
    assert page.find_class("linkback-author-name")[0].text_content() == "Ann B."


def test_a_webmention_resent_soon_after_is_verified_against_a_fresh_fetch_of_the_source(
    no_moderation, blog, source_site, wm
):
    """The fetch-once window shares a fetch between pings, never with a later re-send:
    a webmention says the source changed, so the page fetched last time won't do."""
    blog.add_post("target-post")
    target = blog.post_url("target-post")
    source = source_site.page(
        "/reply", h_entry(target, "u-in-reply-to", "Ann", "/a.png", title="First title")
    )
    wm.send(source, target)
    wm.wait()

    source_site.page("/reply", "<html><title>Edited</title><p>The link is gone.</p></html>")
    location = wm.send(source, target).headers["Location"]
    wm.wait()

    assert source_site.hits("/reply") == 2
    assert wm.status(location)["status"] == "deleted"
    assert blog.linkbacks() == []


@pytest.mark.parametrize(
    ("why", "page"),
    [
        (
            "gone",
            lambda site, target: site.page(
                "/reply", "<html><title>Gone</title></html>", status=410
            ),
        ),
        (
            "link removed",
            lambda site, target: site.page(
                "/reply", "<html><title>Edited</title><p>No link.</p></html>"
            ),
        ),
    ],
)
def test_resent_webmention_from_a_source_that_is_gone_or_dropped_the_link_removes_it(
    no_moderation, fresh_fetches, blog, source_site, wm, why, page
):
    blog.add_post("target-post")
    target = blog.post_url("target-post")
    source = source_site.page("/reply", h_entry(target, "u-in-reply-to", "Ann", "/a.png"))
    wm.send(source, target)
    wm.wait()
    _, before = wm.post_page("target-post")
    assert len(before.find_class("linkback-reply")) == 1

    page(source_site, target)
    location = wm.send(source, target).headers["Location"]
    wm.wait()

    assert blog.linkbacks() == []
    assert wm.status(location)["status"] == "deleted"
    response, after = wm.post_page("target-post")
    assert after.find_class("linkback-reply") == []
    assert source.encode() not in response.content


def test_resent_webmention_whose_source_answers_404_keeps_the_mention(
    no_moderation, fresh_fetches, blog, source_site, wm
):
    blog.add_post("target-post")
    target = blog.post_url("target-post")
    source = source_site.linking_page("/reply", target)
    wm.send(source, target)
    wm.wait()

    del source_site.pages["/reply"]
    location = wm.send(source, target).headers["Location"]
    wm.wait()

    assert wm.status(location)["status"] == "rejected"
    assert len(blog.linkbacks()) == 1


def test_pingback_then_webmention_for_the_same_pair_is_one_row_of_kind_webmention(
    no_moderation, fresh_fetches, blog, source_site, wm
):
    blog.add_post("target-post")
    target = blog.post_url("target-post")
    source = source_site.page("/reply", h_entry(target, "u-in-reply-to", "Ann", "/a.png"))
    xmlrpc.client.ServerProxy(blog.url + "/xmlrpc").pingback.ping(source, target)
    [pingback] = blog.linkbacks()
    assert (pingback.kind, pingback.mention_type, pingback.author_name) == (
        "pingback",
        "reply",
        "Ann",
    )

    wm.send(source, target)
    wm.wait()

    [row] = blog.linkbacks()
    assert (row.id, row.kind) == (pingback.id, "webmention")
    _, page = wm.post_page("target-post")
    assert len(page.find_class("linkback-reply")) == 1


def test_webmention_then_pingback_for_the_same_pair_is_fault_48_and_one_row(
    no_moderation, blog, source_site, wm
):
    blog.add_post("target-post")
    target = blog.post_url("target-post")
    source = source_site.linking_page("/reply", target)
    wm.send(source, target)
    wm.wait()

    with pytest.raises(xmlrpc.client.Fault) as fault:
        xmlrpc.client.ServerProxy(blog.url + "/xmlrpc").pingback.ping(source, target)

    assert fault.value.faultCode == 48
    assert [row.kind for row in blog.linkbacks()] == ["webmention"]


def test_source_without_microformats_falls_back_to_title_and_excerpt(
    no_moderation, blog, source_site, wm
):
    blog.add_post("target-post")
    target = blog.post_url("target-post")
    source = source_site.linking_page(
        "/plain", target, title="Plain page", text="Someone wrote about"
    )

    wm.send(source, target)
    wm.wait()

    [row] = blog.linkbacks()
    assert (row.title, row.mention_type, row.author_name, row.content) == (
        "Plain page",
        "mention",
        None,
        None,
    )
    assert row.excerpt == "[…] Someone wrote about this post today. […]"


def test_post_page_advertises_the_endpoint_in_a_link_header_and_a_link_tag(blog, wm):
    blog.add_post("target-post")

    response, page = wm.post_page("target-post")

    endpoint = blog.url + "/webmention"
    assert f'<{endpoint}>; rel="webmention"' in response.headers["Link"]
    assert page.xpath('//head/link[@rel="webmention"]/@href') == [endpoint]
    assert page.xpath('//head/link[@rel="pingback"]/@href') == [blog.url + "/xmlrpc"]


def test_with_webmentions_turned_off_nothing_is_advertised_and_the_endpoint_refuses(
    app_config, blog, source_site, wm
):
    blog.app.config["LINKBACK_ACCEPT_WEBMENTIONS"] = False
    blog.add_post("target-post")
    target = blog.post_url("target-post")

    response, page = wm.post_page("target-post")
    refused = wm.send(source_site.linking_page("/r", target), target)

    assert "webmention" not in response.headers.get("Link", "")
    assert page.xpath('//link[@rel="webmention"]') == []
    assert page.xpath('//link[@rel="pingback"]/@href') == [blog.url + "/xmlrpc"]
    assert (refused.status_code, refused.text.strip()) == (
        400,
        "this site does not accept webmentions",
    )


def test_closed_post_advertises_no_webmention_endpoint(blog, wm):
    blog.add_post("quiet", pings_open=False)

    response, page = wm.post_page("quiet")

    assert "Link" not in response.headers
    assert page.xpath('//link[@rel="webmention"]') == []


def test_a_mention_resent_while_it_waits_is_verified_once_and_every_status_url_answers(
    no_moderation, fresh_fetches, app_config, blog, source_site, wm
):
    blog.app.config["LINKBACK_INBOUND_WORKERS"] = 1
    blog.add_post("target-post")
    target = blog.post_url("target-post")
    release = threading.Event()

    def held():
        release.wait(timeout=10)
        yield h_entry(target, "u-like-of", "First", "/f.png").encode()

    busy = wm.send(source_site.page("/busy", held), target)  # occupies the only worker
    again = source_site.page("/again", h_entry(target, "u-repost-of", "Again", "/a.png"))
    locations = [wm.send(again, target).headers["Location"] for _ in range(3)]
    release.set()
    wm.wait()

    assert busy.status_code == 202
    assert source_site.hits("/again") == 1
    assert [wm.status(location)["status"] for location in locations] == ["accepted"] * 3
    assert sorted(row.mention_type for row in blog.linkbacks()) == ["like", "repost"]


def test_resending_an_unchanged_source_changes_nothing(
    no_moderation, fresh_fetches, blog, source_site, wm
):
    from flask_linkback.signals import linkback_updated

    blog.add_post("target-post")
    target = blog.post_url("target-post")
    source = source_site.page("/reply", h_entry(target, "u-in-reply-to", "Ann", "/a.png"))
    wm.send(source, target)
    wm.wait()
    updates: list[Any] = []

    def record(app: Any, linkback: Any) -> None:
        updates.append(linkback.title)

    with linkback_updated.connected_to(record, blog.app):
        location = wm.send(source, target).headers["Location"]
        wm.wait()
        assert updates == []
        assert wm.status(location)["status"] == "accepted"
        source_site.page(
            "/reply", h_entry(target, "u-in-reply-to", "Ann", "/a.png", title="Edited")
        )
        wm.send(source, target)
        wm.wait()

    assert source_site.hits("/reply") == 3
    assert updates == ["Edited"]


def test_a_forged_or_altered_status_token_is_404(blog, source_site, wm):
    blog.add_post("target-post")
    target = blog.post_url("target-post")
    location = wm.send(source_site.linking_page("/p", target), target).headers["Location"]
    wm.wait()
    token = location.rsplit("/", 1)[1]

    altered = location[: -len(token)] + ("A" if token[0] != "A" else "B") + token[1:]
    assert requests.get(altered, timeout=10).status_code == 404
    assert requests.get(location, timeout=10).status_code == 200


def test_a_reply_written_on_another_example_blog_shows_here_as_a_reply_with_its_author(
    blog, wm, other_blog_factory
):
    from example_blog.extensions import db
    from example_blog.models import Post
    from flask_linkback.fetch import FetchLimits
    from flask_linkback.models import utcnow
    from flask_linkback.outbound.webmention import discover_webmention_endpoint, send_webmention

    blog.add_post("question", title="A question")
    question = blog.post_url("question")
    other = other_blog_factory(BLOG_AUTHOR="Bea Blogger")
    with other.app.app_context():
        db.session.add(
            Post(
                slug="answer",
                title="My answer",
                published_at=utcnow(),
                body=f'<p>In reply to <a class="u-in-reply-to" href="{question}">the question'
                f"</a>: yes, and here is why.</p>",
            )
        )
        db.session.commit()
    answer = f"{other.url}/posts/answer"
    # What the other blog's outbox does when the answer is published:
    limits = FetchLimits(timeout=3.0, allow_private=True)
    endpoint = discover_webmention_endpoint(question, limits)
    sent = send_webmention(endpoint, answer, question, limits)
    wm.wait()

    assert endpoint == blog.url + "/webmention"
    assert sent.status == 202 and sent.location.startswith(blog.url + "/webmention/status/")
    [row] = blog.linkbacks()
    assert (row.kind, row.mention_type, row.author_name, row.author_url) == (
        "webmention",
        "reply",
        "Bea Blogger",
        other.url + "/",
    )
    assert row.title == "My answer"
    result = blog.app.test_cli_runner().invoke(args=["linkback", "approve", str(row.id)])
    assert result.exit_code == 0, result.output
    _, page = wm.post_page("question")
    [reply] = page.find_class("linkback-reply")
    assert reply.find_class("linkback-author-name")[0].text_content() == "Bea Blogger"
    assert reply.find_class("linkback-author-link")[0].get("href") == other.url + "/"
    assert "yes, and here is why" in reply.find_class("linkback-content")[0].text_content()


@pytest.mark.parametrize(
    ("content_type", "body", "verdict"),
    [
        ("application/json", '{"type": "entry", "in-reply-to": ["TARGET"]}', "accepted"),
        ("application/activity+json", '{"object": {"inReplyTo": "TARGET#comments"}}', "accepted"),
        ("application/json", '{"TARGET": "the URL only as a key"}', "rejected"),
        ("application/json", '{"broken": ', "rejected"),
        ("text/plain", "Plain words about TARGET and more.", "accepted"),
        ("text/plain", "Plain words about nothing.", "rejected"),
        ("image/png", "TARGET", "rejected"),
    ],
)
def test_webmention_sources_in_json_and_plain_text_verify_by_content_type(
    no_moderation, blog, source_site, wm, content_type, body, verdict
):
    blog.add_post("target-post")
    target = blog.post_url("target-post")
    source = source_site.page("/doc", body.replace("TARGET", target), content_type=content_type)

    location = wm.send(source, target).headers["Location"]
    wm.wait()

    assert wm.status(location)["status"] == verdict
    assert len(blog.linkbacks()) == (1 if verdict == "accepted" else 0)


def test_the_moderation_queue_shows_the_kind_type_and_microformats_author(blog, source_site, wm):
    blog.add_post("target-post")
    target = blog.post_url("target-post")
    source = source_site.page("/reply", h_entry(target, "u-in-reply-to", "Queue Author", "/q.png"))
    wm.send(source, target)
    wm.wait()
    [row] = blog.linkbacks()
    client = blog.app.test_client()
    with client.session_transaction() as session:
        session["admin"] = True

    dashboard = lxml.html.fromstring(client.get("/admin/").data)

    [pending] = dashboard.xpath(f'//tr[@id="pending-{row.id}"]')
    assert "webmention (reply) · by Queue Author" in pending.text_content()


def test_prune_command_deletes_old_status_records_and_their_urls_answer_404(
    blog, source_site, wm, monkeypatch
):
    from datetime import timedelta

    from itsdangerous import TimestampSigner

    from flask_linkback.models import utcnow

    blog.add_post("target-post")
    target = blog.post_url("target-post")
    month = 31 * 24 * 3600
    real_timestamp = TimestampSigner.get_timestamp
    with monkeypatch.context() as patch:  # a webmention received a month ago
        patch.setattr(TimestampSigner, "get_timestamp", lambda self: real_timestamp(self) - month)
        old = wm.send(source_site.linking_page("/old", target), target).headers["Location"]
        wm.wait()
    new = wm.send(source_site.linking_page("/new", target), target).headers["Location"]
    wm.wait()
    with blog.app.app_context():
        model = blog.app.extensions["linkback"].models.WebmentionRequest
        model.query.filter_by(token=old.rsplit("/", 1)[1]).one().created_at = utcnow() - timedelta(
            days=31
        )
        blog.app.extensions["linkback"].db.session.commit()
    assert requests.get(old, timeout=10).status_code == 200

    result = blog.app.test_cli_runner().invoke(
        args=["linkback", "prune-webmention-status", "--days", "30"]
    )

    assert result.exit_code == 0, result.output
    assert "deleted 1 webmention status record older than 30 days" in result.output
    assert requests.get(old, timeout=10).status_code == 404
    assert requests.get(new, timeout=10).status_code == 200

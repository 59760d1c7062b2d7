"""Delivery results: TrackBack form fields, errors recorded, retries with backoff, 429 spacing."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from conftest import LiveServer
from flask import Flask, Response, redirect, request
from outbound_helpers import drain, links, outbox, publish
from target_blogs import fault, http, trackback_error

from flask_linkback.fetch import FetchLimits
from flask_linkback.models import utcnow
from flask_linkback.outbound.deliver import Result, deliver_webmention, send_pingback


def test_trackback_sends_exactly_the_form_fields_wordpress_reads(blog, target_blogs):
    receiver = target_blogs()
    tb_url = receiver.url + "/trackback/7"
    blog.add_post(
        "news", title="Café news", body="<p>Straße and more text.</p>", trackback_to=tb_url
    )

    [row] = publish(blog, "news")
    assert (row.protocol, row.target_url) == ("trackback", tb_url)
    assert drain(blog) == {"sent": 1}

    [call] = receiver.calls
    assert call.content_type == "application/x-www-form-urlencoded; charset=utf-8"
    assert call.form == {
        "title": ["Café news"],
        "excerpt": ["Straße and more text."],
        "url": [blog.post_url("news")],
        "blog_name": ["A flask-linkback blog"],  # the example blog's title, not its host
        "charset": ["utf-8"],
    }
    assert outbox(blog, "news")[tb_url].status == "sent"


def test_trackback_error_answer_is_recorded_and_not_retried(blog, target_blogs):
    receiver = target_blogs()
    receiver.answers = [trackback_error("TrackBacks are closed here", status=404)]
    tb_url = receiver.url + "/trackback/7"
    blog.add_post("news", trackback_to=tb_url)
    publish(blog, "news")

    assert drain(blog) == {"failed": 1}
    assert drain(blog, now=utcnow() + timedelta(days=2)) == {}

    row = outbox(blog, "news")[tb_url]
    assert row.status == "failed"
    assert row.last_error == "TrackBacks are closed here"
    assert "<error>1</error>" in row.response
    assert len(receiver.calls) == 1


def test_trackback_answer_that_is_not_xml_is_a_failure(blog, target_blogs):
    receiver = target_blogs()
    receiver.answers = [http(200, "thanks!")]
    blog.add_post("news", trackback_to=receiver.url + "/trackback/1")
    publish(blog, "news")
    assert drain(blog) == {"failed": 1}
    assert (
        "not a TrackBack answer" in outbox(blog, "news")[receiver.url + "/trackback/1"].last_error
    )


@pytest.mark.parametrize(
    ("config", "sent"),
    [
        ({"LINKBACK_BLOG_NAME": "My Blog"}, "My Blog"),
        ({"BLOG_TITLE": "Notes from the Harbour"}, "Notes from the Harbour"),
        ({"LINKBACK_BLOG_NAME": ""}, "127.0.0.1"),  # no name at all: the host, as before
    ],
    ids=["setting", "example-blog-title", "unset"],
)
def test_blog_name_is_the_setting_and_the_example_blog_sends_its_title(
    app_config, request, target_blogs, config, sent
):
    app_config.update(config)
    blog = request.getfixturevalue("blog")
    receiver = target_blogs()
    blog.add_post("news", trackback_to=receiver.url + "/trackback/1")
    publish(blog, "news")
    drain(blog)
    assert receiver.calls[0].form["blog_name"] == [sent]


def test_targets_are_sent_exactly_as_linked_trailing_slash_and_query_included(blog, target_blogs):
    site = target_blogs()
    by_pingback = site.post("/2026/11/hello-world/", "header")
    by_webmention = site.post("/notes/7/", "none", webmention="/wm/in/")
    with_query = site.post("/index.php/", "header") + "?p=5"
    trackback = site.url + "/trackback/hello-world/"
    blog.add_post(
        "news",
        body=links(by_pingback, by_webmention + "#comments", with_query),
        trackback_to=f"{trackback}\n",
    )

    rows = publish(blog, "news")
    assert drain(blog) == {"sent": 4}

    source = blog.post_url("news")
    assert sorted(row.target_url for row in rows) == sorted(
        [by_pingback, by_webmention, with_query, trackback]
    )
    assert sorted(site.pingbacks()) == sorted([(source, by_pingback), (source, with_query)])
    assert site.webmentions() == [(source, by_webmention)]
    assert sorted(call.path for call in site.calls if call.kind != "pingback") == [
        "/trackback/hello-world/",
        "/wm/in/",
    ]


@pytest.mark.parametrize(
    "failure",
    [fault(50, "upstream down"), http(503), http(500)],
    ids=["fault-50", "http-503", "http-500"],
)
def test_transient_failure_is_retried_with_backoff_then_succeeds(blog, target_blogs, failure):
    target = target_blogs()
    target.answers = [failure, failure]
    url = target.post("/a")
    blog.add_post("news", body=links(url))
    publish(blog, "news")
    t0 = utcnow()

    assert drain(blog, now=t0) == {"retry": 1}
    first = outbox(blog, "news")[url]
    assert first.next_attempt_at == t0 + timedelta(seconds=60)
    assert drain(blog, now=t0 + timedelta(seconds=59)) == {}  # not due yet

    t1 = t0 + timedelta(seconds=60)
    assert drain(blog, now=t1) == {"retry": 1}
    assert outbox(blog, "news")[url].next_attempt_at == t1 + timedelta(seconds=120)  # doubled

    assert drain(blog, now=t1 + timedelta(seconds=120)) == {"sent": 1}
    row = outbox(blog, "news")[url]
    assert (row.status, row.attempts, row.last_error) == ("sent", 3, "")
    assert len(target.pingbacks()) == 3


@pytest.mark.parametrize("code", [16, 17, 32, 33, 49, 0])
def test_permanent_fault_is_recorded_and_never_retried(blog, target_blogs, code):
    target = target_blogs()
    target.answers = [fault(code, "no such luck")]
    url = target.post("/a")
    blog.add_post("news", body=links(url))
    publish(blog, "news")

    assert drain(blog) == {"failed": 1}
    assert drain(blog, now=utcnow() + timedelta(days=30)) == {}

    row = outbox(blog, "news")[url]
    assert (row.status, row.attempts) == ("failed", 1)
    assert row.last_error == f"fault {code}: no such luck"
    assert len(target.calls) == 1


def test_fault_48_already_registered_counts_as_sent(blog, target_blogs):
    target = target_blogs()
    target.answers = [fault(48, "already registered")]
    url = target.post("/a")
    blog.add_post("news", body=links(url))
    publish(blog, "news")
    assert drain(blog) == {"sent": 1}
    assert outbox(blog, "news")[url].status == "sent"


def test_target_that_is_gone_fails_without_a_ping(blog, target_blogs):
    target = target_blogs()
    blog.add_post("news", body=links(target.url + "/missing"))
    publish(blog, "news")
    assert drain(blog) == {"failed": 1}
    assert (
        outbox(blog, "news")[target.url + "/missing"].last_error == "the target answered HTTP 404"
    )
    assert target.calls == []


def test_unreachable_target_is_retried_until_the_attempt_limit(app_config, request, target_blogs):
    app_config["LINKBACK_OUTBOX_MAX_ATTEMPTS"] = 2
    blog = request.getfixturevalue("blog")
    closed = target_blogs()
    url = closed.post("/a")
    closed.stop()  # nothing listens on that port any more
    blog.add_post("news", body=links(url))
    publish(blog, "news")
    t0 = utcnow()

    assert drain(blog, now=t0) == {"retry": 1}
    assert drain(blog, now=t0 + timedelta(minutes=1)) == {"failed": 1}
    row = outbox(blog, "news")[url]
    assert row.last_error.startswith("gave up after 2 attempts: the target could not be fetched")


@pytest.mark.parametrize(
    "refusal",
    [fault(429, "You are posting comments too quickly"), http(429)],
    ids=["fault-429", "http-429"],
)
def test_429_spaces_the_pings_to_that_host_at_least_15_seconds_apart(blog, target_blogs, refusal):
    flooded, other = target_blogs(), target_blogs()
    urls = [flooded.post(f"/p{i}") for i in range(3)]
    elsewhere = other.post("/x")
    blog.add_post("news", body=links(*urls, elsewhere))
    publish(blog, "news")
    flooded.answers = [refusal] * 3
    t0 = utcnow()

    assert drain(blog, now=t0) in ({"retry": 3, "sent": 1}, {"retry": 2, "sent": 1})
    rows = outbox(blog, "news")
    assert rows[elsewhere].status == "sent"  # other hosts are not held back
    times = sorted(rows[url].next_attempt_at for url in urls)
    assert times[0] >= t0 + timedelta(seconds=15)
    assert all(b - a >= timedelta(seconds=15) for a, b in itertools.pairwise(times))
    assert all(rows[url].status == "retry" for url in urls)

    flooded.answers = []
    sent = 0
    for due in times:  # each slot lets exactly one ping through
        counts = drain(blog, now=due)
        sent += counts.get("sent", 0)
        assert counts == {"sent": 1}
    assert sent == 3
    assert sorted(p[1] for p in flooded.pingbacks()[-3:]) == sorted(urls)
    assert {row.status for row in outbox(blog, "news").values()} == {"sent"}


def test_pings_to_one_site_are_limited_per_host_while_other_sites_go_in_parallel(
    app_config, request, target_blogs
):
    app_config["LINKBACK_OUTBOX_HOST_CONCURRENCY"] = 2
    blog = request.getfixturevalue("blog")
    busy, others = target_blogs(), [target_blogs() for _ in range(3)]
    for target in (busy, *others):
        target.delay = 0.2
    urls = [busy.post(f"/p{i}") for i in range(6)] + [t.post("/x") for t in others]
    blog.add_post("news", body=links(*urls))
    publish(blog, "news")

    assert drain(blog) == {"sent": 9}
    assert busy.most_in_flight == 2
    assert len(busy.pingbacks()) == 6
    assert all(len(t.pingbacks()) == 1 for t in others)


def test_xml_bomb_in_a_pingback_answer_is_refused_and_retried_later(blog, target_blogs):
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        "<methodResponse><params><param><value><string>&b;</string></value></param></params>"
        "</methodResponse>"
    )
    target = target_blogs()
    target.answers = [lambda: __import__("flask").Response(bomb, content_type="text/xml")]
    url = target.post("/a")
    blog.add_post("news", body=links(url))
    publish(blog, "news")
    assert drain(blog) == {"retry": 1}
    assert (
        outbox(blog, "news")[url].last_error == "the Pingback endpoint did not answer with XML-RPC"
    )


def test_trackback_for_a_deleted_post_is_not_sent(blog, target_blogs):
    from example_blog.extensions import db
    from example_blog.models import Post

    receiver = target_blogs()
    tb_url = receiver.url + "/trackback/1"
    blog.add_post("gone", trackback_to=tb_url)
    publish(blog, "gone")
    with blog.app.app_context():
        db.session.delete(Post.query.filter_by(slug="gone").one())
        db.session.commit()
        assert drain(blog) == {"failed": 1}
        row = blog.app.extensions["linkback"].models.OutgoingPing.query.one()
        assert row.last_error == "the post no longer exists"
    assert receiver.calls == []


def test_ping_signals_carry_the_outbox_row(blog, target_blogs):
    from flask_linkback import ping_failed, ping_sent

    refusing, accepting = target_blogs(), target_blogs()
    refusing.answers = [fault(17, "no link")]
    failing, working = refusing.post("/a"), accepting.post("/b")
    blog.add_post("news", body=links(failing, working))
    publish(blog, "news")
    seen = []
    with (
        ping_sent.connected_to(lambda app, ping: seen.append(("sent", ping.target_url))),
        ping_failed.connected_to(lambda app, ping: seen.append(("failed", ping.target_url))),
    ):
        drain(blog)
    assert sorted(seen) == [("failed", failing), ("sent", working)]


# --- failures no retry can mend ------------------------------------------------------------------

LOOPBACK_SPELLINGS = ["127.0.0.1", "127.1", "localhost", "[::1]"]


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS)
def test_trackback_url_refused_by_the_address_policy_fails_at_once(
    app_config, request, target_blogs, host
):
    app_config["LINKBACK_ALLOW_PRIVATE_ADDRESSES"] = False
    blog = request.getfixturevalue("blog")
    receiver = target_blogs()
    tb_url = f"http://{host}:{receiver.server.port}/trackback/7"
    blog.add_post("news", trackback_to=tb_url)
    publish(blog, "news")

    assert drain(blog) == {"failed": 1}
    assert drain(blog, now=utcnow() + timedelta(days=2)) == {}
    row = outbox(blog, "news")[tb_url]
    assert (row.status, row.attempts) == ("failed", 1)
    assert "not a public address; refused" in row.last_error
    assert receiver.calls == []


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS)
def test_target_refused_by_the_address_policy_fails_at_once(
    app_config, request, target_blogs, host
):
    app_config["LINKBACK_ALLOW_PRIVATE_ADDRESSES"] = False
    blog = request.getfixturevalue("blog")
    receiver = target_blogs()
    receiver.post("/a")
    url = f"http://{host}:{receiver.server.port}/a"
    blog.add_post("news", body=links(url))
    publish(blog, "news")

    assert drain(blog) == {"failed": 1}
    assert drain(blog, now=utcnow() + timedelta(days=2)) == {}
    row = outbox(blog, "news")[url]
    assert (row.status, row.attempts) == ("failed", 1)
    assert "not a public address; refused" in row.last_error
    assert receiver.page_hits == {} and receiver.calls == []


@pytest.mark.parametrize(
    "send", [send_pingback, deliver_webmention], ids=["pingback", "webmention"]
)
@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS)
def test_endpoint_refused_by_the_address_policy_is_a_permanent_failure(target_blogs, send, host):
    # A public page may advertise an endpoint on a private address: the ping is refused for good.
    receiver = target_blogs()
    endpoint = f"http://{host}:{receiver.server.port}/xmlrpc"

    outcome = send(
        endpoint,
        "https://blog.example/news",
        "https://other.example/a",
        FetchLimits(allow_private=False),
    )

    assert outcome.result == Result.PERMANENT
    assert "not a public address; refused" in outcome.message
    assert receiver.calls == []


@dataclass
class LoopingSite:
    """A site on 127.0.0.1 whose ``/loop`` redirects to itself; ``/post`` names it as endpoint."""

    server: LiveServer
    hits: list[str]

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture
def looping_site() -> Iterator[LoopingSite]:
    app = Flask("looping_site")
    site = LoopingSite(LiveServer(app), [])

    @app.route("/loop", methods=["GET", "POST"])
    def loop() -> Response:
        site.hits.append(request.path)
        return redirect("/loop", 307)

    @app.route("/post")
    def post() -> Response:
        site.hits.append(request.path)
        return Response(
            "<!doctype html><title>A post</title><p>Hello.</p>",
            headers={"X-Pingback": "/loop"},
            mimetype="text/html",
        )

    site.server.start()
    yield site
    site.server.stop()


@pytest.mark.parametrize("where", ["target page", "pingback endpoint", "trackback url"])
def test_a_redirect_loop_is_a_permanent_failure(blog, looping_site, where):
    if where == "trackback url":
        url = looping_site.url + "/loop"
        blog.add_post("news", trackback_to=url)
    else:
        url = looping_site.url + ("/loop" if where == "target page" else "/post")
        blog.add_post("news", body=links(url))
    publish(blog, "news")

    assert drain(blog) == {"failed": 1}
    assert drain(blog, now=utcnow() + timedelta(days=2)) == {}
    row = outbox(blog, "news")[url]
    assert (row.status, row.attempts) == ("failed", 1)
    assert "more than 5 redirects" in row.last_error
    assert looping_site.hits.count("/loop") == 6  # the first request and five redirects, once

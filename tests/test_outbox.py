"""Publishing a post queues its pings; draining sends each once.

Over real HTTP, on both databases.
"""

from __future__ import annotations

from outbound_helpers import drain, links, outbox, publish


def test_post_linking_three_blogs_sends_exactly_two_pingbacks(blog, target_blogs):
    by_header, by_link, silent = target_blogs(), target_blogs(), target_blogs()
    targets = [
        by_header.post("/a", "header"),
        by_link.post("/b", "link", endpoint="/rpc/b"),
        silent.post("/c", "none"),
    ]
    blog.add_post("news", body=links(*targets))

    queued = publish(blog, "news")
    counts = drain(blog)

    source = blog.post_url("news")
    assert sorted(row.target_url for row in queued) == sorted(targets)
    assert by_header.pingbacks() == [(source, targets[0])]
    assert by_link.pingbacks() == [(source, targets[1])]
    assert [c.path for c in by_link.calls] == ["/rpc/b"]  # relative <link> href resolved
    assert silent.calls == []
    assert counts == {"sent": 2, "skipped": 1}
    rows = outbox(blog, "news")
    assert rows[targets[0]].status == rows[targets[1]].status == "sent"
    assert rows[targets[1]].endpoint == by_link.url + "/rpc/b"
    assert rows[targets[2]].status == "skipped"
    assert "no Pingback endpoint" in rows[targets[2]].last_error


def test_pingback_call_is_text_xml_with_our_user_agent(blog, target_blogs):
    target = target_blogs()
    blog.add_post("news", body=links(target.post("/a")))
    publish(blog, "news")
    drain(blog)
    [call] = target.calls
    assert call.content_type.startswith("text/xml")
    assert call.user_agent.startswith("flask-linkback/")


def test_draining_again_sends_nothing_more(blog, target_blogs):
    target = target_blogs()
    blog.add_post("news", body=links(target.post("/a"), target.post("/b")))
    publish(blog, "news")
    assert drain(blog) == {"sent": 2}
    assert drain(blog) == {}
    assert len(target.calls) == 2


def test_updated_post_pings_only_its_new_links(blog, target_blogs):
    target = target_blogs()
    first, second = target.post("/first"), target.post("/second")
    blog.add_post("news", body=links(first))
    publish(blog, "news")
    drain(blog)

    publish(blog, "news", body=links(first, second))
    drain(blog)

    assert [params[1] for params in target.pingbacks()] == [first, second]


def test_link_removed_before_its_ping_left_is_not_pinged(blog, target_blogs):
    target = target_blogs()
    kept, removed = target.post("/kept"), target.post("/removed")
    blog.add_post("news", body=links(kept, removed))
    publish(blog, "news")
    publish(blog, "news", body=links(kept))
    drain(blog)
    assert [params[1] for params in target.pingbacks()] == [kept]
    assert list(outbox(blog, "news")) == [kept]


def test_the_same_target_linked_twice_is_pinged_once(blog, target_blogs):
    target = target_blogs()
    url = target.post("/a")
    blog.add_post("news", body=links(url, url + "#comments", url.replace("http://", "HTTP://")))
    publish(blog, "news")
    drain(blog)
    assert len(target.pingbacks()) == 1


def test_draft_queues_nothing(blog, target_blogs):
    target = target_blogs()
    blog.add_post("draft", body=links(target.post("/a")), published_at=None)
    assert publish(blog, "draft") == []
    assert drain(blog) == {}
    assert target.calls == []


def test_send_pings_off_globally_queues_nothing(app_config, blog_server, request, target_blogs):
    app_config["LINKBACK_SEND_PINGS"] = False
    blog = request.getfixturevalue("blog")
    target = target_blogs()
    blog.add_post("news", body=links(target.post("/a")))
    assert publish(blog, "news") == []
    drain(blog)
    assert target.calls == []


def test_per_post_override_beats_the_global_setting(blog, target_blogs):
    from dataclasses import replace

    from example_blog.extensions import linkback

    target = target_blogs()
    blog.add_post("quiet", body=links(target.post("/a")))
    original = linkback.callbacks.post_info
    linkback.callbacks.post_info = lambda post: replace(original(post), send_pings=False)
    try:
        assert publish(blog, "quiet") == []
    finally:
        linkback.callbacks.post_info = original
    assert target.calls == []


def test_self_link_is_recorded_as_an_approved_pingback_without_http(blog, target_blogs):
    blog.add_post("older", title="Older post")
    blog.add_post(
        "newer", body=f'<p>As I said in <a href="{blog.post_url("older")}">my older post</a>.</p>'
    )

    [row] = publish(blog, "newer")
    assert row.local and row.target_url == blog.post_url("older")
    assert drain(blog) == {"sent": 1}

    [linkback] = blog.linkbacks()
    assert (linkback.kind, linkback.status) == ("pingback", "approved")
    assert linkback.source_url == blog.post_url("newer")
    assert "my older post" in linkback.excerpt
    assert linkback.sender_ip is None  # recorded directly, not over HTTP


def test_self_pings_held_when_configured_pending(app_config, request):
    app_config["LINKBACK_SELF_PINGS"] = "pending"
    blog = request.getfixturevalue("blog")
    blog.add_post("older")
    blog.add_post("newer", body=links(blog.post_url("older")))
    publish(blog, "newer")
    drain(blog)
    [linkback] = blog.linkbacks()
    assert linkback.status == "pending"


def test_self_pings_off_records_own_post_links_as_skipped_with_the_reason(app_config, request):
    app_config["LINKBACK_SELF_PINGS"] = "off"
    blog = request.getfixturevalue("blog")
    blog.add_post("older")
    blog.add_post("newer", body=links(blog.post_url("older")))
    [row] = publish(blog, "newer")
    assert (row.status, row.reason) == ("skipped", "self-pings-off")
    assert "LINKBACK_SELF_PINGS is off" in row.last_error
    assert drain(blog) == {}
    assert blog.linkbacks() == []


def test_links_to_own_home_page_and_to_the_post_itself_are_skipped_with_their_reason(blog):
    blog.add_post("news", body=links(blog.url + "/", blog.post_url("news")))
    rows = {row.target_url: row for row in publish(blog, "news")}
    assert {url: (row.status, row.reason) for url, row in rows.items()} == {
        blog.url + "/": ("skipped", "not-a-post"),
        blog.post_url("news"): ("skipped", "this-post"),
    }
    assert all(row.last_error.startswith("not sent: ") for row in rows.values())
    assert drain(blog) == {}
    # The links go: so do their rows (nothing was ever sent for them).
    assert publish(blog, "news", body="<p>No links.</p>") == []


def test_cli_send_prints_progress_and_status_counts(blog, target_blogs):
    target = target_blogs()
    blog.add_post("news", body=links(target.post("/a"), target.post("/b", "none")))
    publish(blog, "news")
    runner = blog.app.test_cli_runner()

    before = runner.invoke(args=["linkback", "status"])
    sent = runner.invoke(args=["linkback", "send"])
    after = runner.invoke(args=["linkback", "status"])

    assert before.exit_code == sent.exit_code == after.exit_code == 0, sent.output
    assert "queued\t2" in before.output
    assert "2 done: 1 sent, 0 failed, 1 skipped, 0 retry" in sent.output
    assert "Outbox drained: 2 pings handled, 1 sent, 1 skipped." in sent.output
    assert (
        "sent\t1" in after.output and "skipped\t1" in after.output and "queued\t0" in after.output
    )

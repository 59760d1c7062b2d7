"""An edited post re-sends its webmentions (Webmention §3.1.4), over real HTTP on 127.0.0.1:
once per target per change, removed links included; an unchanged save sends nothing;
pingbacks and trackbacks are never re-sent."""

from __future__ import annotations

from outbound_helpers import drain, links, outbox, publish


def test_an_edit_resends_one_webmention_per_target_including_removed_links(blog, target_blogs):
    site = target_blogs()
    kept = site.post("/kept", "none", webmention="/webmention")
    removed = site.post("/removed", "none", webmention="/webmention")
    by_pingback = site.post("/pb", "header")
    trackback = site.url + "/trackback/1"
    blog.add_post("news", body=links(kept, removed, by_pingback), trackback_to=trackback)
    publish(blog, "news")
    assert drain(blog) == {"sent": 4}

    publish(blog, "news", body=links(kept) + "<p>Corrected: the answer is 42.</p>")
    assert drain(blog) == {"sent": 2}

    source = blog.post_url("news")
    assert sorted(site.webmentions()) == sorted([(source, kept), (source, removed)] * 2)
    assert site.pingbacks() == [(source, by_pingback)]
    assert [call.kind for call in site.calls].count("trackback") == 1
    rows = outbox(blog, "news")
    assert {url: row.link_removed for url, row in rows.items()} == {
        kept: False, removed: True, by_pingback: True, trackback: False}

    # The same content saved again: nothing goes out.
    publish(blog, "news", body=links(kept) + "<p>Corrected: the answer is 42.</p>")
    assert drain(blog) == {}
    assert len(site.calls) == 6

    # Another change: each webmention target hears once more, the removed link too.
    publish(blog, "news", title="News, corrected")
    assert drain(blog) == {"sent": 2}
    assert sorted(site.webmentions()) == sorted([(source, kept), (source, removed)] * 3)
    assert len(site.pingbacks()) == 1


def test_an_edit_saved_while_its_webmention_is_in_flight_is_resent_after_it(blog, target_blogs):
    site = target_blogs()
    target = site.post("/a", "none", webmention="/webmention")
    blog.add_post("news", body=links(target))
    publish(blog, "news")

    def edit_then_accept():
        # The receiver is still answering the first webmention when the author saves an edit
        # (in this server's thread, so the blog's own request context is pushed for url_for).
        with blog.app.test_request_context():
            publish(blog, "news", body=links(target) + "<p>An update.</p>")
            rows = outbox(blog, "news")
        assert rows[target].status == "sending"
        from flask import Response
        return Response("accepted", 202)

    site.answers.append(edit_then_accept)
    assert drain(blog) == {"sent": 2}
    assert site.webmentions() == [(blog.post_url("news"), target)] * 2
    assert drain(blog) == {}


def test_a_webmention_never_sent_is_not_doubled_by_an_edit(blog, target_blogs):
    site = target_blogs()
    target = site.post("/a", "none", webmention="/webmention")
    blog.add_post("news", body=links(target))
    publish(blog, "news")
    publish(blog, "news", body=links(target) + "<p>Edited before the first send.</p>")
    assert drain(blog) == {"sent": 1}
    assert len(site.webmentions()) == 1

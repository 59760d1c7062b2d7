"""The demo: two example blogs on two ports, one pinging the other for real."""

from __future__ import annotations

import xmlrpc.client

import lxml.html

from flask_linkback.inbound.pingback import SUCCESS_ANSWER


def test_a_post_on_one_blog_pings_a_post_on_the_other(blog, other_blog_factory):
    other_blog = other_blog_factory()
    blog.add_post("original", title="The original")
    other_blog.add_post(
        "answer",
        title="An answer from across town",
        body=f'<p>I disagree with <a href="{blog.post_url("original")}">the original post</a>'
        " on one point.</p>",
    )

    answer = xmlrpc.client.ServerProxy(blog.url + "/xmlrpc").pingback.ping(
        other_blog.post_url("answer"), blog.post_url("original")
    )

    assert answer == SUCCESS_ANSWER
    [row] = blog.linkbacks()
    assert row.title == "An answer from across town"  # the h-entry's name, not the page <title>
    assert "the original post" in row.excerpt
    assert other_blog.linkbacks() == []  # the sender stores nothing about it
    result = blog.app.test_cli_runner().invoke(args=["linkback", "approve", str(row.id)])
    assert result.exit_code == 0, result.output
    page = lxml.html.fromstring(blog.app.test_client().get("/posts/original").data)
    [link] = page.find_class("linkback-source")
    assert (link.get("href"), link.text_content()) == (other_blog.post_url("answer"), row.title)

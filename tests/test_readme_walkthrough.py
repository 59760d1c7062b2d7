"""The README's "Two blogs pinging each other", step by step, on two example blogs on 127.0.0.1.

Blog B's outbox is drained by the test where the README says "the scheduler
sends it within a moment"; everything else goes through the blogs' own
pages and endpoints over real HTTP, as a reader following the README would.
"""

from __future__ import annotations

import xmlrpc.client
from datetime import timedelta

import pytest
from admin_support import admin_client, page
from outbound_helpers import drain

from example_blog.views import seed_posts
from flask_linkback.inbound.pingback import SUCCESS_ANSWER
from flask_linkback.models import utcnow


def _seed(blog) -> None:
    with blog.app.app_context():
        seed_posts()


def _save(client, path: str, notify: bool, **fields: str) -> str:
    """Fill the editor at ``path`` as a person would and save; return the post's editor URL."""
    form = page(client, path).xpath("//form[not(@action)]")[0]
    data = dict(form.form_values())
    data.pop("notify", None)
    data.update(fields)
    if notify:
        data["notify"] = "y"
    answer = client.post(path, data=data)
    assert answer.status_code == 302, answer.text[-2000:]
    return answer.headers["Location"]


def _approve_first_pending(client) -> None:
    queue = page(client, "/linkback-admin/queue/pending")
    [button] = queue.xpath("//button[starts-with(@value, 'approve:')]")
    answer = client.post("/linkback-admin/moderate", data={
        "csrf_token": queue.xpath("//input[@name='csrf_token']/@value")[0],
        "next": "/linkback-admin/queue/pending", "one": button.get("value")})
    assert answer.status_code == 302


@pytest.fixture
def blogs(blog, other_blog_factory, verified):
    """Blog A (the blog under test) and blog B, both seeded as ``python -m example_blog`` does."""
    blog_b = other_blog_factory()
    _seed(blog)
    _seed(blog_b)
    return blog, blog_b


def test_the_readme_walkthrough_runs_as_written(blogs, verified):
    blog_a, blog_b = blogs
    target = blog_a.post_url("hello-linkbacks")
    body = f'<p>I agree with <a href="{target}">this post</a>.</p>'
    past = (utcnow() - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M")
    b_admin, a_admin = admin_client(blog_b), admin_client(blog_a)

    # 1. A webmention: blog B's new post "reply", notify ticked; its outbox sends it.
    reply_editor = _save(b_admin, "/admin/posts/new", notify=True, title="A reply", slug="reply",
                         published_at=past, body=body)
    assert drain(blog_b) == {"sent": 1}
    verified()
    editor = page(b_admin, reply_editor)
    [row] = editor.xpath("//table[@class='outgoing']//tr[td]")
    assert [cell.text_content().strip() for cell in row.xpath("td")][:3] == [
        target,
        "webmention",
        "sent",
    ]
    [held] = blog_a.linkbacks()
    assert (held.kind, held.status, held.source_url) == (
        "webmention",
        "pending",
        blog_b.post_url("reply"),
    )

    # 2. Approve it on blog A: it appears under the post.
    _approve_first_pending(a_admin)
    assert [row.status for row in blog_a.linkbacks()] == ["approved"]
    shown = page(a_admin, "/posts/hello-linkbacks")
    assert blog_b.post_url("reply") in [a.get("href") for a in shown.iter("a")]

    # 3. A pingback by hand, from a second post written with notify unticked.
    _save(
        b_admin,
        "/admin/posts/new",
        notify=False,
        title="By hand",
        slug="by-hand",
        published_at=past,
        body=body,
    )
    assert drain(blog_b) == {}  # blog B sent nothing itself
    server = xmlrpc.client.ServerProxy(blog_a.url + "/xmlrpc")
    answer = server.pingback.ping(blog_b.post_url("by-hand"), target)
    assert answer == SUCCESS_ANSWER
    by_hand = [row for row in blog_a.linkbacks() if row.kind == "pingback"]
    assert [row.status for row in by_hand] == ["approved"]  # a site approved before
    with pytest.raises(xmlrpc.client.Fault) as again:
        server.pingback.ping(blog_b.post_url("by-hand"), target)
    assert again.value.faultCode == 48

    # 4. Take the link back: edit "reply" to drop it; blog B re-sends, blog A removes the mention.
    _save(b_admin, reply_editor, notify=True, body="<p>I changed my mind.</p>")
    assert drain(blog_b) == {"sent": 1}
    verified()
    assert [(row.kind, row.source_url) for row in blog_a.linkbacks()] == [
        ("pingback", blog_b.post_url("by-hand"))
    ]

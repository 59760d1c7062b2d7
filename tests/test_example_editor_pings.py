"""The example blog's editor queues pings on save and shows what was sent."""

from __future__ import annotations

from datetime import timedelta

import lxml.html
import pytest
from outbound_helpers import drain

from flask_linkback.models import utcnow


@pytest.fixture
def app_config(app_config):
    # pytest-flask keeps one app context for the whole test, so Flask-WTF's
    # per-context token cache would outlive the login's session.clear().
    return {**app_config, "WTF_CSRF_ENABLED": False}


def _log_in(client) -> None:
    answer = client.post("/admin/login", data={"username": "admin", "password": "admin"})
    assert answer.status_code == 302


def test_saving_a_post_in_the_editor_sends_its_pingbacks_and_trackbacks(blog, target_blogs):
    target = target_blogs()
    linked = target.post("/a")
    client = blog.app.test_client()
    _log_in(client)

    saved = client.post("/admin/posts/new", data={
        "title": "Hello", "slug": "hello",
        "body": f'<p>Read <a href="{linked}">this</a>.</p>',
        "published_at": (utcnow() - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M"),
        "pings_open": "y", "comments_open": "y", "notify": "y",
        "trackback_to": target.url + "/trackback/9\n",
    })
    assert saved.status_code == 302, saved.get_data(as_text=True)[-1500:]
    assert target.calls == []  # nothing is sent inside the request that saved the post

    assert drain(blog) == {"sent": 2}
    assert target.pingbacks() == [(blog.post_url("hello"), linked)]
    [trackback] = [call for call in target.calls if call.kind == "trackback"]
    assert trackback.form["title"] == ["Hello"]

    page = lxml.html.fromstring(client.get(saved.headers["Location"]).data)
    rows = [[cell.text_content().strip() for cell in row.xpath("td")]
            for row in page.xpath("//table[@class='outgoing']/tr[td]")]
    assert sorted((r[0], r[1], r[2]) for r in rows) == sorted(
        [(linked, "pingback", "sent"), (target.url + "/trackback/9", "trackback", "sent")])


def test_unticking_notify_drops_the_pings_not_sent_yet(blog, target_blogs):
    target = target_blogs()
    client = blog.app.test_client()
    _log_in(client)
    form = {
        "title": "Quiet",
        "slug": "quiet",
        "body": f'<p><a href="{target.post("/a")}">x</a></p>',
        "published_at": (utcnow() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
        "notify": "y",
    }
    saved = client.post("/admin/posts/new", data=form)
    assert "<td>queued</td>" in client.get(saved.headers["Location"]).get_data(as_text=True)

    del form["notify"]
    client.post(saved.headers["Location"], data=form)

    assert "Notifications sent" not in client.get(saved.headers["Location"]).get_data(as_text=True)
    assert drain(blog, now=utcnow() + timedelta(days=2)) == {}
    assert target.calls == []

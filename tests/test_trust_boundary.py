"""Who counts as "this site", and what is trusted automatically: tried as an attacker would.

Each test goes through the real endpoints and then checks the database:
nothing stored, nothing approved, where the attack used to get through.
"""

from __future__ import annotations

import xmlrpc.client
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from conftest import LiveServer, SourceSite, _source_app

from example_blog.extensions import db as blog_db
from flask_linkback.models import Status


def ping(blog: Any, source: str, target: str, host: str | None = None) -> Any:
    """pingback.ping through the real endpoint; the answer string, or the Fault."""
    call = xmlrpc.client.dumps((source, target), "pingback.ping")
    headers = {"Content-Type": "text/xml"}
    if host:
        headers["Host"] = host
    response = requests.post(blog.url + "/xmlrpc", data=call, headers=headers, timeout=15)
    try:
        return xmlrpc.client.loads(response.content)[0][0]
    except xmlrpc.client.Fault as fault:
        return fault


def stored(blog: Any) -> list[tuple[str, str]]:
    return [(row.source_url, row.status) for row in blog.linkbacks()]


def queued_jobs(blog: Any) -> int:
    with blog.app.app_context():
        Job = blog.app.extensions["linkback"].models.InboundJob
        return blog_db.session.query(Job).count()


@pytest.fixture
def second_site() -> Iterator[SourceSite]:
    """Another website on 127.0.0.1, on a port of its own: another origin, same host."""
    server = LiveServer()
    site = SourceSite(server)
    server.app = _source_app(site)
    server.start()
    yield site
    server.stop()


# 1. The Host header does not decide what this site is -----------------------------------


def test_a_forged_host_header_does_not_make_a_foreign_target_ours(blog, source_site):
    post = blog.add_post("real-post")
    forged_host = f"localhost:{source_site.server.port}"
    forged_target = f"http://{forged_host}/posts/{post.slug}"
    source = source_site.linking_page("/links-the-forged-host", forged_target)

    answer = ping(blog, source, forged_target, host=forged_host)
    wm = requests.post(blog.url + "/webmention", data={"source": source, "target": forged_target},
                       headers={"Host": forged_host}, timeout=15)

    assert isinstance(answer, xmlrpc.client.Fault) and answer.faultCode == 33
    assert wm.status_code == 400 and "not on this site" in wm.text
    assert stored(blog) == [] and queued_jobs(blog) == 0
    assert source_site.hits("/links-the-forged-host") == 0  # refused before any fetch


def test_our_own_post_under_a_forged_host_is_not_a_self_ping(blog, source_site):
    """Our post, fetched under a forged host, used to be an approved self-ping linking anywhere."""
    blog.add_post("target")
    blog.add_post("linking", body='<p><a href="/posts/target">t</a></p>')
    forged_host = f"localhost:{source_site.server.port}"

    answer = ping(blog, f"http://{forged_host}/posts/linking", f"http://{forged_host}/posts/target",
                  host=forged_host)

    assert isinstance(answer, xmlrpc.client.Fault) and answer.faultCode == 33
    assert stored(blog) == []


def test_without_a_configured_site_every_ping_is_refused_with_a_clear_reason(
        app_config, blog_server, source_site, caplog):
    from example_blog import create_app

    config = {key: value for key, value in app_config.items() if key != "SERVER_NAME"}
    app = create_app(config)
    with app.app_context():
        blog_db.create_all()
    client = app.test_client()
    source = source_site.linking_page("/reply", "http://localhost/posts/x")

    response = client.post("/xmlrpc", data=xmlrpc.client.dumps((source, "http://localhost/posts/x"),
                                                               "pingback.ping"),
                           content_type="text/xml")

    with pytest.raises(xmlrpc.client.Fault) as fault:
        xmlrpc.client.loads(response.data)
    assert "LINKBACK_SITE_URL" in fault.value.faultString
    assert any("LINKBACK_SITE_URL" in record.getMessage() and record.levelname == "WARNING"
               for record in caplog.records)
    with app.app_context():
        blog_db.session.remove()
        blog_db.engine.dispose()


# 2. Other spellings of our own posts are the same source ---------------------------------


def test_query_string_spellings_of_our_post_are_one_source(blog):
    target = blog.add_post("target")
    blog.add_post("linking", body=f'<p><a href="{blog.post_url(target.slug)}">t</a></p>')
    canonical = blog.post_url("linking")

    answers = [ping(blog, canonical + suffix, blog.post_url("target"))
               for suffix in ("?utm=x", "?utm=y", "", "#frag")]

    assert isinstance(answers[0], str)
    assert [a.faultCode for a in answers[1:]] == [48, 48, 48]
    assert stored(blog) == [(canonical, Status.APPROVED.value)]


# 3. Only real posts are local sources; status pages launder nothing ---------------------


def test_a_status_page_cannot_be_used_as_a_source(blog, source_site):
    blog.add_post("target")
    target = blog.post_url("target")
    first = requests.post(blog.url + "/webmention", timeout=15, data={
        "source": source_site.linking_page("/spam", target), "target": target})
    assert first.status_code == 202
    assert blog.app.extensions["linkback"].inbound.join(blog.app, timeout=15)
    status_page = requests.get(first.headers["Location"], timeout=15).text

    second = requests.post(blog.url + "/webmention", timeout=15,
                           data={"source": first.headers["Location"], "target": target})
    pinged = ping(blog, first.headers["Location"], target)

    assert f'href="{source_site.url}/spam"' not in status_page
    assert second.status_code == 400 and "not one of its posts" in second.text
    assert isinstance(pinged, xmlrpc.client.Fault) and pinged.faultCode == 16
    # Only the first mention is stored, and it waits for moderation.
    assert stored(blog) == [(source_site.url + "/spam", Status.PENDING.value)]


def test_a_page_of_ours_that_is_not_a_post_is_refused_without_a_fetch(blog):
    blog.add_post("target")

    answer = ping(blog, blog.url + "/admin/", blog.post_url("target"))

    assert isinstance(answer, xmlrpc.client.Fault) and answer.faultCode == 16
    assert stored(blog) == [] and queued_jobs(blog) == 0


# 4. "Approved before" trusts an origin, never our own ------------------------------------


def test_approval_of_one_origin_does_not_trust_another_port_or_our_own_host(
        blog, source_site, second_site):
    target = blog.add_post("target")
    target_url = blog.post_url(target.slug)
    blog.add_post("own", body=f'<p><a href="{target_url}">t</a></p>')
    first = source_site.linking_page("/first", target_url)
    assert isinstance(ping(blog, blog.post_url("own"), target_url), str)  # self-ping: approved
    assert isinstance(ping(blog, first, target_url), str)
    with blog.app.app_context():
        Linkback = blog.app.extensions["linkback"].models.IncomingLinkback
        row = Linkback.query.filter_by(source_url=first).one()
        blog.app.extensions["linkback"].extension.set_status(row, Status.APPROVED)

    later_same_origin = source_site.linking_page("/second", target_url)
    other_port = second_site.linking_page("/elsewhere", target_url)
    assert isinstance(ping(blog, later_same_origin, target_url), str)
    assert isinstance(ping(blog, other_port, target_url), str)

    statuses = dict(stored(blog))
    assert statuses[later_same_origin] == Status.APPROVED.value  # the same origin is trusted
    # Another blog on the same host, another port: not trusted by either approval.
    assert statuses[other_port] == Status.PENDING.value

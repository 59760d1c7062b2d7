"""'I linked but nothing showed up': the refusal log, and the editor's "check this link"."""

from __future__ import annotations

import xmlrpc.client
from datetime import timedelta

import lxml.html
from admin_support import admin_client, page
from outbound_helpers import drain

from flask_linkback.models import utcnow

REFUSALS = "/linkback-admin/refusals"


def _rows(client, query: str = "") -> list[dict[str, str]]:
    root = page(client, REFUSALS + (f"?source={query}" if query else ""))
    return [{cell.get("class"): (cell.text or "").strip() for cell in row.xpath("td[@class]")}
            for row in root.find_class("refusal-row")]


def _pingback(blog, source: str, slug: str = "original") -> int:
    try:
        xmlrpc.client.ServerProxy(blog.url + "/xmlrpc").pingback.ping(source, blog.post_url(slug))
    except xmlrpc.client.Fault as fault:
        return fault.faultCode
    return 0


def test_a_refused_pingback_is_listed_with_its_reason_and_found_by_source(blog, source_site):
    blog.add_post("original")
    no_link = source_site.page("/no-link", "<p>Nothing to see.</p>")
    missing = source_site.url + "/gone"
    assert _pingback(blog, no_link) == 17
    assert _pingback(blog, missing) == 16
    client = admin_client(blog)

    rows = _rows(client)
    assert [row["source"] for row in rows] == [missing, no_link]  # newest first
    assert rows[1]["kind"] == "pingback"
    assert rows[1]["target"] == blog.post_url("original")
    assert rows[1]["reason"] == "the source URI does not contain a link to the target URI"
    assert [row["source"] for row in _rows(client, "NO-LINK")] == [no_link]
    assert _rows(client, "nobody.example") == []


def test_refusals_at_the_door_are_logged_too(blog):
    blog.add_post("closed", pings_open=False)
    client = blog.app.test_client()
    client.post("/webmention", data={"source": "http://127.0.0.1:9/<b>x</b>",
                                     "target": blog.post_url("nowhere")})
    with blog.app.app_context():
        from example_blog.models import Post

        closed_id = Post.query.filter_by(slug="closed").one().id
    client.post(f"/trackback/{closed_id}", data={"url": "http://127.0.0.1:9/tb"})

    rows = _rows(admin_client(blog))
    assert [(row["kind"], row["source"]) for row in rows] == [
        ("trackback", "http://127.0.0.1:9/tb"), ("webmention", "http://127.0.0.1:9/<b>x</b>")]
    assert rows[0]["reason"] == "TrackBacks are closed on this post"
    assert rows[1]["reason"] == "the target URI does not exist on this site"


def test_the_log_keeps_only_the_newest_rows(app_config, request, source_site):
    app_config["LINKBACK_REFUSAL_LOG_SIZE"] = 3
    blog = request.getfixturevalue("blog")
    blog.add_post("original")
    sources = [source_site.url + f"/missing-{i}" for i in range(5)]
    for source in sources:
        assert _pingback(blog, source) == 16

    assert [row["source"] for row in _rows(admin_client(blog))] == sources[:1:-1]


def test_check_this_link_shows_what_the_target_offers(blog, target_blogs):
    target = target_blogs()
    offers_both = target.post("/both", webmention="/webmention")
    plain = target.post("/plain", discovery="none")
    client = admin_client(blog)
    published = (utcnow() - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M")
    editor = page(client, "/admin/posts/new")
    saved = client.post("/admin/posts/new", data={
        "csrf_token": editor.xpath("//input[@name='csrf_token']/@value")[0],
        "title": "Links", "slug": "links", "published_at": published, "notify": "y",
        "body": f'<p><a href="{offers_both}">one</a> <a href="{plain}">two</a></p>'})
    assert saved.status_code == 302
    drain(blog)
    calls = len(target.calls)
    editor = page(client, saved.headers["Location"])
    forms = {
        form.xpath("input[@name='url']/@value")[0]: form for form in editor.find_class("check-link")
    }

    def check(url: str) -> lxml.html.HtmlElement:
        form = forms[url]
        answer = client.post(
            form.get("action"),
            data={"csrf_token": form.xpath("input[@name='csrf_token']/@value")[0], "url": url},
        )
        assert answer.status_code == 200
        return lxml.html.fromstring(answer.content)

    both = check(offers_both).find_class("link-check")[0].text_content()
    assert f"{offers_both} offers Webmention and Pingback." in both
    assert f"Webmention endpoint: {target.url}/webmention" in both
    assert f"Pingback endpoint: {target.url}/xmlrpc" in both
    none = check(plain).find_class("link-check")[0].text_content()
    assert f"{plain} offers no Webmention, Pingback or TrackBack endpoint." in none
    assert len(target.calls) == calls  # checking fetches the page; it sends no ping


def test_check_this_link_only_checks_the_post_s_own_links(blog):
    client = admin_client(blog)
    post = blog.add_post("lonely")
    editor = page(client, f"/admin/posts/{post.id}/edit")
    token = editor.xpath("//input[@name='csrf_token']/@value")[0]

    answer = client.post(
        f"/admin/posts/{post.id}/check",
        data={"csrf_token": token, "url": "http://127.0.0.1:9/elsewhere"},
    )
    assert answer.status_code == 404

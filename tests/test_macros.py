"""The template macros, as readers and sending blogs see them on the example blog's post page."""

from __future__ import annotations

import xmlrpc.client
from typing import Any

import lxml.html
import pytest
from flask import render_template_string
from lxml import etree

from example_blog.extensions import db as blog_db
from example_blog.models import Post
from flask_linkback.html import Document, TrackbackRDF
from flask_linkback.models import Status


def get_post_page(blog: Any, slug: str) -> tuple[Any, lxml.html.HtmlElement]:
    response = blog.app.test_client().get(f"/posts/{slug}")
    assert response.status_code == 200
    return response, lxml.html.document_fromstring(response.data)


def xmlrpc_url(blog: Any) -> str:
    return blog.url + "/xmlrpc"


def trackback_url(blog: Any, post: Any) -> str:
    return f"{blog.url}/trackback/{post.id}"


def pingback(blog: Any, source_site: Any, path: str, slug: str, **page: str) -> int:
    """Send a real pingback from a new source_site page to the post; return the stored row's id."""
    source = source_site.linking_page(path, blog.post_url(slug), **page)
    xmlrpc.client.ServerProxy(xmlrpc_url(blog)).pingback.ping(source, blog.post_url(slug))
    [row] = [row for row in blog.linkbacks() if row.source_url == source]
    return row.id


def moderate(blog: Any, command: str, *ids: int) -> None:
    result = blog.app.test_cli_runner().invoke(args=["linkback", command, *map(str, ids)])
    assert result.exit_code == 0, result.output


def listed(page: lxml.html.HtmlElement) -> list[tuple[str, str, str]]:
    """(href, rel, text) of every source link in the linkback list."""
    return [(a.get("href"), a.get("rel"), a.text_content())
            for a in page.xpath("//ol[contains(@class, 'linkback-list')]//a")]


# Discovery: <link rel="pingback">, X-Pingback, the TrackBack block and its RDF -----------


def test_post_page_advertises_the_pingback_server_in_head_and_header(blog):
    blog.add_post("target-post")

    response, page = get_post_page(blog, "target-post")

    assert page.xpath("/html/head/link[@rel='pingback']/@href") == [xmlrpc_url(blog)]
    assert page.xpath("/html/body//link[@rel='pingback']") == []
    assert response.headers["X-Pingback"] == xmlrpc_url(blog)
    discovered = Document(response.data, blog.post_url("target-post")).pingback_server()
    assert discovered == xmlrpc_url(blog)


def test_pages_that_are_not_posts_send_no_x_pingback_header(blog):
    blog.add_post("target-post")
    client = blog.app.test_client()
    client.get("/posts/target-post")

    response = client.get("/")

    assert response.status_code == 200
    assert "X-Pingback" not in response.headers


def test_trackback_block_shows_the_posts_trackback_url(blog):
    post = blog.add_post("target-post")

    _, page = get_post_page(blog, "target-post")

    [block] = page.find_class("linkback-trackback")
    [field] = block.find_class("linkback-trackback-url")
    assert field.get("value") == trackback_url(blog, post)
    assert field.get("readonly") is not None
    [label] = block.iter("label")
    assert label.get("for") == field.get("id")


RDF_TITLES = [
    pytest.param("A plain title", id="plain"),
    pytest.param("Pings -- and what they are", id="double-dash"),
    pytest.param("Arrows --> and <!-- comment openers", id="comment-delimiters"),
    pytest.param("Ends with a dash -", id="trailing-dash"),
    pytest.param("---", id="only-dashes"),
    pytest.param('He said "hi" & she said \'bye\'', id="quotes-and-ampersand"),
    pytest.param("<b>Not bold</b> </rdf:RDF>", id="markup"),
    pytest.param("Café — ünïcode ✓", id="unicode"),
]


@pytest.mark.parametrize("title", RDF_TITLES)
def test_trackback_rdf_parses_with_the_permalink_and_trackback_url(blog, title):
    post = blog.add_post("target-post", title=title)

    response, page = get_post_page(blog, "target-post")

    assert Document(response.data, blog.post_url("target-post")).trackback_rdf() == [TrackbackRDF(
        about=blog.post_url("target-post"), identifier=blog.post_url("target-post"), title=title,
        ping=trackback_url(blog, post))]
    # The RDF sits whole in one HTML comment: it did not end early and spill into the page.
    comments = [c.text.strip() for c in page.iter(etree.Comment) if "rdf:RDF" in c.text]
    assert len(comments) == 1
    assert comments[0].startswith("<rdf:RDF") and comments[0].endswith("</rdf:RDF>")


@pytest.mark.parametrize("title", ["Line\x0bbreak from Word", "Form\x0cfeed"])
def test_trackback_rdf_survives_a_control_character_in_the_title(blog, title):
    post = blog.add_post("target-post", title=title)

    response, _ = get_post_page(blog, "target-post")

    [rdf] = Document(response.data, blog.post_url("target-post")).trackback_rdf()
    assert rdf.ping == trackback_url(blog, post)


def test_post_with_pings_closed_advertises_nothing(blog):
    blog.add_post("closed", pings_open=False)

    response, page = get_post_page(blog, "closed")

    assert page.xpath("//link[@rel='pingback']") == []
    assert "X-Pingback" not in response.headers
    assert page.find_class("linkback-trackback") == []
    assert page.find_class("linkback-trackback-url") == []
    assert Document(response.data, blog.post_url("closed")).trackback_rdf() == []


def test_post_with_comments_closed_still_advertises_pings(blog):
    post = blog.add_post("no-comments", comments_open=False)

    response, page = get_post_page(blog, "no-comments")

    assert response.headers["X-Pingback"] == xmlrpc_url(blog)
    assert page.find_class("linkback-trackback-url")[0].get("value") == trackback_url(blog, post)


# The list of approved linkbacks -----------------------------------------------------------


def test_list_shows_only_approved_linkbacks_with_nofollow_ugc_links(blog, source_site):
    blog.add_post("target-post")
    first = pingback(blog, source_site, "/first", "target-post", title="First reply")
    second = pingback(blog, source_site, "/second", "target-post", title="Second reply")
    spam = pingback(blog, source_site, "/spam", "target-post", title="Cheap pills")
    pending = pingback(blog, source_site, "/pending", "target-post", title="Not yet read")
    moderate(blog, "approve", first, second)
    moderate(blog, "spam", spam)

    _, page = get_post_page(blog, "target-post")

    assert listed(page) == [(source_site.url + "/first", "nofollow ugc", "First reply"),
                            (source_site.url + "/second", "nofollow ugc", "Second reply")]
    assert [item.get("id") for item in page.find_class("linkback")] == [
        f"linkback-{first}", f"linkback-{second}"]
    assert page.find_class("linkbacks-count")[0].text_content() == "(2)"
    assert {row.id: row.status for row in blog.linkbacks()}[pending] == Status.PENDING.value


def test_post_without_approved_linkbacks_shows_no_list(blog, source_site):
    blog.add_post("target-post")
    pingback(blog, source_site, "/pending", "target-post")

    _, page = get_post_page(blog, "target-post")

    assert page.find_class("linkbacks") == []
    assert page.find_class("linkback-list") == []


def test_markup_in_a_linkback_title_and_excerpt_is_shown_as_text(blog, source_site):
    blog.add_post("target-post")
    row = pingback(blog, source_site, "/evil", "target-post",
                   title="&lt;script&gt;alert(1)&lt;/script&gt;",
                   text="Look: &lt;img src=x onerror=alert(2)&gt; I wrote about")
    moderate(blog, "approve", row)

    _, page = get_post_page(blog, "target-post")

    [section] = page.find_class("linkbacks")
    assert [a.text_content() for a in section.iter("a")] == ["<script>alert(1)</script>"]
    excerpt = section.find_class("linkback-excerpt")[0].text_content()
    assert "<img src=x onerror=alert(2)>" in excerpt
    assert [e.tag for e in section.iter("script", "img")] == []


def test_closing_pings_keeps_the_approved_list_visible(blog, source_site):
    blog.add_post("target-post")
    moderate(blog, "approve", pingback(blog, source_site, "/reply", "target-post", title="A reply"))
    with blog.app.app_context():
        Post.query.filter_by(slug="target-post").one().pings_open = False
        blog_db.session.commit()

    _, page = get_post_page(blog, "target-post")

    assert listed(page) == [(source_site.url + "/reply", "nofollow ugc", "A reply")]
    assert page.find_class("linkback-trackback") == []


@pytest.mark.parametrize(("approved", "text"),
                         [(0, "0 linkbacks"), (1, "1 linkback"), (2, "2 linkbacks")])
def test_count_macro_counts_approved_linkbacks(blog, source_site, approved, text):
    blog.add_post("target-post")
    ids = [pingback(blog, source_site, f"/reply-{n}", "target-post") for n in range(approved + 1)]
    if approved:
        moderate(blog, "approve", *ids[:approved])  # the last one stays pending

    with blog.app.test_request_context():
        post = Post.query.filter_by(slug="target-post").one()
        html = render_template_string(
            '{% import "linkback/macros.html" as linkback %}{{ linkback.count(post) }}', post=post)

    span = lxml.html.fragment_fromstring(html)
    assert (span.tag, span.get("class"), span.text_content()) == ("span", "linkback-count", text)

"""Incoming TrackBack 1.2 through real HTTP: form-encoded POSTs, XML answers, charsets."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import lxml.html
import pytest
import requests
from defusedxml import ElementTree as SafeET

from flask_linkback.models import Status

FORM = "application/x-www-form-urlencoded"
FORM_UTF8 = f"{FORM}; charset=utf-8"

# No proxies from the environment: every request goes straight to 127.0.0.1.
http = requests.Session()
http.trust_env = False


def trackback_url(blog: Any, post_id: Any) -> str:
    return f"{blog.url}/trackback/{post_id}"


def send(blog: Any, post_id: Any, fields: dict[str, str] | list[tuple[str, str]] | None = None, *,
         body: bytes | None = None, content_type: str = FORM_UTF8,
         encoding: str = "utf-8") -> requests.Response:
    """POST a TrackBack ping to the live blog, as a sending blog would."""
    if body is None:
        body = urlencode(fields or {}, encoding=encoding).encode("ascii")
    return http.post(trackback_url(blog, post_id), data=body,
                     headers={"Content-Type": content_type}, timeout=10)


def parse_answer(response: requests.Response) -> tuple[int, str | None]:
    """The TrackBack answer as (error, message), after checking it is the spec's XML."""
    assert response.headers["Content-Type"].startswith("text/xml")
    root = SafeET.fromstring(response.content)
    assert root.tag == "response"
    return int(root.findtext("error")), root.findtext("message")


def ping_fields(source: str, **fields: str) -> dict[str, str]:
    return {"url": source, "title": "A reply", "excerpt": "I wrote about it.",
            "blog_name": "Other blog", **fields}


def approve(blog: Any, *ids: int) -> None:
    result = blog.app.test_cli_runner().invoke(args=["linkback", "approve", *map(str, ids)])
    assert result.exit_code == 0, result.output


def post_page(blog: Any, slug: str) -> lxml.html.HtmlElement:
    return lxml.html.fromstring(blog.app.test_client().get(f"/posts/{slug}").data)


# Accepted pings --------------------------------------------------------------------


def test_trackback_is_stored_pending_with_title_excerpt_and_blog_name(blog, source_site):
    post = blog.add_post("target-post")
    source = source_site.linking_page("/reply", blog.post_url("target-post"), title="Page title")

    response = send(blog, post.id, ping_fields(source, title="C++ & Rust = 100% fun",
                                               excerpt="Some thoughts on it.",
                                               blog_name="The Other Blog"))

    assert response.status_code == 200
    assert parse_answer(response) == (0, None)
    [row] = blog.linkbacks()
    assert (row.kind, row.source_url, row.post_id) == ("trackback", source, str(post.id))
    assert (row.title, row.excerpt, row.blog_name) == (
        "C++ & Rust = 100% fun", "Some thoughts on it.", "The Other Blog")
    assert row.status == Status.PENDING.value
    assert row.target_url == blog.post_url("target-post")


def test_trackback_without_title_or_excerpt_takes_them_from_the_source_page(blog, source_site):
    post = blog.add_post("target-post")
    source = source_site.linking_page("/reply", blog.post_url("target-post"), title="Page title",
                                      text="Here is what I think of")

    assert parse_answer(send(blog, post.id, {"url": source})) == (0, None)

    [row] = blog.linkbacks()
    assert row.title == "Page title"
    assert row.excerpt == "[…] Here is what I think of this post today. […]"
    assert row.blog_name is None


def test_trackback_to_a_post_with_comments_closed_but_pings_open_is_accepted(blog, source_site):
    post = blog.add_post("no-comments", comments_open=False)
    source = source_site.linking_page("/reply", blog.post_url("no-comments"))

    assert parse_answer(send(blog, post.id, ping_fields(source))) == (0, None)
    assert [row.source_url for row in blog.linkbacks()] == [source]


def test_trackback_as_wordpress_6_1_sends_it_is_accepted(blog, source_site):
    # WordPress's trackback(): wp_safe_remote_post() with a body array, sent by
    # http_build_query() in this field order, UTF-8 bytes, and no charset anywhere.
    post = blog.add_post("target-post")
    source = source_site.linking_page("/2024/05/reply/", blog.post_url("target-post"))
    body = urlencode([("title", "Réponse à « target »"), ("url", source),
                      ("blog_name", "Mon blog — WordPress"),
                      ("excerpt", "Un extrait […] avec des accents : été")]).encode("ascii")

    response = http.post(trackback_url(blog, post.id), data=body, timeout=10, headers={
        "Content-Type": FORM, "User-Agent": "WordPress/6.1.9; http://wp.example/",
        "Accept": "*/*", "Accept-Encoding": "deflate, gzip, br"})

    assert parse_answer(response) == (0, None)
    [row] = blog.linkbacks()
    assert (row.title, row.blog_name, row.excerpt) == (
        "Réponse à « target »", "Mon blog — WordPress", "Un extrait […] avec des accents : été")


def test_html_entities_in_a_wordpress_trackback_show_as_characters(blog, source_site):
    # do_trackbacks(): the_title is wptexturize()d; the excerpt is
    # wp_html_excerpt(the_content, 252, '&#8230;'); blogname is stored esc_html()ed.
    # All three arrive with entities in them.
    post = blog.add_post("target-post")
    source = source_site.linking_page("/2024/05/reply/", blog.post_url("target-post"))
    body = urlencode([("title", "It&#8217;s &#8220;here&#8221;"), ("url", source),
                      ("blog_name", "Tom &amp; Jerry&#039;s blog"),
                      ("excerpt", "A long post, cut by WordPress&#8230;")]).encode("ascii")
    sent = http.post(trackback_url(blog, post.id), data=body, headers={"Content-Type": FORM},
                     timeout=10)
    assert parse_answer(sent) == (0, None)
    approve(blog, *[row.id for row in blog.linkbacks()])

    [item] = post_page(blog, "target-post").find_class("linkback")

    # Typographic quotes on purpose: the entities decoded.
    assert item.find_class("linkback-source")[0].text_content() == "It’s “here”"  # noqa: RUF001
    assert item.find_class("linkback-blog")[0].text_content() == "on Tom & Jerry's blog"
    assert item.find_class("linkback-excerpt")[0].text_content() == "A long post, cut by WordPress…"


CHARSET_CASES = [
    # (what the sender does, Content-Type, charset form field, body encoding, text)
    ("iso-8859-1 in the header", f"{FORM}; charset=iso-8859-1", None, "iso-8859-1", "Café"),
    ("Shift_JIS in the header", f"{FORM}; charset=Shift_JIS", None, "shift_jis", "日本語のブログ"),
    ("quoted EUC-JP in the header", f'{FORM}; charset="EUC-JP"', None, "euc_jp", "日本語のブログ"),
    ("Shift_JIS in a charset form field", FORM, "Shift_JIS", "shift_jis", "日本語のブログ"),
    ("iso-8859-1 bytes, no charset at all", FORM, None, "iso-8859-1", "Café crème"),
]


@pytest.mark.parametrize(("content_type", "field", "encoding", "text"),
                         [case[1:] for case in CHARSET_CASES],
                         ids=[case[0] for case in CHARSET_CASES])
def test_trackback_text_is_decoded_by_the_charset_the_sender_names(
        blog, source_site, content_type, field, encoding, text):
    post = blog.add_post("target-post")
    source = source_site.linking_page("/reply", blog.post_url("target-post"))
    fields = [("url", source), ("title", text), ("excerpt", f"{text}, in short"),
              ("blog_name", f"{text} blog")]
    if field is not None:
        fields.append(("charset", field))

    response = send(blog, post.id, fields, content_type=content_type, encoding=encoding)

    assert parse_answer(response) == (0, None)
    [row] = blog.linkbacks()
    assert (row.title, row.excerpt, row.blog_name) == (text, f"{text}, in short", f"{text} blog")


def test_header_charset_wins_over_the_charset_form_field(blog, source_site):
    post = blog.add_post("target-post")
    source = source_site.linking_page("/reply", blog.post_url("target-post"))
    fields = [("url", source), ("title", "日本語"), ("charset", "iso-8859-1")]

    send(blog, post.id, fields, content_type=f"{FORM}; charset=Shift_JIS", encoding="shift_jis")

    assert [row.title for row in blog.linkbacks()] == ["日本語"]


def test_trackback_without_link_check_is_stored_without_fetching_the_source(
        app_config, source_site, request):
    app_config["LINKBACK_TRACKBACK_REQUIRE_LINK"] = False
    blog = request.getfixturevalue("blog")
    post = blog.add_post("target-post")
    source = source_site.page("/nolink", "<html><title>x</title><p>No link here.</p></html>")

    response = send(blog, post.id, ping_fields(source, title="Sent by hand"))

    assert parse_answer(response) == (0, None)
    assert [(row.source_url, row.title) for row in blog.linkbacks()] == [(source, "Sent by hand")]
    assert source_site.hits("/nolink") == 0


@pytest.mark.parametrize(("field", "limit"), [("title", 250), ("excerpt", 252)])
@pytest.mark.parametrize("extra", [0, 1, 500], ids=["at-limit", "one-over", "far-over"])
def test_long_title_and_excerpt_are_cut_with_an_ellipsis(blog, source_site, field, limit, extra):
    post = blog.add_post("target-post")
    source = source_site.linking_page("/reply", blog.post_url("target-post"))
    sent = "x" * (limit + extra)

    assert parse_answer(send(blog, post.id, ping_fields(source, **{field: sent}))) == (0, None)

    stored = getattr(blog.linkbacks()[0], field)
    assert stored == (sent if extra == 0 else "x" * (limit - 1) + "…")


def test_html_in_title_and_excerpt_is_stored_as_text_and_shown_escaped(blog, source_site):
    post = blog.add_post("target-post")
    source = source_site.linking_page("/reply", blog.post_url("target-post"))
    title = "<b>Bold</b> & <script>alert(1)</script>"
    excerpt = '<img src=x onerror="alert(2)"> read <a href="http://evil.example/">this</a>'
    blog_name = "<i>Evil</i> blog"

    send(blog, post.id, ping_fields(source, title=title, excerpt=excerpt, blog_name=blog_name))
    [row] = blog.linkbacks()
    assert (row.title, row.excerpt, row.blog_name) == (title, excerpt, blog_name)
    approve(blog, row.id)

    [item] = post_page(blog, "target-post").find_class("linkback")
    assert item.find_class("linkback-source")[0].text_content() == title
    assert item.find_class("linkback-excerpt")[0].text_content() == excerpt
    assert item.find_class("linkback-blog")[0].text_content() == f"on {blog_name}"
    assert [e.tag for e in item.iter("script", "img", "b", "i")] == []
    assert [a.get("href") for a in item.iter("a")] == [source]


# Refused pings ---------------------------------------------------------------------


def _no_url(blog, site):
    return {"title": "No url", "excerpt": "x", "blog_name": "b"}, FORM_UTF8


def _blank_url(blog, site):
    return {"url": "   ", "title": "Blank url"}, FORM_UTF8


def _unknown_charset(blog, site):
    source = site.linking_page("/s", blog.post_url("open"))
    return ping_fields(source), f"{FORM}; charset=x-no-such-charset"


def _utf7_in_header(blog, site):
    return ping_fields(site.linking_page("/s", blog.post_url("open"))), f"{FORM}; charset=UTF-7"


def _not_utf8_though_utf8_named(blog, site):
    fields = ping_fields(site.linking_page("/s", blog.post_url("open")), title="Caf\xe9")
    return urlencode(fields, encoding="iso-8859-1").encode("ascii"), FORM_UTF8


def _source_without_link(blog, site):
    source = site.page("/nolink", "<html><title>x</title><p>No link.</p></html>")
    return ping_fields(source), FORM_UTF8


def _source_not_http(blog, site):
    return ping_fields("javascript:alert(1)"), FORM_UTF8


def _source_is_the_post_itself(blog, site):
    return ping_fields(blog.post_url("open")), FORM_UTF8


REFUSALS = [_no_url, _blank_url, _not_utf8_though_utf8_named, _source_without_link,
            _source_not_http, _source_is_the_post_itself]


@pytest.mark.parametrize("case", REFUSALS, ids=[c.__name__[1:] for c in REFUSALS])
def test_refused_trackback_is_error_1_with_a_message_and_stores_nothing(blog, source_site, case):
    post = blog.add_post("open")
    fields, content_type = case(blog, source_site)
    body = fields if isinstance(fields, bytes) else None

    response = send(blog, post.id, None if body else fields, body=body, content_type=content_type)

    assert response.status_code == 200
    error, message = parse_answer(response)
    assert error == 1
    assert message and message.strip()
    assert blog.linkbacks() == []


BAD_CHARSETS = [
    pytest.param("x-no-such-charset", "header", id="unknown-in-header"),
    pytest.param("x-no-such-charset", "field", id="unknown-in-field"),
    pytest.param("UTF-7", "header", id="utf7-in-header"),
    pytest.param("utf-7", "field", id="utf7-in-field"),
    pytest.param("unicode-1-1-utf-7", "header", id="utf7-alias"),
    pytest.param("hex", "header", id="hex-codec"),
    pytest.param("rot13", "header", id="rot13-codec"),
    pytest.param("base64", "field", id="base64-codec"),
    pytest.param("zlib", "field", id="zlib-codec"),
    # Text codecs that are no charset: each was accepted (or answered HTTP 500).
    pytest.param("unicode_escape", "header", id="unicode-escape-codec"),
    pytest.param("raw_unicode_escape", "field", id="raw-unicode-escape-codec"),
    pytest.param("punycode", "header", id="punycode-codec"),
    pytest.param("punycode", "field", id="punycode-in-field"),
    pytest.param("idna", "header", id="idna-codec"),
    pytest.param("undefined", "field", id="undefined-codec"),
    pytest.param("charmap", "header", id="charmap-codec"),
    pytest.param("utf-8\x00", "field", id="nul-in-name"),
]


@pytest.mark.parametrize(("charset", "where"), BAD_CHARSETS)
def test_unusable_charset_is_error_1_and_stores_nothing(blog, source_site, charset, where):
    post = blog.add_post("open")
    fields = ping_fields(source_site.linking_page("/s", blog.post_url("open")))
    if where == "field":
        fields["charset"] = charset
    content_type = f"{FORM}; charset={charset}" if where == "header" else FORM

    response = send(blog, post.id, fields, content_type=content_type)

    assert response.status_code == 200
    error, message = parse_answer(response)
    assert (error, bool(message)) == (1, True)
    assert blog.linkbacks() == []
    assert source_site.hits("/s") == 0


def test_nul_and_control_characters_in_fields_are_no_server_error_and_not_stored(blog, source_site):
    post = blog.add_post("open")
    source = source_site.linking_page("/s", blog.post_url("open"))

    response = send(blog, post.id, ping_fields(source, title="a\x00b", excerpt="c\x00d\x07e",
                                               blog_name="f\x00g"))

    assert response.status_code == 200
    assert parse_answer(response)[0] in (0, 1)
    for row in blog.linkbacks():
        assert not any(ch in text for text in (row.title, row.excerpt, row.blog_name)
                       for ch in "\x00\x07")


def test_body_over_the_size_cap_is_413_with_the_error_xml(app_config, source_site, request):
    app_config["LINKBACK_MAX_REQUEST_BYTES"] = 1024
    blog = request.getfixturevalue("blog")
    post = blog.add_post("open")
    source = source_site.linking_page("/s", blog.post_url("open"))

    response = send(blog, post.id, ping_fields(source, excerpt="x" * 2000))

    assert response.status_code == 413
    error, message = parse_answer(response)
    assert error == 1
    assert "1024" in message
    assert blog.linkbacks() == []


@pytest.mark.parametrize(("case", "words"), [
    (_no_url, "url"), (_unknown_charset, "x-no-such-charset"), (_utf7_in_header, "UTF-7"),
    (_source_without_link, "link")])
def test_refusal_message_says_what_is_wrong(blog, source_site, case, words):
    post = blog.add_post("open")
    fields, content_type = case(blog, source_site)

    _, message = parse_answer(send(blog, post.id, fields, content_type=content_type))

    assert words.lower() in message.lower()


def test_trackback_to_a_post_with_pings_closed_is_refused_clearly(blog, source_site):
    post = blog.add_post("closed", pings_open=False)
    source = source_site.linking_page("/s", blog.post_url("closed"))

    error, message = parse_answer(send(blog, post.id, ping_fields(source)))

    assert error == 1
    assert "closed" in message.lower()
    assert blog.linkbacks() == []
    assert source_site.hits("/s") == 0


def test_second_trackback_from_the_same_source_is_refused(blog, source_site):
    post = blog.add_post("open")
    source = source_site.linking_page("/s", blog.post_url("open"))
    assert parse_answer(send(blog, post.id, ping_fields(source))) == (0, None)

    error, message = parse_answer(send(blog, post.id, ping_fields(source, title="Again")))

    assert error == 1
    assert "already" in message
    assert [row.title for row in blog.linkbacks()] == ["A reply"]


@pytest.mark.parametrize("post_id", [
    pytest.param("999999", id="no-such-id"),
    pytest.param("not-a-number", id="not-a-number"),
    pytest.param("2147483648", id="beyond-32-bit"),
    pytest.param("99999999999999999999999", id="beyond-64-bit"),
    pytest.param("\u00b2", id="superscript-digit"),
])
def test_trackback_to_an_unknown_post_is_404_with_the_error_xml(blog, source_site, post_id,
                                                                request):
    blog.add_post("open")
    source = source_site.linking_page("/s", blog.post_url("open"))

    response = send(blog, post_id, ping_fields(source))

    assert response.status_code == 404
    error, message = parse_answer(response)
    assert error == 1
    assert "no post" in message
    assert blog.linkbacks() == []


# The URL itself, opened in a browser ------------------------------------------------


def test_get_on_trackback_url_shows_a_page_explaining_it(blog):
    post = blog.add_post("target-post", title="The target")
    url = trackback_url(blog, post.id)

    response = http.get(url, timeout=10)

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    page = lxml.html.fromstring(response.content)
    assert "TrackBack URL" in page.findtext(".//h1")
    assert [code.text_content() for code in page.iter("code")] == [url]
    assert [(a.get("href"), a.text_content()) for a in page.iter("a")] == [
        (blog.post_url("target-post"), "The target")]
    assert page.xpath("//meta[@name='robots']/@content") == ["noindex"]


def test_trackback_page_of_a_post_with_pings_closed_says_so(blog):
    post = blog.add_post("closed", pings_open=False)

    response = http.get(trackback_url(blog, post.id), timeout=10)

    assert response.status_code == 200
    page = lxml.html.fromstring(response.content)
    assert "TrackBacks are closed on this post" in page.text_content()


def test_trackback_url_of_a_draft_reveals_nothing_about_it(blog):
    post = blog.add_post("secret-plans", title="Secret merger plans", published_at=None)
    unknown = http.get(trackback_url(blog, 999999), timeout=10)

    response = http.get(trackback_url(blog, post.id), timeout=10)

    assert (response.status_code, response.content) == (unknown.status_code, unknown.content)
    assert blog.app.test_client().get("/posts/secret-plans").status_code == 404

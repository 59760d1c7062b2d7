"""Reading linkback data out of HTML pages: titles, links, excerpts, discovery and TrackBack RDF."""

from __future__ import annotations

import re

import pytest

from flask_linkback.html import ELLIPSIS, Document, TrackbackRDF, collapse_ws, ellipsize

PAGE = "http://source.example/2024/05/a-post"
TARGET = "http://target.example/2024/04/reply-to-me"

RDF_NS = (
    'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" '
    'xmlns:trackback="http://madskills.com/public/xml/rss/module/trackback/"'
)


def wordpress_rdf(permalink: str, title: str) -> str:
    """The autodiscovery comment WordPress prints for each post (``trackback_rdf()``)."""
    return f"""<!--
<rdf:RDF {RDF_NS}>
		<rdf:Description rdf:about="{permalink}"
    dc:identifier="{permalink}"
    dc:title="{title}"
    trackback:ping="{permalink}trackback/" />
	</rdf:RDF>
-->"""


# --- title -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<html><head><title>My post</title></head><body></body></html>", "My post"),
        ("<title>\n   Spread \t over\n  lines   </title>", "Spread over lines"),
        (
            "<title>Fish &amp; Chips &#8212; &lt;b&gt; caf&eacute;</title>",
            "Fish & Chips \u2014 <b> caf\u00e9",
        ),
        ("<title>A&nbsp;B</title>", "A B"),
        ("<title><b>not</b> markup</title>", "<b>not</b> markup"),
    ],
)
def test_title_is_decoded_and_whitespace_collapsed(html: str, expected: str) -> None:
    assert Document(html, PAGE).title == expected


@pytest.mark.parametrize(
    "html",
    [
        "<html><body><p>No title here</p></body></html>",
        "<title></title><p>x</p>",
        "<title>   \n\t </title><p>x</p>",
        "",
    ],
)
def test_missing_or_blank_title_is_none(html: str) -> None:
    assert Document(html, PAGE).title is None


# --- links -------------------------------------------------------------------------------------


def test_links_are_resolved_against_the_page_url_in_document_order() -> None:
    doc = Document(
        """<p><a href="/about">About</a> <a href="other">Other</a>
        <a href="../up?x=1">Up</a> <a href="//cdn.example/f">CDN</a>
        <a href="https://else.example/p#frag">Else</a> <a>no href</a>
        <map><area href="/area" alt="zone"></map></p>""",
        PAGE,
    )
    assert [link.href for link in doc.links()] == [
        "http://source.example/about",
        "http://source.example/2024/05/other",
        "http://source.example/2024/up?x=1",
        "http://cdn.example/f",
        "https://else.example/p#frag",
        "http://source.example/area",
    ]


def test_links_are_resolved_against_base_href_when_present() -> None:
    doc = Document(
        '<head><base href="https://static.example/root/"></head>'
        '<body><a href="page">P</a><a href="/abs">A</a></body>',
        PAGE,
    )
    assert doc.base_url == "https://static.example/root/"
    assert [link.href for link in doc.links()] == [
        "https://static.example/root/page",
        "https://static.example/abs",
    ]


def test_relative_base_href_is_itself_resolved_against_the_page_url() -> None:
    doc = Document('<base href="/blog/"><a href="entry">E</a>', PAGE)
    assert [link.href for link in doc.links()] == ["http://source.example/blog/entry"]


def test_empty_base_href_is_ignored() -> None:
    doc = Document('<base href="  "><a href="entry">E</a>', PAGE)
    assert doc.base_url == PAGE
    assert [link.href for link in doc.links()] == ["http://source.example/2024/05/entry"]


def test_link_text_and_rel_are_exposed() -> None:
    doc = Document(
        '<a href="/x" rel="Nofollow  UGC"> Some <b>bold</b>\n text </a>',
        PAGE,
    )
    (link,) = doc.links()
    assert link.text == "Some bold text"
    assert link.rel == ("nofollow", "ugc")


def test_http_links_drop_javascript_mailto_and_other_schemes() -> None:
    doc = Document(
        """<a href="javascript:alert(1)">js</a><a href="mailto:x@example.com">mail</a>
        <a href="ftp://files.example/">ftp</a><a href="/ok">ok</a>
        <a href="https://secure.example/">tls</a>""",
        PAGE,
    )
    assert [link.href for link in doc.http_links()] == [
        "http://source.example/ok",
        "https://secure.example/",
    ]


def test_links_inside_html_comments_and_scripts_are_ignored() -> None:
    doc = Document(
        """<p><!-- <a href="http://commented.example/">old</a> -->
        <script>document.write('<a href="http://scripted.example/">s</a>')</script>
        <a href="http://real.example/">real</a></p>""",
        PAGE,
    )
    assert [link.href for link in doc.links()] == ["http://real.example/"]


# --- find_link_to ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "href",
    [
        TARGET,
        "HTTP://TARGET.EXAMPLE/2024/04/reply-to-me",
        "http://target.example:80/2024/04/reply-to-me",
        "http://target.example/2024/04/reply-to-me#comments",
        "  http://target.example/2024/04/reply-to-me  ",
        "http://target.example/2024/04/%72eply-to-me",
    ],
)
def test_find_link_to_matches_spelling_variants_of_the_target(href: str) -> None:
    doc = Document(f'<p>Unrelated <a href="/x">x</a>, but <a href="{href}">this one</a>.</p>', PAGE)
    link = doc.find_link_to([TARGET])
    assert link is not None
    assert link.text == "this one"


def test_find_link_to_ignores_the_fragment_of_the_target_too() -> None:
    doc = Document(f'<a href="{TARGET}">t</a>', PAGE)
    assert doc.find_link_to([f"{TARGET}#respond"]) is not None


def test_find_link_to_decodes_entities_in_hrefs() -> None:
    doc = Document('<a href="http://target.example/?p=12&amp;lang=en">t</a>', PAGE)
    assert doc.find_link_to(["http://target.example/?p=12&lang=en"]) is not None


def test_find_link_to_resolves_relative_hrefs() -> None:
    doc = Document('<a href="/2024/04/reply-to-me">t</a>', "http://target.example/other")
    assert doc.find_link_to([TARGET]) is not None


def test_find_link_to_accepts_any_of_several_targets_and_returns_the_first_in_the_page() -> None:
    doc = Document(
        '<a href="http://target.example/?p=7">short</a> <a href="' + TARGET + '">long</a>',
        PAGE,
    )
    link = doc.find_link_to([TARGET, "http://target.example/?p=7"])
    assert link is not None and link.text == "short"


@pytest.mark.parametrize(
    "href",
    [
        "https://target.example/2024/04/reply-to-me",
        "http://target.example/2024/04/reply-to-me/",
        "http://target.example/2024/04/Reply-To-Me",
        "http://target.example:8080/2024/04/reply-to-me",
        "http://target.example/2024/04/reply-to-me?replytocom=5",
        "http://evil.example/?u=http://target.example/2024/04/reply-to-me",
    ],
)
def test_find_link_to_does_not_match_a_different_page(href: str) -> None:
    doc = Document(f'<a href="{href}">t</a>', PAGE)
    assert doc.find_link_to([TARGET]) is None


def test_find_link_to_ignores_a_link_that_is_only_in_a_comment() -> None:
    doc = Document(f'<p>text <!-- <a href="{TARGET}">t</a> --></p>', PAGE)
    assert doc.find_link_to([TARGET]) is None


# --- context -----------------------------------------------------------------------------------


def test_context_is_the_sentence_around_the_link_between_ellipses() -> None:
    doc = Document(
        f'<div><p>Another paragraph.</p><p>I really liked <a href="{TARGET}">this post</a> '
        "about parsers.</p></div>",
        PAGE,
    )
    link = doc.find_link_to([TARGET])
    assert link is not None
    assert doc.context(link) == f"[{ELLIPSIS}] I really liked this post about parsers. [{ELLIPSIS}]"


def test_context_keeps_punctuation_and_words_intact_across_inline_markup() -> None:
    doc = Document(
        f'<p>See <b>this</b>, it is <a href="{TARGET}">here</a>. Some <em>wor</em>ds '
        "<span>glued</span>-on.</p>",
        PAGE,
    )
    link = doc.find_link_to([TARGET])
    assert link is not None
    assert (
        doc.context(link) == f"[{ELLIPSIS}] See this, it is here. Some words glued-on. [{ELLIPSIS}]"
    )


def test_context_separates_words_at_block_and_line_breaks() -> None:
    doc = Document(
        f'<li>first line<br>second <a href="{TARGET}">link</a><div>inner block</div>after</li>',
        PAGE,
    )
    link = doc.find_link_to([TARGET])
    assert link is not None
    assert (
        doc.context(link) == f"[{ELLIPSIS}] first line second link inner block after [{ELLIPSIS}]"
    )


def test_context_leaves_out_scripts_styles_and_comments() -> None:
    doc = Document(
        f"<p>Before<script>var x = 1;</script> <style>p {{}}</style>"
        f'text <!-- hidden --><a href="{TARGET}">link</a> after<script>y()</script>.</p>',
        PAGE,
    )
    link = doc.find_link_to([TARGET])
    assert link is not None
    assert doc.context(link) == f"[{ELLIPSIS}] Before text link after. [{ELLIPSIS}]"


def test_context_is_trimmed_to_whole_words_on_both_sides() -> None:
    before = " ".join(f"before{i:02d}" for i in range(30))
    after = " ".join(f"after{i:02d}" for i in range(30))
    doc = Document(f'<p>{before} <a href="{TARGET}">the link</a> {after}</p>', PAGE)
    link = doc.find_link_to([TARGET])
    assert link is not None

    excerpt = doc.context(link, chars=40)

    match = re.fullmatch(rf"\[{ELLIPSIS}\] (.*) the link (.*) \[{ELLIPSIS}\]", excerpt)
    assert match is not None, excerpt
    kept_before, kept_after = match.groups()
    assert len(kept_before) <= 40 and len(kept_after) <= 40
    # every kept word is a whole word of the page, and the nearest words are kept
    assert all(re.fullmatch(r"before\d\d", word) for word in kept_before.split())
    assert all(re.fullmatch(r"after\d\d", word) for word in kept_after.split())
    assert kept_before.split()[-1] == "before29"
    assert kept_after.split()[0] == "after00"
    assert "before26" in kept_before and "after03" in kept_after


def test_context_keeps_a_word_that_ends_exactly_at_the_cut() -> None:
    # "bbbb cccc" and "dddd eeee" are exactly 9 characters: no word needs dropping.
    doc = Document(f'<p>aaaa bbbb cccc <a href="{TARGET}">L</a> dddd eeee ffff</p>', PAGE)
    link = doc.find_link_to([TARGET])
    assert link is not None
    assert doc.context(link, chars=9) == f"[{ELLIPSIS}] bbbb cccc L dddd eeee [{ELLIPSIS}]"


def test_context_of_a_link_without_surrounding_text_is_just_the_link_text() -> None:
    doc = Document(f'<body><a href="{TARGET}">  lonely   link </a></body>', PAGE)
    link = doc.find_link_to([TARGET])
    assert link is not None
    assert doc.context(link) == f"[{ELLIPSIS}] lonely link [{ELLIPSIS}]"


# --- rel discovery -----------------------------------------------------------------------------


def test_rel_urls_lists_link_and_a_elements_in_document_order() -> None:
    doc = Document(
        """<html><head><link rel="webmention" href="/wm-head"></head>
        <body><a rel="webmention" href="/wm-a">endpoint</a>
        <link rel="webmention" href="/wm-body-link"></body></html>""",
        PAGE,
    )
    assert doc.rel_urls("webmention") == [
        "http://source.example/wm-head",
        "http://source.example/wm-a",
        "http://source.example/wm-body-link",
    ]


def test_rel_urls_puts_an_earlier_a_before_a_later_link() -> None:
    doc = Document(
        '<body><a href="/first" rel="webmention">a</a>'
        '<link href="/second" rel="webmention"></body>',
        PAGE,
    )
    assert doc.rel_urls("webmention") == [
        "http://source.example/first",
        "http://source.example/second",
    ]


@pytest.mark.parametrize(
    "rel",
    [
        "webmention",
        "WebMention",
        "  webmention  ",
        "me webmention",
        "webmention\tnofollow",
        "a\nWEBMENTION b",
    ],
)
def test_rel_urls_matches_one_token_of_the_rel_list_case_insensitively(rel: str) -> None:
    doc = Document(f'<link rel="{rel}" href="/endpoint">', PAGE)
    assert doc.rel_urls("webmention") == ["http://source.example/endpoint"]
    assert doc.rel_urls("WEBMENTION") == ["http://source.example/endpoint"]


@pytest.mark.parametrize("rel", ["webmentions", "not-webmention", "web mention", "pingback", ""])
def test_rel_urls_does_not_match_partial_tokens(rel: str) -> None:
    doc = Document(f'<link rel="{rel}" href="/endpoint">', PAGE)
    assert doc.rel_urls("webmention") == []


def test_rel_urls_empty_href_means_the_page_itself_and_missing_href_is_skipped() -> None:
    doc = Document(
        '<link rel="webmention"><a rel="webmention">no href</a><link rel="webmention" href="">',
        PAGE,
    )
    assert doc.rel_urls("webmention") == [PAGE]


def test_rel_urls_keeps_the_query_string_and_decodes_entities() -> None:
    doc = Document('<link rel="webmention" href="/wm?query=yes&amp;x=1">', PAGE)
    assert doc.rel_urls("webmention") == ["http://source.example/wm?query=yes&x=1"]


def test_rel_urls_ignores_commented_out_and_scripted_elements() -> None:
    doc = Document(
        """<head><!-- <link rel="webmention" href="/commented"> -->
        <script>var s = '<link rel="webmention" href="/scripted">';</script>
        <link rel="webmention" href="/real"></head>""",
        PAGE,
    )
    assert doc.rel_urls("webmention") == ["http://source.example/real"]


def test_rel_urls_resolves_against_base_href() -> None:
    doc = Document('<base href="http://base.example/dir/"><link rel="webmention" href="wm">', PAGE)
    assert doc.rel_urls("webmention") == ["http://base.example/dir/wm"]


@pytest.mark.parametrize(
    "tag",
    [
        '<link rel="pingback" href="http://source.example/xmlrpc.php">',
        '<link href="http://source.example/xmlrpc.php" rel="pingback">',
        '<LINK REL="Pingback" HREF="http://source.example/xmlrpc.php">',
        '<link rel="pingback" href="/xmlrpc.php" />',
        '<link rel="pingback" href="  http://source.example/xmlrpc.php\n">',
    ],
)
def test_pingback_server_is_found_whatever_the_attribute_order_or_case(tag: str) -> None:
    doc = Document(f"<html><head>{tag}</head><body>x</body></html>", PAGE)
    assert doc.pingback_server() == "http://source.example/xmlrpc.php"


def test_pingback_server_decodes_entities_in_the_href() -> None:
    doc = Document('<link rel="pingback" href="http://source.example/rpc?a=1&amp;b=2">', PAGE)
    assert doc.pingback_server() == "http://source.example/rpc?a=1&b=2"


@pytest.mark.parametrize(
    "html",
    [
        "<p>no discovery</p>",
        '<link rel="pingback">',
        '<link rel="pingback" href="">',
        '<link rel="pingback" href="   ">',
        '<!-- <link rel="pingback" href="/commented.php"> -->',
        '<a rel="pingback" href="/anchor-is-not-a-link-element">a</a>',
    ],
)
def test_pingback_server_is_none_without_a_usable_link_element(html: str) -> None:
    assert Document(html, PAGE).pingback_server() is None


def test_pingback_server_takes_the_first_usable_link() -> None:
    doc = Document(
        '<link rel="pingback" href=""><link rel="pingback" href="/one">'
        '<link rel="pingback" href="/two">',
        PAGE,
    )
    assert doc.pingback_server() == "http://source.example/one"


# --- TrackBack RDF -----------------------------------------------------------------------------


def test_trackback_rdf_reads_the_wordpress_autodiscovery_block() -> None:
    permalink = "http://source.example/2024/05/a-post/"
    doc = Document(
        "<html><body><article><p>Post</p>"
        f"{wordpress_rdf(permalink, 'A post &#8217;quoted&#8217; &amp; more')}"
        "</article></body></html>",
        permalink,
    )
    assert doc.trackback_rdf() == [
        TrackbackRDF(
            about=permalink,
            identifier=permalink,
            title="A post \u2019quoted\u2019 & more",
            ping=f"{permalink}trackback/",
        )
    ]


def test_trackback_rdf_finds_one_block_per_post_on_an_index_page() -> None:
    doc = Document(
        wordpress_rdf("http://s.example/one/", "One")
        + "<p>between</p>"
        + wordpress_rdf("http://s.example/two/", "Two"),
        "http://s.example/",
    )
    assert [block.ping for block in doc.trackback_rdf()] == [
        "http://s.example/one/trackback/",
        "http://s.example/two/trackback/",
    ]


def test_trackback_rdf_in_a_comment_before_the_html_element_is_found() -> None:
    page = (
        "<!DOCTYPE html>"
        + wordpress_rdf("http://s.example/p/", "P")
        + "<html><body>x</body></html>"
    )
    assert [block.ping for block in Document(page, PAGE).trackback_rdf()] == [
        "http://s.example/p/trackback/"
    ]


def test_trackback_rdf_skips_descriptions_without_a_ping_url() -> None:
    doc = Document(
        f'<!-- <rdf:RDF {RDF_NS}><rdf:Description rdf:about="http://s.example/" dc:title="t"/>'
        "</rdf:RDF> -->",
        PAGE,
    )
    assert doc.trackback_rdf() == []


def test_trackback_rdf_ignores_malformed_rdf_and_ordinary_comments() -> None:
    doc = Document(
        f"""<!-- just a comment -->
        <!-- <rdf:RDF {RDF_NS}><rdf:Description trackback:ping="http://s.example/tb"> -->
        <!-- </rdf:RDF> <rdf:RDF -->""",
        PAGE,
    )
    assert doc.trackback_rdf() == []


def test_trackback_rdf_outside_a_comment_is_not_read() -> None:
    # Only the comment form is TrackBack autodiscovery; visible markup is page content.
    block = wordpress_rdf("http://s.example/p/", "P").removeprefix("<!--").removesuffix("-->")
    assert Document(f"<body>{block}</body>", PAGE).trackback_rdf() == []


def test_entity_expansion_in_a_trackback_comment_is_ignored_not_expanded() -> None:
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10 if i > 1 else "&lol;" * 10}">'
        for i in range(1, 10)
    )
    hostile = f"""<!--
<!DOCTYPE rdf:RDF [{entities}]>
<rdf:RDF {RDF_NS}>
<rdf:Description rdf:about="http://evil.example/" dc:title="&lol9;"
    trackback:ping="http://evil.example/tb" /></rdf:RDF>
-->"""
    inline_dtd = f"""<!--
<rdf:RDF {RDF_NS}><!DOCTYPE x [<!ENTITY big "{"x" * 100}">]>
<rdf:Description rdf:about="http://evil.example/" dc:title="&big;&big;"
    trackback:ping="http://evil.example/tb2" /></rdf:RDF>
-->"""
    good = wordpress_rdf("http://s.example/good/", "Good")
    doc = Document(f"<body>{hostile}{inline_dtd}<p>text</p>{good}</body>", PAGE)

    blocks = doc.trackback_rdf()

    assert [block.ping for block in blocks] == ["http://s.example/good/trackback/"]
    assert all("lol" not in block.title and "xxx" not in block.title for block in blocks)


# --- visible text ------------------------------------------------------------------------------


def test_text_is_the_visible_body_text_without_scripts_styles_or_head() -> None:
    doc = Document(
        """<html><head><title>Title text</title><style>body { color: red }</style>
        <script>var secret = "script text";</script></head>
        <body><h1>Heading</h1><p>First <b>bold</b>, then <i>it</i>alic.</p>
        <noscript>enable js</noscript><template><p>template text</p></template>
        <!-- comment text --><p>Second&nbsp;para &amp; more</p>
        <script>alert("inline")</script></body></html>""",
        PAGE,
    )
    assert doc.text == "Heading First bold, then italic. Second para & more"
    assert doc.text_length == len(doc.text)


def test_link_text_length_counts_the_characters_inside_links() -> None:
    doc = Document(
        '<p>Read <a href="/a">abc</a> and <a href="/b">de  f</a> or <a>none</a></p>', PAGE
    )
    assert doc.link_text_length == len("abc") + len("de f")


def test_a_malformed_href_is_skipped_instead_of_breaking_the_page() -> None:
    doc = Document(
        f'<a href="http://[::1/broken">bad</a><a href="{TARGET}">good</a>'
        '<link rel="pingback" href="http://[x/"><link rel="pingback" href="/xmlrpc.php">'
        '<link rel="webmention" href="http://[y/"><link rel="webmention" href="/wm">',
        PAGE,
    )
    assert [link.text for link in doc.links()] == ["good"]
    assert doc.find_link_to([TARGET]) is not None
    assert doc.pingback_server() == "http://source.example/xmlrpc.php"
    assert doc.rel_urls("webmention") == ["http://source.example/wm"]


def test_a_malformed_base_href_falls_back_to_the_page_url() -> None:
    doc = Document('<base href="http://[::1/"><a href="entry">E</a>', PAGE)
    assert [link.href for link in doc.links()] == ["http://source.example/2024/05/entry"]


# --- robustness and encodings ------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        "",
        b"",
        "   \n\t ",
        b"\x00\x01\x02",
        "<<<>>> &&& </p></div>",
        "<!-- only a comment -->",
        "<p><b><i>unclosed <a href='/x'>tags<table><tr><td>cell</p>",
        "<a href='http://[::1/broken'>bad url</a>",
        "<?xml version='1.0' encoding='utf-8'?><html><body><p>xhtml</p></body></html>",
        "\ufeff<p>bom</p>",
        b"\xff\xfe\xfa<p>invalid utf-8 \xc3</p>",
    ],
)
def test_broken_or_empty_input_never_raises(content: str | bytes) -> None:
    doc = Document(content, PAGE)
    assert isinstance(doc.text, str)
    assert doc.title is None
    assert isinstance(list(doc.links()), list)
    assert doc.rel_urls("webmention") == []
    assert doc.pingback_server() is None
    assert doc.trackback_rdf() == []
    assert doc.find_link_to([TARGET]) is None


def test_broken_html_still_yields_its_links_and_text() -> None:
    doc = Document("<div><p>unclosed <a href=/x>link<table><tr><td>cell</p></div></b></i>", PAGE)
    assert [link.href for link in doc.links()] == ["http://source.example/x"]
    assert doc.text == "unclosed link cell"


@pytest.mark.parametrize(
    ("codec", "meta", "words"),
    [
        ("iso-8859-1", '<meta charset="iso-8859-1">', "Caf\u00e9 cr\u00e8me br\u00fbl\u00e9e"),
        (
            "shift_jis",
            '<meta http-equiv="Content-Type" content="text/html; charset=Shift_JIS">',
            "\u65e5\u672c\u8a9e\u306e\u30da\u30fc\u30b8",
        ),
        ("utf-8", '<meta charset="utf-8">', "\u00dcbersicht \u2014 \u65e5\u672c"),
    ],
)
def test_bytes_are_decoded_with_the_charset_the_page_declares(
    codec: str, meta: str, words: str
) -> None:
    html = f"<html><head>{meta}<title>{words}</title></head><body><p>{words}</p></body></html>"
    doc = Document(html.encode(codec), PAGE)
    assert doc.title == words
    assert doc.text == words


@pytest.mark.parametrize(
    ("codec", "words"),
    [
        ("iso-8859-1", "Caf\u00e9 cr\u00e8me"),
        ("shift_jis", "\u65e5\u672c\u8a9e"),
        ("cp1252", "\u201cquoted\u201d \u20ac"),
    ],
)
def test_bytes_are_decoded_with_the_encoding_given_by_the_caller(codec: str, words: str) -> None:
    html = f"<html><head><title>{words}</title></head><body><p>{words}</p></body></html>"
    doc = Document(html.encode(codec), PAGE, encoding=codec)
    assert doc.title == words
    assert doc.text == words


def test_caller_encoding_wins_over_a_wrong_meta_charset() -> None:
    # An HTTP charset outranks the page's own <meta>, as in browsers.
    html = '<html><head><meta charset="utf-8"><title>Caf\u00e9</title></head></html>'
    assert Document(html.encode("iso-8859-1"), PAGE, encoding="iso-8859-1").title == "Caf\u00e9"


def test_an_unknown_encoding_name_does_not_raise() -> None:
    doc = Document(b"<title>plain ascii</title><p>body</p>", PAGE, encoding="no-such-charset")
    assert doc.title == "plain ascii"
    assert doc.text == "body"


def test_str_input_is_not_re_decoded_by_its_meta_charset() -> None:
    doc = Document('<meta charset="iso-8859-1"><title>Caf\u00e9 \u65e5\u672c</title>', PAGE)
    assert doc.title == "Caf\u00e9 \u65e5\u672c"


# --- helpers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [(" a \n\t b  ", "a b"), ("", ""), ("\u00a0x\u00a0\u00a0y", "x y"), ("one", "one")],
)
def test_collapse_ws_joins_runs_of_whitespace(text: str, expected: str) -> None:
    assert collapse_ws(text) == expected


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short text", 20, "short text"),
        ("exactly ten", 11, "exactly ten"),
        ("The quick brown fox jumps over", 20, f"The quick brown fox{ELLIPSIS}"),
        ("The quick brown fox, jumps over", 21, f"The quick brown fox{ELLIPSIS}"),
        ("Supercalifragilistic", 10, f"Supercali{ELLIPSIS}"),
        ("  lots   of\n\nspace  ", 20, "lots of space"),
    ],
)
def test_ellipsize_cuts_at_a_word_boundary_within_the_limit(
    text: str, limit: int, expected: str
) -> None:
    result = ellipsize(text, limit)
    assert result == expected
    assert len(result) <= limit

"""Reading microformats2 from source pages: the entry, its author, its content and its type."""

from __future__ import annotations

from datetime import datetime

import lxml.html
import pytest

from flask_linkback.html import Document
from flask_linkback.mf2 import clean_html, read_entry

PAGE = "https://alice.example/notes/1"
TARGET = "https://blog.example/posts/hello"


def entry_of(body: str, head: str = "", targets: tuple[str, ...] = (TARGET,)):
    html = (f"<!doctype html><html><head><title>Page title</title>{head}</head>"
            f"<body>{body}</body></html>")
    return read_entry(Document(html, PAGE), targets)


CARD = (
    '<div class="p-author h-card"><img class="u-photo" src="/me.jpg" alt="Alice\'s face">'
    '<a class="p-name u-url" href="/">Alice Example</a></div>'
)


@pytest.mark.parametrize(
    ("prop", "expected"),
    [
        ("u-in-reply-to", "reply"),
        ("u-like-of", "like"),
        ("u-repost-of", "repost"),
        ("u-bookmark-of", "bookmark"),
    ],
)
def test_response_type_comes_from_the_property_naming_the_target(prop, expected):
    entry = entry_of(f'<div class="h-entry">{CARD}<a class="{prop}" href="{TARGET}">it</a></div>')

    assert entry is not None
    assert entry.mention_type == expected


def test_an_entry_linking_to_the_target_only_in_its_content_is_a_mention():
    entry = entry_of(
        f'<div class="h-entry">{CARD}<a class="u-in-reply-to" href="https://other.example/">x</a>'
        f'<div class="e-content">See <a href="{TARGET}">this</a>.</div></div>'
    )

    assert entry.mention_type == "mention"


def test_h_cite_reply_context_names_the_target_by_its_url():
    entry = entry_of(
        f'<div class="h-entry">{CARD}<div class="u-in-reply-to h-cite">'
        f'<a class="u-url" href="{TARGET}#c1">Hello</a></div></div>'
    )

    assert entry.mention_type == "reply"


def test_author_name_url_and_photo_come_from_the_embedded_h_card():
    entry = entry_of(f'<div class="h-entry">{CARD}<a class="u-like-of" href="{TARGET}">x</a></div>')

    assert (entry.author_name, entry.author_url, entry.author_photo) == (
        "Alice Example",
        "https://alice.example/",
        "https://alice.example/me.jpg",
    )


def test_the_entry_that_links_to_the_target_is_chosen_among_several():
    other = ('<div class="h-entry"><span class="p-author">Bob</span>'
             '<p class="e-content">unrelated</p></div>')
    mine = f'<div class="h-entry">{CARD}<a class="u-repost-of" href="{TARGET}">x</a></div>'

    entry = entry_of(other + mine)

    assert (entry.mention_type, entry.author_name) == ("repost", "Alice Example")


def test_author_by_rel_author_and_the_page_h_card_when_the_entry_names_none():
    head = '<link rel="author" href="/about">'
    body = (
        f'<div class="h-card"><a class="u-url p-name" href="/about">Alice from rel-author</a>'
        f'<img class="u-photo" src="https://cdn.example/a.png"></div>'
        f'<div class="h-entry"><p class="e-content">Re <a href="{TARGET}">that</a></p></div>'
    )

    entry = entry_of(body, head)

    assert (entry.author_name, entry.author_url, entry.author_photo) == (
        "Alice from rel-author",
        "https://alice.example/about",
        "https://cdn.example/a.png",
    )


def test_author_from_the_enclosing_h_feed():
    body = (
        f'<div class="h-feed"><a class="p-author h-card" href="/">Feed Author</a>'
        f'<div class="h-entry"><a class="u-in-reply-to" href="{TARGET}">x</a></div></div>'
    )

    assert entry_of(body).author_name == "Feed Author"


def test_plain_text_author_is_a_name_and_an_author_url_is_a_url():
    named = entry_of(
        f'<div class="h-entry"><span class="p-author">Just A Name</span>'
        f'<a class="u-like-of" href="{TARGET}">x</a></div>'
    )
    linked = entry_of(
        f'<div class="h-entry"><a class="u-author" href="https://carol.example/">c</a>'
        f'<a class="u-like-of" href="{TARGET}">x</a></div>'
    )

    assert (named.author_name, named.author_url) == ("Just A Name", None)
    assert (linked.author_name, linked.author_url) == (None, "https://carol.example/")


def test_photo_urls_that_are_not_http_are_dropped():
    entry = entry_of(
        '<div class="h-entry"><div class="p-author h-card"><span class="p-name">Eve</span>'
        '<img class="u-photo" src="javascript:alert(1)"></div>'
        f'<a class="u-like-of" href="{TARGET}">x</a></div>'
    )

    assert (entry.author_name, entry.author_photo) == ("Eve", None)


def test_content_is_sanitised_and_published_is_read_as_utc():
    entry = entry_of(
        f'<div class="h-entry">{CARD}<a class="u-in-reply-to" href="{TARGET}">x</a>'
        '<div class="e-content"><p onclick="steal()">Nice <b>post</b>'
        "<script>alert(1)</script><img src=x onerror=alert(2)>"
        '<a href="javascript:evil()">bad</a> <a href="https://ok.example/">good</a></p></div>'
        '<time class="dt-published" datetime="2026-03-04T05:06:07+02:00">then</time></div>'
    )

    content = lxml.html.fragment_fromstring(entry.content, create_parent="div")
    assert content.xpath("//script|//img|//@onclick") == []
    assert [a.get("href") for a in content.iter("a")] == [None, "https://ok.example/"]
    assert content.xpath("//a[@href]/@rel") == ["nofollow ugc noopener"]
    assert "Nice post" in content.text_content()
    assert entry.published == datetime(2026, 3, 4, 3, 6, 7)


def test_name_is_kept_as_a_title_but_a_note_s_repeated_text_is_not():
    article = entry_of(
        f'<div class="h-entry">{CARD}<h1 class="p-name">My answer</h1>'
        f'<div class="e-content">Long text about <a href="{TARGET}">it</a></div></div>'
    )
    note = entry_of(
        f'<div class="h-entry">{CARD}<p class="p-name e-content">Short note on '
        f'<a href="{TARGET}">it</a></p></div>'
    )

    assert article.name == "My answer"
    assert note.name is None


def test_a_page_without_microformats_has_no_entry():
    assert entry_of(f'<p>Plain page linking <a href="{TARGET}">here</a></p>') is None


def test_clean_html_keeps_text_tags_and_drops_the_rest():
    assert (
        clean_html('<p>a <em>b</em><iframe src="https://x.example"></iframe><style>p{}</style></p>')
        == "<p>a <em>b</em></p>"
    )


def test_classic_microformats_hentry_and_vcard_are_read_too():
    entry = entry_of(
        '<div class="hentry"><h1 class="entry-title">Old school</h1>'
        '<div class="author vcard"><a class="fn url" href="/">Olga Old</a></div>'
        f'<div class="entry-content">See <a href="{TARGET}">this</a>.</div></div>'
    )

    assert entry is not None
    assert (entry.name, entry.author_name, entry.mention_type) == (
        "Old school",
        "Olga Old",
        "mention",
    )

"""URL checks and normalisation: what counts as a fetchable URL and when two URLs are one page."""

from __future__ import annotations

import pytest

from flask_linkback.urls import host_of, is_http_url, normalize_url, same_url, strip_fragment


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com",
        "http://example.com/",
        "https://example.com/post?p=12#c3",
        "HTTP://EXAMPLE.COM/Path",
        "https://example.com:8443/a",
        "http://127.0.0.1:5000/",
        "http://[::1]:8080/x",
        "http://user:pw@example.com/",
        "  http://example.com/padded  ",
    ],
)
def test_absolute_http_and_https_urls_are_accepted(url: str) -> None:
    assert is_http_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "file:///etc/passwd",
        "ftp://example.com/file",
        "mailto:someone@example.com",
        "data:text/html,<p>hi</p>",
        "/relative/path",
        "relative/path",
        "//example.com/scheme-relative",
        "http:/example.com",
        "http://",
        "http:///path-without-host",
        "",
        "   ",
        "http://exa mple.com/",
        "http://example.com/a b",
        "http://example.com/\tpath",
        "http://example.com/\npath",
        "http://example.com:abc/",
        "http://example.com:99999/",
        "http://example.com:-1/",
        "http://[::1/",
    ],
)
def test_non_http_relative_and_malformed_urls_are_rejected(url: str) -> None:
    assert not is_http_url(url)


@pytest.mark.parametrize("value", [None, 42, b"http://example.com/"])
def test_non_string_values_are_not_http_urls(value: object) -> None:
    assert not is_http_url(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTP://Example.COM/Post", "http://example.com/Post"),
        ("http://example.com", "http://example.com/"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("http://example.com:443/a", "http://example.com:443/a"),
        ("https://example.com:80/a", "https://example.com:80/a"),
        ("http://example.com:8080/a", "http://example.com:8080/a"),
        ("http://example.com/a#comments", "http://example.com/a"),
        ("http://example.com./a", "http://example.com/a"),
        ("http://[::1]:80/a", "http://[::1]/a"),
        ("http://[2001:DB8::1]:8080/a", "http://[2001:db8::1]:8080/a"),
        ("  http://example.com/a  ", "http://example.com/a"),
        # percent-escapes: unreserved characters decoded, the rest upper-cased
        ("http://example.com/%7euser", "http://example.com/~user"),
        ("http://example.com/%41b%63", "http://example.com/Abc"),
        ("http://example.com/caf%c3%a9", "http://example.com/caf%C3%A9"),
        ("http://example.com/caf\u00e9", "http://example.com/caf%C3%A9"),
        ("http://example.com/100%", "http://example.com/100%25"),
        # the query string is kept exactly as written
        ("http://example.com/?p=12&q=A%20b", "http://example.com/?p=12&q=A%20b"),
        ("http://Example.com?p=12", "http://example.com/?p=12"),
    ],
)
def test_normalize_url_gives_one_spelling(url: str, expected: str) -> None:
    assert normalize_url(url) == expected


@pytest.mark.parametrize(
    "url",
    ["javascript:alert(1)", "mailto:a@example.com", "/relative#frag", "ftp://Example.com/X"],
)
def test_normalize_url_leaves_non_http_urls_unchanged(url: str) -> None:
    assert normalize_url(f"  {url} ") == url


def test_normalize_url_is_idempotent() -> None:
    url = "HTTPS://Example.com:443/caf%c3%a9/%7euser/a%2fb?q=1#x"
    once = normalize_url(url)
    assert normalize_url(once) == once


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("http://example.com/post", "HTTP://EXAMPLE.COM/post"),
        ("http://example.com/post", "http://example.com:80/post#comment-3"),
        ("https://example.com", "https://example.com:443/"),
        ("http://example.com/~user", "http://example.com/%7Euser"),
        ("http://example.com/caf%c3%a9", "http://example.com/caf\u00e9"),
        ("http://example.com/a?p=1", "http://example.com/a?p=1#top"),
    ],
)
def test_same_url_ignores_spelling_differences(a: str, b: str) -> None:
    assert same_url(a, b)
    assert same_url(b, a)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("http://example.com/post", "https://example.com/post"),
        ("http://example.com/post", "http://example.com/Post"),
        ("http://example.com/post", "http://example.com:8080/post"),
        ("http://example.com/post", "http://example.com/post/"),
        ("http://example.com/?p=12", "http://example.com/?p=13"),
        ("http://example.com/?a=1&b=2", "http://example.com/?b=2&a=1"),
        ("http://example.com/post", "http://www.example.com/post"),
        # an encoded slash is a different path segment from a real one
        ("http://example.com/a%2Fb", "http://example.com/a/b"),
        # Latin-1 escapes must not all collapse into one replacement character
        ("http://example.com/caf%E9", "http://example.com/caf%E8"),
    ],
)
def test_same_url_tells_different_pages_apart(a: str, b: str) -> None:
    assert not same_url(a, b)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://example.com/a#frag", "http://example.com/a"),
        ("http://example.com/a#", "http://example.com/a"),
        ("http://example.com/a#one#two", "http://example.com/a"),
        ("http://example.com/a?q=1#frag", "http://example.com/a?q=1"),
        ("http://example.com/a", "http://example.com/a"),
        ("#only", ""),
    ],
)
def test_strip_fragment_removes_everything_from_the_first_hash(url: str, expected: str) -> None:
    assert strip_fragment(url) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://Example.COM/path", "example.com"),
        ("https://user:pw@Blog.Example.com:8443/x", "blog.example.com"),
        ("http://example.com./", "example.com"),
        ("http://[::1]:8080/", "::1"),
        ("http://[2001:DB8::1]/", "2001:db8::1"),
        ("/relative/path", ""),
        ("mailto:someone@example.com", ""),
        ("", ""),
        ("http://[::1/", ""),
    ],
)
def test_host_of_returns_the_lower_cased_host_or_empty(url: str, expected: str) -> None:
    assert host_of(url) == expected

"""``flask linkback import-wordpress``: a WordPress export's pingbacks and trackbacks move over."""

from __future__ import annotations

import tracemalloc
from datetime import datetime
from pathlib import Path

import pytest

from flask_linkback.wordpress_import import WXRError, read_wxr

FIXTURE = Path(__file__).parent / "data" / "wordpress-export.xml"


@pytest.fixture
def export(blog, tmp_path) -> Path:
    """The fixture export with its second post's link on the blog under test."""
    for slug in ("hello-world", "second-post", "moved"):
        blog.add_post(slug)
    path = tmp_path / "export.xml"
    path.write_text(FIXTURE.read_text(encoding="utf-8").replace("BLOG_URL", blog.url),
                    encoding="utf-8")
    return path


def run(blog, *args: str):
    return blog.app.test_cli_runner().invoke(args=["linkback", "import-wordpress", *args])


def slug_url(blog) -> str:
    return blog.post_url("{slug}")


def by_source(blog) -> dict[str, object]:
    return {row.source_url: row for row in blog.linkbacks()}


def post_id(blog, slug: str) -> str:
    from example_blog.models import Post

    with blog.app.app_context():
        return str(Post.query.filter_by(slug=slug).one().id)


def test_import_stores_pingbacks_and_trackbacks_with_their_wordpress_status_date_and_ip(
        blog, export):
    result = run(blog, str(export), "--slug-url", slug_url(blog))

    assert result.exit_code == 0, result.output
    rows = by_source(blog)
    assert sorted(rows) == [
        "http://bob.example/2019/reply",
        "http://spam.example/pills",
        "https://carol.example/2020/01/seconded",
        "https://dave.example/moved-too",
        "https://friend.example/notes/on-hello",
    ]
    ping = rows["https://friend.example/notes/on-hello"]
    assert (ping.kind, ping.status) == ("pingback", "approved")
    assert ping.post_id == post_id(blog, "hello-world")
    assert ping.title == "Notes on hello « Friend"
    assert ping.excerpt == "[…] as the old blog says, hello […]"
    assert ping.created_at == datetime(2019, 5, 2, 10, 11, 12)
    assert ping.sender_ip == "203.0.113.5"
    assert ping.target_url == blog.post_url("hello-world")

    trackback = rows["http://bob.example/2019/reply"]
    assert (trackback.kind, trackback.status) == ("trackback", "pending")
    assert (trackback.title, trackback.blog_name) == ("A reply to hello", "Bob's Blog")
    assert trackback.excerpt == "I read the hello world post and have thoughts."
    assert trackback.created_at == datetime(2019, 5, 3, 9, 0, 0)

    assert rows["http://spam.example/pills"].status == "spam"
    assert rows["http://spam.example/pills"].sender_ip == "2001:db8::1"
    # Matched by its link on this site; WordPress's zero date becomes the import's time.
    seconded = rows["https://carol.example/2020/01/seconded"]
    assert seconded.post_id == post_id(blog, "second-post")
    assert seconded.created_at.year >= 2026 and seconded.sender_ip is None
    # Matched by its old link's path on this site.
    assert rows["https://dave.example/moved-too"].post_id == post_id(blog, "moved")

    assert ("Imported 5 linkbacks: 2 approved pingbacks, 1 spam pingback, 1 approved trackback, "
            "1 pending trackback.") in result.output
    assert "Skipped 6:" in result.output
    # WordPress before 5.5 exports an ordinary comment's type as "", later as "comment".
    assert "2 comment type out of scope (2 comments): only pingbacks and trackbacks are " \
        "imported, not comments" in result.output
    assert "1 duplicate" in result.output
    assert "1 bad URL" in result.output
    assert "1 in WordPress's trash" in result.output
    assert "1 unknown post" in result.output
    assert "no post here for https://old-blog.example/2018/01/01/left-behind/" in result.output


def test_without_a_slug_url_posts_known_only_by_slug_are_unknown(blog, export):
    result = run(blog, str(export))

    assert result.exit_code == 0, result.output
    assert "5 unknown post" in result.output  # hello-world's four and left-behind's one
    assert "no post here for https://old-blog.example/2019/05/01/hello-world/" in result.output
    assert sorted(by_source(blog)) == ["https://carol.example/2020/01/seconded",
                                       "https://dave.example/moved-too"]


def test_second_import_of_the_same_file_adds_nothing(blog, export):
    first = run(blog, str(export), "--slug-url", slug_url(blog))
    before = [(r.id, r.status, r.created_at) for r in blog.linkbacks()]

    second = run(blog, str(export), "--slug-url", slug_url(blog))

    assert first.exit_code == second.exit_code == 0, second.output
    assert [(r.id, r.status, r.created_at) for r in blog.linkbacks()] == before
    assert "Imported 0 linkbacks." in second.output
    assert "6 duplicate" in second.output


def test_dry_run_reports_what_it_would_import_and_writes_nothing(blog, export):
    result = run(blog, str(export), "--slug-url", slug_url(blog), "--dry-run")

    assert result.exit_code == 0, result.output
    assert "Would import 5 linkbacks" in result.output
    assert "Dry run: nothing was written." in result.output
    assert blog.linkbacks() == []


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE rss [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<rss xmlns:wp="http://wordpress.org/export/1.2/"><channel><item><title>&lol3;</title></item></channel></rss>
"""
EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<rss xmlns:wp="http://wordpress.org/export/1.2/"><channel><item><title>&secret;</title></item></channel></rss>
"""


@pytest.mark.parametrize("body", [BILLION_LAUGHS, EXTERNAL_ENTITY],
                         ids=["billion-laughs", "external-entity"])
def test_export_with_entities_is_refused_with_a_clear_error(blog, tmp_path, body):
    path = tmp_path / "hostile.xml"
    path.write_text(body, encoding="utf-8")

    result = run(blog, str(path))

    assert result.exit_code == 1
    assert "refused: the file declares a DTD or entities" in result.output
    assert "a WordPress export has neither" in result.output
    assert blog.linkbacks() == []


def test_file_that_is_not_a_wordpress_export_is_refused(blog, tmp_path):
    path = tmp_path / "feed.xml"
    path.write_text("<rss><channel><item><title>x</title></item></channel></rss>", encoding="utf-8")
    broken = tmp_path / "broken.xml"
    broken.write_text("<rss><channel><item>", encoding="utf-8")

    assert "not a WordPress export" in run(blog, str(path)).output
    assert "not well-formed XML" in run(blog, str(broken)).output


def test_slug_url_without_a_slug_placeholder_is_refused(blog, export):
    result = run(blog, str(export), "--slug-url", blog.url + "/posts/")

    assert result.exit_code == 2
    assert "must contain {slug}" in result.output
    assert blog.linkbacks() == []


def test_a_large_export_is_read_as_a_stream(tmp_path):
    """Several MB of export never sit in memory whole: each item is dropped once read."""
    comment = ("<wp:comment><wp:comment_type>pingback</wp:comment_type>"
               "<wp:comment_author_url>https://a.example/{n}</wp:comment_author_url>"
               "<wp:comment_content><![CDATA[" + "x" * 4000 + "]]></wp:comment_content>"
               "</wp:comment>")
    path = tmp_path / "big.xml"
    with path.open("w", encoding="utf-8") as out:
        out.write('<rss xmlns:wp="http://wordpress.org/export/1.2/"><channel>')
        for n in range(2000):
            out.write(f"<item><link>https://old.example/{n}</link>{comment.format(n=n)}</item>")
        out.write("</channel></rss>")
    size = path.stat().st_size

    tracemalloc.start()
    try:
        count = sum(len(post.comments) for post in read_wxr(str(path)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert count == 2000
    assert size > 8_000_000
    assert peak < size / 10, f"peak {peak} bytes for a {size}-byte file"


def test_read_wxr_refuses_a_dtd_before_reading_items(tmp_path):
    path = tmp_path / "dtd.xml"
    path.write_text(EXTERNAL_ENTITY, encoding="utf-8")
    with pytest.raises(WXRError, match="DTD"):
        list(read_wxr(str(path)))

"""The source cache of inbound verification: bounded in bytes, nothing kept per idle URL or host."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import LiveServer
from flask import Flask, Response

from example_blog import create_app
from flask_linkback.fetch import FetchLimits
from flask_linkback.inbound.verify import SourceCache

LIMITS = FetchLimits(timeout=5.0, allow_private=True)
PAGE_BYTES = 100_000


@pytest.fixture
def pages() -> Iterator[tuple[LiveServer, list[str]]]:
    """A site on 127.0.0.1 whose every page is PAGE_BYTES long; records the paths asked for."""
    app = Flask("big_pages")
    hits: list[str] = []

    @app.route("/<name>")
    def page(name: str) -> Response:
        hits.append(name)
        return Response(b"<p>" + b"x" * (PAGE_BYTES - 7) + b"</p>", mimetype="text/html")

    server = LiveServer(app).start()
    yield server, hits
    server.stop()


def test_cached_sources_stay_within_the_byte_bound_oldest_out_first(pages):
    server, hits = pages
    cache = SourceCache(max_bytes=1_000_000)
    urls = [f"{server.url}/p{n}" for n in range(30)]  # 3 MB of pages

    for url in urls:
        assert len(cache.fetch(url, LIMITS, window=600, per_host=2).content) == PAGE_BYTES
        assert cache.stats()["bytes"] <= 1_000_000

    assert 0 < cache.stats()["entries"] < 10
    cache.fetch(urls[-1], LIMITS, window=600, per_host=2)  # the newest is still cached
    assert hits.count("p29") == 1
    cache.fetch(urls[0], LIMITS, window=600, per_host=2)  # the oldest was let go
    assert hits.count("p0") == 2


def test_an_answer_larger_than_the_whole_cache_is_returned_but_not_kept(pages):
    server, hits = pages
    cache = SourceCache(max_bytes=PAGE_BYTES // 2)

    first = cache.fetch(f"{server.url}/big", LIMITS, window=600, per_host=2)
    second = cache.fetch(f"{server.url}/big", LIMITS, window=600, per_host=2)

    assert len(first.content) == len(second.content) == PAGE_BYTES
    assert hits == ["big", "big"]
    assert cache.stats() == {"entries": 0, "bytes": 0, "urls": 0, "hosts": 0}


def test_expired_answers_are_swept_as_new_ones_come(pages):
    server, _ = pages
    cache = SourceCache(max_bytes=10_000_000)

    for n in range(5):  # a window of 0: each answer has expired when the next one is stored
        cache.fetch(f"{server.url}/p{n}", LIMITS, window=0, per_host=2)

    assert cache.stats()["entries"] == 1
    assert cache.stats()["bytes"] < 2 * PAGE_BYTES


def test_per_host_slots_and_per_url_locks_are_dropped_when_idle(pages, monkeypatch):
    server, hits = pages
    real_getaddrinfo = socket.getaddrinfo

    def many_names(host: str, port: int, *args: Any, **kwargs: Any) -> list:
        # Fifty host names, all served by the one local site.
        return real_getaddrinfo(
            "127.0.0.1" if host.endswith(".test") else host, port, *args, **kwargs
        )

    monkeypatch.setattr(socket, "getaddrinfo", many_names)
    cache = SourceCache(max_bytes=1_000_000)

    for n in range(50):
        cache.fetch(f"http://host-{n}.test:{server.port}/p{n}", LIMITS, window=600, per_host=2)

    assert len(hits) == 50
    stats = cache.stats()
    assert (stats["hosts"], stats["urls"]) == (0, 0)
    assert stats["bytes"] <= 1_000_000


def test_the_cache_bound_is_a_setting():
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": "sqlite://",
            "LINKBACK_SCHEDULER": False,
            "LINKBACK_SOURCE_CACHE_BYTES": 4096,
        }
    )
    assert app.extensions["linkback"].source_cache.max_bytes == 4096

    with pytest.raises(ValueError, match="LINKBACK_SOURCE_CACHE_BYTES"):
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "LINKBACK_SOURCE_CACHE_BYTES": 0})

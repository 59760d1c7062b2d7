"""The real deployment shape: gunicorn web processes, `flask linkback worker`, PostgreSQL.

Killed with SIGKILL at the worst moments, the processes lose no accepted
ping, and every one ends verified exactly once; two workers share one queue.
"""

from __future__ import annotations

import threading
import xmlrpc.client
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import sqlalchemy
from conftest import POSTGRESQL_URL, REQUIRE_POSTGRESQL, postgresql_problem
from processes import (
    blog_env,
    free_port,
    gunicorn,
    kill_all,
    linkback_worker,
    postgresql_database,
    wait_until,
)

from example_blog import create_app
from example_blog.extensions import db as blog_db
from example_blog.models import Post
from flask_linkback.inbound.pingback import QUEUED_ANSWER
from flask_linkback.models import utcnow


@pytest.fixture(autouse=True)
def no_process_left_behind() -> Iterator[None]:
    yield
    kill_all()


@pytest.fixture
def pg_url() -> Iterator[str]:
    problem = postgresql_problem()
    if problem:
        if REQUIRE_POSTGRESQL:
            pytest.fail(f"PostgreSQL required but unavailable: {problem}")
        pytest.skip(f"no PostgreSQL: {problem}")
    with postgresql_database(POSTGRESQL_URL) as url:
        yield url


@pytest.fixture
def site(pg_url: str) -> dict[str, Any]:
    """A PostgreSQL database with the blog's tables and one post, and the port it will serve on."""
    port = free_port()
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": pg_url, "SERVER_NAME": f"127.0.0.1:{port}", "TESTING": True}
    )
    with app.app_context():
        blog_db.create_all()
        blog_db.session.add(
            Post(slug="target", title="Target", body="<p>Hello.</p>", published_at=utcnow())
        )
        blog_db.session.commit()
        blog_db.engine.dispose()
    engine = sqlalchemy.create_engine(pg_url)
    yield {
        "url": pg_url,
        "port": port,
        "blog": f"http://127.0.0.1:{port}",
        "target": f"http://127.0.0.1:{port}/posts/target",
        "engine": engine,
    }
    engine.dispose()


class HeldSources:
    """Source pages that link to the target but answer only when released."""

    def __init__(self, source_site: Any, target: str) -> None:
        self.site = source_site
        self.target = target
        self.release = threading.Event()
        self._arrived = threading.Condition()
        self.arrivals = 0

    def page(self, path: str) -> str:
        def held() -> Iterator[bytes]:
            with self._arrived:
                self.arrivals += 1
                self._arrived.notify_all()
            self.release.wait(timeout=60)
            yield f'<html><title>{path}</title><a href="{self.target}">t</a></html>'.encode()

        return self.site.page(path, held)

    def wait_arrivals(self, count: int, timeout: float = 30.0) -> None:
        with self._arrived:
            assert self._arrived.wait_for(lambda: self.arrivals >= count, timeout=timeout), (
                f"only {self.arrivals} source fetches arrived"
            )


def rows(engine: Any, sql: str) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(sqlalchemy.text(sql)))


def all_done(engine: Any, count: int) -> bool:
    return (
        rows(engine, "SELECT count(*) FROM linkback_inbound_job WHERE status = 'done'")[0][0]
        == count
    )


def send_pings(site: dict[str, Any], sources: list[str], kinds: list[str]) -> list[Any]:
    answers = []
    for source, kind in zip(sources, kinds, strict=True):
        if kind == "webmention":
            answer = requests.post(
                site["blog"] + "/webmention",
                timeout=15,
                data={"source": source, "target": site["target"]},
            )
            answers.append(answer.status_code)
        else:
            proxy = xmlrpc.client.ServerProxy(site["blog"] + "/xmlrpc")
            answers.append(proxy.pingback.ping(source, site["target"]))
    return answers


def assert_each_verified_once(site: dict[str, Any], sources: list[str]) -> None:
    engine = site["engine"]
    stored = rows(engine, "SELECT source_url, status FROM linkback_incoming ORDER BY source_url")
    assert stored == [(source, "pending") for source in sorted(sources)]
    jobs = rows(engine, "SELECT source_url, verdict FROM linkback_inbound_job ORDER BY source_url")
    assert jobs == [(source, "pending") for source in sorted(sources)]
    statuses = rows(engine, "SELECT status FROM linkback_webmention_request")
    assert statuses and {status for (status,) in statuses} == {"pending"}


def test_sigkill_of_the_web_process_after_its_answers_loses_no_ping(site, source_site):
    held = HeldSources(source_site, site["target"])
    sources = [held.page(f"/s{i}") for i in range(6)]
    kinds = ["pingback"] * 3 + ["webmention"] * 3
    # The documented shape: the web process's scheduler is off, so it verifies only the
    # pingbacks it waits for (the first two: then their source host is at its cap); the
    # others wait for the worker.
    env = blog_env(
        site["url"], site["port"], LINKBACK_INBOUND_WORKERS=2, LINKBACK_PINGBACK_WAIT=0.2,
        LINKBACK_SCHEDULER=False,
    )
    web = gunicorn(env, site["port"], workers=1, threads=4)
    try:
        answers = send_pings(site, sources, kinds)
        held.wait_arrivals(2)  # the web process is verifying two of them right now
    finally:
        web.kill()
        held.release.set()

    worker = linkback_worker(env)
    try:
        wait_until(lambda: all_done(site["engine"], 6), what="the worker to verify every ping")
    finally:
        worker.stop()

    assert answers == [QUEUED_ANSWER] * 3 + [202] * 3
    assert_each_verified_once(site, sources)
    assert "abandoned" in worker.output()  # the dead process's claims were taken over


def test_sigkill_of_a_worker_mid_verification_then_restart_verifies_each_ping_once(
    site, source_site
):
    held = HeldSources(source_site, site["target"])
    sources = [held.page(f"/w{i}") for i in range(4)]
    kinds = ["webmention", "pingback"] * 2
    env = blog_env(site["url"], site["port"], LINKBACK_INBOUND_WORKERS=0)
    web = gunicorn(env, site["port"], workers=2)  # sync workers: these only queue
    workers = []
    try:
        answers = send_pings(site, sources, kinds)
        workers.append(linkback_worker(env))
        held.wait_arrivals(2)
        workers[0].kill()
        held.release.set()
        workers.append(linkback_worker(env))
        wait_until(lambda: all_done(site["engine"], 4), what="the second worker")
    finally:
        held.release.set()
        for worker in workers:
            worker.stop()
        web.stop()

    assert answers == [202, QUEUED_ANSWER] * 2
    assert_each_verified_once(site, sources)


def test_two_workers_share_one_queue_without_verifying_anything_twice(site, source_site):
    sources = [source_site.linking_page(f"/p{i}", site["target"]) for i in range(20)]
    env = blog_env(
        site["url"],
        site["port"],
        LINKBACK_INBOUND_WORKERS=0,
        LINKBACK_INBOUND_SENDER_CONCURRENCY=8,
        LINKBACK_SOURCE_HOST_CONCURRENCY=8,
    )
    web = gunicorn(env, site["port"], workers=2, threads=4)
    try:
        answers = send_pings(site, sources, ["pingback"] * 20)
        workers = []
        try:
            workers += [linkback_worker(env), linkback_worker(env)]
            wait_until(lambda: all_done(site["engine"], 20), what="two workers")
        finally:
            for worker in workers:
                worker.stop()
    finally:
        web.stop()

    assert answers == [QUEUED_ANSWER] * 20
    assert [source_site.hits(f"/p{i}") for i in range(20)] == [1] * 20  # each fetched once
    attempts = rows(site["engine"], "SELECT DISTINCT attempts FROM linkback_inbound_job")
    assert attempts == [(1,)]  # no job was claimed twice
    assert rows(site["engine"], "SELECT count(*) FROM linkback_incoming")[0][0] == 20


@pytest.mark.parametrize("threads", [0, 4], ids=["sync", "gthread"])
def test_gunicorn_workers_start_cleanly_and_serve_pages_and_pings(site, source_site, threads):
    """The background scheduler starts with the first request, after the app has loaded.

    It used to start inside init_app, while the host was still importing its
    models, and one worker in five kept a broken mapper for its whole life.
    """
    env = blog_env(site["url"], site["port"], LINKBACK_SCHEDULER=True)
    web = gunicorn(env, site["port"], workers=4, threads=threads)
    try:
        pages = [requests.get(site["target"], timeout=15).status_code for _ in range(40)]
        source = source_site.linking_page("/real", site["target"])
        answer = xmlrpc.client.ServerProxy(site["blog"] + "/xmlrpc").pingback.ping(
            source, site["target"]
        )
    finally:
        web.stop()

    assert pages == [200] * 40
    assert isinstance(answer, str)
    assert "Traceback" not in web.output() and "drain failed" not in web.output(), web.output()

"""How fast the Webmention endpoint answers, against a bare Flask route on the same machine.

    python bench/inbound.py [--seconds 5] [--clients 8]

Both are served the same way (werkzeug's threaded server on 127.0.0.1) and
driven the same way (a thread pool of ``requests.Session`` clients in a
separate process, POSTing for N seconds each). The endpoint does its
synchronous checks and queues the verification. The target figure (ratio >=
0.5) is taken with the verification workers held, so it measures what the
endpoint itself costs; the queued verifications are then released and timed.
A second run, with verification running alongside in the same process, is
printed for information. Sources are pages served on 127.0.0.1 (private
addresses allowed for this run only); nothing here talks to any other host.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
from flask import Flask, Response, request
from werkzeug.serving import make_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from example_blog import create_app
from example_blog.extensions import db
from example_blog.models import Post
from flask_linkback.models import utcnow

TARGET = 0.5
SOURCES = 50


@contextmanager
def serve(app: Callable[..., Any]) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def bare_app() -> Flask:
    app = Flask("bare")

    @app.post("/bare")
    def bare() -> Response:
        request.get_data()
        return Response("ok\n", 202, mimetype="text/plain")

    return app


def source_app(target: list[str]) -> Flask:
    app = Flask("sources")

    @app.get("/s/<int:n>")
    def source(n: int) -> Response:
        return Response(
            f"<!doctype html><html><head><title>Reply {n}</title></head>"
            '<body><article class="h-entry">'
            f'<div class="p-author h-card"><a class="p-name u-url" href="/">Writer {n}</a></div>'
            f'<a class="u-in-reply-to" href="{target[0]}">re</a>'
            f'<div class="e-content">Reply number {n}.</div></article></body></html>',
            mimetype="text/html",
        )

    return app


def webmention_payload(n: int, source_url: str, target: str) -> dict[str, str]:
    return {"source": f"{source_url}/s/{n % SOURCES}", "target": target}


def drive(
    url: str, source_url: str, target: str, seconds: float, clients: int, expect: int
) -> tuple[float, int, int]:
    """(requests per second answered with ``expect``, good, other) over ``seconds``.

    Runs in its own process (see :func:`drive_elsewhere`), so the clients'
    work does not compete with the servers for the interpreter lock.
    """
    start = threading.Barrier(clients + 1)
    deadline: list[float] = []

    def client(index: int) -> tuple[int, int]:
        good = other = 0
        with requests.Session() as session:
            start.wait()
            n = index
            while time.monotonic() < deadline[0]:
                answer = session.post(
                    url, data=webmention_payload(n, source_url, target), timeout=30
                )
                if answer.status_code == expect:
                    good += 1
                else:
                    other += 1
                n += clients
        return good, other

    with ThreadPoolExecutor(clients) as pool:
        futures = [pool.submit(client, i) for i in range(clients)]
        deadline.append(time.monotonic() + seconds)
        began = time.monotonic()
        start.wait()
        results = [f.result() for f in futures]
        elapsed = time.monotonic() - began
    good = sum(g for g, _ in results)
    return good / elapsed, good, sum(o for _, o in results)


def _drive_into(results: Any, *args: Any) -> None:
    results.put(drive(*args))


def drive_elsewhere(*args: Any) -> tuple[float, int, int]:
    """:func:`drive` in a fresh process; the same way for both servers."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    process = context.Process(target=_drive_into, args=(results, *args))
    process.start()
    outcome = results.get(timeout=600)
    process.join(timeout=60)
    return outcome


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    logging.getLogger("flask_linkback").setLevel(logging.ERROR)

    with tempfile.TemporaryDirectory() as tmp:
        target: list[str] = []
        with serve(bare_app()) as bare_url, serve(source_app(target)) as source_url:
            blog_holder: dict[str, Any] = {}
            with serve(lambda env, start: blog_holder["app"](env, start)) as blog_url:
                app = create_app(
                    {
                        "SECRET_KEY": "bench",
                        "SERVER_NAME": blog_url.removeprefix("http://"),
                        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.sqlite3",
                        "LINKBACK_ALLOW_PRIVATE_ADDRESSES": True,  # sources are on 127.0.0.1
                        "LINKBACK_MODERATION": "none",
                        "LINKBACK_INBOUND_QUEUE_MAX": 10_000_000,
                        "LINKBACK_INBOUND_QUEUE_PER_SENDER": 10_000_000,
                        # All requests come from one IP: the per-IP limit would answer
                        # 429 after 60 and we would be timing the limiter, not the endpoint.
                        "LINKBACK_RATELIMIT_ENABLED": False,
                        "LINKBACK_SCHEDULER": False,  # no outbox in this bench
                    }
                )
                with app.app_context():
                    db.create_all()
                    db.session.add(
                        Post(slug="target", title="Target", body="<p>x</p>", published_at=utcnow())
                    )
                    db.session.commit()
                blog_holder["app"] = app
                target.append(f"{blog_url}/posts/target")
                runner = app.extensions["linkback"].inbound
                workers = app.config["LINKBACK_INBOUND_WORKERS"]

                payload = webmention_payload(0, source_url, target[0])
                warm = requests.post(f"{blog_url}/webmention", data=payload, timeout=10)
                assert warm.status_code == 202, warm.text
                requests.post(f"{bare_url}/bare", data=payload, timeout=10)
                runner.join(app, timeout=60)

                bare = drive_elsewhere(
                    f"{bare_url}/bare", source_url, target[0], args.seconds, args.clients, 202
                )

                # 1. Verification queued: this process only queues (as a web process
                #    beside a worker), so the endpoint's own cost is measured; then
                #    the backlog is verified and timed.
                app.config["LINKBACK_INBOUND_WORKERS"] = 0
                queued = drive_elsewhere(
                    f"{blog_url}/webmention", source_url, target[0], args.seconds, args.clients, 202
                )
                with app.app_context():
                    Job = app.extensions["linkback"].models.InboundJob
                    backlog = Job.query.filter_by(status="queued").count()
                app.config["LINKBACK_INBOUND_WORKERS"] = workers
                drain_start = time.monotonic()
                runner.join(app, timeout=600)
                drain = time.monotonic() - drain_start

                # 2. Verification running alongside, in the same process.
                alongside = drive_elsewhere(
                    f"{blog_url}/webmention", source_url, target[0], args.seconds, args.clients, 202
                )
                runner.join(app, timeout=600)
                runner.shutdown()
                with app.app_context():
                    models = app.extensions["linkback"].models
                    stored = models.IncomingLinkback.query.count()
                    verdicts = models.WebmentionRequest.query.count()

    ratio = queued[0] / bare[0]
    ratio_alongside = alongside[0] / bare[0]
    print(
        f"bare Flask route                          : {bare[0]:7.1f} requests/s "
        f"({bare[1]} x 202, {bare[2]} other)"
    )
    print(
        f"webmention endpoint, verification queued  : {queued[0]:7.1f} requests/s "
        f"({queued[1]} x 202, {queued[2]} other)"
    )
    print(
        f"ratio                                     : {ratio:7.2f}  (target >= {TARGET}: "
        f"{'met' if ratio >= TARGET else 'NOT met'})"
    )
    print(
        f"  then {backlog} queued verification jobs (re-sends joined per source) "
        f"ran in {drain:.1f} s"
    )
    print(
        f"webmention endpoint, verifying alongside  : {alongside[0]:7.1f} requests/s "
        f"({alongside[1]} x 202, {alongside[2]} other); "
        f"ratio {ratio_alongside:.2f} (for information)"
    )
    print(f"{stored} linkbacks stored, {verdicts} status records written")
    print(
        f"({args.clients} client threads in a separate process, {args.seconds:g} s per run; "
        f"servers: werkzeug threaded, one process, {workers} verification workers; "
        f"{SOURCES} source pages cycled)"
    )
    return 0 if ratio >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())

"""Outgoing pings under load: a post with 100 links to local blogs that answer after 200 ms.

    python bench/outgoing.py [--links 100] [--delay 0.2] [--database URL]

The target blogs run in a separate process (so their threads do not share
our interpreter lock), each on its own 127.0.0.1 port: 100 links to 100
blogs. Per-host limits apply per host:port, the unit a receiving site is.
Figures are printed as ratios: to the 200 ms floor (every target answering
in parallel), and to one ping drained alone in the same run.

Two cases: only the Pingback call answers after the delay (the floor is one
delay), and both the discovery GET and the call do (the floor is two).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import xmlrpc.client
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def serve(count: int, delay: float, page_delay: float) -> None:
    """Run ``count`` target blogs on 127.0.0.1 until stdin closes; print their ports."""
    from werkzeug.serving import WSGIRequestHandler, make_server

    class QuietHandler(WSGIRequestHandler):
        def log_request(self, *args: Any) -> None:
            pass

    hold = threading.Event()
    answer = xmlrpc.client.dumps(("Pingback registered.",), methodresponse=True).encode()

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        host = environ["HTTP_HOST"]
        if environ["REQUEST_METHOD"] == "POST":
            environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            hold.wait(delay)
            start_response("200 OK", [("Content-Type", "text/xml")])
            return [answer]
        hold.wait(page_delay)
        start_response("200 OK", [("Content-Type", "text/html"), ("X-Pingback", f"http://{host}/xmlrpc")])
        return [b"<!doctype html><title>A post</title><p>Hello.</p>"]

    servers = [make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler) for _ in range(count)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print(json.dumps([server.server_port for server in servers]), flush=True)
    sys.stdin.read()


class Targets:
    """Target blogs spread over a few processes, so no one interpreter lock serves them all."""

    def __init__(self, count: int, delay: float, page_delay: float, processes: int = 4) -> None:
        self.processes = []
        self.ports: list[int] = []
        for share in range(processes):
            n = count // processes + (1 if share < count % processes else 0)
            if not n:
                continue
            process = subprocess.Popen(
                [sys.executable, __file__, "--serve", str(n), "--delay", str(delay),
                 "--page-delay", str(page_delay)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            self.processes.append(process)
        for process in self.processes:
            assert process.stdout is not None
            self.ports += json.loads(process.stdout.readline())

    def stop(self) -> None:
        for process in self.processes:
            assert process.stdin is not None
            process.stdin.close()
            process.wait(timeout=10)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def drain_post(app: Any, slug: str, urls: list[str]) -> tuple[float, float, dict[str, int]]:
    from example_blog.extensions import db, linkback
    from example_blog.models import Post
    from flask_linkback.models import utcnow

    with app.test_request_context():
        body = "".join(f'<p>See <a href="{url}">post {i}</a>.</p>' for i, url in enumerate(urls))
        post = Post(slug=slug, title=slug, body=body, published_at=utcnow())
        db.session.add(post)
        db.session.commit()
        linkback.post_published(post)
        start, cpu = time.perf_counter(), _cpu()
        counts = linkback.send_pending()
        return time.perf_counter() - start, _cpu() - cpu, counts


def run_case(app: Any, name: str, links: int, delay: float, page_delay: float) -> None:
    targets = Targets(links + 1, delay, page_delay)
    ports = targets.ports
    try:
        single, _, single_counts = drain_post(app, f"{name}-one", [f"http://127.0.0.1:{ports[-1]}/post"])
        many, cpu, counts = drain_post(app, f"{name}-many",
                                  [f"http://127.0.0.1:{port}/post" for port in ports[:links]])
    finally:
        targets.stop()
    floor = delay + page_delay
    print(f"\n{name}: {links} links, each target answers the ping after {delay * 1000:.0f} ms"
          f" and its page after {page_delay * 1000:.0f} ms")
    print(f"  one ping alone (baseline):   {single * 1000:7.0f} ms  {single_counts}")
    print(f"  {links} pings:                  {many * 1000:7.0f} ms  {counts}")
    print(f"  ratio to {delay * 1000:.0f} ms:               {many / delay:7.2f}x  (target: within 3x)")
    if page_delay:
        print(f"  ratio to the {floor * 1000:.0f} ms floor:        {many / floor:7.2f}x")
    print(f"  ratio to one ping alone:     {many / single:7.2f}x  (sent one by one: ~{links}x)")
    print(f"  our CPU time while draining: {cpu * 1000:7.0f} ms  ({cpu / delay:.2f}x the {delay * 1000:.0f} ms;"
          f" {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--links", type=int, default=100)
    parser.add_argument("--delay", type=float, default=0.2)
    parser.add_argument("--page-delay", type=float, default=0.0)
    parser.add_argument("--database", default=None, help="SQLAlchemy URL (default: a temporary SQLite file)")
    parser.add_argument("--serve", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.delay, args.page_delay)
        return

    import logging

    from example_blog import create_app
    from example_blog.extensions import db

    logging.getLogger("flask_linkback").setLevel(logging.WARNING)

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({
            "TESTING": True, "SECRET_KEY": "bench", "SERVER_NAME": "127.0.0.1:5999",
            "SQLALCHEMY_DATABASE_URI": args.database or f"sqlite:///{tmp}/bench.sqlite3",
            "LINKBACK_ALLOW_PRIVATE_ADDRESSES": True,
        })
        with app.app_context():
            db.drop_all()
            db.create_all()
        print(f"pool: LINKBACK_OUTBOX_WORKERS={app.config['LINKBACK_OUTBOX_WORKERS']}, "
              f"per host:port: {app.config['LINKBACK_OUTBOX_HOST_CONCURRENCY']}")
        run_case(app, "slow-ping", args.links, args.delay, 0.0)
        run_case(app, "slow-page-and-ping", args.links, args.delay, args.delay)
        with app.app_context():
            db.drop_all()
            db.engine.dispose()


if __name__ == "__main__":
    main()

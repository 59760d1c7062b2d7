"""Outgoing pings under load: a post with 100 links to local blogs that answer after 200 ms.

    python bench/outgoing.py [--links 100] [--delay 0.2] [--database URL]

The target blogs run in separate processes (small asyncio servers, so they
take little CPU from the sender being measured), each on its own 127.0.0.1
port: 100 links to 100 blogs. Per-host limits apply per host:port, the unit a receiving site is.
Figures are printed as ratios: to the 200 ms floor (every target answering
in parallel), and to one ping drained alone in the same run. The same post
is also drained by one process per CPU at once, as gunicorn workers sharing
the outbox would (each claims its share atomically).

Two cases: only the Pingback call answers after the delay (the floor is one
delay), and both the discovery GET and the call do (the floor is two).

What lies above the floor is our own CPU, serialised by the interpreter lock:
per ping a discovery GET and the XML-RPC POST (urllib3 pools kept per thread,
so the two share a connection when the target allows keep-alive; these
targets close it), and the pool starting a thread per concurrent ping, each
start waiting for the lock while the first pings run. The fetch deadlines
are watched by one shared thread, not a timer thread per fetch.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import xmlrpc.client
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def serve(count: int, delay: float, page_delay: float) -> None:
    """Run ``count`` target blogs on 127.0.0.1 until stdin closes; print their ports.

    A minimal asyncio HTTP/1.1 server: the targets should cost as little CPU
    as possible, since they share the machine with the sender being measured.
    """
    import asyncio

    answer = xmlrpc.client.dumps(("Pingback registered.",), methodresponse=True).encode()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method = lines[0].split(" ", 1)[0]
            headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
            headers = {name.lower(): value for name, value in headers.items()}
            await reader.readexactly(int(headers.get("content-length", "0")))
            if method == "POST":
                await asyncio.sleep(delay)
                extra, body = "Content-Type: text/xml\r\n", answer
            else:
                await asyncio.sleep(page_delay)
                extra = (f"Content-Type: text/html\r\n"
                         f"X-Pingback: http://{headers.get('host', '')}/xmlrpc\r\n")
                body = b"<!doctype html><title>A post</title><p>Hello.</p>"
            writer.write(f"HTTP/1.1 200 OK\r\n{extra}Content-Length: {len(body)}\r\n"
                         f"Connection: close\r\n\r\n".encode() + body)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        servers = [await asyncio.start_server(handle, "127.0.0.1", 0, backlog=512)
                   for _ in range(count)]
        print(json.dumps([server.sockets[0].getsockname()[1] for server in servers]), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)

    asyncio.run(main())


class Targets:
    """Target blogs spread over a few processes, so no one interpreter lock serves them all."""

    def __init__(self, count: int, delay: float, page_delay: float, processes: int = 2) -> None:
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


def publish_post(app: Any, slug: str, urls: list[str]) -> None:
    from example_blog.extensions import db, linkback
    from example_blog.models import Post
    from flask_linkback.models import utcnow

    with app.test_request_context():
        body = "".join(f'<p>See <a href="{url}">post {i}</a>.</p>' for i, url in enumerate(urls))
        post = Post(slug=slug, title=slug, body=body, published_at=utcnow())
        db.session.add(post)
        db.session.commit()
        linkback.post_published(post)


def drain_post(app: Any, slug: str, urls: list[str]) -> tuple[float, float, dict[str, int]]:
    from example_blog.extensions import linkback

    publish_post(app, slug, urls)
    with app.app_context():
        start, cpu = time.perf_counter(), _cpu()
        counts = linkback.send_pending()
        return time.perf_counter() - start, _cpu() - cpu, counts


def make_app(database: str, **config: Any) -> Any:
    from example_blog import create_app

    return create_app({
        "TESTING": True, "SECRET_KEY": "bench", "SERVER_NAME": "127.0.0.1:5999",
        "SQLALCHEMY_DATABASE_URI": database, "LINKBACK_ALLOW_PRIVATE_ADDRESSES": True, **config,
    })


def drain_child(database: str, workers: int) -> None:
    """A second sending process: wait for "go" on stdin, drain, print the counts."""
    from example_blog.extensions import linkback

    app = make_app(database, LINKBACK_OUTBOX_WORKERS=workers)
    print("ready", flush=True)
    sys.stdin.readline()
    with app.app_context():
        print(json.dumps(linkback.send_pending()), flush=True)


def drain_in_processes(app: Any, database: str, slug: str, urls: list[str], processes: int
                       ) -> tuple[float, dict[str, int]]:
    """Drain one outbox from ``processes`` processes at once (as gunicorn workers would)."""
    workers = -(-len(urls) // processes)
    children = [subprocess.Popen([sys.executable, __file__, "--drain-child", database,
                                  "--child-workers", str(workers)],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                for _ in range(processes)]
    for child in children:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    publish_post(app, slug, urls)
    start = time.perf_counter()
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    counts: dict[str, int] = {}
    for child in children:
        assert child.stdout is not None
        for status, n in json.loads(child.stdout.readline()).items():
            counts[status] = counts.get(status, 0) + n
    elapsed = time.perf_counter() - start
    for child in children:
        child.communicate(timeout=10)
    return elapsed, counts


def run_case(app: Any, database: str, name: str, links: int, delay: float,
             page_delay: float) -> None:
    targets = Targets(2 * links + 1, delay, page_delay)
    ports = targets.ports
    processes = os.cpu_count() or 2
    try:
        single, _, single_counts = drain_post(
            app, f"{name}-one", [f"http://127.0.0.1:{ports[-1]}/post"]
        )
        many, cpu, counts = drain_post(
            app, f"{name}-many", [f"http://127.0.0.1:{port}/post" for port in ports[:links]]
        )
        spread, spread_counts = drain_in_processes(
            app,
            database,
            f"{name}-spread",
            [f"http://127.0.0.1:{port}/post" for port in ports[links : 2 * links]],
            processes,
        )
    finally:
        targets.stop()
    floor = delay + page_delay
    print(
        f"\n{name}: {links} links, each target answers the ping after {delay * 1000:.0f} ms"
        f" and its page after {page_delay * 1000:.0f} ms"
    )
    print(f"  one ping alone (baseline):   {single * 1000:7.0f} ms  {single_counts}")
    print(f"  {links} pings, one process:     {many * 1000:7.0f} ms  {counts}")
    print(
        f"    ratio to {delay * 1000:.0f} ms:             {many / delay:7.2f}x  (target: within 3x)"
    )
    if page_delay:
        print(f"    ratio to the {floor * 1000:.0f} ms floor:      {many / floor:7.2f}x")
    print(f"    ratio to one ping alone:   {many / single:7.2f}x  (sent one by one: ~{links}x)")
    print(
        f"    our CPU time:              {cpu * 1000:7.0f} ms  "
        f"({cpu / delay:.2f}x the {delay * 1000:.0f} ms)"
    )
    print(f"  {links} pings, {processes} processes:   {spread * 1000:7.0f} ms  {spread_counts}")
    print(f"    ratio to {delay * 1000:.0f} ms:             {spread / delay:7.2f}x")
    if page_delay:
        print(f"    ratio to the {floor * 1000:.0f} ms floor:      {spread / floor:7.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--links", type=int, default=100)
    parser.add_argument("--delay", type=float, default=0.2)
    parser.add_argument("--page-delay", type=float, default=0.0)
    parser.add_argument(
        "--database", default=None, help="SQLAlchemy URL (default: a temporary SQLite file)"
    )
    parser.add_argument("--serve", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--drain-child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child-workers", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()

    import logging

    logging.getLogger("flask_linkback").setLevel(logging.WARNING)
    if args.serve:
        serve(args.serve, args.delay, args.page_delay)
        return
    if args.drain_child:
        drain_child(args.drain_child, args.child_workers)
        return

    from example_blog.extensions import db

    with tempfile.TemporaryDirectory() as tmp:
        database = args.database or f"sqlite:///{tmp}/bench.sqlite3"
        app = make_app(database)
        with app.app_context():
            db.drop_all()
            db.create_all()
        print(
            f"pool: LINKBACK_OUTBOX_WORKERS={app.config['LINKBACK_OUTBOX_WORKERS']}, "
            f"per host:port: {app.config['LINKBACK_OUTBOX_HOST_CONCURRENCY']}; "
            f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
        )
        run_case(app, database, "slow-ping", args.links, args.delay, 0.0)
        run_case(app, database, "slow-page-and-ping", args.links, args.delay, args.delay)
        with app.app_context():
            db.drop_all()
            db.engine.dispose()


if __name__ == "__main__":
    main()

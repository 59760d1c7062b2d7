"""A ping flood against the example blog in its deployment shape, measured as an attacker would.

    python bench/flood.py [--seconds 30] [--pingbacks 50] [--webmentions 10] [--database URL]

The blog runs under gunicorn (gthread, 4 workers x 8 threads) on PostgreSQL,
with the per-IP limits off and behind a (simulated) reverse proxy, so the
flood comes "from many addresses": every request carries an X-Forwarded-For
address of its own. For ``--seconds`` it receives ``--pingbacks`` pingbacks/s
whose sources hang past the fetch timeout (spread over 10 source servers on
127.0.0.1), plus ``--webmentions`` webmentions/s whose sources answer 404.
Ten seconds in, a legitimate pingback arrives from another address, with a
source on another host (a server on ::1) that answers at once.

Printed, as ratios against figures measured in the same run:
- the post page's p50/p95 latency unloaded and under the flood (target <= 1.5x);
- the time until the legitimate ping is verified, against the fetch timeout
  (target <= 2x);
- the blog's memory (RSS of the gunicorn master and workers) before and after.

Everything talks only to 127.0.0.1 and ::1: the sources are small asyncio
servers in this process's own thread.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
import xmlrpc.client
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests
import sqlalchemy

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from example_blog import create_app  # noqa: E402
from example_blog.extensions import db  # noqa: E402
from example_blog.models import Post  # noqa: E402
from flask_linkback.models import utcnow  # noqa: E402

DEFAULT_DATABASE = os.environ.get("LINKBACK_TEST_POSTGRESQL_URL",
                                  "postgresql+psycopg://postgres:postgres@127.0.0.1:5432/test")
FETCH_TIMEOUT = 5.0
HANG_SERVERS = 10
PAGE_TARGET = 1.5
LEGIT_TARGET = 2.0


def free_port(host: str = "127.0.0.1") -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class Sources:
    """asyncio HTTP servers on 127.0.0.1: ``/hang/..`` answers after ``hang`` s, ``/gone/..`` 404,
    ``/legit`` at once with a link to the target."""

    def __init__(self, target: str, hang: float, count: int) -> None:
        self.target = target
        self.hang = hang
        self.ports = [free_port() for _ in range(count)] + [free_port("::1")]
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Sources:
        self.thread.start()
        self.ready.wait(10)
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def main() -> None:
            for port in self.ports[:-1]:
                await asyncio.start_server(self._handle, "127.0.0.1", port, backlog=2048)
            # The legitimate sender's site is another host: ::1 (still this machine).
            await asyncio.start_server(self._handle, "::1", self.ports[-1], backlog=2048)
            self.ready.set()
            await asyncio.Event().wait()

        self.loop.run_until_complete(main())

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = await reader.readline()
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass
            path = request_line.split(b" ")[1].decode() if b" " in request_line else "/"
            if path.startswith("/hang"):
                await asyncio.sleep(self.hang)
                status, body = "200 OK", "<html><title>slow</title><p>no link here</p></html>"
            elif path.startswith("/legit"):
                status = "200 OK"
                body = (f'<html><title>Legit</title><p>I liked <a href="{self.target}">this</a>.'
                        "</p></html>")
            else:
                status, body = "404 Not Found", "not found"
            data = body.encode()
            writer.write(f"HTTP/1.1 {status}\r\nContent-Type: text/html\r\n"
                         f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode()
                         + data)
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    def url(self, index: int, path: str) -> str:
        return f"http://127.0.0.1:{self.ports[index]}{path}"

    @property
    def legit_port(self) -> int:
        return self.ports[-1]


def make_database(server_url: str) -> str:
    name = f"linkback_flood_{uuid.uuid4().hex[:8]}"
    admin = sqlalchemy.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = sqlalchemy.engine.make_url(server_url).set(database=name)
    return url.render_as_string(hide_password=False)


def drop_database(server_url: str, url: str) -> None:
    name = sqlalchemy.engine.make_url(url).database
    admin = sqlalchemy.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def rss_kib(pid: int) -> int:
    """RSS of a process and all its children, in KiB."""
    total = 0
    pids = [pid]
    while pids:
        current = pids.pop()
        try:
            with open(f"/proc/{current}/status") as status:
                total += next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    pids.extend(int(child) for child in children.read().split())
        except (FileNotFoundError, ProcessLookupError, StopIteration):
            continue
    return total


def page_latencies(url: str, stop: threading.Event, count: int | None = None) -> list[float]:
    """Fetch the post page one request at a time (timeouts count as 60 s)."""
    times: list[float] = []
    with requests.Session() as session:
        while not stop.is_set() and (count is None or len(times) < count):
            began = time.monotonic()
            try:
                answer = session.get(url, timeout=60)
                ok = answer.status_code == 200
            except requests.RequestException:
                ok = False
            times.append(time.monotonic() - began if ok else 60.0)
    return times


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--pingbacks", type=float, default=50.0)
    parser.add_argument("--webmentions", type=float, default=10.0)
    parser.add_argument("--database", default=DEFAULT_DATABASE,
                        help="a PostgreSQL server URL; the bench creates and drops a database "
                             "on it")
    args = parser.parse_args()

    port = free_port()
    blog = f"http://127.0.0.1:{port}"
    target = f"{blog}/posts/target"
    database = make_database(args.database)
    sources = Sources(target, FETCH_TIMEOUT + 1, HANG_SERVERS).start()
    app = create_app({"SQLALCHEMY_DATABASE_URI": database, "SERVER_NAME": f"127.0.0.1:{port}",
                      "TESTING": True})
    with app.app_context():
        db.create_all()
        db.session.add(Post(slug="target", title="Target", body="<p>Hello.</p>",
                            published_at=utcnow()))
        db.session.commit()
        db.engine.dispose()

    config = {"SQLALCHEMY_DATABASE_URI": database, "SERVER_NAME": f"127.0.0.1:{port}",
              "SECRET_KEY": "flood", "BLOG_BEHIND_PROXY": True,
              "LINKBACK_ALLOW_PRIVATE_ADDRESSES": True, "LINKBACK_RATELIMIT_ENABLED": False,
              "LINKBACK_FETCH_TIMEOUT": FETCH_TIMEOUT}
    env = {**os.environ, **{f"BLOG_{k}": v if isinstance(v, str) else json.dumps(v)
                            for k, v in config.items()}}
    web = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "4", "-k", "gthread", "--threads", "8",
         "-b", f"127.0.0.1:{port}", "--log-level", "warning", "example_blog:create_app()"],
        cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    try:
        return run(args, blog, target, sources, web, database)
    finally:
        os.killpg(web.pid, signal.SIGTERM)
        web.wait(timeout=30)
        drop_database(args.database, database)


def run(args: Any, blog: str, target: str, sources: Sources, web: subprocess.Popen[bytes],
        database: str) -> int:
    for _ in range(300):  # the web server answers once its workers are up
        try:
            if requests.get(target, timeout=5).status_code == 200:
                break
        except requests.RequestException:
            time.sleep(0.1)
    page_latencies(target, threading.Event(), 40)  # warm every worker
    rss_before = rss_kib(web.pid)
    unloaded = page_latencies(target, threading.Event(), 300)

    addresses = (f"10.{a}.{b}.{c}" for a, b, c in itertools.product(range(1, 255), repeat=3))
    counter = itertools.count()
    answers: dict[str, int] = {}
    lock = threading.Lock()

    def count(kind: str) -> None:
        with lock:
            answers[kind] = answers.get(kind, 0) + 1

    def pingback(source: str, address: str) -> None:
        call = xmlrpc.client.dumps((source, target), "pingback.ping")
        try:
            response = requests.post(blog + "/xmlrpc", data=call, timeout=60,
                                     headers={"Content-Type": "text/xml",
                                              "X-Forwarded-For": address})
            try:
                xmlrpc.client.loads(response.content)
                count("pingback answered")
            except xmlrpc.client.Fault as fault:
                count(f"pingback fault {fault.faultCode}")
        except requests.RequestException:
            count("pingback failed")

    def webmention(source: str, address: str) -> None:
        try:
            response = requests.post(blog + "/webmention",
                                     data={"source": source, "target": target},
                                     timeout=60, headers={"X-Forwarded-For": address})
            count(f"webmention {response.status_code}")
        except requests.RequestException:
            count("webmention failed")

    engine = sqlalchemy.create_engine(database)
    legit_times: dict[str, float] = {}

    def watch_legit() -> None:
        """Note when the legitimate ping's linkback is stored (polling the database, 10 times a
        second)."""
        deadline = time.monotonic() + args.seconds + 120
        while time.monotonic() < deadline:
            with engine.connect() as connection:
                row = connection.execute(sqlalchemy.text(
                    "SELECT 1 FROM linkback_incoming WHERE source_url LIKE '%/legit'")).first()
            if row is not None:
                legit_times["seen"] = time.monotonic()
                return
            time.sleep(0.1)

    stop = threading.Event()
    with ThreadPoolExecutor(400) as pool:
        measured = pool.submit(page_latencies, target, stop)
        began = time.monotonic()
        legit_sent = legit_seen = None
        ticks = int(args.seconds * 10)
        for tick in range(ticks):
            due = began + tick / 10
            time.sleep(max(due - time.monotonic(), 0))
            for _ in range(round(args.pingbacks / 10)):
                n = next(counter)
                pool.submit(pingback, sources.url(n % HANG_SERVERS, f"/hang/{n}"), next(addresses))
            for _ in range(round(args.webmentions / 10)):
                n = next(counter)
                pool.submit(webmention, sources.url(n % HANG_SERVERS, f"/gone/{n}"),
                            next(addresses))
            if tick == 100 or (legit_sent is None and tick == ticks // 3):
                legit_sent = time.monotonic()
                watcher = threading.Thread(target=watch_legit, daemon=True)
                watcher.start()
                pool.submit(pingback, f"http://[::1]:{sources.legit_port}/legit", "192.0.2.1")
        stop.set()
        flooded = measured.result()
        if legit_sent is not None:
            watcher.join()
            legit_seen = legit_times.get("seen")
        with engine.connect() as connection:
            waiting = connection.execute(sqlalchemy.text(
                "SELECT status, count(*) FROM linkback_inbound_job GROUP BY status")).all()
            legit_job = connection.execute(sqlalchemy.text(
                "SELECT received_at, claimed_at, finished_at, attempts FROM linkback_inbound_job"
                " WHERE source_url LIKE '%/legit'")).first()
            spans = [row[0] for row in connection.execute(sqlalchemy.text(
                "SELECT EXTRACT(EPOCH FROM finished_at - claimed_at) FROM linkback_inbound_job"
                " WHERE status = 'done'"))]
        engine.dispose()
    rss_after = rss_kib(web.pid)

    p50, p95 = percentile(unloaded, 0.5), percentile(unloaded, 0.95)
    f50, f95 = percentile(flooded, 0.5), percentile(flooded, 0.95)
    legit = (legit_seen - legit_sent) if legit_seen and legit_sent else float("inf")
    print(f"post page unloaded     : p50 {p50 * 1000:7.1f} ms   p95 {p95 * 1000:7.1f} ms "
          f"({len(unloaded)} requests)")
    print(f"post page under flood  : p50 {f50 * 1000:7.1f} ms   p95 {f95 * 1000:7.1f} ms "
          f"({len(flooded)} requests, max {max(flooded) * 1000:.0f} ms)")
    ratio50, ratio95 = f50 / p50, f95 / p95
    print(f"ratio flood/unloaded   : p50 {ratio50:.2f}x   p95 {ratio95:.2f}x   "
          f"(target <= {PAGE_TARGET}x)")
    print(f"legitimate ping verified after {legit:.2f} s = {legit / FETCH_TIMEOUT:.2f}x the fetch "
          f"timeout of {FETCH_TIMEOUT:g} s (target <= {LEGIT_TARGET}x)")
    print(f"blog RSS (master + 4 workers): {rss_before / 1024:.1f} MiB before, "
          f"{rss_after / 1024:.1f} MiB after ({(rss_after - rss_before) / 1024:+.1f} MiB)")
    print("answers: " + ", ".join(f"{n} {kind}" for kind, n in sorted(answers.items())))
    print("queue afterwards: " + ", ".join(f"{n} {status}" for status, n in waiting))
    if legit_job is not None:
        received, claimed, finished, _attempts = legit_job
        print(f"legitimate job: claimed {(claimed - received).total_seconds():.2f} s after it was "
              f"queued, verified in {(finished - claimed).total_seconds():.2f} s")
    if spans:
        print(f"verification time per job: median {statistics.median(spans):.2f} s, "
              f"max {max(spans):.2f} s ({len(spans)} jobs)")
    print(f"({args.pingbacks:g} pingbacks/s with sources hanging {FETCH_TIMEOUT + 1:g} s over "
          f"{HANG_SERVERS} source hosts + {args.webmentions:g} webmentions/s with 404 sources, "
          f"{args.seconds:g} s; gunicorn gthread 4x8, PostgreSQL, per-IP limits off)")
    met = max(ratio50, ratio95) <= PAGE_TARGET and legit / FETCH_TIMEOUT <= LEGIT_TARGET
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())

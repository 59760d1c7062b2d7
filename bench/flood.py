"""A ping flood against the example blog in its deployment shape, measured as an attacker would.

    python bench/flood.py [--seconds 30] [--pingbacks 50] [--webmentions 10] [--database URL]
                          [--web-only]

The blog runs as docs/deployment.md describes: gunicorn (gthread, 4 workers x
8 threads) with the scheduler off, plus one ``flask linkback worker``, on
PostgreSQL (``--web-only``: no worker, each web process runs the scheduler),
with the per-IP limits off and behind a (simulated) reverse proxy, so the
flood comes "from many addresses": every request carries an X-Forwarded-For
address of its own. After a warm-up (40 pingbacks and 40 webmentions, all
verified), for ``--seconds`` it receives ``--pingbacks`` pingbacks/s whose
sources hang past the fetch timeout (spread over 10 source servers on
127.0.0.1), plus ``--webmentions`` webmentions/s whose sources answer 404,
as Poisson arrivals (seeded: every run sends the same flood). Ten seconds
in, a legitimate pingback and a legitimate webmention arrive from two other
addresses, with sources on
another host (a server on ::1) that answers at once.

Printed, as ratios against figures measured in the same run:
- the post page's p50/p95 latency unloaded and under the flood (target <= 1.5x);
- the time until each legitimate ping is verified, against the fetch timeout
  (target <= 2x);
- the blog's memory (RSS of the gunicorn master and workers) before and after.

The flood (its client and the source servers, on one asyncio loop, at nice
19) and the page-latency client (a fresh connection per request) run in
processes of their own: a real flood's client is on other machines, and a
measuring thread sharing a process with hundreds of flooding threads
measures their GIL, not the blog. Everything talks only to
127.0.0.1 and ::1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import itertools
import json
import multiprocessing
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
import xmlrpc.client
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from xml.parsers.expat import ExpatError

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
UNLOADED_REQUESTS = 1000
WARM_PINGS = 40
LEGIT_TARGET = 2.0
LEGIT_KINDS = ("pingback", "webmention")


def free_port(host: str = "127.0.0.1") -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class Sources:
    """asyncio HTTP servers on 127.0.0.1: ``/hang/..`` answers after ``hang`` s, ``/gone/..`` 404,
    ``/legit..`` at once with a link to the target. The last port is on ::1: the legitimate
    sender's site is another host (still this machine)."""

    def __init__(self, target: str, hang: float, ports: list[int]) -> None:
        self.target = target
        self.hang = hang
        self.ports = ports

    async def start(self) -> None:
        for port in self.ports[:-1]:
            await asyncio.start_server(self._handle, "127.0.0.1", port, backlog=2048)
        await asyncio.start_server(self._handle, "::1", self.ports[-1], backlog=2048)

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

    def legit_url(self, kind: str) -> str:
        return f"http://[::1]:{self.ports[-1]}/legit-{kind}"


async def post(port: int, path: str, body: bytes, content_type: str,
               address: str) -> tuple[int, bytes]:
    """One HTTP/1.1 POST to the blog on a fresh connection: (status, body); (0, b"") on failure.

    Written on raw asyncio streams so that the flood costs this machine as
    little CPU as possible: a real flood's client runs on other machines.
    """
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nX-Forwarded-For: {address}\r\n"
            "Connection: close\r\n\r\n").encode()
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 60)
        try:
            writer.write(head + body)
            data = await asyncio.wait_for(reader.read(-1), 60)
        finally:
            writer.close()
    except OSError:  # TimeoutError included
        return 0, b""
    status_line, _, rest = data.partition(b"\r\n")
    try:
        status = int(status_line.split(b" ")[1])
    except (IndexError, ValueError):
        return 0, b""
    return status, rest.partition(b"\r\n\r\n")[2]


def attacker(pipe: Connection, port: int, target: str, ports: list[int], seconds: float,
             pingbacks: float, webmentions: float) -> None:
    """The flood's process: the source servers and the flooding client on one event loop.

    Sends "ready" once the sources listen, warms the blog up on "warm" (and
    answers "warm"), floods on "go", then sends back what the flood was
    answered and when the legitimate pings were sent.
    """
    # A real flood's client runs on other machines: here it yields the CPU to the blog whenever
    # both want it, so the figures are the blog's and not this process's.
    os.nice(19)
    loop = asyncio.new_event_loop()
    loop.run_until_complete(_attack(pipe, port, target, ports, seconds, pingbacks, webmentions))
    # The sources' connections still open are simply dropped with the process.
    os._exit(0)


async def _attack(pipe: Connection, port: int, target: str, ports: list[int], seconds: float,
                  pingbacks: float, webmentions: float) -> None:
    sources = Sources(target, FETCH_TIMEOUT + 1, ports)
    await sources.start()
    pipe.send("ready")
    loop = asyncio.get_running_loop()
    answers: dict[str, int] = {}
    addresses = (f"10.{a}.{b}.{c}" for a, b, c in itertools.product(range(1, 255), repeat=3))
    counter = itertools.count()

    async def pingback(source: str, address: str) -> None:
        call = xmlrpc.client.dumps((source, target), "pingback.ping").encode()
        status, body = await post(port, "/xmlrpc", call, "text/xml", address)
        if status != 200:
            kind = f"pingback HTTP {status}" if status else "pingback failed"
        else:
            try:
                xmlrpc.client.loads(body)
                kind = "pingback answered"
            except xmlrpc.client.Fault as fault:
                kind = f"pingback fault {fault.faultCode}"
            except (xmlrpc.client.ResponseError, ValueError, ExpatError):
                kind = "pingback unreadable"
        answers[kind] = answers.get(kind, 0) + 1

    async def webmention(source: str, address: str) -> None:
        form = urllib.parse.urlencode({"source": source, "target": target}).encode()
        status, _ = await post(port, "/webmention", form, "application/x-www-form-urlencoded",
                               address)
        kind = f"webmention {status}" if status else "webmention failed"
        answers[kind] = answers.get(kind, 0) + 1

    tasks: set[asyncio.Task[None]] = set()

    def launch(coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    # The blog has been up for a while before a flood comes: every worker has received and
    # verified pings (its statements compiled, its threads started). Sources answer 404, so
    # the post page stays as it was.
    await loop.run_in_executor(None, pipe.recv)  # "warm"
    for n in range(WARM_PINGS):
        address = f"172.16.{n // 250}.{n % 250}"
        await pingback(sources.url(n % HANG_SERVERS, f"/gone/warm-p{n}"), address)
        await webmention(sources.url(n % HANG_SERVERS, f"/gone/warm-w{n}"), address)
    answers.clear()
    pipe.send("warm")
    await loop.run_in_executor(None, pipe.recv)  # "go"

    # Many independent senders: arrivals are a Poisson process at the given rates (seeded, so
    # every run sends the same flood), not bursts in lockstep.
    rng = random.Random(9)  # noqa: S311 - a load pattern, not a secret
    events: list[tuple[float, str]] = [(min(10.0, seconds / 3), "legit")]
    for kind, rate in (("pingback", pingbacks), ("webmention", webmentions)):
        at = rng.expovariate(rate) if rate > 0 else seconds
        while at < seconds:
            events.append((at, kind))
            at += rng.expovariate(rate)
    events.sort()
    began = time.monotonic()
    legit_sent = None
    for at, kind in events:
        await asyncio.sleep(max(began + at - time.monotonic(), 0))
        n = next(counter)
        if kind == "pingback":
            launch(pingback(sources.url(n % HANG_SERVERS, f"/hang/{n}"), next(addresses)))
        elif kind == "webmention":
            launch(webmention(sources.url(n % HANG_SERVERS, f"/gone/{n}"), next(addresses)))
        else:
            # A pingback (its web process verifies it while the request waits) and a
            # webmention (queued for the worker, behind the flood's jobs).
            legit_sent = time.monotonic()
            launch(pingback(sources.legit_url("pingback"), "192.0.2.1"))
            launch(webmention(sources.legit_url("webmention"), "192.0.2.2"))
    await asyncio.sleep(max(began + seconds - time.monotonic(), 0))
    pipe.send({"flood_over": time.monotonic()})
    if tasks:
        await asyncio.wait(set(tasks))
    pipe.send({"answers": answers, "legit_sent": legit_sent})
    # The sources keep answering (the blog may still be fetching) until the bench says "stop".
    await asyncio.get_running_loop().run_in_executor(None, pipe.recv)


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


def page_latencies(url: str, count: int | None, stop: Connection | None = None) -> list[float]:
    """Fetch the post page one request at a time, each on a connection of its own as a new
    visitor's would be (so every gunicorn worker serves its share), ``count`` times or until
    ``stop`` has something to read. Failures and timeouts count as 60 s."""
    parts = urllib.parse.urlsplit(url)
    times: list[float] = []
    while (count is None or len(times) < count) and not (stop is not None and stop.poll()):
        began = time.monotonic()
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=60)
        try:
            connection.request("GET", parts.path)
            answer = connection.getresponse()
            answer.read()
            ok = answer.status == 200
        except OSError:
            ok = False
        finally:
            connection.close()
        times.append(time.monotonic() - began if ok else 60.0)
    return times


def measurer(pipe: Connection, url: str) -> None:
    """The page-latency process: a client of its own, so no flood thread ever holds its GIL.

    Each message is a count of requests (or None: until the next message);
    the answer is the list of latencies.
    """
    while (order := pipe.recv()) != "stop":
        pipe.send(page_latencies(url, order, stop=pipe if order is None else None))
        if order is None:
            pipe.recv()  # the message that stopped it


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
    parser.add_argument("--web-only", action="store_true",
                        help="no `flask linkback worker`: the web processes verify on their own "
                             "slots and run the scheduler (the single-server default)")
    args = parser.parse_args()

    port = free_port()
    blog = f"http://127.0.0.1:{port}"
    target = f"{blog}/posts/target"
    database = make_database(args.database)
    app = create_app({"SQLALCHEMY_DATABASE_URI": database, "SERVER_NAME": f"127.0.0.1:{port}",
                      "TESTING": True})
    with app.app_context():
        db.create_all()
        db.session.add(Post(slug="target", title="Target", body="<p>Hello.</p>",
                            published_at=utcnow()))
        db.session.commit()
        db.engine.dispose()

    config: dict[str, Any] = {
        "SQLALCHEMY_DATABASE_URI": database, "SERVER_NAME": f"127.0.0.1:{port}",
        "SECRET_KEY": "flood", "BLOG_BEHIND_PROXY": True,
        "LINKBACK_ALLOW_PRIVATE_ADDRESSES": True, "LINKBACK_RATELIMIT_ENABLED": False,
        "LINKBACK_FETCH_TIMEOUT": FETCH_TIMEOUT}
    if not args.web_only:
        # docs/deployment.md: web processes leave the scheduler to the worker.
        config["LINKBACK_SCHEDULER"] = False
    env = {**os.environ, **{f"BLOG_{k}": v if isinstance(v, str) else json.dumps(v)
                            for k, v in config.items()}}
    processes = [subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "4", "-k", "gthread", "--threads", "8",
         "-b", f"127.0.0.1:{port}", "--log-level", "warning", "example_blog:create_app()"],
        cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)]
    if not args.web_only:
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "example_blog:create_app()", "linkback",
             "worker"],
            cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL))
    spawn = multiprocessing.get_context("spawn")
    attack_end, attack_pipe = spawn.Pipe()
    measure_end, measure_pipe = spawn.Pipe()
    ports = [free_port() for _ in range(HANG_SERVERS)] + [free_port("::1")]
    helpers = [
        spawn.Process(target=attacker, args=(attack_end, port, target, ports, args.seconds,
                                             args.pingbacks, args.webmentions), daemon=True),
        spawn.Process(target=measurer, args=(measure_end, target), daemon=True),
    ]
    for helper in helpers:
        helper.start()
    try:
        return run(args, target, processes, attack_pipe, measure_pipe, database)
    finally:
        for pipe in (attack_pipe, measure_pipe):
            with contextlib.suppress(OSError):
                pipe.send("stop")
        for helper in helpers:
            helper.join(10)
            helper.kill()
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            process.wait(timeout=30)
        drop_database(args.database, database)


def run(args: Any, target: str, processes: list[subprocess.Popen[bytes]], attack: Connection,
        measure: Connection, database: str) -> int:
    for _ in range(300):  # the web server answers once its workers are up
        try:
            if requests.get(target, timeout=5).status_code == 200:
                break
        except requests.RequestException:
            time.sleep(0.1)
    if attack.recv() != "ready":
        raise RuntimeError("the flood's process did not start")
    web = processes[0]
    attack.send("warm")
    attack.recv()
    measure.send(200)  # warm every worker's page
    measure.recv()
    engine = sqlalchemy.create_engine(database)
    for _ in range(600):  # the warm-up pings are verified: the queue is idle
        with engine.connect() as connection:
            if not connection.execute(sqlalchemy.text(
                    "SELECT count(*) FROM linkback_inbound_job"
                    " WHERE status IN ('queued', 'verifying')")).scalar():
                break
        time.sleep(0.1)
    with engine.begin() as connection:  # the flood's figures count the flood's jobs only
        connection.execute(sqlalchemy.text("DELETE FROM linkback_inbound_job"))
    rss_before = rss_kib(web.pid)
    measure.send(UNLOADED_REQUESTS)
    unloaded = measure.recv()

    legit_seen: dict[str, float] = {}  # kind -> when its linkback was seen stored

    def watch_legit() -> None:
        """Note when each legitimate ping's linkback is stored (polling the database, 10 times
        a second)."""
        deadline = time.monotonic() + args.seconds + 120
        while time.monotonic() < deadline and len(legit_seen) < len(LEGIT_KINDS):
            with engine.connect() as connection:
                stored = connection.execute(sqlalchemy.text(
                    "SELECT source_url FROM linkback_incoming WHERE source_url LIKE '%/legit-%'"
                )).scalars().all()
            for url in stored:
                legit_seen.setdefault(url.rpartition("/legit-")[2], time.monotonic())
            time.sleep(0.1)

    watcher = threading.Thread(target=watch_legit, daemon=True)
    watcher.start()
    measure.send(None)  # measure until the flood is over
    attack.send("go")
    attack.recv()  # the flood's last request is sent
    measure.send("over")
    flooded = measure.recv()
    report = attack.recv()  # every flood request has its answer
    watcher.join()
    with engine.connect() as connection:
        waiting = connection.execute(sqlalchemy.text(
            "SELECT status, count(*) FROM linkback_inbound_job GROUP BY status")).all()
        legit_jobs = {url.rpartition("/legit-")[2]: rest for url, *rest in connection.execute(
            sqlalchemy.text("SELECT source_url, received_at, claimed_at, finished_at"
                            " FROM linkback_inbound_job WHERE source_url LIKE '%/legit-%'"))}
        spans = [row[0] for row in connection.execute(sqlalchemy.text(
            "SELECT EXTRACT(EPOCH FROM finished_at - claimed_at) FROM linkback_inbound_job"
            " WHERE status = 'done'"))]
    engine.dispose()
    rss_after = rss_kib(web.pid)

    p50, p95 = percentile(unloaded, 0.5), percentile(unloaded, 0.95)
    f50, f95 = percentile(flooded, 0.5), percentile(flooded, 0.95)
    legit_sent = report["legit_sent"]
    legit = {kind: legit_seen[kind] - legit_sent if kind in legit_seen and legit_sent
             else float("inf") for kind in LEGIT_KINDS}
    shape = "web only" if args.web_only else "web + `flask linkback worker`"
    print(f"shape                  : gunicorn gthread 4x8, {shape}, PostgreSQL, per-IP limits off")
    print(f"post page unloaded     : p50 {p50 * 1000:7.1f} ms   p95 {p95 * 1000:7.1f} ms "
          f"({len(unloaded)} requests)")
    print(f"post page under flood  : p50 {f50 * 1000:7.1f} ms   p95 {f95 * 1000:7.1f} ms "
          f"({len(flooded)} requests, max {max(flooded) * 1000:.0f} ms)")
    ratio50, ratio95 = f50 / p50, f95 / p95
    print(f"ratio flood/unloaded   : p50 {ratio50:.2f}x   p95 {ratio95:.2f}x   "
          f"(target <= {PAGE_TARGET}x)")
    for kind, after in legit.items():
        print(f"legitimate {kind:10} verified after {after:.2f} s = "
              f"{after / FETCH_TIMEOUT:.2f}x the fetch timeout of {FETCH_TIMEOUT:g} s "
              f"(target <= {LEGIT_TARGET}x)")
    print(f"blog RSS (gunicorn master + 4 workers): {rss_before / 1024:.1f} MiB before, "
          f"{rss_after / 1024:.1f} MiB after ({(rss_after - rss_before) / 1024:+.1f} MiB)")
    print("answers: " + ", ".join(f"{n} {kind}" for kind, n in sorted(report["answers"].items())))
    print("queue afterwards: " + ", ".join(f"{n} {status}" for status, n in waiting))
    for kind, (received, claimed, finished) in sorted(legit_jobs.items()):
        if claimed is not None and finished is not None:
            print(f"legitimate {kind} job: claimed {(claimed - received).total_seconds():.2f} s "
                  f"after it was queued, verified in {(finished - claimed).total_seconds():.2f} s")
    if spans:
        print(f"verification time per job: median {statistics.median(spans):.2f} s, "
              f"max {max(spans):.2f} s ({len(spans)} jobs)")
    print(f"({args.pingbacks:g} pingbacks/s with sources hanging {FETCH_TIMEOUT + 1:g} s over "
          f"{HANG_SERVERS} source hosts + {args.webmentions:g} webmentions/s with 404 sources, "
          f"{args.seconds:g} s)")
    met = (max(ratio50, ratio95) <= PAGE_TARGET
           and max(legit.values()) / FETCH_TIMEOUT <= LEGIT_TARGET)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())

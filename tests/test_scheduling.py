"""Scheduled go-live, the background scheduler, restarts and several workers on one outbox."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from outbound_helpers import drain, links, outbox, publish

from example_blog import create_app
from example_blog.extensions import db as blog_db
from example_blog.extensions import linkback
from flask_linkback.models import utcnow
from flask_linkback.outbound.worker import _Drainer, worker_name

ROOT = Path(__file__).resolve().parent.parent


def test_scheduled_post_sends_nothing_before_go_live_and_everything_after(blog, target_blogs):
    target = target_blogs()
    urls = [target.post("/a"), target.post("/b", "link")]
    go_live = utcnow() + timedelta(seconds=2)
    blog.add_post("soon", body=links(*urls), published_at=go_live)

    rows = publish(blog, "soon", now=go_live - timedelta(seconds=2))
    assert {row.next_attempt_at for row in rows} == {go_live}

    assert drain(blog, now=go_live - timedelta(seconds=2)) == {}
    assert drain(blog, now=go_live - timedelta(milliseconds=1)) == {}
    assert target.calls == []
    assert drain(blog, now=go_live) == {"sent": 2}
    assert sorted(p[1] for p in target.pingbacks()) == sorted(urls)


def test_outbox_clock_can_be_replaced_for_the_whole_app(blog, target_blogs):
    target = target_blogs()
    go_live = utcnow() + timedelta(days=3)
    blog.add_post("later", body=links(target.post("/a")), published_at=go_live)
    publish(blog, "later")
    runtime = blog.app.extensions["linkback"].outbox
    assert drain(blog) == {}
    runtime.clock = lambda: go_live + timedelta(seconds=1)
    assert drain(blog) == {"sent": 1}


def test_rescheduling_a_post_moves_its_pings(blog, target_blogs):
    target = target_blogs()
    url = target.post("/a")
    blog.add_post("moved", body=links(url), published_at=utcnow() + timedelta(hours=1))
    publish(blog, "moved")
    later = utcnow() + timedelta(days=1)
    publish(blog, "moved", published_at=later)
    assert outbox(blog, "moved")[url].next_attempt_at == later
    assert drain(blog, now=later - timedelta(minutes=1)) == {}


def test_background_scheduler_sends_a_post_scheduled_two_seconds_ahead(app_config, request,
                                                                       target_blogs):
    app_config["LINKBACK_OUTBOX_POLL_SECONDS"] = 30  # so the go-live job, not a poll, sends it
    blog = request.getfixturevalue("blog")
    target = target_blogs()
    go_live = utcnow() + timedelta(seconds=2)
    blog.add_post("soon", body=links(target.post("/a")), published_at=go_live)
    linkback.start_scheduler(blog.app)
    try:
        publish(blog, "soon")
        assert target.calls == []
        assert target.wait_for_calls(1, timeout=15), "no ping within 13 s of go-live"
    finally:
        linkback.stop_scheduler(blog.app)
    [call] = target.calls
    go_live_epoch = go_live.replace(tzinfo=__import__("datetime").timezone.utc).timestamp()
    assert call.at >= go_live_epoch
    assert call.params == (blog.post_url("soon"), target.url + "/a")


def test_claims_of_a_worker_that_died_are_retried_after_the_timeout(blog, target_blogs):
    target = target_blogs()
    url = target.post("/a")
    blog.add_post("news", body=links(url))
    publish(blog, "news")
    t0 = utcnow()
    with blog.app.app_context():
        dead = _Drainer(worker_name(), lambda: t0, None)
        assert len(dead.claim(10)) == 1  # ...and then the process was killed
    assert outbox(blog, "news")[url].status == "sending"

    assert drain(blog, now=t0 + timedelta(seconds=599)) == {}
    assert drain(blog, now=t0 + timedelta(seconds=601)) == {"sent": 1}
    assert len(target.calls) == 1


# Real processes ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _blog_env(app: Any, **extra: Any) -> dict[str, str]:
    """Environment for a separate process of the example blog on the same database."""
    env = dict(os.environ)
    env["BLOG_SQLALCHEMY_DATABASE_URI"] = app.config["SQLALCHEMY_DATABASE_URI"]
    env["BLOG_SQLALCHEMY_ENGINE_OPTIONS"] = json.dumps(app.config["SQLALCHEMY_ENGINE_OPTIONS"])
    env["BLOG_LINKBACK_ALLOW_PRIVATE_ADDRESSES"] = "true"
    env["PYTHONPATH"] = str(ROOT)
    for key, value in extra.items():
        env[f"BLOG_{key}"] = json.dumps(value)
    return env


class BlogProcess:
    """``python -m example_blog`` on a port of its own; its scheduler starts with it."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = _free_port()
        self.log = log.open("ab")
        self.lines: list[str] = []
        self.changed = threading.Condition()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "example_blog", "--port", str(self.port)],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        """Copy the child's output to the log, and let waiters see each line."""
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            self.log.write(raw)
            self.log.flush()
            with self.changed:
                self.lines.append(raw.decode("utf-8", "replace"))
                self.changed.notify_all()
        with self.changed:
            self.changed.notify_all()  # the child exited

    def wait_for_line(self, text: str, timeout: float = 20) -> str:
        """The first output line containing ``text``; fails if the child exits or times out."""
        def found() -> str | None:
            return next((line for line in self.lines if text in line), None)

        with self.changed:
            ok = self.changed.wait_for(lambda: found() or not self.reader.is_alive(), timeout)
            line = found()
        assert line, f"the blog process never printed {text!r}" + ("" if ok else " (timed out)")
        return line

    def wait_ready(self, timeout: float = 20) -> None:
        # Werkzeug prints "Running on" once its socket is bound and listening.
        self.wait_for_line("Running on", timeout)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        self.process.wait(timeout=10)
        self.reader.join(timeout=10)
        self.log.close()


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[list[BlogProcess]]:
    started: list[BlogProcess] = []
    yield started
    for process in started:
        process.kill()


def test_pings_go_out_once_when_the_app_is_killed_before_go_live(blog, target_blogs, processes,
                                                                 tmp_path):
    target = target_blogs()
    urls = [target.post("/a"), target.post("/b")]
    go_live = utcnow() + timedelta(seconds=8)
    blog.add_post("soon", body=links(*urls), published_at=go_live)
    publish(blog, "soon")
    env = _blog_env(blog.app, LINKBACK_OUTBOX_POLL_SECONDS=1)

    first = BlogProcess(env, tmp_path / "first.log")
    processes.append(first)
    first.wait_ready()
    first.kill(signal.SIGKILL)
    assert utcnow() < go_live, "the machine was too slow to kill the app before go-live"
    assert target.calls == []

    second = BlogProcess(env, tmp_path / "second.log")
    processes.append(second)
    second.wait_ready()
    assert target.wait_for_calls(2, timeout=30), "the restarted app did not send the pings"
    # The scheduler logs its counts once the drain has recorded its results.
    second.wait_for_line("outbox: 2 sent", timeout=10)
    second.kill(signal.SIGTERM)

    assert {row.status for row in outbox(blog, "soon").values()} == {"sent"}
    assert sorted(p[1] for p in target.pingbacks()) == sorted(urls)
    assert min(call.at for call in target.calls) >= go_live.replace(
        tzinfo=__import__("datetime").timezone.utc).timestamp()


def test_two_processes_draining_one_outbox_send_each_ping_once(blog, target_blogs):
    targets = [target_blogs() for _ in range(4)]
    urls = []
    for target in targets:
        target.delay = 0.05  # keeps both drains busy at the same time
        urls += [target.post(f"/p{i}") for i in range(6)]
    blog.add_post("many", body=links(*urls))
    publish(blog, "many")
    env = _blog_env(blog.app, LINKBACK_OUTBOX_WORKERS=3)  # small claims: the two take turns
    env["FLASK_APP"] = "example_blog"

    runs = [subprocess.Popen([sys.executable, "-m", "flask", "linkback", "send"], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for _ in range(2)]
    outputs = [run.communicate(timeout=60)[0] for run in runs]

    assert [run.returncode for run in runs] == [0, 0], outputs
    received = [p[1] for target in targets for p in target.pingbacks()]
    assert sorted(received) == sorted(urls)  # every target once, none twice
    assert {row.status for row in outbox(blog, "many").values()} == {"sent"}
    handled = sum(int(out.split("Outbox drained: ")[1].split()[0]) for out in outputs)
    assert handled == len(urls)


def test_two_example_blogs_ping_each_other_for_real(blog, other_blog_factory):
    # The example blog offers Webmention too; this test is about the Pingback path.
    other = other_blog_factory(LINKBACK_PREFER_WEBMENTION=False)
    blog.add_post("original", title="The original")
    # pytest-flask keeps a request context of the first blog pushed; push the other's.
    with other.app.test_request_context():
        from example_blog.models import Post

        reply = Post(slug="reply", title="A reply", published_at=utcnow(),
                     body=f'<p>I agree with <a href="{blog.post_url("original")}">this post</a>'
                          ".</p>")
        blog_db.session.add(reply)
        blog_db.session.commit()
        linkback.post_published(reply)
        assert linkback.send_pending() == {"sent": 1}
        [ping] = linkback.outgoing_for(reply)
        assert ping.endpoint == blog.url + "/xmlrpc"

    [stored] = blog.linkbacks()
    assert stored.source_url == f"{other.url}/posts/reply"
    assert stored.title.startswith("A reply")
    assert "I agree with this post" in stored.excerpt


def test_worker_command_sends_due_pings_from_a_separate_process(blog, target_blogs, tmp_path):
    target = target_blogs()
    blog.add_post("news", body=links(target.post("/a")))
    publish(blog, "news")
    env = _blog_env(blog.app, LINKBACK_OUTBOX_POLL_SECONDS=1)
    env["FLASK_APP"] = "example_blog"
    with (tmp_path / "worker.log").open("wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "flask", "linkback", "worker"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            assert target.wait_for_calls(1, timeout=30), "the worker sent nothing"
        finally:
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(timeout=10) == 0
    assert target.pingbacks() == [(blog.post_url("news"), target.url + "/a")]
    assert "Linkback worker running" in (tmp_path / "worker.log").read_text()


def test_publishing_wakes_the_scheduler_instead_of_waiting_for_the_next_poll(
    app_config, request, target_blogs
):
    app_config["LINKBACK_OUTBOX_POLL_SECONDS"] = 59
    blog = request.getfixturevalue("blog")
    target = target_blogs()
    blog.add_post("now", body=links(target.post("/a")))
    linkback.start_scheduler(blog.app)
    try:
        publish(blog, "now")
        assert target.wait_for_calls(1, timeout=15), "the ping waited for the next poll"
    finally:
        linkback.stop_scheduler(blog.app)


def _app(tmp_path: Path, **config: Any) -> Any:
    return create_app(
        {
            "SECRET_KEY": "x",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/s.db",
            "LINKBACK_OUTBOX_POLL_SECONDS": 30,
            **config,
        }
    )


def test_scheduler_starts_with_the_app_unless_configured_off_or_testing(tmp_path):
    import click

    started = _app(tmp_path)
    # Not while the app is being created (the host may still be importing its
    # models): with the first request.
    assert started.extensions["linkback"].outbox.scheduler is None
    started.test_client().get("/")
    try:
        assert started.extensions["linkback"].outbox.scheduler.running
    finally:
        linkback.stop_scheduler(started)
    assert _app(tmp_path, LINKBACK_SCHEDULER=False).extensions["linkback"].outbox.scheduler is None
    assert _app(tmp_path, TESTING=True).extensions["linkback"].outbox.scheduler is None
    with click.Context(
        click.Command("send"), info_name="flask"
    ):  # loaded for `flask linkback send`
        assert _app(tmp_path).extensions["linkback"].outbox.scheduler is None


@pytest.mark.parametrize("value", [60, 0, "15"])
def test_poll_interval_must_be_under_a_minute(tmp_path, value):
    with pytest.raises(
        ValueError, match="LINKBACK_OUTBOX_POLL_SECONDS must be a number of seconds"
    ):
        _app(tmp_path, LINKBACK_OUTBOX_POLL_SECONDS=value, LINKBACK_SCHEDULER=False)

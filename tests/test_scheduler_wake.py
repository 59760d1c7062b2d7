"""After each drain (and so when the scheduler starts) a one-off wake job is set at the earliest
due time in the database, when it comes before the next poll: a scheduled post found after a
restart, and a retry spaced after a 429, leave on time. Checked by reading the wake job's run
time on a paused scheduler: no waiting."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from outbound_helpers import drain, links, outbox, publish
from target_blogs import fault

from example_blog import create_app
from flask_linkback.models import utcnow
from flask_linkback.outbound import scheduler as outbox_scheduler


@pytest.fixture
def paused() -> Iterator[Any]:
    """``paused(app)``: give ``app`` a real scheduler that keeps its jobs but runs none."""
    started: list[tuple[Any, BackgroundScheduler]] = []

    def attach(app: Any) -> BackgroundScheduler:
        sched = BackgroundScheduler(timezone=UTC)
        sched.start(paused=True)
        sched.add_job(lambda: None, "interval", id=outbox_scheduler.POLL_JOB,
                      seconds=app.config["LINKBACK_OUTBOX_POLL_SECONDS"])
        app.extensions["linkback"].outbox.scheduler = sched
        started.append((app, sched))
        return sched

    yield attach
    for app, sched in started:
        app.extensions["linkback"].outbox.scheduler = None
        sched.shutdown(wait=False)


def wake_time(sched: BackgroundScheduler) -> datetime | None:
    job = sched.get_job(outbox_scheduler.WAKE_JOB)
    return None if job is None else job.next_run_time


def test_after_a_restart_the_first_drain_wakes_the_scheduler_at_go_live(
        app_config, request, target_blogs, paused):
    blog = request.getfixturevalue("blog")
    target = target_blogs()
    go_live = utcnow().replace(microsecond=0) + timedelta(seconds=5)
    blog.add_post("later", body=links(target.post("/a")), published_at=go_live)
    publish(blog, "later")

    # A new process on the same database: its memory holds no go-live trigger.
    restarted = create_app(app_config)
    sched = paused(restarted)
    try:
        outbox_scheduler._drain(restarted)  # the poll that runs when the scheduler starts
    finally:
        with restarted.app_context():
            restarted.extensions["linkback"].db.engine.dispose()

    assert target.calls == []
    assert wake_time(sched) == go_live.replace(tzinfo=UTC)
    assert sched.get_job(outbox_scheduler.POLL_JOB).next_run_time > wake_time(sched)


def test_nothing_due_before_the_next_poll_sets_no_wake(blog, target_blogs, paused):
    target = target_blogs()
    blog.add_post("much-later", body=links(target.post("/a")),
                  published_at=utcnow() + timedelta(hours=1))
    publish(blog, "much-later")
    sched = paused(blog.app)
    outbox_scheduler._drain(blog.app)
    assert wake_time(sched) is None
    blog.add_post("sooner", body=links(target.post("/b")),
                  published_at=utcnow() + timedelta(seconds=10))
    publish(blog, "sooner")
    outbox_scheduler._drain(blog.app)
    [row] = outbox(blog, "sooner").values()
    assert wake_time(sched) == row.next_attempt_at.replace(tzinfo=UTC)


def test_a_retry_after_a_429_is_woken_when_its_spacing_ends(app_config, request, target_blogs,
                                                             paused):
    app_config["LINKBACK_OUTBOX_429_SPACING"] = 4
    blog = request.getfixturevalue("blog")
    target = target_blogs()
    url = target.post("/a")
    target.answers.append(fault(429, "You are posting comments too quickly"))
    blog.add_post("news", body=links(url))
    publish(blog, "news")
    sched = paused(blog.app)

    outbox_scheduler._drain(blog.app)

    row = outbox(blog, "news")[url]
    assert row.status == "retry"
    assert wake_time(sched) == row.next_attempt_at.replace(tzinfo=UTC)
    assert wake_time(sched) < sched.get_job(outbox_scheduler.POLL_JOB).next_run_time
    # When the wake comes, the retry goes.
    assert drain(blog, now=row.next_attempt_at) == {"sent": 1}

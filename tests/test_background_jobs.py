"""The webmention worker pool: bounded, coalescing, and joinable without sleeping."""

from __future__ import annotations

import threading

import pytest

from flask_linkback.inbound.background import BackgroundJobs, QueueFull


@pytest.fixture
def jobs():
    pool = BackgroundJobs("test-jobs")
    yield pool
    pool.shutdown()


def test_join_waits_for_running_jobs_and_times_out_while_they_block(jobs):
    release = threading.Event()
    jobs.submit(release.wait, 10, workers=1, limit=10)

    assert jobs.join(timeout=0.05) is False
    release.set()
    assert jobs.join(timeout=10) is True
    assert jobs.unfinished == 0


def test_submitting_past_the_limit_raises_queue_full(jobs):
    release = threading.Event()
    jobs.submit(release.wait, 10, workers=1, limit=2)
    jobs.submit(release.wait, 10, workers=1, limit=2)

    with pytest.raises(QueueFull):
        jobs.submit(release.wait, 10, workers=1, limit=2)
    release.set()
    assert jobs.join(timeout=10)


def test_keyed_items_that_wait_together_run_in_one_job(jobs):
    release = threading.Event()
    seen: list[list[str]] = []
    jobs.submit(release.wait, 10, workers=1, limit=10)  # the only worker is busy

    queued = [jobs.submit_keyed("k", item, seen.append, workers=1, limit=10) for item in "abc"]
    other = jobs.submit_keyed("other", "z", seen.append, workers=1, limit=10)
    release.set()
    assert jobs.join(timeout=10)

    assert (queued, other) == ([True, False, False], True)
    assert seen == [["a", "b", "c"], ["z"]]


def test_a_failing_job_is_logged_and_still_counted_done(jobs, caplog):
    def boom() -> None:
        raise ValueError("broken job")

    jobs.submit(boom, workers=1, limit=10)

    assert jobs.join(timeout=10)
    assert "background job failed" in caplog.text

"""When to drain the outbox: APScheduler 3 in a background thread.

The scheduler holds no state worth keeping: an interval job drains due rows
every LINKBACK_OUTBOX_POLL_SECONDS, and a one-off job fires at a post's go-live
time so its pings leave at once. After a restart the interval job finds
whatever the database says is due, so nothing is lost. Several processes may
each run a scheduler; rows are claimed atomically, so each ping goes out once.
"""

from __future__ import annotations

import atexit
import logging
import threading
from datetime import UTC, datetime
from typing import Any

import click
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask

logger = logging.getLogger("flask_linkback")

POLL_JOB = "linkback-outbox-poll"


def should_autostart(app: Flask) -> bool:
    """Start with the app unless configured off, testing, or loaded for a CLI command.

    ``flask linkback send`` or ``flask db upgrade`` should not start sending in
    the background; ``flask run`` and WSGI servers should.
    """
    if not app.config["LINKBACK_SCHEDULER"] or app.testing:
        return False
    ctx = click.get_current_context(silent=True)
    return ctx is None or ctx.info_name == "run"


def start(app: Flask) -> BackgroundScheduler:
    """Start this app's scheduler (once per process) and return it."""
    runtime = app.extensions["linkback"].outbox
    with runtime.lock:
        if runtime.scheduler is not None:
            return runtime.scheduler
        _quiet_routine_polls()
        scheduler = BackgroundScheduler(
            timezone=UTC,
            executors={EXECUTOR: ThreadPoolExecutor(EXECUTOR_THREADS)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        scheduler.add_job(_drain, "interval", args=[app], id=POLL_JOB, executor=EXECUTOR,
                          seconds=app.config["LINKBACK_OUTBOX_POLL_SECONDS"],
                          next_run_time=datetime.now(UTC))
        scheduler.start()
        runtime.scheduler = scheduler
        atexit.register(_shutdown, scheduler)
        logger.info("outbox scheduler started: polling every %s s",
                    app.config["LINKBACK_OUTBOX_POLL_SECONDS"])
        return scheduler


#: Our jobs run on an executor of their own, so its logger is ours to quieten.
EXECUTOR = "linkback"
EXECUTOR_THREADS = 4


def _quiet_routine_polls() -> None:
    """Keep APScheduler's "Running job" / "executed successfully" pair out of INFO logs.

    A poll every 15 s would otherwise log two lines at INFO forever; the
    outbox logs real work itself ("outbox: 2 sent"), and errors still show.
    A host that sets that logger's level itself keeps its choice; the host's own
    APScheduler jobs, on other executors, are left alone.
    """
    executor_logger = logging.getLogger(f"apscheduler.executors.{EXECUTOR}")
    if executor_logger.level == logging.NOTSET:
        executor_logger.setLevel(logging.WARNING)


def stop(app: Flask, wait: bool = True) -> None:
    runtime = app.extensions["linkback"].outbox
    with runtime.lock:
        scheduler, runtime.scheduler = runtime.scheduler, None
    if scheduler is not None:
        _shutdown(scheduler, wait)


def wake(app: Flask, due: datetime) -> None:
    """Make the running scheduler (if any) drain the outbox when ``due`` (naive UTC) comes.

    Each wake is a one-off job of its own: a poll that is running right now
    would make APScheduler skip a second run of the same job, and the new
    rows could wait a whole poll interval.
    """
    scheduler = app.extensions["linkback"].outbox.scheduler
    if scheduler is None or not scheduler.running:
        return
    run_at = max(due.replace(tzinfo=UTC), datetime.now(UTC))
    scheduler.add_job(_drain, "date", args=[app], run_date=run_at, executor=EXECUTOR)


_drain_locks: dict[int, threading.Lock] = {}


def _drain(app: Flask) -> None:
    from .worker import drain

    # One drain at a time per app in this process; the next one finds what is left.
    lock = _drain_locks.setdefault(id(app), threading.Lock())
    with lock, app.app_context():
        try:
            counts = drain()
        except Exception as error:
            if not _outbox_table_exists(app):
                # The app started before its tables were created (db.create_all or a
                # migration still to come): say so once per run, without a traceback.
                logger.warning("outbox: table linkback_outgoing does not exist yet; "
                               "nothing sent (%s)", type(error).__name__)
                return
            logger.exception("outbox: drain failed; the next run retries")
            return
    if counts:
        logger.info("outbox: %s", ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    else:
        logger.debug("outbox: nothing due")


def _outbox_table_exists(app: Flask) -> bool:
    import sqlalchemy as sa

    state = app.extensions["linkback"]
    try:
        state.db.session.rollback()
        return sa.inspect(state.db.engine).has_table(state.models.OutgoingPing.__tablename__)
    except Exception:  # noqa: BLE001 - the database itself is unreachable: not "missing"
        return True


def _shutdown(scheduler: Any, wait: bool = False) -> None:
    if scheduler.running:
        scheduler.shutdown(wait=wait)

"""When to drain the outbox: APScheduler 3 in a background thread.

The scheduler holds no state worth keeping: an interval job drains due rows
every LINKBACK_OUTBOX_POLL_SECONDS, and a one-off job fires at a post's go-live
time so its pings leave at once. After each drain (the first one runs when the
scheduler starts) a one-off wake job is set for the earliest due time in the
database, when that comes before the next poll: after a restart a scheduled
post still goes live on time, and a retry after a 429 leaves when its spacing
ends, not at the next poll. Several processes may each run a scheduler; rows
are claimed atomically, so each ping goes out once.
"""

from __future__ import annotations

import atexit
import functools
import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import click
import sqlalchemy as sa
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask

from ..inbound.queue import pump_app
from ..models import DUE_STATUSES
from ..state import LinkbackState, current_state
from ..tables import missing_tables
from .worker import drain

logger = logging.getLogger("flask_linkback")

POLL_JOB = "linkback-outbox-poll"
WAKE_JOB = "linkback-outbox-wake"
MIN_WAKE_DELAY = timedelta(seconds=0.5)
INBOUND_JOB = "linkback-inbound-poll"


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
        # Verify what the inbound queue holds: pings left by a restart or by processes
        # that only queue (each finished job also claims the next one at once).
        scheduler.add_job(_pump_inbound, "interval", args=[app], id=INBOUND_JOB, executor=EXECUTOR,
                          seconds=app.config["LINKBACK_INBOUND_POLL_SECONDS"],
                          next_run_time=datetime.now(UTC))
        scheduler.start()
        runtime.scheduler = scheduler
        runtime.wake = functools.partial(wake, app)
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
    app.extensions["linkback"].inbound.shutdown(wait)


def _pump_inbound(app: Flask) -> None:
    pump_app(app)


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


def next_due() -> datetime | None:
    """The earliest ``next_attempt_at`` (naive UTC) of a row waiting to go out, if any."""
    state = current_state()
    Ping = state.models.OutgoingPing
    found: datetime | None = state.db.session.execute(
        sa.select(sa.func.min(Ping.next_attempt_at)).where(Ping.status.in_(DUE_STATUSES))).scalar()
    state.db.session.commit()
    return found


def wake_at_next_due(app: Flask) -> datetime | None:
    """Set the wake job to the earliest due time in the database, if it comes before the next poll.

    Runs in an app context. Returns when the wake job will run (aware UTC),
    or None when the next poll (or an earlier wake) comes first or nothing
    is due.
    """
    scheduler = app.extensions["linkback"].outbox.scheduler
    if scheduler is None or not scheduler.running:
        return None
    due = next_due()
    if due is None:
        return None
    # Never at once: a row due now that the drain could not claim must not spin a loop.
    run_at = max(due.replace(tzinfo=UTC), datetime.now(UTC) + MIN_WAKE_DELAY)
    for job_id in (POLL_JOB, WAKE_JOB):
        job = scheduler.get_job(job_id)
        if job is not None and job.next_run_time is not None and job.next_run_time <= run_at:
            return None
    scheduler.add_job(_drain, "date", args=[app], run_date=run_at, id=WAKE_JOB,
                      replace_existing=True, executor=EXECUTOR)
    return run_at


_drain_locks: dict[int, threading.Lock] = {}


def _drain(app: Flask) -> None:
    # One drain at a time per app in this process; the next one finds what is left.
    lock = _drain_locks.setdefault(id(app), threading.Lock())
    with lock, app.app_context():
        try:
            counts = drain()
        except Exception as error:
            if _outbox_table_missing(app):
                # The app started before its tables were created (db.create_all or a
                # migration still to come): say so once per run, without a traceback.
                logger.warning("outbox: table linkback_outgoing does not exist yet; "
                               "nothing sent (%s)", type(error).__name__)
                return
            logger.exception("outbox: drain failed; the next run retries")
            return
        try:
            wake_at_next_due(app)
        except Exception:
            logger.exception("outbox: could not read the next due time; waiting for the poll")
    if counts:
        logger.info("outbox: %s", ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    else:
        logger.debug("outbox: nothing due")


def _outbox_table_missing(app: Flask) -> bool:
    state: LinkbackState = app.extensions["linkback"]
    return state.models.OutgoingPing.__tablename__ in missing_tables(state)


def _shutdown(scheduler: Any, wait: bool = False) -> None:
    if scheduler.running:
        scheduler.shutdown(wait=wait)

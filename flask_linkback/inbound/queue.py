"""The durable inbound queue: requests insert, any process verifies.

Every ping (Pingback, TrackBack, Webmention) is admitted by its request with
the checks that need no network (:func:`receive.admit`), written to
``linkback_inbound_job`` and verified later by whichever process claims it:
a web process with a free verification slot, or ``flask linkback worker``.
Web workers therefore never wait on a remote server beyond a short budget,
and a process killed at any moment loses no accepted ping (the row stays,
and a claim whose process is gone is taken again).

Claims are atomic (an advisory lock and ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, a guarded ``UPDATE`` on SQLite) and fair: jobs are taken
round-robin over senders (an address, an IPv6 sender's /64) and over source
hosts, the lightest backlog first within a round, and at most LINKBACK_INBOUND_SENDER_CONCURRENCY /
LINKBACK_SOURCE_HOST_CONCURRENCY of either are verified at once across all
processes, so one flood of slow sources cannot delay everybody else.
The queue is bounded (LINKBACK_INBOUND_QUEUE_MAX in all,
LINKBACK_INBOUND_QUEUE_PER_SENDER per sender or source host, re-sends that
joined a waiting job included): past it, pings are refused at once.

Verification runs the shared pipeline (:func:`receive.receive`) in a request
context built from this site's configured URL, never from a sender's Host.
A job that runs twice (its process died after storing, before finishing)
finds its linkback stored and ends with the same verdict: exactly once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
import uuid
import zlib
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError

from ..html import strip_control_chars
from ..logtext import loggable
from ..models import Kind, RequestStatus, Status, utcnow
from ..signals import current_app_object
from ..site import configured_site, netloc_key
from ..state import current_state
from ..tables import missing_tables
from ..urls import host_of
from .model import WAITING, JobStatus
from .ratelimit import sender_key
from .receive import (
    Intake,
    Reason,
    Refusal,
    Removed,
    admit,
    clean_url,
    log_refusal,
    receive,
)

logger = logging.getLogger("flask_linkback")

_ADVISORY_LOCK = zlib.crc32(b"flask-linkback inbound claim")
RECLAIM_EVERY_SECONDS = 2.0
#: After a claim that found fewer jobs than free slots, how long requests whose own ping
#: cannot start yet skip claiming (see :meth:`InboundRunner.pump`).
CLAIM_BACKOFF_SECONDS = 0.5
PRUNE_EVERY_SECONDS = 300.0


class QueueFull(Refusal):
    """The queue (or one sender's share of it) is full: come back after ``retry_after`` s.

    ``scope`` names the bound: ``("all",)``, ``("sender", key)`` or ``("host", netloc)``.
    """

    def __init__(self, message: str, retry_after: int = 60, scope: tuple[str, ...] = ()) -> None:
        super().__init__(Reason.UPSTREAM, message)
        self.retry_after = retry_after
        self.scope = scope


#: A bound found full is remembered this long per process: a flood's next pings are refused
#: without a query.
FULL_MEMO_SECONDS = 1.0


@dataclass(frozen=True)
class Outcome:
    """How a verified job ended.

    ``verdict`` is accepted, pending, spam, rejected, deleted or error.
    """

    verdict: str
    reason: str = ""
    fault: int | None = None
    linkback_id: int | None = None
    refusal: Refusal | None = None


@dataclass(frozen=True)
class Queued:
    """A ping written to the queue: its job, and whether it joined a job already waiting."""

    job_id: int
    joined: bool


def source_netloc(url: str) -> str:
    """``host[:port]`` of a source: the unit of per-source-host fairness."""
    try:
        return netloc_key(url)[:255] or host_of(url)[:255]
    except ValueError:  # not a URL at all (a bad port): admit() refuses it with a reason
        return ""


# Requests ---------------------------------------------------------------------------


def submit(intake: Intake, post: Any | None = None, *, wait: float = 0.0,
           token: str | None = None) -> tuple[Queued, Outcome | None]:
    """Admit and queue one ping; wait up to ``wait`` s for its verdict if a slot is free.

    Raises :class:`Refusal` for a ping refused by the checks that need no
    network (or :class:`QueueFull`). Returns the job and its outcome, or None
    when the verdict is still to come.
    """
    runner = current_state().inbound
    try:
        runner.check_full(intake)
        # Before the target is even looked up: a flood past its share costs one query.
        startable = check_room(intake)
        admitted = admit(intake, post, reuse=post is None, load_existing=False)
        if admitted.local_post is None:
            # Before anything is written: a flood of pings naming one host costs a row at most.
            current_state().rate_limits.check_source_host(host_of(admitted.source),
                                                          sender_ip=intake.sender_ip)
        queued = enqueue(intake, admitted.source, admitted.source_key, admitted.info.id,
                         admitted.info.url, token=token)
    except QueueFull as full:
        # Load shedding, not a verdict on the ping: one log line, no refusal record (a flood
        # would otherwise cost a write per request).
        runner.remember_full(full)
        logger.info("%s not queued: %s -> %s: %s", intake.kind, loggable(intake.source),
                    loggable(intake.target), full.message)
        raise
    except Refusal as refusal:
        log_refusal(intake, refusal)
        raise
    app = current_app_object()
    outcome = None
    if wait > 0 and not queued.joined and startable:
        future = runner.run_now(app, queued.job_id)
        if future is not None:
            with contextlib.suppress(FutureTimeout):
                outcome = future.result(timeout=wait)
    if takes_queued_jobs(app):
        runner.pump(app, eager=startable)
    return queued, outcome


def takes_queued_jobs(app: Flask) -> bool:
    """Whether this process verifies queued pings beyond those its own requests wait for.

    Not a web process whose scheduler is configured off and not running: the
    documented shape beside ``flask linkback worker``. It verifies only the
    Pingback and TrackBack verdicts its requests wait for, so a flood's
    verifications cost the processes serving pages nothing.
    """
    return bool(app.config["LINKBACK_SCHEDULER"]
                or app.extensions["linkback"].outbox.scheduler is not None)


def enqueue(intake: Intake, source: str, source_key: str, post_id: str, target_url: str, *,
            token: str | None = None) -> Queued:
    """Write the job (or join the one waiting for the same source and post), within the bounds."""
    with _sqlite_writer():
        return _enqueue(intake, source, source_key, post_id, target_url, token)


_SQLITE_WRITES = threading.Lock()


@contextlib.contextmanager
def _sqlite_writer() -> Any:
    """On SQLite, one writer per process at a time.

    SQLite lets one connection write at a time and makes the others retry with
    growing sleeps (up to 100 ms each); threads of one process queueing here
    instead take turns at once. PostgreSQL needs no such thing.
    """
    if current_state().db.session.get_bind().dialect.name != "sqlite":
        yield
        return
    with _SQLITE_WRITES:
        yield


def _enqueue(intake: Intake, source: str, source_key: str, post_id: str, target_url: str,
             token: str | None) -> Queued:
    session = current_state().db.session
    statements = _statements()
    pair = {"source_key": source_key[:2048], "post_id": post_id}
    if intake.update:
        if session.scalar(statements.waiting_pair, pair) is not None:
            # The common case of a re-send: no failed insert.
            return _join(intake, source_key, post_id, token)
    elif session.scalar(statements.pending_pair, pair) is not None:
        # A repeat of a pingback or trackback still queued or being verified: its first copy
        # decides (the unique index alone covers queued copies only).
        raise Refusal(Reason.ALREADY_REGISTERED,
                      "the linkback has already been received and is waiting to be verified")
    try:
        job_id = session.execute(statements.insert_job, {
            "kind": intake.kind.value, "source_url": source[:2048], "source_key": source_key[:2048],
            "source_host": source_netloc(source), "target_url": target_url[:2048],
            "post_id": post_id, "sender_ip": intake.sender_ip,
            "sender_key": sender_key(intake.sender_ip), "title": _text(intake.title),
            "excerpt": _text(intake.excerpt), "blog_name": _text(intake.blog_name),
            "require_link": intake.require_link, "update": intake.update,
            "status": JobStatus.QUEUED.value, "repeats": 0, "attempts": 0,
            "received_at": (now := utcnow()), "fresh_at": now, "reason": "",
        }).inserted_primary_key[0]
    except IntegrityError:
        session.rollback()
        return _join(intake, source_key, post_id, token)
    _record_request(job_id, intake, token, post_id)
    session.commit()
    return Queued(job_id, False)


def _join(intake: Intake, source_key: str, post_id: str, token: str | None) -> Queued:
    """The same (source, post) is already waiting.

    A webmention rides along, a pingback is a repeat.
    """
    state = current_state()
    Job = state.models.InboundJob
    session = state.db.session
    if not intake.update:
        raise Refusal(Reason.ALREADY_REGISTERED,
                      "the linkback has already been received and is waiting to be verified")
    job_id = session.scalar(_statements().waiting_pair,
                            {"source_key": source_key[:2048], "post_id": post_id})
    if job_id is None:  # it was claimed meanwhile: ask the sender to come back
        raise QueueFull("the same webmention is being verified right now; try again shortly", 5)
    session.execute(_update(Job).where(Job.id == job_id)
                    .values(repeats=Job.repeats + 1, fresh_at=utcnow()))
    _record_request(job_id, intake, token, post_id)
    session.commit()
    return Queued(job_id, True)


def _update(model: Any) -> Any:
    """An UPDATE of queue rows that leaves the session's objects alone: every caller commits
    right after (which expires them), so matching them in Python would be wasted work."""
    return sa.update(model).execution_options(synchronize_session=False)


def _text(value: str | None) -> str | None:
    """A sender's text as the queue keeps it: no control characters (PostgreSQL refuses NUL)."""
    return strip_control_chars(value) if value is not None else None


def _record_request(job_id: int, intake: Intake, token: str | None, post_id: str) -> None:
    """A webmention's status record, "queued" from the moment its 202 is sent."""
    if token is None:
        return
    now = utcnow()
    current_state().db.session.execute(_statements().insert_request, {
        "token": token, "source_url": intake.source[:2048], "target_url": intake.target[:2048],
        "post_id": post_id, "sender_ip": intake.sender_ip, "status": RequestStatus.QUEUED.value,
        "reason": "", "job_id": job_id, "created_at": now, "updated_at": now,
    })


def check_room(intake: Intake) -> bool:
    """Refuse when the queue, or this sender's or source host's share of it, is full.

    One query, run before any other: past a bound, a ping costs nothing more.
    (Requests checking at the same moment may overshoot a bound by a few rows.)
    True when the ping, once queued, can start at once: neither its sender nor
    its source host has as many pings waiting as may be verified at once. A
    flood's pings cannot, so their requests spend no claim on them.
    """
    config = current_app.config
    sender = sender_key(intake.sender_ip)
    host = source_netloc(clean_url(intake.source))
    total, by_sender, by_host = current_state().db.session.execute(
        _statements().room, {"sender": sender, "host": host}).one()
    if total >= config["LINKBACK_INBOUND_QUEUE_MAX"]:
        raise QueueFull(FULL_MESSAGES["all"], scope=("all",))
    share = config["LINKBACK_INBOUND_QUEUE_PER_SENDER"]
    if by_sender >= share:
        raise QueueFull(FULL_MESSAGES["sender"], scope=("sender", sender))
    if by_host >= share:
        raise QueueFull(FULL_MESSAGES["host"].format(host=host), scope=("host", host))
    return bool(by_sender < config["LINKBACK_INBOUND_SENDER_CONCURRENCY"]
                and by_host < config["LINKBACK_SOURCE_HOST_CONCURRENCY"])


def full_scopes() -> list[tuple[str, ...]]:
    """Every sender and source host whose share is full now, in one query.

    A request refused for one full share notes them all (see
    :meth:`InboundRunner.remember_full`): a flood spread over many hosts then
    costs one query per process per FULL_MEMO_SECONDS, not one per request.
    """
    share = current_app.config["LINKBACK_INBOUND_QUEUE_PER_SENDER"]
    rows = current_state().db.session.execute(_statements().full_scopes, {"share": share})
    return [(kind, key) for kind, key in rows]


FULL_MESSAGES = {
    "all": "too many pings are waiting to be verified; try again later",
    "sender": "too many of your pings are waiting to be verified; try again later",
    "host": "too many pings about {host} are waiting to be verified; try again later",
}


# Statements --------------------------------------------------------------------------


@dataclass(frozen=True)
class Statements:
    """The queue's hot statements, built once per app on its tables, with bound parameters:
    building a statement like the fair claim costs more Python than running it."""

    postgresql: bool
    room: Any
    full_scopes: Any
    waiting_pair: Any
    pending_pair: Any
    insert_job: Any
    insert_request: Any
    claim: Any
    claim_one: Any
    claimed: Any

    @classmethod
    def build(cls, job: sa.Table, request_table: sa.Table, dialect: str) -> Statements:
        c = job.c
        # Spelled out rather than IN (...): the statements compile to plain SQL, with no
        # list to expand on every execution.
        waiting = sa.or_(*(c.status == status for status in WAITING))
        weight = 1 + c.repeats
        room = sa.select(
            sa.func.coalesce(sa.func.sum(weight), 0),
            sa.func.coalesce(sa.func.sum(
                sa.case((c.sender_key == sa.bindparam("sender"), weight), else_=0)), 0),
            sa.func.coalesce(sa.func.sum(
                sa.case((c.source_host == sa.bindparam("host"), weight), else_=0)), 0),
        ).where(waiting)
        share = sa.bindparam("share", type_=sa.Integer)
        full = sa.union_all(
            sa.select(sa.literal("sender"), c.sender_key).where(waiting)
            .group_by(c.sender_key).having(sa.func.sum(weight) >= share),
            sa.select(sa.literal("host"), c.source_host).where(waiting)
            .group_by(c.source_host).having(sa.func.sum(weight) >= share),
        )
        same = (c.source_key == sa.bindparam("source_key"), c.post_id == sa.bindparam("post_id"))
        pair = sa.select(c.id).where(*same, c.status == JobStatus.QUEUED.value)
        pending = sa.select(c.id).where(*same, waiting).limit(1)
        postgresql = dialect == "postgresql"
        claim, claim_one = (cls._claim(job, waiting, postgresql, only) for only in (False, True))
        claimed = sa.select(c.id).where(c.claimed_by == sa.bindparam("claimer"),
                                        c.status == JobStatus.VERIFYING.value)
        return cls(postgresql, room, full, pair, pending, sa.insert(job),
                   sa.insert(request_table), claim, claim_one, claimed)

    @staticmethod
    def _claim(job: sa.Table, waiting_rows: Any, postgresql: bool, only: bool) -> Any:
        """The fair claim: round-robin over senders and source hosts, within the caps."""
        c = job.c
        # One pass over the waiting rows: for each queued job, its place among its sender's
        # (and source host's) queued jobs, their number, and how many of theirs are being
        # verified. No join: the cost stays linear in the queue's length whatever the plan.
        queued_flag = sa.case((c.status == JobStatus.QUEUED.value, 1), else_=0)
        busy_flag = sa.case((c.status == JobStatus.VERIFYING.value, 1), else_=0)
        sender, host = c.sender_key, c.source_host
        waiting = sa.select(
            c.id, c.status,
            sa.func.sum(queued_flag).over(partition_by=sender, order_by=c.id).label("rs"),
            sa.func.sum(queued_flag).over(partition_by=host, order_by=c.id).label("rh"),
            sa.func.sum(queued_flag).over(partition_by=sender).label("ns"),
            sa.func.sum(queued_flag).over(partition_by=host).label("nh"),
            sa.func.sum(busy_flag).over(partition_by=sender).label("bs"),
            sa.func.sum(busy_flag).over(partition_by=host).label("bh"),
        ).where(waiting_rows).subquery()
        w = waiting.c
        rank = sa.case((w.rs > w.rh, w.rs), else_=w.rh)
        # Among jobs of one rank, the sender or source host with the shorter backlog goes
        # first: else the oldest jobs of a flood's many hosts would always win ties against a
        # newcomer.
        backlog = sa.case((w.ns > w.nh, w.ns), else_=w.nh)
        candidates = (
            sa.select(w.id)
            .where(w.status == JobStatus.QUEUED.value,
                   w.rs + w.bs <= sa.bindparam("sender_cap", type_=sa.Integer),
                   w.rh + w.bh <= sa.bindparam("host_cap", type_=sa.Integer))
            .order_by(rank, backlog, w.id)
            .limit(sa.bindparam("limit", type_=sa.Integer))
        )
        if only:
            candidates = candidates.where(w.id == sa.bindparam("only", type_=sa.Integer))
        if postgresql:
            # Each step is an array computed once, then rows fetched by primary key: with
            # ``IN (subquery)`` the planner, going by statistics taken while the queue was
            # short, may join every queued row against every other (80 ms for 480 rows).
            locked = (sa.select(c.id)
                      .where(c.id == sa.any_(_array(candidates)),
                             c.status == JobStatus.QUEUED.value)
                      .with_for_update(skip_locked=True))
            picked = c.id == sa.any_(_array(locked))
        else:
            picked = c.id.in_(candidates.scalar_subquery())
        take = sa.update(job).where(picked, c.status == JobStatus.QUEUED.value).values(
            status=JobStatus.VERIFYING.value, claimed_by=sa.bindparam("claimer"),
            claimed_at=sa.bindparam("now"), attempts=c.attempts + 1)
        return take.returning(c.id) if postgresql else take


def _array(select: sa.Select[Any]) -> Any:
    """PostgreSQL's ``ARRAY(SELECT ...)``: run once, whatever the planner thinks of its size."""
    return sa.func.array(select.scalar_subquery(), type_=postgresql.ARRAY(sa.Integer))


def _statements() -> Statements:
    state = current_state()
    statements: Statements | None = state.queue_statements
    if statements is None:
        models = state.models
        statements = state.queue_statements = Statements.build(
            sa.inspect(models.InboundJob).local_table,
            sa.inspect(models.WebmentionRequest).local_table,
            state.db.session.get_bind().dialect.name)
    return statements


# Claiming ---------------------------------------------------------------------------


def claim(limit: int, claimer: str, only: int | None = None) -> list[int]:
    """Mark up to ``limit`` queued jobs as ours, fairly and within the caps; return their ids.

    The ids come in id order: all of them start at once, so the fair order
    only decides which jobs are taken, not which of them runs first.
    """
    with _sqlite_writer():
        return _claim(limit, claimer, only)


def _claim(limit: int, claimer: str, only: int | None) -> list[int]:
    config = current_app.config
    session = current_state().db.session
    statements = _statements()
    params = {"claimer": claimer, "now": utcnow(), "limit": limit,
              "sender_cap": config["LINKBACK_INBOUND_SENDER_CONCURRENCY"],
              "host_cap": config["LINKBACK_SOURCE_HOST_CONCURRENCY"], "only": only}
    take = statements.claim if only is None else statements.claim_one
    if statements.postgresql:
        # One claimer at a time across processes, so the caps hold exactly; one statement
        # picks, locks and takes the rows (those a request is updating right now, a re-send
        # joining, are skipped, not waited for).
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK})
        ids = list(session.execute(take, params).scalars())
    else:
        # SQLite serialises writers: one guarded UPDATE picks and takes the rows at once.
        session.execute(take, params)
        ids = list(session.execute(statements.claimed, params).scalars())
    session.commit()
    return sorted(ids)


def reclaim_stale() -> int:
    """Put back jobs whose claim is too old, or whose process on this machine is gone."""
    state = current_state()
    config = current_app.config
    Job = state.models.InboundJob
    session = state.db.session
    cutoff = utcnow() - timedelta(seconds=config["LINKBACK_INBOUND_CLAIM_TIMEOUT"])
    rows = session.execute(sa.select(Job.id, Job.claimed_by, Job.claimed_at, Job.attempts)
                           .where(Job.status == JobStatus.VERIFYING.value)).all()
    stale = [row for row in rows if row.claimed_at < cutoff or _dead_local_claim(row.claimed_by)]
    for row in stale:
        guard = sa.and_(Job.id == row.id, Job.claimed_by == row.claimed_by,
                        Job.status == JobStatus.VERIFYING.value)
        if row.attempts >= config["LINKBACK_INBOUND_MAX_ATTEMPTS"]:
            session.execute(_update(Job).where(guard).values(
                status=JobStatus.DONE.value, verdict="error", finished_at=utcnow(),
                reason="verification did not finish after several attempts"))
            _finish_requests(row.id, Outcome("error", "internal error while verifying"))
        else:
            session.execute(_update(Job).where(guard).values(
                status=JobStatus.QUEUED.value, claimed_by=None, claimed_at=None))
        try:
            session.commit()
        except IntegrityError:  # a newer copy of the same ping is queued: that one will do
            session.rollback()
            session.execute(_update(Job).where(guard).values(
                status=JobStatus.DONE.value, verdict="error", finished_at=utcnow(),
                reason="superseded by a newer copy of the same ping"))
            session.commit()
    if stale:
        logger.warning("inbound: %d verification claims were abandoned; queued again", len(stale))
    return len(stale)


def prune_done() -> int:
    """Delete jobs finished more than LINKBACK_INBOUND_KEEP_SECONDS ago: a flood leaves no rows."""
    state = current_state()
    Job = state.models.InboundJob
    cutoff = utcnow() - timedelta(seconds=current_app.config["LINKBACK_INBOUND_KEEP_SECONDS"])
    result = state.db.session.execute(
        sa.delete(Job).where(Job.status == JobStatus.DONE.value, Job.finished_at < cutoff))
    state.db.session.commit()
    return int(result.rowcount or 0)


def _dead_local_claim(claimed_by: str | None) -> bool:
    """True for a claim made on this machine by a process that no longer exists."""
    host, _, rest = (claimed_by or "").partition(":")
    pid = rest.partition(":")[0]
    if host != _HOST or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


_HOST = socket.gethostname()[:30]


def claimer_name() -> str:
    return f"{_HOST}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


# Verifying --------------------------------------------------------------------------


_VERDICTS = {Status.APPROVED.value: "accepted", Status.PENDING.value: "pending",
             Status.SPAM.value: "spam"}


def run_job(app: Flask, job_id: int, claimer: str) -> Outcome | None:
    """Verify one claimed job in a request context of this site; record and return the outcome."""
    site = configured_site(app)
    with app.test_request_context("/", base_url=site.url if site else None):
        state = current_state()
        Job = state.models.InboundJob
        session = state.db.session
        job = session.get(Job, job_id)
        if job is None or job.claimed_by != claimer or job.status != JobStatus.VERIFYING.value:
            return None
        intake = Intake(
            Kind(job.kind), job.source_url, job.target_url, sender_ip=job.sender_ip,
            title=job.title, excerpt=job.excerpt, blog_name=job.blog_name,
            require_link=job.require_link, update=job.update,
            fresh_after=(time.monotonic() - (utcnow() - job.fresh_at).total_seconds()
                         if job.kind == Kind.WEBMENTION.value else None),
        )
        first_attempt = job.attempts <= 1
        try:
            row = receive(intake)
        except Removed as removed:
            outcome = Outcome("deleted", removed.message, int(removed.reason), refusal=removed)
        except Refusal as refusal:
            outcome = _refused(refusal, intake, first_attempt)
        except Exception:
            session.rollback()
            logger.exception("inbound: verifying %s %s -> %s failed", intake.kind,
                             loggable(intake.source), loggable(intake.target))
            outcome = Outcome("error", "internal error while verifying", int(Reason.GENERIC),
                              refusal=Refusal(Reason.GENERIC, "internal error"))
        else:
            outcome = Outcome(_VERDICTS.get(row.status, "accepted"), row.reason, None, row.id)
        result = session.execute(
            _update(Job).where(Job.id == job_id, Job.claimed_by == claimer,
                                 Job.status == JobStatus.VERIFYING.value)
            .values(status=JobStatus.DONE.value, verdict=outcome.verdict, fault=outcome.fault,
                    reason=outcome.reason[:300], linkback_id=outcome.linkback_id,
                    finished_at=utcnow()))
        if result.rowcount:
            _finish_requests(job_id, outcome)
        session.commit()
        return outcome


def _refused(refusal: Refusal, intake: Intake, first_attempt: bool) -> Outcome:
    """A refusal's outcome; a second run that finds its own linkback stored reports that row."""
    if refusal.reason == Reason.ALREADY_REGISTERED and not first_attempt:
        with contextlib.suppress(Refusal):
            admitted = admit(Intake(intake.kind, intake.source, intake.target, update=True))
            if admitted.existing is not None:
                row = admitted.existing
                return Outcome(_VERDICTS.get(row.status, "accepted"), row.reason, None, row.id)
    return Outcome("rejected", refusal.message, int(refusal.reason), refusal=refusal)


_REQUEST_STATUS = {"accepted": RequestStatus.ACCEPTED, "pending": RequestStatus.PENDING,
                   "deleted": RequestStatus.DELETED}


def _finish_requests(job_id: int, outcome: Outcome) -> None:
    """Give the webmention status records of this job their verdict."""
    state = current_state()
    Record = state.models.WebmentionRequest
    status = _REQUEST_STATUS.get(outcome.verdict, RequestStatus.REJECTED)
    reason = {"spam": "held as spam"}.get(outcome.verdict, outcome.reason
                                           if status == RequestStatus.REJECTED else "")
    state.db.session.execute(
        _update(Record)
        .where(Record.job_id == job_id, Record.status == RequestStatus.QUEUED.value)
        .values(status=status.value, reason=reason[:300], linkback_id=outcome.linkback_id,
                updated_at=utcnow()))


# The per-process runner --------------------------------------------------------------


class InboundRunner:
    """This process's verification slots: a bounded pool fed by claims.

    Started on first use (no thread at ``init_app``). ``pump`` claims as many
    jobs as there are free slots; each finished job pumps again, and the
    scheduler's poll pumps every LINKBACK_INBOUND_POLL_SECONDS, so jobs left
    by another process, or by a restart, are found too.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._busy = 0
        self._futures: set[Future[Any]] = set()
        self._last_reclaim = 0.0
        self._last_prune = 0.0
        #: scope of a full bound -> until when (time.monotonic()) it is taken as still full
        self._full: dict[tuple[str, ...], float] = {}
        self._last_full_scan = 0.0
        #: time.monotonic() until which a request that cannot start its own ping skips claiming
        self._dry_until = 0.0
        self._idle = threading.Condition(self._lock)

    def remember_full(self, full: QueueFull) -> None:
        """Note a full bound for FULL_MEMO_SECONDS (see :meth:`check_full`), and every other
        share found full at the same time (one query, at most once per FULL_MEMO_SECONDS)."""
        if not full.scope:  # refused from memory: nothing new
            return
        scopes = [full.scope]
        now = time.monotonic()
        if now - self._last_full_scan > FULL_MEMO_SECONDS:
            self._last_full_scan = now
            scopes += full_scopes()
        with self._lock:
            if len(self._full) > 1024:
                self._full = {k: v for k, v in self._full.items() if v > now}
            for scope in scopes:
                self._full[scope] = now + FULL_MEMO_SECONDS

    def check_full(self, intake: Intake) -> None:
        """Refuse at once a ping for a bound found full a moment ago, before any query."""
        if not self._full:
            return
        now = time.monotonic()
        host = source_netloc(clean_url(intake.source))  # as check_room derives it
        for scope, message in ((("all",), FULL_MESSAGES["all"]),
                               (("sender", sender_key(intake.sender_ip)), FULL_MESSAGES["sender"]),
                               (("host", host), FULL_MESSAGES["host"].format(host=host))):
            if self._full.get(scope, 0.0) > now:
                raise QueueFull(message, retry_after=60, scope=())

    def _reserve(self, app: Flask, count: int) -> int:
        workers: int = app.config["LINKBACK_INBOUND_WORKERS"]
        with self._lock:
            free = max(workers - self._busy, 0)
            taken = min(free, count)
            self._busy += taken
            if taken and self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=workers,
                                                    thread_name_prefix="linkback-inbound")
            return taken

    def _release(self, count: int) -> None:
        with self._lock:
            self._busy -= count
            self._idle.notify_all()

    def run_now(self, app: Flask, job_id: int) -> Future[Any] | None:
        """Claim and start this one job if a slot (and the fair share) allows; else None."""
        if not self._reserve(app, 1):
            return None
        try:
            claimer = claimer_name()
            ids = claim(1, claimer, only=job_id)
        except Exception:
            self._release(1)
            current_state().db.session.rollback()
            raise
        if not ids:
            self._release(1)
            return None
        return self._start(app, job_id, claimer)

    def pump(self, app: Flask, *, eager: bool = True) -> int:
        """Claim jobs for the free slots and start them; the number started.

        Not ``eager`` (a request whose own ping cannot start yet), it claims
        only if this process's last claim found all it asked for, or was
        CLAIM_BACKOFF_SECONDS ago: when the caps hold every queued job back, a
        flood's requests would otherwise each run the fair claim for nothing.
        A finished job, the poll and a ping that can start always claim.
        """
        now = time.monotonic()
        if now - self._last_reclaim > RECLAIM_EVERY_SECONDS:
            self._last_reclaim = now
            reclaim_stale()
        if now - self._last_prune > PRUNE_EVERY_SECONDS:
            self._last_prune = now
            prune_done()
        if not eager and now < self._dry_until:
            return 0
        slots = self._reserve(app, app.config["LINKBACK_INBOUND_WORKERS"])
        if not slots:
            return 0
        try:
            claimer = claimer_name()
            ids = claim(slots, claimer)
        except Exception:
            self._release(slots)
            current_state().db.session.rollback()
            raise
        if len(ids) < slots:
            self._release(slots - len(ids))
        # Fewer jobs than slots: nothing more can start until a job ends or a new one comes.
        self._dry_until = now + CLAIM_BACKOFF_SECONDS if len(ids) < slots else 0.0
        for job_id in ids:
            self._start(app, job_id, claimer)
        return len(ids)

    def _start(self, app: Flask, job_id: int, claimer: str) -> Future[Any]:
        if self._executor is None:
            raise RuntimeError("the inbound runner was not started")
        future = self._executor.submit(self._run, app, job_id, claimer)
        with self._lock:
            self._futures.add(future)
        future.add_done_callback(self._forget)
        return future

    def _forget(self, future: Future[Any]) -> None:
        with self._lock:
            self._futures.discard(future)

    def _run(self, app: Flask, job_id: int, claimer: str) -> Outcome | None:
        try:
            return run_job(app, job_id, claimer)
        finally:
            self._release(1)
            # The slot is free: take the next job (errors here are logged, the poll retries).
            try:
                if takes_queued_jobs(app):
                    with app.app_context():
                        self.pump(app)
            except Exception:
                logger.exception("inbound: claiming the next job failed; the next poll retries")

    def join(self, app: Flask, timeout: float = 30.0) -> bool:
        """Verify until nothing is queued or being verified here.

        False on timeout (tests, shutdown).
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with app.app_context():
                self.pump(app)
                with self._lock:
                    futures = set(self._futures)
                for future in futures:
                    with contextlib.suppress(Exception):
                        future.result(timeout=max(deadline - time.monotonic(), 0))
                state = current_state()
                Job = state.models.InboundJob
                waiting = state.db.session.scalar(
                    sa.select(sa.func.count()).select_from(Job).where(Job.status.in_(WAITING))
                )
                state.db.session.rollback()
            with self._lock:
                if not waiting and not self._futures:
                    return True
                if self._futures:
                    continue
            if waiting:
                # Jobs claimed by another process (or capped): wait for a slot to change.
                with self._lock:
                    self._idle.wait(timeout=0.05)
        return False

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until no job runs in this process (what is still queued stays queued)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(timeout=remaining)
        return True

    def shutdown(self, wait: bool = True) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=wait)


def pump_app(app: Flask) -> None:
    """The scheduler's poll: claim what this process can verify now."""
    with app.app_context():
        try:
            current_state().inbound.pump(app)
        except Exception:
            state = current_state()
            state.db.session.rollback()
            if state.models.InboundJob.__tablename__ in missing_tables(state):
                logger.warning("inbound: table linkback_inbound_job does not exist yet")
                return
            logger.exception("inbound: claiming jobs failed; the next poll retries")

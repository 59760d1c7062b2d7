"""Drain the outbox: claim due rows atomically, send them concurrently, record each result.

A row is claimed before it is sent (``SELECT ... FOR UPDATE SKIP LOCKED`` on
PostgreSQL, a guarded ``UPDATE ... WHERE status IN (due)`` checked by its
row count elsewhere), so several processes draining one outbox send each
ping once. HTTP runs on a bounded thread pool, at most
LINKBACK_OUTBOX_HOST_CONCURRENCY at a time per receiving ``host:port``; the
database is touched only from the draining thread. A live drain renews its
claims as it records results; a claim older than LINKBACK_OUTBOX_CLAIM_TIMEOUT
belongs to a worker that died and is retried.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import socket
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app

from .. import signals
from ..environment import sending_enabled
from ..fetch import FetchError, FetchLimits
from ..inbound.receive import Intake, Reason, Refusal, receive
from ..inbound.verify import fetch_limits
from ..logtext import loggable
from ..models import Kind, utcnow
from ..notify import send_queued_mail
from ..signals import current_app_object
from ..site import configured_site
from ..state import current_state
from ..tables import TABLE_ERRORS
from .deliver import (
    PERMANENT_FETCH_ERRORS,
    Outcome,
    Result,
    deliver_webmention,
    send_pingback,
    send_trackback,
)
from .discover import Discovery, DiscoveryCache, TargetGone, TargetUnavailable
from .model import DUE_STATUSES, PingStatus, Protocol, SkipReason
from .outbox import runtime

logger = logging.getLogger("flask_linkback")

MAX_BACKOFF = timedelta(days=1)
FLUSH_SECONDS = 0.25
_SKIP_LOCKED_DIALECTS = frozenset({"postgresql", "mysql", "mariadb", "oracle"})


@dataclass(frozen=True)
class Job:
    """What a pool thread needs to send one ping: plain values, no database row."""

    id: int
    protocol: str
    source: str
    target: str
    host: str
    attempts: int = 0
    next_attempt_at: datetime | None = None
    endpoint: str | None = None
    title: str = ""
    excerpt: str = ""
    blog_name: str = ""
    #: When it last went out; a re-send keeps its protocol (a removed link's webmention
    #: goes as one).
    sent_at: datetime | None = None
    #: The post's content digest when the row was claimed: what this send announces.
    content_hash: str | None = None

    @property
    def resend(self) -> bool:
        return self.sent_at is not None


@dataclass(frozen=True)
class Delivery:
    outcome: Outcome
    endpoint: str | None = None
    #: The protocol a link's ping went by, once discovery chose it.
    protocol: str | None = None


def worker_name() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def drain(*, now: datetime | None = None, progress: Callable[[Counter[str]], None] | None = None
          ) -> Counter[str]:
    """Send every due ping once; return how many rows ended sent, failed, skipped or retry.

    Runs in an app context. ``now`` fixes the clock (tests); otherwise the
    outbox clock is read at each step.
    """
    clock: Callable[[], datetime] = (lambda: now) if now is not None else runtime().clock
    _send_mail()
    drainer = _Drainer(worker_name(), clock, progress)
    drainer.reclaim_stale()
    # Claim no more than the pool can send at once: other workers can take the rest.
    batch = current_app.config["LINKBACK_OUTBOX_WORKERS"]
    while True:
        ids = drainer.claim(batch)
        if not ids:
            return drainer.counts
        drainer.run(ids)


def _send_mail() -> None:
    """The owner's notification e-mails ride along with every drain (see ``notify.py``)."""
    try:
        send_queued_mail()
    except TABLE_ERRORS:
        current_state().db.session.rollback()
        logger.debug("linkback e-mail: table linkback_mail does not exist yet")
    except Exception:
        current_state().db.session.rollback()
        logger.exception("linkback e-mail: sending failed; the next run retries")


class _Drainer:
    def __init__(self, name: str, clock: Callable[[], datetime],
                 progress: Callable[[Counter[str]], None] | None) -> None:
        self.name = name
        self.clock = clock
        self.progress = progress
        self.state = current_state()
        self.config = current_app.config
        self.Ping = self.state.models.OutgoingPing
        self.session = self.state.db.session
        self.counts: Counter[str] = Counter()
        self.deferred: set[int] = set()
        self.pending: list[tuple[dict[str, Any], Job]] = []

    # Claiming ---------------------------------------------------------------------

    def reclaim_stale(self) -> None:
        Ping = self.Ping
        cutoff = self.clock() - timedelta(seconds=self.config["LINKBACK_OUTBOX_CLAIM_TIMEOUT"])
        result = self.session.execute(
            sa.update(Ping)
            .where(Ping.status == PingStatus.SENDING.value, Ping.claimed_at < cutoff)
            .values(status=PingStatus.RETRY.value, claimed_by=None, claimed_at=None)
        )
        self.session.commit()
        if result.rowcount:
            logger.warning("outbox: %d claims older than %s were released for retry",
                           result.rowcount, cutoff)

    def claim(self, limit: int) -> list[int]:
        """Mark up to ``limit`` due rows as ours and return their ids; no row is claimed twice."""
        Ping = self.Ping
        now = self.clock()
        due = sa.and_(Ping.status.in_(DUE_STATUSES), Ping.next_attempt_at <= now)
        if not sending_enabled():
            # A staging or development copy: only links between our own posts.
            due = sa.and_(due, Ping.local.is_(True))
        candidates = (sa.select(Ping.id).where(due)
                      .order_by(Ping.next_attempt_at, Ping.id).limit(limit))
        claim = {"status": PingStatus.SENDING.value, "claimed_by": self.name, "claimed_at": now}
        if self.session.get_bind().dialect.name in _SKIP_LOCKED_DIALECTS:
            # Rows another worker is claiming right now are skipped, not waited for.
            ids = list(self.session.execute(candidates.with_for_update(skip_locked=True)).scalars())
            if ids:
                self.session.execute(sa.update(Ping).where(Ping.id.in_(ids)).values(**claim))
        else:
            # One guarded UPDATE: the database serialises writers, and the status
            # guard means a row another worker took first is not taken again.
            self.session.execute(sa.update(Ping)
                                 .where(Ping.id.in_(candidates.scalar_subquery()), due)
                                 .values(**claim))
            ids = list(self.session.execute(
                sa.select(Ping.id).where(Ping.claimed_by == self.name,
                                         Ping.status == PingStatus.SENDING.value)).scalars())
        self.session.commit()
        return ids

    # Sending ----------------------------------------------------------------------

    def run(self, ids: list[int]) -> None:
        """Send the claimed rows: local ones here, remote ones on the pool."""
        Ping = self.Ping
        rows = Ping.query.filter(Ping.id.in_(ids)).order_by(Ping.next_attempt_at, Ping.id).all()
        snapshot = [(Job(row.id, row.protocol, row.source_url, row.target_url, row.target_host,
                         attempts=row.attempts, next_attempt_at=row.next_attempt_at,
                         endpoint=row.endpoint, sent_at=row.sent_at,
                         content_hash=row.content_hash),
                     row.local, row.post_id) for row in rows]
        jobs: deque[Job] = deque()
        for job, local, post_id in snapshot:
            try:
                prepared = (deliver_local(job.source, job.target) if local
                            else self.prepare(job, post_id))
            except Exception as error:  # a host callback failed: retry later, keep the log
                self.session.rollback()
                logger.exception("outbox: preparing ping %s failed", job.id)
                prepared = Outcome(Result.TRANSIENT,
                                   f"internal error: {type(error).__name__}: {error}")
            if isinstance(prepared, Outcome):
                self.record(job, Delivery(prepared))
            else:
                jobs.append(prepared)
        self.flush()
        if jobs:
            self.send(jobs)

    def prepare(self, job: Job, post_id: str) -> Job | Outcome:
        """A TrackBack needs the post's title and excerpt; read them while we hold the app."""
        if job.protocol != Protocol.TRACKBACK.value:
            return job
        with site_request(job.source):
            callbacks = self.state.callbacks
            post = callbacks.load(post_id)
            if post is None:
                return Outcome(Result.PERMANENT, "the post no longer exists")
            info = callbacks.describe(post)
        blog_name = self.config["LINKBACK_BLOG_NAME"] or (urlsplit(job.source).hostname or "")
        return replace(job, title=info.title, excerpt=info.excerpt, blog_name=blog_name)

    def send(self, jobs: deque[Job]) -> None:
        """Run the HTTP on the pool, at most ``per_host`` at once per host:port.

        Results are written in batches (every FLUSH_SECONDS, and at the end):
        under load each database round trip from this thread waits for the
        interpreter lock behind the pool's threads.
        """
        limits = fetch_limits()
        ttl = float(self.config["LINKBACK_DISCOVERY_CACHE_SECONDS"])
        prefer_webmention = bool(self.config["LINKBACK_PREFER_WEBMENTION"])
        cache = runtime().discovery
        workers = min(self.config["LINKBACK_OUTBOX_WORKERS"], len(jobs))
        per_host = self.config["LINKBACK_OUTBOX_HOST_CONCURRENCY"]
        active: Counter[str] = Counter()
        in_flight: dict[Future[Delivery], Job] = {}
        finished: queue.SimpleQueue[Future[Delivery]] = queue.SimpleQueue()
        last_flush = time.monotonic()
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="linkback-send") as pool:
            while jobs or in_flight:
                waiting: deque[Job] = deque()
                while jobs and len(in_flight) < workers:
                    job = jobs.popleft()
                    if job.id in self.deferred:
                        continue
                    if active[job.host] >= per_host:
                        waiting.append(job)
                        continue
                    active[job.host] += 1
                    future = pool.submit(deliver, job, limits, cache, ttl, prefer_webmention)
                    in_flight[future] = job
                    future.add_done_callback(finished.put)
                jobs.extendleft(reversed(waiting))
                if not in_flight:
                    break
                done = [finished.get()]
                while not finished.empty():
                    done.append(finished.get())
                for future in done:
                    job = in_flight.pop(future)
                    active[job.host] -= 1
                    self.record(job, future.result(), undispatched=jobs)
                if not in_flight or time.monotonic() - last_flush >= FLUSH_SECONDS:
                    self.flush()
                    last_flush = time.monotonic()
        self.flush()

    # Recording --------------------------------------------------------------------

    def record(self, job: Job, delivery: Delivery, undispatched: deque[Job] | None = None) -> None:
        """Queue the row's new state; :meth:`flush` writes queued states in one statement."""
        outcome = delivery.outcome
        now = self.clock()
        attempts = job.attempts + 1
        endpoint = delivery.endpoint or job.endpoint
        values: dict[str, Any] = {
            "id": job.id, "attempts": attempts, "endpoint": endpoint[:2048] if endpoint else None,
            "protocol": delivery.protocol or job.protocol, "status_url": outcome.location,
            "response": outcome.response, "claimed_by": None, "claimed_at": None,
            "sent_at": job.sent_at, "next_attempt_at": job.next_attempt_at, "updated_at": utcnow(),
            "status": PingStatus.RETRY.value, "last_error": outcome.message[:500], "reason": None,
        }
        if outcome.result == Result.SENT:
            values.update(status=PingStatus.SENT.value, sent_at=now, last_error="",
                          sent_hash=job.content_hash)
        elif outcome.result == Result.UNSUPPORTED:
            values.update(status=PingStatus.SKIPPED.value, reason=SkipReason.NO_ENDPOINT.value)
        elif outcome.result == Result.PERMANENT:
            values.update(status=PingStatus.FAILED.value)
        elif attempts >= self.config["LINKBACK_OUTBOX_MAX_ATTEMPTS"]:
            values.update(status=PingStatus.FAILED.value,
                          last_error=f"gave up after {attempts} attempts: {outcome.message}"[:500])
        elif outcome.result == Result.TRANSIENT:
            base = timedelta(seconds=self.config["LINKBACK_OUTBOX_RETRY_SECONDS"])
            values.update(next_attempt_at=now + min(base * 2 ** (attempts - 1), MAX_BACKOFF))
        self.pending.append((values, job))
        if outcome.result == Result.RATE_LIMITED and values["status"] == PingStatus.RETRY.value:
            self.flush()
            mine = [j.id for j in (undispatched or ()) if j.host == job.host]
            self.space_host(job, now, mine)

    def flush(self) -> None:
        """Write the queued results, commit, then log them and send the signals."""
        if not self.pending:
            return
        pending, self.pending = self.pending, []
        Ping = self.Ping
        self.session.execute(sa.update(Ping), [values for values, _ in pending])
        self.resend_edited([values["id"] for values, _ in pending
                            if values["status"] == PingStatus.SENT.value
                            and values["protocol"] == Protocol.WEBMENTION.value])
        # Renew our remaining claims, so a long drain is not taken for a dead one.
        self.session.execute(sa.update(Ping)
                             .where(Ping.claimed_by == self.name,
                                    Ping.status == PingStatus.SENDING.value)
                             .values(claimed_at=self.clock()))
        self.session.commit()
        app = current_app_object()
        want_rows = bool(signals.ping_sent.receivers or signals.ping_failed.receivers)
        rows = ({row.id: row for row in self.Ping.query.filter(
            self.Ping.id.in_([values["id"] for values, _ in pending]))} if want_rows else {})
        for values, job in pending:
            status = values["status"]
            self.counts[status] += 1
            log = logger.info if status in (PingStatus.SENT, PingStatus.SKIPPED) else logger.warning
            log("outbox: %s %s -> %s: %s %s", values["protocol"], loggable(job.source),
                loggable(job.target), status, loggable(values["last_error"]))
            row = rows.get(job.id)
            if row is not None and status == PingStatus.SENT.value:
                signals.ping_sent.send(app, ping=row)
            elif row is not None and status == PingStatus.FAILED.value:
                signals.ping_failed.send(app, ping=row)
        if self.progress is not None:
            self.progress(self.counts)

    def resend_edited(self, ids: list[int]) -> None:
        """Queue again the webmentions just sent whose post was edited while they were in flight.

        Their receivers may have fetched the post before the edit; the digest
        saved by the edit differs from the one claimed with the row.
        """
        if not ids:
            return
        Ping = self.Ping
        self.session.execute(
            sa.update(Ping)
            .where(Ping.id.in_(ids), Ping.status == PingStatus.SENT.value,
                   Ping.content_hash.is_distinct_from(Ping.sent_hash))
            .values(status=PingStatus.QUEUED.value, attempts=0, next_attempt_at=self.clock())
            .execution_options(synchronize_session=False))

    def space_host(self, job: Job, now: datetime, undispatched: list[int]) -> None:
        """After a 429, line up every due ping to that host at least the spacing apart.

        WordPress refuses a second ping from one sender within 15 s; sending
        the rest back to back would only collect more refusals.
        """
        Ping = self.Ping
        spacing = timedelta(seconds=self.config["LINKBACK_OUTBOX_429_SPACING"])
        mine = sa.and_(Ping.status == PingStatus.SENDING.value, Ping.claimed_by == self.name,
                       Ping.id.in_(undispatched or [-1]))
        others = (Ping.query.filter(Ping.target_host == job.host, Ping.id != job.id,
                                    sa.or_(Ping.status.in_(DUE_STATUSES), mine))
                  .order_by(Ping.next_attempt_at, Ping.id).all())
        slot = now + spacing
        self.session.get(Ping, job.id).next_attempt_at = slot
        for other in others:
            slot = max(slot + spacing, other.next_attempt_at)
            other.next_attempt_at = slot
            if other.status == PingStatus.SENDING.value:
                other.status = PingStatus.RETRY.value
                other.claimed_by, other.claimed_at = None, None
                self.deferred.add(other.id)
        self.session.commit()


def deliver(job: Job, limits: FetchLimits, cache: DiscoveryCache, ttl: float,
            prefer_webmention: bool = True) -> Delivery:
    """Discover and send one ping. Runs on a pool thread: no app, no database.

    A link goes by Webmention or Pingback, whichever the target offers; when
    it offers both, ``prefer_webmention`` decides (one ping, never two). A
    re-send keeps the protocol it went by the first time. When an endpoint
    known from the cache answers 4xx, the target is asked again once: if it
    now names another endpoint, the ping goes there instead.
    """
    try:
        if job.protocol == Protocol.TRACKBACK.value:
            return Delivery(send_trackback(job.target, source=job.source, title=job.title,
                                           excerpt=job.excerpt, blog_name=job.blog_name,
                                           limits=limits), job.target)
        try:
            found = cache.discover(job.target, limits, ttl)
        except TargetGone as error:
            return Delivery(Outcome(Result.PERMANENT, str(error)))
        except TargetUnavailable as error:
            result = Result.RATE_LIMITED if error.status == 429 else Result.TRANSIENT
            return Delivery(Outcome(result, str(error)))
        except PERMANENT_FETCH_ERRORS as error:
            return Delivery(Outcome(Result.PERMANENT, f"the target cannot be fetched: {error}"))
        except FetchError as error:
            return Delivery(Outcome(Result.TRANSIENT, f"the target could not be fetched: {error}"))
        if job.resend:
            order = [job.protocol]
        elif prefer_webmention:
            order = [Protocol.WEBMENTION.value, Protocol.PINGBACK.value]
        else:
            order = [Protocol.PINGBACK.value, Protocol.WEBMENTION.value]
        choice = _choose(found, order)
        if choice is None:
            missing = " and ".join(f"no {p.capitalize()} endpoint" for p in order)
            return Delivery(Outcome(Result.UNSUPPORTED, f"the target advertises {missing}"))
        delivery = _send_to(choice, job, limits)
        if found.cached and delivery.outcome.refused_by_http:
            try:
                fresh = cache.discover(job.target, limits, ttl, refresh=True)
            except (TargetGone, TargetUnavailable, FetchError):
                return delivery
            again = _choose(fresh, order)
            if again is not None and again != choice:
                logger.info("outbox: %s moved from %s to %s", job.target, choice[1], again[1])
                return _send_to(again, job, limits)
        return delivery
    except Exception as error:  # a bug must not lose the row: it is retried and logged
        logger.exception("outbox: sending %s -> %s failed", loggable(job.source),
                         loggable(job.target))
        return Delivery(Outcome(Result.TRANSIENT, f"internal error: {type(error).__name__}"))


def _choose(found: Discovery, order: list[str]) -> tuple[str, str] | None:
    """``(protocol, endpoint)``: the first protocol in ``order`` the target offers."""
    for protocol in order:
        endpoint = found.webmention if protocol == Protocol.WEBMENTION.value else found.pingback
        if endpoint:
            return protocol, endpoint
    return None


def _send_to(choice: tuple[str, str], job: Job, limits: FetchLimits) -> Delivery:
    protocol, endpoint = choice
    send = deliver_webmention if protocol == Protocol.WEBMENTION.value else send_pingback
    return Delivery(send(endpoint, job.source, job.target, limits), endpoint, protocol)


def deliver_local(source: str, target: str) -> Outcome:
    """A link between two of this site's posts: record it through the receiving pipeline, no
    HTTP."""
    with site_request(source):
        try:
            receive(Intake(Kind.PINGBACK, source, target))
        except Refusal as refusal:
            if refusal.reason == Reason.ALREADY_REGISTERED:
                return Outcome(Result.SENT, "already recorded on this site")
            return Outcome(Result.PERMANENT, f"fault {int(refusal.reason)}: {refusal.message}")
    return Outcome(Result.SENT, "recorded on this site")


@contextlib.contextmanager
def site_request(url: str) -> Iterator[None]:
    """A request context on this site's origin, so ``url_for(_external=True)`` and host checks work.

    Always a fresh one: the worker runs outside any request, and a context
    left by someone else may belong to another host.
    """
    site = configured_site()
    parts = urlsplit(url)
    base_url = site.url if site is not None else f"{parts.scheme}://{parts.netloc}/"
    with current_app.test_request_context("/", base_url=base_url):
        yield

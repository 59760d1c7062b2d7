"""Drain the outbox: claim due rows atomically, send them concurrently, record each result.

A row is claimed before it is sent (``SELECT ... FOR UPDATE SKIP LOCKED`` on
PostgreSQL, a guarded ``UPDATE ... WHERE status IN (due)`` checked by its
row count elsewhere), so several processes draining one outbox send each
ping once. HTTP runs on a bounded thread pool, at most
LINKBACK_OUTBOX_HOST_CONCURRENCY at a time per receiving ``host:port``; the
database is touched only from the draining thread. A claim older than
LINKBACK_OUTBOX_CLAIM_TIMEOUT belongs to a worker that died and is retried.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app

from .. import signals
from ..fetch import AddressRefused, FetchError, FetchLimits, UnsupportedURL
from ..inbound.receive import Intake, Reason, Refusal, receive
from ..inbound.verify import fetch_limits
from ..models import Kind
from ..state import current_state
from .deliver import Outcome, Result, send_pingback, send_trackback
from .discover import DiscoveryCache, TargetGone, TargetUnavailable
from .model import DUE_STATUSES, PingStatus, Protocol
from .outbox import runtime

logger = logging.getLogger("flask_linkback")

MAX_BACKOFF = timedelta(days=1)
_SKIP_LOCKED_DIALECTS = frozenset({"postgresql", "mysql", "mariadb", "oracle"})


@dataclass(frozen=True)
class Job:
    """What a pool thread needs to send one ping: plain values, no database row."""

    id: int
    protocol: str
    source: str
    target: str
    host: str
    title: str = ""
    excerpt: str = ""
    blog_name: str = ""


@dataclass(frozen=True)
class Delivery:
    outcome: Outcome
    endpoint: str | None = None


def worker_name() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def drain(*, now: datetime | None = None, progress: Callable[[Counter[str]], None] | None = None
          ) -> Counter[str]:
    """Send every due ping once; return how many rows ended sent, failed, skipped or retry.

    Runs in an app context. ``now`` fixes the clock (tests); otherwise the
    outbox clock is read at each step.
    """
    clock: Callable[[], datetime] = (lambda: now) if now is not None else runtime().clock
    drainer = _Drainer(worker_name(), clock, progress)
    drainer.reclaim_stale()
    # Claim no more than the pool can send at once: other workers can take the rest.
    batch = current_app.config["LINKBACK_OUTBOX_WORKERS"]
    while True:
        ids = drainer.claim(batch)
        if not ids:
            return drainer.counts
        drainer.run(ids)


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
        self.recorded: list[Any] = []

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
            self.session.execute(sa.update(Ping).where(Ping.id.in_(candidates.scalar_subquery()), due)
                                 .values(**claim))
            ids = list(self.session.execute(
                sa.select(Ping.id).where(Ping.claimed_by == self.name,
                                         Ping.status == PingStatus.SENDING.value)).scalars())
        self.session.commit()
        return ids

    # Sending ----------------------------------------------------------------------

    def run(self, ids: list[int]) -> None:
        jobs: deque[Job] = deque()
        for row_id in ids:
            row = self.session.get(self.Ping, row_id)
            if row is None:
                continue
            try:
                job = (deliver_local(row.source_url, row.target_url) if row.local
                       else self.job_for(row))
            except Exception as error:  # a host callback failed: retry later, keep the log
                self.session.rollback()
                logger.exception("outbox: preparing ping %s failed", row_id)
                job = Outcome(Result.TRANSIENT, f"internal error: {type(error).__name__}: {error}")
            if isinstance(job, Outcome):
                self.record(row_id, Delivery(job))
            else:
                jobs.append(job)
        if not jobs:
            return
        limits = fetch_limits()
        ttl = float(self.config["LINKBACK_DISCOVERY_CACHE_SECONDS"])
        cache = runtime().discovery
        workers = min(self.config["LINKBACK_OUTBOX_WORKERS"], len(jobs))
        per_host = self.config["LINKBACK_OUTBOX_HOST_CONCURRENCY"]
        active: Counter[str] = Counter()
        in_flight: dict[Future[Delivery], Job] = {}
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
                    in_flight[pool.submit(deliver, job, limits, cache, ttl)] = job
                jobs.extendleft(reversed(waiting))
                if not in_flight:
                    break
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in done:
                    job = in_flight.pop(future)
                    active[job.host] -= 1
                    self.record(job.id, future.result(), commit=False,
                                undispatched=[j.id for j in jobs if j.host == job.host])
                self.commit()

    def job_for(self, row: Any) -> Job | Outcome:
        if row.protocol == Protocol.PINGBACK.value:
            return Job(row.id, row.protocol, row.source_url, row.target_url, row.target_host)
        with site_request(row.source_url):
            callbacks = self.state.callbacks
            post = callbacks.load(row.post_id)
            if post is None:
                return Outcome(Result.PERMANENT, "the post no longer exists")
            info = callbacks.describe(post)
        blog_name = self.config["LINKBACK_BLOG_NAME"] or (urlsplit(row.source_url).hostname or "")
        return Job(row.id, row.protocol, row.source_url, row.target_url, row.target_host,
                   title=info.title, excerpt=info.excerpt, blog_name=blog_name)

    # Recording --------------------------------------------------------------------

    def record(self, row_id: int, delivery: Delivery, undispatched: list[int] | None = None,
               commit: bool = True) -> None:
        """Write one result to its row; ``commit=False`` lets a batch of results share a commit."""
        row = self.session.get(self.Ping, row_id)
        if row is None:
            return
        outcome = delivery.outcome
        now = self.clock()
        row.attempts += 1
        endpoint = delivery.endpoint or row.endpoint
        row.endpoint = endpoint[:2048] if endpoint else None
        row.response = outcome.response
        row.claimed_by = row.claimed_at = None
        if outcome.result == Result.SENT:
            row.status, row.sent_at, row.last_error = PingStatus.SENT.value, now, ""
        elif outcome.result == Result.UNSUPPORTED:
            row.status, row.last_error = PingStatus.SKIPPED.value, outcome.message[:500]
        elif outcome.result == Result.PERMANENT:
            row.status, row.last_error = PingStatus.FAILED.value, outcome.message[:500]
        elif row.attempts >= self.config["LINKBACK_OUTBOX_MAX_ATTEMPTS"]:
            row.status = PingStatus.FAILED.value
            row.last_error = f"gave up after {row.attempts} attempts: {outcome.message}"[:500]
        else:
            row.status, row.last_error = PingStatus.RETRY.value, outcome.message[:500]
            if outcome.result == Result.RATE_LIMITED:
                self.space_host(row, now, undispatched or [])
            else:
                base = timedelta(seconds=self.config["LINKBACK_OUTBOX_RETRY_SECONDS"])
                row.next_attempt_at = now + min(base * 2 ** (row.attempts - 1), MAX_BACKOFF)
        self.recorded.append(row)
        if commit:
            self.commit()

    def commit(self) -> None:
        """Commit the recorded results, then log them and send the signals."""
        self.session.commit()
        rows, self.recorded = self.recorded, []
        app = current_app._get_current_object()
        for row in rows:
            self.counts[row.status] += 1
            log = logger.info if row.status in (PingStatus.SENT, PingStatus.SKIPPED) else logger.warning
            log("outbox: %s %s -> %s: %s %s", row.protocol, row.source_url, row.target_url,
                row.status, row.last_error)
            if row.status == PingStatus.SENT.value:
                signals.ping_sent.send(app, ping=row)
            elif row.status == PingStatus.FAILED.value:
                signals.ping_failed.send(app, ping=row)
        if rows and self.progress is not None:
            self.progress(self.counts)

    def space_host(self, row: Any, now: datetime, undispatched: list[int]) -> None:
        """After a 429, line up every due ping to that host at least the spacing apart.

        WordPress refuses a second ping from one sender within 15 s; sending
        the rest back to back would only collect more refusals.
        """
        Ping = self.Ping
        spacing = timedelta(seconds=self.config["LINKBACK_OUTBOX_429_SPACING"])
        mine = sa.and_(Ping.status == PingStatus.SENDING.value, Ping.claimed_by == self.name,
                       Ping.id.in_(undispatched or [-1]))
        others = (Ping.query.filter(Ping.target_host == row.target_host, Ping.id != row.id,
                                    sa.or_(Ping.status.in_(DUE_STATUSES), mine))
                  .order_by(Ping.next_attempt_at, Ping.id).all())
        slot = now + spacing
        row.next_attempt_at = slot
        for other in others:
            slot = max(slot + spacing, other.next_attempt_at)
            other.next_attempt_at = slot
            if other.status == PingStatus.SENDING.value:
                other.status, other.claimed_by, other.claimed_at = PingStatus.RETRY.value, None, None
                self.deferred.add(other.id)


def deliver(job: Job, limits: FetchLimits, cache: DiscoveryCache, ttl: float) -> Delivery:
    """Discover (pingback) and send one ping. Runs on a pool thread: no app, no database."""
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
        except (AddressRefused, UnsupportedURL) as error:
            return Delivery(Outcome(Result.PERMANENT, f"the target cannot be fetched: {error}"))
        except FetchError as error:
            return Delivery(Outcome(Result.TRANSIENT, f"the target could not be fetched: {error}"))
        if found.pingback is None:
            return Delivery(Outcome(Result.UNSUPPORTED, "the target advertises no Pingback endpoint"))
        return Delivery(send_pingback(found.pingback, job.source, job.target, limits), found.pingback)
    except Exception as error:  # a bug must not lose the row: it is retried and logged
        logger.exception("outbox: sending %s -> %s failed", job.source, job.target)
        return Delivery(Outcome(Result.TRANSIENT, f"internal error: {type(error).__name__}"))


def deliver_local(source: str, target: str) -> Outcome:
    """A link between two of this site's posts: record it through the receiving pipeline, no HTTP."""
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
    parts = urlsplit(url)
    with current_app.test_request_context("/", base_url=f"{parts.scheme}://{parts.netloc}/"):
        yield

"""A small bounded pool that verifies webmentions after their 202 has been sent.

One per app (on the LinkbackState), started on first use so ``init_app``
spawns no threads. The pool refuses new work when LINKBACK_WEBMENTION_QUEUE
jobs are already waiting, so a flood of requests cannot grow memory without
bound: the endpoint answers 503 instead. ``join`` lets tests and shutdown
code wait until every job has finished, without sleeping.

``submit_keyed`` coalesces: an item whose key already has a job waiting to
start rides along with that job instead of adding one, so the same mention
re-sent a hundred times while the queue is busy is verified once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

logger = logging.getLogger("flask_linkback")


class QueueFull(RuntimeError):
    """Too many jobs are waiting; try again later."""


class BackgroundJobs:
    """A lazily started ThreadPoolExecutor with a cap on waiting jobs and a ``join``."""

    def __init__(self, name: str = "linkback-webmention") -> None:
        self._name = name
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._executor: ThreadPoolExecutor | None = None
        self._unfinished = 0
        self._waiting: dict[Hashable, list[Any]] = {}

    def submit(self, job: Callable[..., Any], *args: Any, workers: int, limit: int) -> Future[Any]:
        """Run ``job(*args)`` on a worker thread; :class:`QueueFull` past ``limit`` unfinished jobs."""
        with self._lock:
            executor = self._reserve(workers, limit)
        return self._start(executor, job, *args)

    def submit_keyed(self, key: Hashable, item: Any, job: Callable[..., Any], *args: Any,
                     workers: int, limit: int) -> bool:
        """Run ``job(items, *args)`` once for every item queued under ``key`` before it starts.

        True when a new job was queued, False when ``item`` joined a waiting
        one; :class:`QueueFull` as :meth:`submit`.
        """
        with self._lock:
            waiting = self._waiting.get(key)
            if waiting is not None:
                waiting.append(item)
                return False
            executor = self._reserve(workers, limit)
            self._waiting[key] = [item]
        try:
            self._start(executor, self._run_keyed, key, job, *args)
        except RuntimeError:
            with self._lock:
                self._waiting.pop(key, None)
            raise
        return True

    def _reserve(self, workers: int, limit: int) -> ThreadPoolExecutor:
        """Count one more job (the lock is held), or raise QueueFull."""
        if self._unfinished >= limit:
            raise QueueFull(f"{self._unfinished} webmentions are waiting to be verified")
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=self._name)
        self._unfinished += 1
        return self._executor

    def _start(self, executor: ThreadPoolExecutor, job: Callable[..., Any], *args: Any) -> Future[Any]:
        try:
            future = executor.submit(job, *args)
        except RuntimeError:  # shut down meanwhile
            self._done(None)
            raise
        future.add_done_callback(self._done)
        return future

    def _run_keyed(self, key: Hashable, job: Callable[..., Any], *args: Any) -> Any:
        with self._lock:
            items = self._waiting.pop(key, [])
        return job(items, *args) if items else None

    @property
    def unfinished(self) -> int:
        with self._lock:
            return self._unfinished

    def join(self, timeout: float | None = None) -> bool:
        """Wait until no job is queued or running; False if ``timeout`` passed first."""
        with self._idle:
            return self._idle.wait_for(lambda: self._unfinished == 0, timeout)

    def shutdown(self, wait: bool = True) -> None:
        """Stop the workers (finishing queued jobs when ``wait``); a later submit starts new ones."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=wait, cancel_futures=not wait)

    def _done(self, future: Future[Any] | None) -> None:
        if future is not None and not future.cancelled() and future.exception() is not None:
            logger.error("background job failed", exc_info=future.exception())
        with self._idle:
            self._unfinished -= 1
            self._idle.notify_all()

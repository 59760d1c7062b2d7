"""A small bounded pool that verifies webmentions after their 202 has been sent.

One per app (on the LinkbackState), started on first use so ``init_app``
spawns no threads. The pool refuses new work when LINKBACK_WEBMENTION_QUEUE
jobs are already waiting, so a flood of requests cannot grow memory without
bound: the endpoint answers 503 instead. ``join`` lets tests and shutdown
code wait until every job has finished, without sleeping.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
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

    def submit(self, job: Callable[..., Any], *args: Any, workers: int, limit: int) -> Future[Any]:
        """Run ``job(*args)`` on a worker thread; :class:`QueueFull` past ``limit`` unfinished jobs."""
        with self._lock:
            if self._unfinished >= limit:
                raise QueueFull(f"{self._unfinished} webmentions are waiting to be verified")
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=self._name)
            self._unfinished += 1
            executor = self._executor
        try:
            future = executor.submit(job, *args)
        except RuntimeError:  # shut down meanwhile
            self._done(None)
            raise
        future.add_done_callback(self._done)
        return future

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

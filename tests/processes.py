"""Real processes for the deployment tests: the example blog under gunicorn, and linkback workers.

Each child runs in a session of its own so a test can SIGKILL it with all its
children, as an operator's ``kill -9`` or the kernel's OOM killer would. Their
output is read line by line on a thread, so a test waits for what a process
says ("Booting worker", "worker running") instead of sleeping.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


STARTED: list[Child] = []


def kill_all() -> None:
    """SIGKILL every child still running: no test leaves a process behind, even when it fails."""
    while STARTED:
        STARTED.pop().kill()


class Child:
    """A child process whose merged output is collected as it comes."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self.process = subprocess.Popen(
            args, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        STARTED.append(self)

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for(self, text: str, count: int = 1, timeout: float = 30.0) -> None:
        """Block until ``text`` has appeared in ``count`` lines of output (or fail, with the
        output)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while sum(text in line for line in self.lines) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (
                    self.process.poll() is not None and not self._reader.is_alive()
                ):
                    raise AssertionError(f"{text!r} x{count} not seen; output:\n" + self.output())
                self._changed.wait(timeout=remaining)

    def output(self) -> str:
        return "\n".join(self.lines)

    def kill(self) -> None:
        """SIGKILL the process and everything it started."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        self._reader.join(timeout=5)


def blog_env(database_url: str, port: int, **config: Any) -> dict[str, str]:
    """The example blog's configuration as environment variables (BLOG_ + the key, JSON values)."""
    import json

    values = {
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SERVER_NAME": f"127.0.0.1:{port}",
        "SECRET_KEY": "deployment-test",
        "LINKBACK_ALLOW_PRIVATE_ADDRESSES": True,
        "LINKBACK_RATELIMIT_ENABLED": False,
        **config,
    }
    return {
        f"BLOG_{key}": value if isinstance(value, str) else json.dumps(value)
        for key, value in values.items()
    }


def gunicorn(env: dict[str, str], port: int, *, workers: int = 2, threads: int = 0) -> Child:
    args = [
        str(BIN / "python"),
        "-m",
        "gunicorn",
        "-w",
        str(workers),
        "-b",
        f"127.0.0.1:{port}",
        "--graceful-timeout",
        "5",
    ]
    if threads:
        args += ["-k", "gthread", "--threads", str(threads)]
    child = Child([*args, "example_blog:create_app()"], env)
    child.wait_for("Booting worker", count=workers)
    return child


def linkback_worker(env: dict[str, str]) -> Child:
    child = Child(
        [str(BIN / "flask"), "--app", "example_blog:create_app", "linkback", "worker"], env
    )
    child.wait_for("worker running")
    return child


@contextmanager
def postgresql_database(server_url: str) -> Iterator[str]:
    """A database of its own on the test server (child processes cannot take a search_path)."""
    name = f"linkback_{uuid.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    url = (
        sqlalchemy.engine.make_url(server_url)
        .set(database=name)
        .render_as_string(hide_password=False)
    )
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def wait_until(
    condition: Callable[[], bool], timeout: float = 30.0, what: str = "condition"
) -> None:
    """Re-check ``condition`` (a database query) until it holds; the state lives in other
    processes."""
    deadline = time.monotonic() + timeout
    event = threading.Event()
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        event.wait(0.1)

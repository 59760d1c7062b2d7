"""Fixtures: the example blog on a real HTTP server, and a second site serving source pages.

Every test that uses ``app`` runs twice, on SQLite and on PostgreSQL. The
PostgreSQL leg uses LINKBACK_TEST_POSTGRESQL_URL (default: the local server,
database ``test``); without a reachable server it is skipped with a message,
unless LINKBACK_REQUIRE_POSTGRESQL=1 (as ``scripts/run-tests`` sets), where a
missing server fails the run instead.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import pytest
import sqlalchemy
from flask import Flask, Response, request
from werkzeug.serving import BaseWSGIServer, make_server

from example_blog import create_app
from example_blog.extensions import db as blog_db
from example_blog.models import Post
from flask_linkback.models import utcnow

POSTGRESQL_URL = os.environ.get(
    "LINKBACK_TEST_POSTGRESQL_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REQUIRE_POSTGRESQL = os.environ.get("LINKBACK_REQUIRE_POSTGRESQL") == "1"


@cache
def postgresql_problem() -> str | None:
    """Why the PostgreSQL leg cannot run here, or None when it can."""
    try:
        engine = sqlalchemy.create_engine(POSTGRESQL_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text("SELECT 1"))
        engine.dispose()
    except Exception as error:  # noqa: BLE001 - any failure means: no usable server
        return f"{type(error).__name__}: {str(error).splitlines()[0]}"
    return None


class LiveServer:
    """A WSGI app served for real on 127.0.0.1 in a background thread."""

    def __init__(self, app: Callable[..., Any] | None = None, host: str = "127.0.0.1") -> None:
        self.app = app
        self.server: BaseWSGIServer = make_server(host, 0, self._dispatch, threaded=True)
        self.host = host
        self.port = self.server.server_port
        self.netloc = f"{host}:{self.port}" if ":" not in host else f"[{host}]:{self.port}"
        self.url = f"http://{self.netloc}"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def _dispatch(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        assert self.app is not None, "LiveServer started before its app was set"
        return self.app(environ, start_response)

    def start(self) -> LiveServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self.server.shutdown()
            self._thread.join(timeout=10)
        self.server.server_close()


@dataclass(frozen=True)
class Database:
    url: str
    engine_options: dict[str, Any]


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Database]:
    """A fresh empty database: a SQLite file, or a PostgreSQL schema of its own.

    A schema per test keeps runs independent even when several test runs
    share one PostgreSQL database.
    """
    if request.param == "sqlite":
        yield Database(f"sqlite:///{tmp_path / 'blog.sqlite3'}", {})
        return
    problem = postgresql_problem()
    if problem:
        message = f"PostgreSQL leg skipped: no server at LINKBACK_TEST_POSTGRESQL_URL ({problem})"
        if REQUIRE_POSTGRESQL:
            pytest.fail(message.replace("skipped", "required but failed"))
        pytest.skip(message)
    schema = f"test_{uuid.uuid4().hex[:16]}"
    admin = sqlalchemy.create_engine(POSTGRESQL_URL)
    with admin.begin() as connection:
        connection.execute(sqlalchemy.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield Database(POSTGRESQL_URL, {"connect_args": {"options": f"-csearch_path={schema}"}})
    finally:
        with admin.begin() as connection:
            connection.execute(sqlalchemy.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def blog_server() -> Iterator[LiveServer]:
    server = LiveServer()
    yield server
    server.stop()


@pytest.fixture
def app_config(database: Database, blog_server: LiveServer) -> dict[str, Any]:
    """Config for the blog under test; a test may change it before asking for ``app``."""
    return {
        "TESTING": True,
        "SECRET_KEY": "test",
        "SERVER_NAME": blog_server.netloc,
        "SQLALCHEMY_DATABASE_URI": database.url,
        "SQLALCHEMY_ENGINE_OPTIONS": database.engine_options,
        # Tests serve sources on 127.0.0.1; the refusal path is tested with this off.
        "LINKBACK_ALLOW_PRIVATE_ADDRESSES": True,
        "LINKBACK_FETCH_TIMEOUT": 2.0,
        # A testing app sends no pings to other sites unless told it is the live one.
        "LINKBACK_ENVIRONMENT": "production",
    }


@pytest.fixture
def app(app_config: dict[str, Any], blog_server: LiveServer) -> Iterator[Flask]:
    app = create_app(app_config)
    with app.app_context():
        blog_db.create_all()
    blog_server.app = app
    blog_server.start()
    yield app
    blog_server.stop()  # no request may hold a connection while the schema is dropped
    # Nor may a verification still running: let it finish, then stop the pool.
    app.extensions["linkback"].inbound.wait_idle(timeout=15)
    app.extensions["linkback"].inbound.shutdown()
    with app.app_context():
        blog_db.session.remove()
        blog_db.engine.dispose()


@dataclass
class Blog:
    """The example blog under test, served on a real port."""

    app: Flask
    url: str

    def add_post(self, slug: str, body: str = "<p>Text.</p>", **fields: Any) -> Post:
        with self.app.app_context():
            post = Post(
                slug=slug,
                title=fields.pop("title", slug.replace("-", " ").title()),
                body=body,
                published_at=fields.pop("published_at", utcnow()),
                **fields,
            )
            blog_db.session.add(post)
            blog_db.session.commit()
            blog_db.session.refresh(post)
            blog_db.session.expunge(post)
            return post

    def post_url(self, slug: str) -> str:
        return f"{self.url}/posts/{slug}"

    @contextmanager
    def counted_queries(self) -> Iterator[list[str]]:
        """Every SQL statement the blog's engine runs inside the block."""
        statements: list[str] = []

        def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            statements.append(statement)

        with self.app.app_context():
            engine = blog_db.engine
        sqlalchemy.event.listen(engine, "before_cursor_execute", record)
        try:
            yield statements
        finally:
            sqlalchemy.event.remove(engine, "before_cursor_execute", record)

    def linkbacks(self) -> list[Any]:
        """Every stored incoming linkback, detached from the session."""
        with self.app.app_context():
            model = self.app.extensions["linkback"].models.IncomingLinkback
            rows = model.query.order_by(model.id).all()
            for row in rows:
                blog_db.session.expunge(row)
            return rows


@pytest.fixture
def blog(app: Flask, blog_server: LiveServer) -> Blog:
    return Blog(app, blog_server.url)


@pytest.fixture
def other_blog_factory(tmp_path: Any) -> Iterator[Callable[..., Blog]]:
    """Start more example blogs, each on its own port with its own SQLite file."""
    started: list[tuple[LiveServer, Flask]] = []

    def start(**config: Any) -> Blog:
        server = LiveServer()
        name = f"other-{len(started)}"
        app = create_app(
            {
                "TESTING": True,
                "SECRET_KEY": name,
                "SERVER_NAME": server.netloc,
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / f'{name}.sqlite3'}",
                "LINKBACK_ALLOW_PRIVATE_ADDRESSES": True,
                "LINKBACK_SCHEDULER": False,
                "LINKBACK_ENVIRONMENT": "production",
                **config,
            }
        )
        with app.app_context():
            blog_db.create_all()
        server.app = app
        server.start()
        started.append((server, app))
        return Blog(app, server.url)

    yield start
    for server, app in started:
        server.stop()
        app.extensions["linkback"].inbound.wait_idle(timeout=15)
        app.extensions["linkback"].inbound.shutdown()
        with app.app_context():
            blog_db.engine.dispose()


@pytest.fixture
def verified(blog: Blog) -> Iterator[Callable[[], None]]:
    """``verified()`` waits until the blog under test has verified every ping in its queue."""
    runner = blog.app.extensions["linkback"].inbound

    def wait() -> None:
        assert runner.join(blog.app, timeout=15), "verification did not finish"

    yield wait


@dataclass
class SourceSite:
    """Another website on 127.0.0.1 whose pages ping the blog; records what it was asked."""

    server: LiveServer
    pages: dict[str, tuple[Any, int, dict[str, str]]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return self.server.url

    def page(
        self,
        path: str,
        body: Any,
        status: int = 200,
        content_type: str = "text/html; charset=utf-8",
        **headers: str,
    ) -> str:
        """Serve ``body`` (bytes, str or a generator factory) at ``path``; return its URL."""
        self.pages[path] = (body, status, {"Content-Type": content_type, **headers})
        return self.url + path

    def linking_page(
        self, path: str, target: str, title: str = "A reply", text: str = "I wrote about"
    ) -> str:
        return self.page(
            path,
            f"<!doctype html><html><head><title>{title}</title></head><body>"
            f'<p>{text} <a href="{target}">this post</a> today.</p></body></html>',
        )

    def hits(self, path: str) -> int:
        return sum(1 for r in self.requests if r["path"] == path)


def _source_app(site: SourceSite) -> Flask:
    app = Flask("source_site")

    @app.route("/", defaults={"path": ""}, methods=["GET", "HEAD", "POST"])
    @app.route("/<path:path>", methods=["GET", "HEAD", "POST"])
    def serve(path: str) -> Response:
        path = "/" + path
        site.requests.append(
            {"path": path, "method": request.method, "headers": dict(request.headers)}
        )
        if path not in site.pages:
            return Response("not found", 404)
        body, status, headers = site.pages[path]
        if callable(body):
            return Response(body(), status, headers=headers)
        return Response(body, status, headers=headers)

    return app


@pytest.fixture
def source_site() -> Iterator[SourceSite]:
    server = LiveServer()
    site = SourceSite(server)
    server.app = _source_app(site)
    server.start()
    yield site
    site.stop.set()
    server.stop()


# Receiving blogs for the outgoing-ping tests (tests/target_blogs.py).
from target_blogs import target_blogs  # noqa: E402, F401 - a fixture, after the helpers it uses

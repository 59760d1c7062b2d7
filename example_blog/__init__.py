"""A small real blog that uses every part of flask-linkback.

Run it with ``./scripts/run-example`` (see the README), or
``python -m example_blog --port 5000``.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask

from .extensions import db, linkback, migrate


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.update(
        SECRET_KEY="dev-only-change-me",  # noqa: S106 - the demo's; deployments set their own
        BLOG_DATABASE_FILE="blog.sqlite3",
        BLOG_TITLE="A flask-linkback blog",
        BLOG_AUTHOR="The blog's author",
        BLOG_ADMIN_USER="admin",
        BLOG_ADMIN_PASSWORD="admin",  # noqa: S106 - the demo login, overridden from the environment
    )
    # BLOG_SECRET_KEY, BLOG_SQLALCHEMY_DATABASE_URI, BLOG_LINKBACK_... from the environment.
    app.config.from_prefixed_env("BLOG")
    if config:
        app.config.update(config)
    # TrackBacks carry the blog's name; receivers such as WordPress show it as the author.
    app.config.setdefault("LINKBACK_BLOG_NAME", app.config["BLOG_TITLE"])
    # SQLite in the instance folder unless a database URI was given.
    app.config.setdefault(
        "SQLALCHEMY_DATABASE_URI",
        "sqlite:///" + os.path.join(app.instance_path, app.config["BLOG_DATABASE_FILE"]),
    )

    if app.config.get("BLOG_BEHIND_PROXY"):
        # Behind one reverse proxy (nginx, a load balancer): the sender's address is the
        # one it adds to X-Forwarded-For. Only set this when such a proxy is really there,
        # or anybody can choose the address that the per-sender limits go by.
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1)  # type: ignore[method-assign]

    db.init_app(app)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        _sqlite_wal(app)
    linkback.init_app(app, db)
    migrate.init_app(app, db)

    from . import admin, views

    app.register_blueprint(views.bp)
    app.register_blueprint(admin.bp)
    app.cli.add_command(views.seed_command)
    app.add_template_global(linkback.sending_enabled, "linkback_sending_enabled")
    return app


def _sqlite_wal(app: Flask) -> None:
    """SQLite in WAL mode: readers never wait for the linkback queue's writers, and a commit
    costs no fsync (still safe when a process is killed; a power cut may lose the last ones)."""
    import sqlalchemy as sa

    with app.app_context():
        engine = db.engine

    @sa.event.listens_for(engine, "connect")
    def _pragmas(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

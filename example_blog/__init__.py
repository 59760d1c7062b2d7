"""A small real blog that uses every part of flask-linkback.

Run it with ``./scripts/run-example`` (see the README), or
``python -m example_blog --port 5000``.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask

from .extensions import db, linkback


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.update(
        SECRET_KEY="dev-only-change-me",
        BLOG_DATABASE_FILE="blog.sqlite3",
        BLOG_TITLE="A flask-linkback blog",
        BLOG_AUTHOR="The blog's author",
        BLOG_ADMIN_USER="admin",
        BLOG_ADMIN_PASSWORD="admin",
    )
    # BLOG_SECRET_KEY, BLOG_SQLALCHEMY_DATABASE_URI, BLOG_LINKBACK_... from the environment.
    app.config.from_prefixed_env("BLOG")
    if config:
        app.config.update(config)
    # SQLite in the instance folder unless a database URI was given.
    app.config.setdefault(
        "SQLALCHEMY_DATABASE_URI",
        "sqlite:///" + os.path.join(app.instance_path, app.config["BLOG_DATABASE_FILE"]),
    )

    db.init_app(app)
    linkback.init_app(app, db)

    from . import admin, views

    app.register_blueprint(views.bp)
    app.register_blueprint(admin.bp)
    app.cli.add_command(views.seed_command)
    app.add_template_global(linkback.sending_enabled, "linkback_sending_enabled")
    return app

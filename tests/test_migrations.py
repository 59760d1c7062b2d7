"""The extension's tables in the host's Alembic migrations, through Flask-Migrate.

The extension defines its tables on the host's ``db.metadata``, so a host's
``flask db migrate`` sees them beside its own. These tests run the real
``flask db`` commands of the example blog, on SQLite and on PostgreSQL, and
compare against whatever the current models are, so they keep holding as
columns and tables are added: a new database gets every table, and a
database created by flask-linkback 0.1.0 (frozen in ``tests/fixtures``) is
upgraded to the current models with its rows kept.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask

from example_blog import create_app
from example_blog.extensions import db, linkback

FIXTURES = Path(__file__).parent / "fixtures"

#: One row per 0.1.0 table, in the 0.1.0 columns; the upgrade must keep every value.
ROWS_0_1_0: dict[str, dict[str, Any]] = {
    "linkback_incoming": {
        "id": 7, "kind": "pingback", "source_url": "http://127.0.0.1:9/alice/post",
        "source_key": "http://127.0.0.1:9/alice/post", "source_host": "127.0.0.1",
        "target_url": "http://127.0.0.1:5000/posts/hello", "post_id": "1",
        "title": "Alice answers", "excerpt": "[...] I agree with this post [...]",
        "blog_name": "Alice's blog", "author_name": "Alice", "author_url": "http://127.0.0.1:9/alice",
        "author_photo": None, "mention_type": "mention", "content": None,
        "published_at": datetime(2026, 11, 1, 9, 30), "content_hash": "ab" * 32,
        "status": "pending", "reason": "new source: held for moderation", "sender_ip": "127.0.0.1",
        "created_at": datetime(2026, 11, 1, 10, 0), "updated_at": datetime(2026, 11, 1, 10, 0),
    },
    "linkback_outgoing": {
        "id": 3, "post_id": "1", "source_url": "http://127.0.0.1:5000/posts/hello",
        "target_url": "http://127.0.0.1:9/bob/post", "target_host": "127.0.0.1:9",
        "protocol": "webmention", "local": False, "endpoint": "http://127.0.0.1:9/webmention",
        "status": "sent", "attempts": 1, "next_attempt_at": datetime(2026, 11, 1, 10, 0),
        "last_error": "", "response": "202 Accepted", "claimed_by": None, "claimed_at": None,
        "sent_at": datetime(2026, 11, 1, 10, 0, 2), "link_removed": False,
        "status_url": "http://127.0.0.1:9/webmention/status/1",
        "created_at": datetime(2026, 11, 1, 10, 0), "updated_at": datetime(2026, 11, 1, 10, 0, 2),
    },
    "linkback_webmention_request": {
        "id": 5, "token": "t" * 64, "source_url": "http://127.0.0.1:9/carol/like",
        "target_url": "http://127.0.0.1:5000/posts/hello", "post_id": "1", "status": "accepted",
        "reason": "", "linkback_id": 7, "sender_ip": "127.0.0.1",
        "created_at": datetime(2026, 11, 2, 8, 0), "updated_at": datetime(2026, 11, 2, 8, 0, 1),
    },
    "linkback_settings": {
        "key": "max_links", "value": "25", "updated_at": datetime(2026, 11, 3, 12, 0),
    },
}


def _extension_tables(metadata: sa.MetaData) -> dict[str, sa.Table]:
    return {name: table for name, table in metadata.tables.items() if name.startswith("linkback_")}


def _schema_0_1_0(dialect: str) -> list[str]:
    text = (FIXTURES / f"schema_0_1_0_{dialect}.sql").read_text(encoding="utf-8")
    text = "\n".join(line for line in text.splitlines() if not line.startswith("--"))
    return [statement.strip() for statement in text.split(";") if statement.strip()]


@pytest.fixture
def keep_logging() -> Iterator[None]:
    """Alembic's env.py calls logging.config.fileConfig, which disables every
    existing logger and replaces the root handlers; put them back afterwards so
    later tests still see the extension's log."""
    root = logging.getLogger()
    root_state = (root.level, list(root.handlers))
    loggers = {name: (lg.disabled, lg.level, list(lg.handlers), lg.propagate)
               for name, lg in logging.root.manager.loggerDict.items()
               if isinstance(lg, logging.Logger)}
    yield
    root.setLevel(root_state[0])
    root.handlers[:] = root_state[1]
    for name, lg in list(logging.root.manager.loggerDict.items()):
        if not isinstance(lg, logging.Logger):
            continue
        if name in loggers:
            lg.disabled, lg.level, handlers, lg.propagate = loggers[name]
            lg.handlers[:] = handlers
        else:
            lg.disabled = False


@pytest.fixture
def host(database: Any, keep_logging: None) -> Iterator[Flask]:
    """The example blog on an empty database, tables NOT created: migrations make them."""
    app = create_app({
        "TESTING": True,
        "SECRET_KEY": "test",
        "SQLALCHEMY_DATABASE_URI": database.url,
        "SQLALCHEMY_ENGINE_OPTIONS": database.engine_options,
    })
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def flask_db(app: Flask, *args: str) -> str:
    """Run ``flask db ARGS`` as a host would, and return its output; fail on any error."""
    result = app.test_cli_runner().invoke(args=["db", *args])
    assert result.exception is None and result.exit_code == 0, (
        f"flask db {' '.join(args)} failed ({result.exit_code}):\n"
        f"{result.output}\n{result.exception!r}"
    )
    return result.output


def check_schema(app: Flask, ok: bool = True) -> str:
    """The output of ``flask linkback check-schema``, which must succeed (or fail if not ``ok``)."""
    result = app.test_cli_runner().invoke(args=["linkback", "check-schema"])
    assert (result.exit_code == 0) == ok, result.output
    return result.output


def _new_revision(migrations: Path) -> str:
    scripts = sorted((migrations / "versions").glob("*.py"))
    assert len(scripts) == 1, scripts
    return scripts[0].read_text(encoding="utf-8")


def _schema_differences(app: Flask) -> list[Any]:
    """What autogenerate would still change between the database and the current models."""
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, db.metadata)


def test_autogenerate_on_an_empty_database_creates_every_extension_table(
        host: Flask, tmp_path: Path) -> None:
    migrations = tmp_path / "migrations"
    flask_db(host, "init", "--directory", str(migrations))
    flask_db(host, "migrate", "--directory", str(migrations), "-m", "blog with flask-linkback")

    script = _new_revision(migrations)
    with host.app_context():
        wanted = _extension_tables(db.metadata)
    assert {"linkback_incoming", "linkback_outgoing", "linkback_settings"} <= set(wanted)
    for name in wanted:
        assert f"op.create_table('{name}'" in script, f"{name} missing from the migration"

    assert "missing table linkback_incoming" in check_schema(host, ok=False)
    flask_db(host, "upgrade", "--directory", str(migrations))
    assert "ok:" in check_schema(host)
    with host.app_context():
        present = set(sa.inspect(db.engine).get_table_names())
    assert set(wanted) <= present
    # Nothing left for autogenerate: no spurious churn in the host's next migration.
    assert _schema_differences(host) == []

    # The extension works on the migrated tables.
    with host.app_context():
        Incoming = linkback.models.IncomingLinkback
        db.session.add(Incoming(kind="webmention", source_url="http://127.0.0.1:9/a",
                                source_key="http://127.0.0.1:9/a", source_host="127.0.0.1",
                                target_url="http://127.0.0.1:5000/posts/x", post_id="1"))
        db.session.commit()
        assert linkback.pending_count() == 1


def test_new_not_null_columns_since_0_1_0_have_a_server_default() -> None:
    """ALTER TABLE ... ADD COLUMN ... NOT NULL fails on a table with rows unless the
    database knows a value for them; a Python-side ``default=`` is not enough."""
    frozen = sa.create_engine("sqlite://")
    with frozen.begin() as connection:
        for statement in _schema_0_1_0("sqlite"):
            connection.exec_driver_sql(statement)
    inspector = sa.inspect(frozen)
    old_tables = set(inspector.get_table_names())
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    with app.app_context():
        tables = _extension_tables(db.metadata)
    missing = []
    for name, table in tables.items():
        if name not in old_tables:
            continue  # a new table is created whole; no existing rows to fill
        old_columns = {column["name"] for column in inspector.get_columns(name)}
        missing += [f"{name}.{column.name}" for column in table.columns
                    if column.name not in old_columns and not column.nullable
                    and column.server_default is None and not column.primary_key]
    assert missing == [], (
        f"give these new NOT NULL columns a server_default (e.g. server_default=sa.text(\"''\")) "
        f"so hosts can upgrade tables that have rows: {missing}"
    )


def test_upgrade_from_0_1_0_schema_keeps_rows(host: Flask, database: Any, tmp_path: Path) -> None:
    with host.app_context():
        dialect = db.engine.dialect.name
        with db.engine.begin() as connection:
            for statement in _schema_0_1_0(dialect):
                connection.exec_driver_sql(statement)
            old = sa.MetaData()
            old.reflect(connection)
            for name, row in ROWS_0_1_0.items():
                connection.execute(old.tables[name].insert().values(**row))

    # What a host does on upgrade: autogenerate, review, apply.
    migrations = tmp_path / "migrations"
    flask_db(host, "init", "--directory", str(migrations))
    flask_db(host, "migrate", "--directory", str(migrations), "-m", "flask-linkback 0.2")
    script = _new_revision(migrations)
    for name in ROWS_0_1_0:
        assert f"op.drop_table('{name}'" not in script, f"the migration would drop {name}"
    flask_db(host, "upgrade", "--directory", str(migrations))

    assert _schema_differences(host) == []
    assert "ok:" in check_schema(host)
    with host.app_context(), db.engine.connect() as connection:
        for name, row in ROWS_0_1_0.items():
            table = db.metadata.tables[name]
            kept = [column for column in row if column in table.c]
            key = next(iter(table.primary_key.columns))
            found = connection.execute(
                sa.select(*(table.c[column] for column in kept))
                .where(key == row[key.name])).mappings().all()
            assert found == [{column: row[column] for column in kept}], name
            assert connection.execute(sa.select(sa.func.count()).select_from(table)).scalar() == 1

    # The current code reads and changes the old rows.
    with host.app_context():
        row = db.session.get(linkback.models.IncomingLinkback, 7)
        assert row.title == "Alice answers"
        linkback.set_status(row, "approved")
        db.session.commit()
        assert linkback.pending_count() == 0
        assert linkback.settings().max_links == 25


def test_check_schema_names_a_missing_column(host: Flask) -> None:
    with host.app_context():
        db.create_all()
        with db.engine.begin() as connection:
            connection.exec_driver_sql("ALTER TABLE linkback_incoming DROP COLUMN content_hash")
    output = check_schema(host, ok=False)
    assert "missing column linkback_incoming.content_hash" in output
    assert "flask db migrate" in output


def test_host_with_a_naming_convention_migrates_cleanly(
        database: Any, keep_logging: None, tmp_path: Path) -> None:
    """Flask-SQLAlchemy's docs suggest a constraint naming convention; with one,
    the extension's tables still migrate and leave autogenerate nothing to redo."""
    from flask_migrate import Migrate
    from flask_sqlalchemy import SQLAlchemy

    from flask_linkback import Linkback

    convention = {
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
    own_db = SQLAlchemy(metadata=sa.MetaData(naming_convention=convention))
    app = Flask(__name__)
    app.config.update({"TESTING": True, "SECRET_KEY": "test",
                       "SQLALCHEMY_DATABASE_URI": database.url,
                       "SQLALCHEMY_ENGINE_OPTIONS": database.engine_options})
    own_db.init_app(app)
    Linkback(app, own_db)
    Migrate(app, own_db)
    migrations = tmp_path / "migrations"
    try:
        flask_db(app, "init", "--directory", str(migrations))
        flask_db(app, "migrate", "--directory", str(migrations), "-m", "with a convention")
        flask_db(app, "upgrade", "--directory", str(migrations))
        with app.app_context(), own_db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, own_db.metadata) == []
            tables = set(sa.inspect(connection).get_table_names())
            assert set(_extension_tables(own_db.metadata)) <= tables
    finally:
        with app.app_context():
            own_db.engine.dispose()

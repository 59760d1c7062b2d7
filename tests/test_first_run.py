"""What a new user meets first: missing tables, a missing SECRET_KEY, a chatty scheduler."""

from __future__ import annotations

import logging
import threading
import xmlrpc.client

import pytest
from apscheduler.events import EVENT_JOB_EXECUTED

from example_blog import create_app
from example_blog.extensions import db, linkback
from flask_linkback.tables import MISSING_TABLES


@pytest.fixture
def bare_app(database):
    """The example blog on an empty database: ``db.create_all()`` not run yet."""
    app = create_app(
        {
            "TESTING": True,
            "SERVER_NAME": "localhost",
            "SQLALCHEMY_DATABASE_URI": database.url,
            "SQLALCHEMY_ENGINE_OPTIONS": database.engine_options,
            "LINKBACK_SCHEDULER": False,
            "WTF_CSRF_ENABLED": False,
        }
    )
    yield app
    with app.app_context():
        db.engine.dispose()


def test_cli_before_the_tables_exist_says_what_to_run(bare_app):
    result = bare_app.test_cli_runner().invoke(args=["linkback", "list"])

    assert result.exit_code == 1
    assert MISSING_TABLES in result.output
    assert "linkback_incoming" in result.output
    assert "Traceback" not in result.output and len(result.output.splitlines()) == 1


def test_endpoints_before_the_tables_exist_answer_503_with_the_fix(bare_app, caplog):
    client = bare_app.test_client()
    call = xmlrpc.client.dumps(
        ("http://127.0.0.1:9/a", "http://localhost/posts/b"), "pingback.ping"
    )

    answers = [
        client.post("/xmlrpc", data=call, content_type="text/xml"),
        client.post(
            "/webmention",
            data={"source": "http://127.0.0.1:9/a", "target": "http://localhost/posts/b"},
        ),
        client.post("/trackback/1", data={"url": "http://127.0.0.1:9/a"}),
    ]

    for answer in answers:
        assert answer.status_code == 503
        assert answer.headers["Retry-After"] == "60"
        assert MISSING_TABLES in answer.get_data(as_text=True)
    errors = [
        r for r in caplog.records if r.name == "flask_linkback" and r.levelno >= logging.ERROR
    ]
    assert len(errors) == 1 and errors[0].exc_info is None  # said once, without a traceback


def test_endpoints_work_once_the_tables_are_created(bare_app):
    client = bare_app.test_client()
    mention = {"source": "http://127.0.0.1:9/a", "target": "http://localhost/posts/none"}
    assert client.post("/webmention", data=mention).status_code == 503
    with bare_app.app_context():
        db.create_all()
    answer = client.post("/webmention", data=mention)
    assert (answer.status_code, answer.get_data(as_text=True)) == (
        400,
        "target does not exist on this site\n",
    )


def test_a_missing_secret_key_fails_at_start_up_when_webmentions_are_accepted(tmp_path):
    config = {
        "SECRET_KEY": None,
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.db'}",
        "LINKBACK_SCHEDULER": False,
    }
    with pytest.raises(ValueError, match="set SECRET_KEY before init_app"):
        create_app(config)
    app = create_app({**config, "LINKBACK_ACCEPT_WEBMENTIONS": False})
    assert app.config["LINKBACK_ACCEPT_WEBMENTIONS"] is False


def test_routine_polls_log_nothing_at_info(tmp_path, caplog):
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'poll.db'}",
            "SERVER_NAME": "blog.example",
            "LINKBACK_SCHEDULER": False,
            "LINKBACK_OUTBOX_POLL_SECONDS": 0.2,
        }
    )
    with app.app_context():
        db.create_all()
    polls = threading.Semaphore(0)
    caplog.set_level(logging.INFO)
    scheduler = linkback.start_scheduler(app) or app.extensions["linkback"].outbox.scheduler
    scheduler.add_listener(lambda event: polls.release(), EVENT_JOB_EXECUTED)
    try:
        assert polls.acquire(timeout=10) and polls.acquire(timeout=10), "the scheduler did not poll"
    finally:
        linkback.stop_scheduler(app)
        with app.app_context():
            db.engine.dispose()

    chatter = [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.INFO
        and r.name.startswith(("apscheduler.executors", "flask_linkback"))
        and "scheduler started" not in r.getMessage()
    ]
    assert chatter == []

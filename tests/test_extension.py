"""The extension as a host developer meets it: set-up, config checks, host callbacks, CSRF, CLI.

Each test builds a fresh, minimal host app with its own Flask-SQLAlchemy on a
SQLite file in tmp_path, and the three host callbacks over a dict of notes.
"""

from __future__ import annotations

import logging
import xmlrpc.client
from dataclasses import dataclass
from typing import Any

import pytest
from defusedxml import ElementTree as SafeET
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect

from flask_linkback import Candidate, HostNotConfigured, Linkback, PostInfo, Verdict
from flask_linkback.config import DEFAULTS
from flask_linkback.inbound.pingback import SUCCESS_ANSWER
from flask_linkback.models import Status
from flask_linkback.state import LinkbackState


@dataclass
class Note:
    """The host's own post type: the extension only sees it through the callbacks."""

    id: int
    slug: str
    title: str
    body: str = ""

    @property
    def url(self) -> str:
        return f"http://localhost/notes/{self.slug}"


NOTES = {1: Note(1, "one", "Note one"), 2: Note(2, "two", "Note two")}


def register_callbacks(linkback: Linkback, skip: tuple[str, ...] = ()) -> Linkback:
    """The host's glue: what a host writes once, minus the callbacks named in ``skip``."""
    if "post_loader" not in skip:
        linkback.post_loader(lambda post_id: NOTES.get(int(post_id)) if post_id.isdigit() else None)
    if "url_resolver" not in skip:
        linkback.url_resolver(lambda url: next((n for n in NOTES.values() if n.url == url), None))
    if "post_info" not in skip:
        linkback.post_info(lambda note: PostInfo(id=str(note.id), url=note.url, title=note.title,
                                                 html=note.body))
    return linkback


def host_app(tmp_path: Any, name: str = "host", **config: Any) -> Flask:
    app = Flask(name)
    app.config.update({"TESTING": True, "SECRET_KEY": "test",
                       "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / f'{name}.sqlite3'}",
                       "LINKBACK_TRACKBACK_REQUIRE_LINK": False, "LINKBACK_SCHEDULER": False,
                       # What this site is comes from configuration, never from a request.
                       "LINKBACK_SITE_URL": "http://localhost/",
                       **config})
    return app


def ready(app: Flask, db: SQLAlchemy) -> Flask:
    with app.app_context():
        db.create_all()
    return app


def send_trackback(app: Flask, note_id: int, source: str,
                   path: str = "/trackback") -> tuple[int, str | None]:
    response = app.test_client().post(f"{path}/{note_id}", data={"url": source, "title": "A reply"})
    assert response.status_code == 200
    root = SafeET.fromstring(response.data)
    return int(root.findtext("error")), root.findtext("message")


def stored(app: Flask) -> list[tuple[str, str, str]]:
    """(source_url, post_id, status) of every stored linkback of this app."""
    with app.app_context():
        model = app.extensions["linkback"].models.IncomingLinkback
        return [(r.source_url, r.post_id, r.status) for r in model.query.order_by(model.id)]


def unused_source(path: str = "/reply") -> str:
    # A source URL the tests never fetch (the link check is off): port 9 is discard.
    return f"http://127.0.0.1:9{path}"


# Setting the extension up ---------------------------------------------------------


def _factory(app: Flask, db: SQLAlchemy) -> Linkback:
    linkback = register_callbacks(Linkback(db=db))
    db.init_app(app)
    linkback.init_app(app)
    return linkback


def _one_go(app: Flask, db: SQLAlchemy) -> Linkback:
    db.init_app(app)
    return register_callbacks(Linkback(app, db))  # callbacks may come after construction


def _db_given_to_init_app(app: Flask, db: SQLAlchemy) -> Linkback:
    linkback = register_callbacks(Linkback())
    db.init_app(app)
    linkback.init_app(app, db)
    return linkback


SETUPS = [_factory, _one_go, _db_given_to_init_app]


@pytest.mark.parametrize("setup", SETUPS, ids=[s.__name__[1:] for s in SETUPS])
def test_each_way_of_setting_up_gives_a_working_trackback_endpoint(tmp_path, setup):
    app, db = host_app(tmp_path), SQLAlchemy()

    linkback = setup(app, db)
    ready(app, db)

    state = app.extensions["linkback"]
    assert isinstance(state, LinkbackState)
    assert (state.extension, state.db) == (linkback, db)
    assert send_trackback(app, 1, unused_source()) == (0, None)
    assert stored(app) == [(unused_source(), "1", Status.PENDING.value)]


def test_every_config_key_gets_its_documented_default(tmp_path):
    app = host_app(tmp_path)
    del app.config["LINKBACK_TRACKBACK_REQUIRE_LINK"]
    del app.config["LINKBACK_SCHEDULER"]
    del app.config["LINKBACK_SITE_URL"]

    Linkback(app, SQLAlchemy(app))

    defaults = {key: default for key, (default, _, _) in DEFAULTS.items()}
    assert {key: app.config[key] for key in DEFAULTS} == defaults
    assert {key for key in app.config if key.startswith("LINKBACK_")} == set(DEFAULTS)


def test_values_the_host_set_are_kept(tmp_path):
    app = host_app(tmp_path, LINKBACK_FETCH_TIMEOUT=3, LINKBACK_MODERATION="all",
                   LINKBACK_SITE_HOSTS=["blog.example.org"])

    Linkback(app, SQLAlchemy(app))

    assert (app.config["LINKBACK_FETCH_TIMEOUT"], app.config["LINKBACK_MODERATION"],
            app.config["LINKBACK_SITE_HOSTS"]) == (3, "all", ["blog.example.org"])


WRONG_VALUES = [
    ("LINKBACK_FETCH_TIMEOUT", -1),
    ("LINKBACK_FETCH_TIMEOUT", 0),
    ("LINKBACK_FETCH_TIMEOUT", "5"),
    ("LINKBACK_FETCH_TIMEOUT", float("nan")),
    ("LINKBACK_MODERATION", "maybe"),
    ("LINKBACK_SELF_PINGS", True),
    ("LINKBACK_ALLOW_PRIVATE_ADDRESSES", "yes"),
    ("LINKBACK_TRACKBACK_REQUIRE_LINK", 1),
    ("LINKBACK_XMLRPC_URL", "xmlrpc"),
    ("LINKBACK_TRACKBACK_URL", ""),
    ("LINKBACK_SITE_HOSTS", "blog.example.org"),
    ("LINKBACK_FETCH_MAX_BYTES", 0),
    ("LINKBACK_FETCH_MAX_REDIRECTS", -1),
    ("LINKBACK_FETCH_MAX_REDIRECTS", 2.5),
    ("LINKBACK_MAX_REQUEST_BYTES", True),
    ("LINKBACK_USER_AGENT", ""),
    ("LINKBACK_EXCERPT_CHARS", 0),
    ("LINKBACK_SOURCE_HOST_CONCURRENCY", 0),
]


@pytest.mark.parametrize(("key", "value"), WRONG_VALUES)
def test_wrong_config_value_fails_at_init_app_naming_the_key(tmp_path, key, value):
    app = host_app(tmp_path, **{key: value})
    linkback = register_callbacks(Linkback(db=SQLAlchemy(app)))

    with pytest.raises(ValueError, match=key) as info:
        linkback.init_app(app)

    assert repr(value) in str(info.value)
    assert "linkback" not in app.extensions
    assert "linkback.trackback" not in app.view_functions


@pytest.mark.parametrize("setup", [lambda app: Linkback(app), lambda app: Linkback().init_app(app)],
                         ids=["Linkback(app)", "init_app(app)"])
def test_no_db_is_a_type_error_saying_how_to_pass_it(tmp_path, setup):
    app = host_app(tmp_path)

    with pytest.raises(TypeError) as info:
        setup(app)

    assert "Flask-SQLAlchemy" in str(info.value)
    assert "Linkback(app, db)" in str(info.value)
    assert "init_app(app, db)" in str(info.value)


def test_extension_object_keeps_no_app(tmp_path):
    first, second = host_app(tmp_path, "first"), host_app(tmp_path, "second")
    db = SQLAlchemy()
    linkback = register_callbacks(Linkback(db=db))

    for app in (first, second):
        db.init_app(app)
        linkback.init_app(app)

    held = [*vars(linkback).values(), *vars(linkback.callbacks).values()]
    assert not [value for value in held if isinstance(value, Flask)]
    assert "app" not in vars(linkback)


def test_one_extension_object_serves_two_apps_each_with_its_own_config_and_data(tmp_path):
    first = host_app(tmp_path, "first", LINKBACK_TRACKBACK_URL="/tb")
    second = host_app(tmp_path, "second", LINKBACK_MODERATION="none")
    db = SQLAlchemy()
    linkback = register_callbacks(Linkback(db=db))
    for app in (first, second):
        db.init_app(app)
        linkback.init_app(app)
        ready(app, db)

    assert send_trackback(first, 1, unused_source("/a"), path="/tb") == (0, None)
    assert send_trackback(second, 2, unused_source("/b")) == (0, None)

    assert first.extensions["linkback"] is not second.extensions["linkback"]
    assert stored(first) == [(unused_source("/a"), "1", Status.PENDING.value)]
    assert stored(second) == [(unused_source("/b"), "2", Status.APPROVED.value)]
    ping = {"url": unused_source()}
    assert first.test_client().post("/trackback/1", data=ping).status_code == 404
    assert second.test_client().post("/tb/1", data=ping).status_code == 404


# A host that forgot a callback ----------------------------------------------------


@pytest.mark.parametrize("missing", ["url_resolver", "post_info"])
def test_pingback_to_a_host_missing_a_callback_is_a_fault_and_the_log_names_the_decorator(
        tmp_path, caplog, missing):
    app, db = host_app(tmp_path), SQLAlchemy()
    db.init_app(app)
    register_callbacks(Linkback(app, db), skip=(missing,))
    ready(app, db)
    body = xmlrpc.client.dumps((unused_source(), NOTES[1].url), "pingback.ping")

    with caplog.at_level(logging.ERROR, logger="flask_linkback"):
        response = app.test_client().post("/xmlrpc", data=body, content_type="text/xml")

    assert response.status_code == 200
    with pytest.raises(xmlrpc.client.Fault) as fault:
        xmlrpc.client.loads(response.data)
    assert fault.value.faultCode == 0
    [error] = [r.exc_info[1] for r in caplog.records if r.exc_info]
    assert isinstance(error, HostNotConfigured)
    assert f"@linkback.{missing}" in str(error)
    assert stored(app) == []


@pytest.mark.parametrize("missing", ["post_loader", "post_info"])
def test_trackback_to_a_host_missing_a_callback_is_refused_and_the_log_names_the_decorator(
        tmp_path, caplog, missing):
    app, db = host_app(tmp_path, TESTING=False), SQLAlchemy()
    db.init_app(app)
    register_callbacks(Linkback(app, db), skip=(missing,))
    ready(app, db)

    with caplog.at_level(logging.ERROR):
        response = app.test_client().post("/trackback/1", data={"url": unused_source()})

    # Today a 500; a TrackBack error answer would do as well. Never a success.
    if response.status_code == 200:
        assert SafeET.fromstring(response.data).findtext("error") == "1"
    else:
        assert response.status_code == 500
    [error] = [r.exc_info[1] for r in caplog.records if r.exc_info]
    assert isinstance(error, HostNotConfigured)
    assert f"@linkback.{missing}" in str(error)
    assert stored(app) == []


def test_post_info_returning_the_wrong_type_says_what_it_must_return(tmp_path, caplog):
    app, db = host_app(tmp_path), SQLAlchemy()
    db.init_app(app)
    linkback = register_callbacks(Linkback(app, db), skip=("post_info",))
    linkback.post_info(lambda note: {"id": note.id, "url": note.url})
    ready(app, db)

    response = app.test_client().post("/trackback/1", data={"url": unused_source()})

    assert response.status_code == 500
    assert SafeET.fromstring(response.data).findtext("error") == "1"  # still a TrackBack answer
    assert "flask_linkback.PostInfo, got dict" in caplog.text  # the developer learns the fix


def test_moderation_rule_registered_before_init_app_decides_the_status(tmp_path):
    app, db = host_app(tmp_path), SQLAlchemy()
    linkback = register_callbacks(Linkback(db=db))

    @linkback.rule
    def no_casinos(candidate: Candidate) -> Verdict | None:
        if "casino" in candidate.source_url:
            return Verdict(Status.SPAM, "casino")
        return None

    db.init_app(app)
    linkback.init_app(app)
    ready(app, db)
    send_trackback(app, 1, unused_source("/best-casino"))
    send_trackback(app, 1, unused_source("/a-reply"))

    assert [status for _, _, status in stored(app)] == [Status.SPAM.value, Status.PENDING.value]


# Flask-WTF's CSRFProtect ----------------------------------------------------------


def test_csrf_protect_set_up_first_leaves_pingback_and_trackback_alone(tmp_path, source_site):
    app = host_app(tmp_path, LINKBACK_ALLOW_PRIVATE_ADDRESSES=True, LINKBACK_FETCH_TIMEOUT=2.0)
    csrf = CSRFProtect(app)
    db = SQLAlchemy(app)
    register_callbacks(Linkback(app, db))
    ready(app, db)

    @app.post("/comment")
    def comment() -> str:  # a host form view, still protected
        return "ok"

    client = app.test_client()
    source = source_site.linking_page("/reply", NOTES[1].url)

    call = xmlrpc.client.dumps((source, NOTES[1].url), "pingback.ping")
    response = client.post("/xmlrpc", data=call, content_type="text/xml")

    assert response.status_code == 200
    [(answer,), _] = xmlrpc.client.loads(response.data)
    assert answer == SUCCESS_ANSWER
    assert send_trackback(app, 2, unused_source("/tb")) == (0, None)
    assert [s for s, _, _ in stored(app)] == [source, unused_source("/tb")]
    assert client.post("/comment", data={"text": "hi"}).status_code == 400
    assert csrf is app.extensions["csrf"]


# flask linkback list / approve / spam ------------------------------------------------


@pytest.fixture
def cli_app(tmp_path: Any) -> Flask:
    app, db = host_app(tmp_path), SQLAlchemy()
    db.init_app(app)
    register_callbacks(Linkback(app, db))
    ready(app, db)
    for n, note_id in ((1, 1), (2, 1), (3, 2)):
        assert send_trackback(app, note_id, unused_source(f"/r{n}")) == (0, None)
    return app


def run_cli(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=["linkback", *args])


def listing(app: Flask, *args: str) -> dict[str, list[str]]:
    """``flask linkback list`` by source URL: [id, status, kind, "source -> target", reason]."""
    result = run_cli(app, "list", *args)
    assert result.exit_code == 0, result.output
    rows = [line.split("\t") for line in result.output.splitlines()]
    return {row[3].split(" -> ")[0]: row for row in rows}


def test_cli_list_shows_every_stored_linkback_newest_first(cli_app):
    rows = listing(cli_app)

    assert set(rows) == {unused_source("/r1"), unused_source("/r2"), unused_source("/r3")}
    assert rows[unused_source("/r3")][1:4] == [
        "pending", "trackback", f"{unused_source('/r3')} -> {NOTES[2].url}"]
    assert [int(row[0]) for row in rows.values()] == [3, 2, 1]


def test_cli_approve_and_spam_change_the_status(cli_app):
    ids = {source: row[0] for source, row in listing(cli_app).items()}

    approved = run_cli(cli_app, "approve", ids[unused_source("/r1")], ids[unused_source("/r2")])
    spammed = run_cli(cli_app, "spam", ids[unused_source("/r3")])

    assert (approved.exit_code, spammed.exit_code) == (0, 0)
    assert stored(cli_app) == [(unused_source("/r1"), "1", "approved"),
                               (unused_source("/r2"), "1", "approved"),
                               (unused_source("/r3"), "2", "spam")]
    assert set(listing(cli_app, "--status", "spam")) == {unused_source("/r3")}
    assert set(listing(cli_app, "--status", "pending")) == set()


@pytest.mark.parametrize("command", ["approve", "spam"])
def test_cli_unknown_id_is_a_clear_error_with_nonzero_exit(cli_app, command):
    result = run_cli(cli_app, command, "999")

    assert result.exit_code != 0
    assert "no linkback with id 999" in result.output
    assert [status for _, _, status in stored(cli_app)] == ["pending"] * 3


def test_cli_id_that_is_not_a_number_is_a_usage_error(cli_app):
    result = run_cli(cli_app, "approve", "first")

    assert result.exit_code == 2
    assert "'first' is not a valid integer" in result.output

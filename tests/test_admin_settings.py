"""The Discussion settings form: every field valid and invalid, CSRF, and who may use it."""

from __future__ import annotations

import logging
from typing import Any

import lxml.html
import pytest
from admin_support import SETTINGS, admin_client, anonymous_client, post_settings
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from flask_linkback import Linkback, current_settings


def saved(blog: Any) -> Any:
    with blog.app.test_request_context():  # a fresh request: settings are cached per request
        return current_settings()


def field_errors(response: Any, field: str) -> list[str]:
    root = lxml.html.fromstring(response.content)
    return [e.text_content() for e in root.xpath(f"//*[@id='{field}-error']")]


CHECKBOXES = ["pings_open_default", "notify_linked_blogs", "hold_all", "approve_own",
              "approve_known_sources", "trackback_require_link", "accept_webmentions"]


def test_settings_page_shows_the_config_defaults(blog):
    client = admin_client(blog)
    root = lxml.html.fromstring(client.get(SETTINGS).content)

    checked = {box.get("name") for box in root.xpath("//input[@type='checkbox'][@checked]")}
    assert checked == set(CHECKBOXES) - {"hold_all"}
    assert root.xpath("//input[@name='max_links']/@value") == ["100"]


def test_defaults_follow_the_config_keys(app_config, request):
    app_config.update(LINKBACK_MODERATION="all", LINKBACK_SELF_PINGS="pending",
                      LINKBACK_PINGS_OPEN_DEFAULT=False, LINKBACK_MAX_LINKS=7,
                      LINKBACK_BLOCKED_HOSTS=["Spam.Example"])
    blog = request.getfixturevalue("blog")

    settings = saved(blog)

    assert (settings.hold_all, settings.approve_own, settings.approve_known_sources) == (
        True,
        False,
        False,
    )
    assert (settings.pings_open_default, settings.max_links) == (False, 7)
    assert settings.blocked_hosts == ("spam.example",)


@pytest.mark.parametrize("name", CHECKBOXES)
def test_each_checkbox_is_saved_on_and_off(blog, name):
    client = admin_client(blog)

    assert post_settings(client, **{name: None}).status_code == 302
    assert getattr(saved(blog), name) is False

    assert post_settings(client, **{name: "y"}).status_code == 302
    assert getattr(saved(blog), name) is True
    root = lxml.html.fromstring(client.get(SETTINGS).content)
    assert root.xpath(f"//input[@name='{name}']/@checked")


@pytest.mark.parametrize("value, expected", [("0", 0), ("250", 250), (" 12 ", 12)])
def test_max_links_accepts_whole_numbers(blog, value, expected):
    client = admin_client(blog)

    assert post_settings(client, max_links=value).status_code == 302

    assert saved(blog).max_links == expected


@pytest.mark.parametrize(
    "value, message",
    [
        ("-1", "Number must be between 0 and 100000."),
        ("100001", "Number must be between 0 and 100000."),
        ("lots", "Not a valid integer value."),
        ("", "a whole number is required"),
        (None, "a whole number is required"),
    ],
)
def test_max_links_refuses_anything_else_and_saves_nothing(blog, value, message):
    client = admin_client(blog)

    response = post_settings(client, max_links=value, hold_all="y")

    assert response.status_code == 400
    assert message in field_errors(response, "max_links")
    assert saved(blog).hold_all is False  # nothing of the bad submission was saved


@pytest.mark.parametrize("field", ["blocked_hosts", "trusted_hosts"])
def test_host_lists_take_hosts_urls_and_addresses_one_per_line(blog, field):
    client = admin_client(blog)

    text = ("Spam.Example\n\n  https://Evil.Example:8080/some/page \n127.0.0.2\n[::1]\n"
            "spam.example\nbücher.example")
    assert post_settings(client, **{field: text}).status_code == 302

    assert getattr(saved(blog), field) == (
        "spam.example",
        "evil.example",
        "127.0.0.2",
        "::1",
        "xn--bcher-kva.example",
    )
    root = lxml.html.fromstring(client.get(SETTINGS).content)
    assert root.get_element_by_id(field).text_content().split() == list(getattr(saved(blog), field))


@pytest.mark.parametrize("field", ["blocked_hosts", "trusted_hosts"])
@pytest.mark.parametrize(
    "bad", ["not a host", "under_score.example", "-dash.example", "a..b", "x" * 64 + ".example"]
)
def test_host_lists_refuse_what_is_not_a_host(blog, field, bad):
    client = admin_client(blog)

    response = post_settings(client, **{field: f"fine.example\n{bad}"})

    assert response.status_code == 400
    assert field_errors(response, field) == [f"{bad!r} is not a host name or IP address"]
    assert getattr(saved(blog), field) == ()


def test_blocked_words_are_lowercased_trimmed_and_deduplicated(blog):
    client = admin_client(blog)

    assert (
        post_settings(client, blocked_words="Casino\n  cheap    pills \ncasino").status_code == 302
    )

    assert saved(blog).blocked_words == ("casino", "cheap pills")


def test_blocked_word_over_100_characters_is_refused(blog):
    client = admin_client(blog)

    response = post_settings(client, blocked_words="fine\n" + "w" * 101)

    assert response.status_code == 400
    assert "longer than 100 characters" in field_errors(response, "blocked_words")[0]
    assert saved(blog).blocked_words == ()


@pytest.mark.parametrize("token", [None, "forged-token"])
def test_settings_post_without_a_valid_csrf_token_is_refused(blog, token):
    client = admin_client(blog)
    data = {"hold_all": "y", "max_links": "5"}
    if token:
        data["csrf_token"] = token

    response = client.post(SETTINGS, data=data)

    assert response.status_code == 400
    assert b"CSRF token" in response.content
    assert (saved(blog).hold_all, saved(blog).max_links) == (False, 100)


def test_saved_settings_survive_a_new_app_on_the_same_database(blog, app_config):
    from example_blog import create_app

    post_settings(admin_client(blog), hold_all="y", blocked_words="casino")

    other = create_app(app_config)
    with other.test_request_context():
        assert current_settings().hold_all is True
        assert current_settings().blocked_words == ("casino",)


def test_anonymous_visitor_is_sent_to_the_blog_login(blog):
    response = anonymous_client(blog).get(SETTINGS)

    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/login?next=/linkback-admin/settings"
    assert anonymous_client(blog).post(SETTINGS, data={"hold_all": "y"}).status_code == 302
    assert saved(blog).hold_all is False


def _bare_app(tmp_path: Any, check: Any = None) -> Flask:
    app = Flask("bare")
    app.config.update(SECRET_KEY="t", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'bare.db'}")
    db = SQLAlchemy()
    db.init_app(app)
    linkback = Linkback(db=db)
    if check is not None:
        linkback.admin_check(check)
    linkback.init_app(app)
    with app.app_context():
        db.create_all()
    return app


def test_admin_pages_are_closed_when_the_host_names_no_admin(tmp_path, caplog):
    app = _bare_app(tmp_path)

    with caplog.at_level(logging.ERROR, logger="flask_linkback"):
        responses = [
            app.test_client().get(path)
            for path in ("/linkback-admin/settings", "/linkback-admin/queue/pending")
        ]

    assert [r.status_code for r in responses] == [403, 403]
    assert b"@linkback.admin_check" in responses[0].data
    assert "no admin check is registered" in caplog.text


def test_admin_check_returning_false_is_403_and_true_lets_in(tmp_path):
    allowed = {"yes": False}
    app = _bare_app(tmp_path, check=lambda: allowed["yes"])
    client = app.test_client()

    assert client.get("/linkback-admin/settings").status_code == 403
    allowed["yes"] = True
    assert client.get("/linkback-admin/settings").status_code == 200


def test_admin_prefix_is_configurable(app_config, request):
    app_config["LINKBACK_ADMIN_URL_PREFIX"] = "/manage/links"
    blog = request.getfixturevalue("blog")
    client = admin_client(blog)

    assert client.get("/manage/links/settings").status_code == 200
    assert client.get(SETTINGS).status_code == 404


def test_saving_sends_settings_changed_with_the_new_settings(blog):
    from flask_linkback import settings_changed

    seen = []

    def receiver(sender, settings):
        seen.append(settings)

    settings_changed.connect(receiver)
    try:
        post_settings(admin_client(blog), max_links="3")
    finally:
        settings_changed.disconnect(receiver)

    assert [s.max_links for s in seen] == [3]

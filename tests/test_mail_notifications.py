"""The owner gets an e-mail when a linkback is held or approved on arrival.

Sent to a real SMTP server.
"""

from __future__ import annotations

import email
import email.policy
import socket
import threading
import xmlrpc.client
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import lxml.html
import pytest
from admin_support import admin_client, csrf_token, post_settings
from aiosmtpd.controller import Controller
from outbound_helpers import drain

from flask_linkback.settings import current_settings

SITE_URL = "https://blog.example.test"


class Inbox:
    """aiosmtpd handler: keeps each message received, and lets a test wait for them."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[Any] = []
        self.arrived = threading.Condition()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.arrived:
            self.envelopes.append(envelope)
            self.messages.append(message)
            self.arrived.notify_all()
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp() -> Iterator[tuple[Controller, Inbox]]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


@pytest.fixture
def app_config(app_config, smtp):
    controller, _ = smtp
    return {
        **app_config,
        "LINKBACK_MAIL_SERVER": "127.0.0.1",
        "LINKBACK_MAIL_PORT": controller.port,
        "LINKBACK_MAIL_SENDER": "blog@example.test",
        "LINKBACK_MAIL_RECIPIENTS": ["owner@example.test"],
        # The public address links are built from; the test server's own address is
        # another name of the same site.
        "LINKBACK_SITE_URL": SITE_URL,
        "LINKBACK_SITE_HOSTS": [app_config["SERVER_NAME"]],
        "LINKBACK_BLOG_NAME": "My blog",
    }


def saved(blog: Any) -> Any:
    with blog.app.test_request_context():  # a fresh request: settings are cached per request
        return current_settings()


def _ping(blog, source_site, slug: str = "original") -> str:
    source = source_site.linking_page("/reply", blog.post_url(slug), title="A thoughtful reply")
    xmlrpc.client.ServerProxy(blog.url + "/xmlrpc").pingback.ping(source, blog.post_url(slug))
    return source


def _turn_on(blog, **changes: str) -> None:
    client = admin_client(blog)
    assert post_settings(client, notify_by_email="y", **changes).status_code == 302
    assert saved(blog).notify_by_email is True


def test_a_held_pingback_mails_the_owner_with_moderation_links(blog, source_site, smtp):
    _, inbox = smtp
    blog.add_post("original", title="The original")
    _turn_on(blog)

    source = _ping(blog, source_site)
    assert inbox.messages == []  # the request that stored it sent nothing
    drain(blog)  # what the worker runs

    [message] = inbox.messages
    [row] = blog.linkbacks()
    assert inbox.envelopes[0].rcpt_tos == ["owner@example.test"]
    assert message["From"] == "blog@example.test"
    assert message["Subject"] == '[My blog] Please moderate: "The original"'
    body = message.get_content()
    assert "is waiting for your approval" in body
    assert f"From:    {source}" in body
    assert "Title:   A thoughtful reply" in body
    review = f"{SITE_URL}/linkback-admin/linkback/{row.id}"
    assert f"Approve it: {review}?do=approve" in body
    assert f"Mark it as spam: {review}?do=spam" in body
    assert f"Moderation queue: {SITE_URL}/linkback-admin/queue/pending" in body
    assert f"{blog.url}/linkback-admin" not in body  # from LINKBACK_SITE_URL, not a request's host


def test_the_approve_link_leads_to_a_page_that_approves(blog, source_site, smtp):
    _, inbox = smtp
    blog.add_post("original", title="The original")
    _turn_on(blog)
    _ping(blog, source_site)
    drain(blog)
    link = next(
        line.split(": ", 1)[1]
        for line in inbox.messages[0].get_content().splitlines()
        if line.startswith("Approve it: ")
    )
    parts = urlsplit(link)
    client = admin_client(blog)

    page = lxml.html.fromstring(client.get(f"{parts.path}?{parts.query}").content)
    [first, *_] = page.xpath("//form[@class='linkback-moderate']//button")
    answer = client.post(
        "/linkback-admin/moderate",
        data={
            "csrf_token": csrf_token(client, f"{parts.path}?{parts.query}"),
            "next": parts.path,
            "one": first.get("value"),
        },
    )

    assert answer.status_code == 302
    assert first.get("value").startswith("approve:")
    assert [row.status for row in blog.linkbacks()] == ["approved"]


def test_a_linkback_approved_on_arrival_mails_the_owner(blog, source_site, smtp):
    _, inbox = smtp
    blog.add_post("original", title="The original")
    _turn_on(blog, trusted_hosts="127.0.0.1")

    _ping(blog, source_site)
    drain(blog)

    [message] = inbox.messages
    assert message["Subject"] == '[My blog] New pingback on "The original"'
    assert "was approved on arrival" in message.get_content()


def test_no_mail_while_the_setting_is_off(blog, source_site, smtp):
    _, inbox = smtp
    blog.add_post("original", title="The original")

    _ping(blog, source_site)
    drain(blog)

    assert len(blog.linkbacks()) == 1
    assert inbox.messages == []


def test_a_mail_server_that_is_down_delays_the_message_instead_of_losing_it(
    app_config, request, source_site, smtp
):
    controller, inbox = smtp
    app_config["LINKBACK_MAIL_PORT"] = _free_port()  # nothing listens there
    blog = request.getfixturevalue("blog")
    blog.add_post("original", title="The original")
    _turn_on(blog)
    _ping(blog, source_site)

    drain(blog)
    with blog.app.app_context():
        from example_blog.extensions import db
        from flask_linkback.owner_models import define_owner_models

        Mail = define_owner_models(db).MailMessage
        [row] = Mail.query.all()
        assert (row.status, row.attempts) == ("retry", 1)
        assert "ConnectionRefusedError" in row.last_error
        row.next_attempt_at = row.created_at  # due again now
        db.session.commit()
    blog.app.config["LINKBACK_MAIL_PORT"] = controller.port
    drain(blog)

    assert len(inbox.messages) == 1

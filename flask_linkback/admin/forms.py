"""The admin's forms (Flask-WTF, so every POST carries a CSRF token)."""

from __future__ import annotations

import ipaddress
import re
from typing import Any
from urllib.parse import urlsplit

from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField, SelectMultipleField, TextAreaField
from wtforms.validators import InputRequired, NumberRange, ValidationError

from ..settings import DiscussionSettings

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
MAX_LIST_ITEMS = 1000
MAX_WORD_CHARS = 100


def parse_host(text: str) -> str | None:
    """A host name or IP address from what an admin typed (a bare host or a URL), or None."""
    text = text.strip().lower()
    if "://" in text:
        text = urlsplit(text).hostname or ""
    text = text.rstrip(".")
    if not text:
        return None
    try:
        return str(ipaddress.ip_address(text.strip("[]")))
    except ValueError:
        pass
    try:
        text = text.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    labels = text.split(".")
    if len(text) > 253 or not all(_LABEL.match(label) for label in labels):
        return None
    return text


def _lines(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


class HostList(TextAreaField):
    """One host per line; URLs are reduced to their host; shown back one per line."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.data = _lines(valuelist[0] if valuelist else "")

    def pre_validate(self, form: Any) -> None:
        hosts: list[str] = []
        for line in self.data or []:
            host = parse_host(line)
            if host is None:
                raise ValidationError(f"{line!r} is not a host name or IP address")
            if host not in hosts:
                hosts.append(host)
        if len(hosts) > MAX_LIST_ITEMS:
            raise ValidationError(f"at most {MAX_LIST_ITEMS} hosts")
        self.data = hosts

    def _value(self) -> str:
        return "\n".join(self.data or [])


class WordList(TextAreaField):
    """One word or phrase per line, matched case-insensitively."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        text = valuelist[0] if valuelist else ""
        self.data = [" ".join(line.lower().split()) for line in _lines(text)]

    def pre_validate(self, form: Any) -> None:
        for word in self.data or []:
            if len(word) > MAX_WORD_CHARS:
                raise ValidationError(f"{word[:30]!r}… is longer than {MAX_WORD_CHARS} characters")
        if len(self.data or []) > MAX_LIST_ITEMS:
            raise ValidationError(f"at most {MAX_LIST_ITEMS} words")
        self.data = list(dict.fromkeys(self.data or []))

    def _value(self) -> str:
        return "\n".join(self.data or [])


class SettingsForm(FlaskForm):
    """Settings > Discussion, for linkbacks. Field names are the DiscussionSettings fields."""

    pings_open_default = BooleanField("New posts take pingbacks and trackbacks from other sites")
    accept_webmentions = BooleanField("Accept webmentions (the IndieWeb's linkbacks) on posts "
                                      "that take pingbacks and trackbacks")
    notify_linked_blogs = BooleanField("Tell the sites a post links to when it is published")
    hold_all = BooleanField("Hold every linkback for moderation")
    approve_own = BooleanField("Approve linkbacks from this site's own posts at once")
    approve_known_sources = BooleanField(
        "Approve linkbacks from sites that had one approved before")
    trackback_require_link = BooleanField("A TrackBack's source must link to the post")
    max_links = IntegerField("Hold a linkback whose source page has more than this many links "
                             "(0: no limit)",
                             validators=[InputRequired(message="a whole number is required"),
                                         NumberRange(min=0, max=100_000)])
    blocked_hosts = HostList("Blocked sites: linkbacks from these hosts (and their subdomains) or "
                             "IP addresses are marked spam; one per line")
    blocked_words = WordList("Blocked words: a linkback whose source contains one of these is "
                             "marked spam; one per line")
    notify_by_email = BooleanField("E-mail me whenever a linkback is held for moderation or "
                                   "approved on arrival")
    trusted_hosts = HostList("Trusted sites: linkbacks from these hosts are approved at once; "
                             "one per line")
    held_words = WordList("Hold for moderation: a linkback whose source contains one of these "
                          "waits for approval (it is not marked spam); one per line")
    close_pingbacks_after_days = IntegerField(
        "Close pingbacks on posts older than (days; 0: never)",
        validators=[InputRequired(message="a whole number is required"),
                    NumberRange(min=0, max=100_000)])
    close_trackbacks_after_days = IntegerField(
        "Close TrackBacks on posts older than (days; 0: never)",
        validators=[InputRequired(message="a whole number is required"),
                    NumberRange(min=0, max=100_000)])
    close_webmentions_after_days = IntegerField(
        "Close webmentions on posts older than (days; 0: never)",
        validators=[InputRequired(message="a whole number is required"),
                    NumberRange(min=0, max=100_000)])

    @classmethod
    def from_settings(cls, settings: DiscussionSettings) -> SettingsForm:
        return cls(data={name: (list(value) if isinstance(value, tuple) else value)
                         for name, value in vars(settings).items()})

    def changes(self) -> dict[str, Any]:
        """The validated values, ready for ``save_settings``."""
        return {name: (tuple(field.data) if isinstance(field.data, list) else field.data)
                for name, field in self._fields.items() if name != "csrf_token"}


ACTIONS = {
    "approve": "Approve",
    "spam": "Mark as spam",
    "restore": "Not spam: back to pending",
    "unapprove": "Unapprove: back to pending",
    "trust": "Approve and trust the site",
    "trash": "Move to Trash",
    "untrash": "Restore from Trash",
    "delete": "Delete permanently",
}


class ModerateForm(FlaskForm):
    """One action on one or more linkbacks (a row's button, or the checkboxes and bulk menu).

    ``delete`` only happens with ``confirmed`` set, which only the confirmation page sends.
    """

    action = SelectField("Action", choices=list(ACTIONS))
    ids = SelectMultipleField("Linkbacks", coerce=int, validate_choice=False,
                              validators=[InputRequired(message="select at least one linkback")])
    confirmed = BooleanField("Yes, delete them for good")


class EmptyForm(FlaskForm):
    """"Empty Trash" / "Empty Spam": delete every row of one tab, once confirmed."""

    status = SelectField("Folder", choices=["trash", "spam"])
    confirmed = BooleanField("Yes, delete them for good")

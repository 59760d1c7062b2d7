"""Moderation rules: small, named, each returning a verdict with a reason or passing.

Rules run in order and the first verdict wins. The host may put its own in
front with ``@linkback.rule``; spam rules belong before the approving ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import current_app

from ..host import PostInfo
from ..models import Kind, Status
from ..state import current_state

if TYPE_CHECKING:
    from .verify import Evidence


@dataclass(frozen=True)
class Candidate:
    """A verified ping, before it is stored."""

    kind: Kind
    source_url: str
    source_host: str
    post: PostInfo
    evidence: "Evidence | None"
    local_source: bool
    sender_ip: str | None


@dataclass(frozen=True)
class Verdict:
    status: Status
    reason: str


Rule = Callable[[Candidate], Verdict | None]


def own_site(candidate: Candidate) -> Verdict | None:
    """A blog's pings to its own posts never wait for approval (unless configured to)."""
    if not candidate.local_source:
        return None
    if current_app.config["LINKBACK_SELF_PINGS"] == "pending":
        return Verdict(Status.PENDING, "a link from this site's own post (held by LINKBACK_SELF_PINGS)")
    return Verdict(Status.APPROVED, "a link from this site's own post")


def moderation_setting(candidate: Candidate) -> Verdict | None:
    """LINKBACK_MODERATION="all" holds everything; "none" approves everything that verified."""
    mode = current_app.config["LINKBACK_MODERATION"]
    if mode == "all":
        return Verdict(Status.PENDING, "every linkback is held for moderation")
    if mode == "none":
        return Verdict(Status.APPROVED, "moderation is off")
    return None


def trusted_source(candidate: Candidate) -> Verdict | None:
    """A site with a linkback approved before is trusted (WordPress's 'previously approved')."""
    Linkback = current_state().models.IncomingLinkback
    approved = Linkback.query.filter_by(source_host=candidate.source_host, status=Status.APPROVED.value)
    if current_state().db.session.query(approved.exists()).scalar():
        return Verdict(Status.APPROVED, f"{candidate.source_host} has linkbacks approved before")
    return None


def new_source(candidate: Candidate) -> Verdict:
    return Verdict(Status.PENDING, f"first linkback from {candidate.source_host}: held for moderation")


DEFAULT_RULES: tuple[Rule, ...] = (own_site, moderation_setting, trusted_source, new_source)


def moderate(candidate: Candidate, rules: Iterable[Rule]) -> Verdict:
    for rule in rules:
        verdict = rule(candidate)
        if verdict is not None:
            return verdict
    return new_source(candidate)

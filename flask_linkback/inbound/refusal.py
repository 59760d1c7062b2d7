"""Why a ping is refused: the reasons (Pingback fault codes) and the exception that carries one.

Below every other inbound module, so verification, rate limits and the
protocol endpoints can all raise a :class:`Refusal` without importing the
pipeline that stores linkbacks.
"""

from __future__ import annotations

import enum

__all__ = ["Reason", "Refusal", "Removed"]


class Reason(enum.IntEnum):
    """Why a ping was refused; the values are the Pingback 1.0 fault codes."""

    GENERIC = 0
    SOURCE_MISSING = 16
    NO_LINK = 17
    TARGET_MISSING = 32
    TARGET_CLOSED = 33
    ALREADY_REGISTERED = 48
    ACCESS_DENIED = 49
    UPSTREAM = 50


class Refusal(Exception):
    """A ping we will not store, with a reason the sender may read.

    ``gone`` marks a source that answered 410 Gone: for an update that is a
    delete signal, where a 404 is not (Webmention §3.2.2).
    """

    def __init__(self, reason: Reason, message: str, *, gone: bool = False) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.gone = gone


class Removed(Refusal):
    """A known linkback whose source is gone or no longer links: it was deleted."""

"""The outbox table's names, defined with the other tables in :mod:`flask_linkback.models`.

Kept so ``flask_linkback.outbound.model`` still names them; the models module
defines every table without importing the packages that use them.
"""

from __future__ import annotations

from ..models import (
    DUE_STATUSES,
    LINK_PROTOCOLS,
    PLANNED_SKIPS,
    SKIP_MESSAGES,
    PingStatus,
    Protocol,
    SkipReason,
    define_outgoing,
)

__all__ = ["DUE_STATUSES", "LINK_PROTOCOLS", "PLANNED_SKIPS", "SKIP_MESSAGES", "PingStatus",
           "Protocol", "SkipReason", "define_outgoing"]

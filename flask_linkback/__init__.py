"""flask-linkback: Pingback, TrackBack and Webmention for Flask blogs."""

from .__about__ import __version__
from .extension import Linkback
from .host import HostNotConfigured, PostInfo
from .inbound.receive import Reason, Refusal
from .inbound.rules import Candidate, Verdict
from .models import Kind, Status
from .outbound.model import PingStatus, Protocol
from .settings import DiscussionSettings, current_settings
from .signals import (
    linkback_approved,
    linkback_deleted,
    linkback_held,
    linkback_received,
    linkback_refused,
    linkback_spammed,
    linkback_trashed,
    ping_failed,
    ping_sent,
    settings_changed,
)

__all__ = [
    "Candidate",
    "DiscussionSettings",
    "HostNotConfigured",
    "Kind",
    "Linkback",
    "PingStatus",
    "PostInfo",
    "Protocol",
    "Reason",
    "Refusal",
    "Status",
    "Verdict",
    "__version__",
    "current_settings",
    "linkback_approved",
    "linkback_deleted",
    "linkback_held",
    "linkback_received",
    "linkback_refused",
    "linkback_spammed",
    "linkback_trashed",
    "ping_failed",
    "ping_sent",
    "settings_changed",
]

"""Moved to :mod:`flask_linkback.outbound.webmention`; the old name still imports."""

from __future__ import annotations

from .outbound.webmention import (
    HTML_TYPES,
    SendResult,
    discover_webmention_endpoint,
    endpoint_from_response,
    send_webmention,
)

__all__ = ["HTML_TYPES", "SendResult", "discover_webmention_endpoint", "endpoint_from_response",
           "send_webmention"]

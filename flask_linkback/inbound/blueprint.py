"""Receiving linkbacks: one blueprint with the protocol endpoints, and its rate limit."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Response, current_app, request

from .. import tables
from ..logtext import loggable
from ..state import current_state
from . import pingback, trackback, webmention
from .ratelimit import RateLimited, too_many


def make_blueprint(config: Mapping[str, Any]) -> Blueprint:
    """The ``linkback`` blueprint, its URLs taken from the app's config."""
    bp = Blueprint("linkback", "flask_linkback", template_folder="templates")
    bp.add_url_rule(config["LINKBACK_XMLRPC_URL"], "xmlrpc", pingback.xmlrpc_endpoint,
                    methods=["GET", "POST"])
    bp.add_url_rule(config["LINKBACK_TRACKBACK_URL"].rstrip("/") + "/<post_id>", "trackback",
                    trackback.trackback_endpoint, methods=["GET", "POST"])
    tables.register(bp)
    bp.before_request(limit_by_ip)
    webmention_url = config["LINKBACK_WEBMENTION_URL"].rstrip("/") or "/webmention"
    bp.add_url_rule(webmention_url, "webmention", webmention.webmention_endpoint,
                    methods=["GET", "POST"])
    bp.add_url_rule(webmention_url + "/status/<token>", "webmention_status", webmention.status_view)
    return bp


def limit_by_ip() -> Response | None:
    """``before_request`` of the endpoints: a POST over the per-IP limit gets HTTP 429."""
    if request.method != "POST":
        return None
    try:
        current_state().rate_limits.check_ip(request.remote_addr)
    except RateLimited as limited:
        current_app.logger.info("linkback rate limit: %s", loggable(limited.message))
        if request.endpoint == "linkback.trackback":
            response = trackback.answer(limited.message, 429)
            response.headers["Retry-After"] = str(limited.retry_after)
            return response
        return too_many(limited)
    return None

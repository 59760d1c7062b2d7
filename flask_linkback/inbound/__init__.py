"""Receiving linkbacks: one blueprint with the protocol endpoints."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Blueprint

from .. import tables
from . import pingback, trackback, webmention
from .ratelimit import limit_by_ip


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

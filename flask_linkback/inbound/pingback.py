"""Pingback 1.0 intake: the XML-RPC endpoint.

Serves ``pingback.ping``, ``pingback.extensions.getPingbacks`` and
``system.listMethods``; never ``system.multicall`` (one request, one fetch).
Bodies are capped before parsing and parsed with defusedxml's expat parser.
"""

from __future__ import annotations

import inspect
import logging
import xmlrpc.client
from collections.abc import Callable
from typing import Any
from xml.parsers.expat import ExpatError

from defusedxml import DefusedXmlException
from defusedxml.xmlrpc import DefusedExpatParser
from flask import Response, current_app, request

from ..logtext import loggable
from ..models import Kind, Status
from ..state import current_state
from ..tables import missing_tables_response
from .body import BodyTooLarge, read_body
from .queue import submit
from .ratelimit import RateLimited, too_many
from .receive import Intake, Reason, Refusal, clean_url, resolve_target

logger = logging.getLogger("flask_linkback")

PARSE_ERROR = -32700
METHOD_NOT_FOUND = -32601
UNMASKED_FAULTS = frozenset({Reason.ALREADY_REGISTERED, Reason.UPSTREAM})


def parse_call(body: bytes) -> tuple[tuple[Any, ...], str | None]:
    """Parse an XML-RPC call with DTDs, entities and external references forbidden."""
    unmarshaller = xmlrpc.client.Unmarshaller()
    parser = DefusedExpatParser(unmarshaller, forbid_dtd=True)
    parser.feed(body)
    parser.close()
    return unmarshaller.close(), unmarshaller.getmethodname()


def xmlrpc_endpoint() -> Response:
    if request.method != "POST":
        return Response("XML-RPC server accepts POST requests only.\n", 405,
                        {"Allow": "POST"}, mimetype="text/plain")
    try:
        body = read_body()
    except BodyTooLarge as error:
        return Response(f"{error}\n", 413, mimetype="text/plain")
    try:
        params, method = parse_call(body)
    except (ExpatError, DefusedXmlException, xmlrpc.client.ResponseError, ValueError, TypeError,
            IndexError, KeyError, OverflowError):
        return _fault(PARSE_ERROR, "parse error: not a well-formed XML-RPC call")
    handler = METHODS.get(method or "")
    if handler is None:
        return _fault(METHOD_NOT_FOUND, f"server error: requested method {method} does not exist")
    try:
        inspect.signature(handler).bind(*params)
    except TypeError:
        return _fault(Reason.GENERIC, f"{method}: wrong number of parameters")
    try:
        result = handler(*params)
    except Refusal as refusal:
        return _refusal(refusal)
    except Exception as error:
        missing = missing_tables_response(error)
        if missing is not None:
            return missing
        # The caller gets a fault, not a traceback; the log gets the traceback.
        logger.exception("%s failed", loggable(method))
        return _fault(Reason.GENERIC, "internal error")
    return _response(xmlrpc.client.dumps((result,), methodresponse=True, encoding="utf-8"))


def ping(source: Any, target: Any) -> str:
    if not isinstance(source, str) or not isinstance(target, str):
        raise Refusal(Reason.GENERIC, "pingback.ping takes two strings: sourceURI and targetURI")
    intake = Intake(Kind.PINGBACK, source, target, sender_ip=request.remote_addr)
    _, outcome = submit(intake, wait=current_app.config["LINKBACK_PINGBACK_WAIT"])
    if outcome is None:
        # Verification takes longer than the wait budget (or no slot is free): the
        # queue decides later; the sender cannot learn that verdict (see the docs).
        return QUEUED_ANSWER
    if outcome.refusal is not None:
        raise outcome.refusal
    return SUCCESS_ANSWER


#: Senders never parse these; they are for people reading a client's log.
SUCCESS_ANSWER = "Thanks: the pingback was verified and received."
QUEUED_ANSWER = "Thanks: the pingback was received and is queued for verification."


def get_pingbacks(url: Any) -> list[str]:
    """The sources that pinged ``url``: approved ones only (WordPress leaks pending and spam)."""
    if not isinstance(url, str):
        raise Refusal(Reason.GENERIC, "pingback.extensions.getPingbacks takes one string: the URL")
    _, info = resolve_target(clean_url(url))
    Linkback = current_state().models.IncomingLinkback
    rows = (Linkback.query.filter_by(post_id=info.id, status=Status.APPROVED.value)
            .order_by(Linkback.created_at, Linkback.id))
    return [row.source_url for row in rows]


def list_methods() -> list[str]:
    return sorted(METHODS)


METHODS: dict[str, Callable[..., Any]] = {
    "pingback.ping": ping,
    "pingback.extensions.getPingbacks": get_pingbacks,
    "system.listMethods": list_methods,
}


def _refusal(refusal: Refusal) -> Response:
    if isinstance(refusal, RateLimited):
        return too_many(refusal)
    masked = current_app.config["LINKBACK_PINGBACK_MASK_FAULTS"]
    if masked and refusal.reason not in UNMASKED_FAULTS:
        # As WordPress since 3.5.1: callers learn nothing; the log keeps the reason.
        return _fault(0, "")
    return _fault(int(refusal.reason), refusal.message)


def _fault(code: int, message: str) -> Response:
    return _response(xmlrpc.client.dumps(xmlrpc.client.Fault(int(code), message),
                                         methodresponse=True, encoding="utf-8"))


def _response(xml: str) -> Response:
    return Response(xml, 200, content_type="text/xml; charset=utf-8")

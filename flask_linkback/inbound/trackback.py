"""TrackBack 1.2 intake: one URL per post, form-encoded POSTs, XML answers.

The form is decoded by the charset the sender names (the Content-Type's
``charset`` parameter, else a ``charset`` form field as WordPress reads),
else UTF-8 with an ISO-8859-1 fallback. UTF-7 is refused: it smuggles markup.
"""

from __future__ import annotations

import codecs
import html
import logging
from urllib.parse import unquote_to_bytes
from xml.sax.saxutils import escape

from flask import Response, current_app, render_template, request, url_for

from .. import signals
from ..models import Kind, utcnow
from ..settings import current_settings
from ..signals import current_app_object
from ..state import current_state
from ..tables import missing_tables_response
from .body import BodyTooLarge, read_body
from .queue import QueueFull, submit
from .ratelimit import RateLimited
from .receive import Intake, Refusal

FIELDS = ("url", "title", "excerpt", "blog_name", "charset")
# Senders (WordPress among them) put HTML entities in these; we store text.
ENTITY_FIELDS = ("title", "excerpt", "blog_name")

logger = logging.getLogger("flask_linkback")


class FormError(ValueError):
    pass


def trackback_endpoint(post_id: str) -> Response:
    try:
        return _trackback(post_id)
    except Exception as error:
        missing = missing_tables_response(error)
        if missing is not None:
            return missing
        # The sender gets a TrackBack answer, not a traceback; the log gets the traceback.
        logger.exception("TrackBack to post %r failed", post_id)  # %r escapes control characters
        return answer("internal error", 500)


def _trackback(post_id: str) -> Response:
    state = current_state()
    post = state.callbacks.load(post_id)
    info = state.callbacks.describe(post) if post is not None else None
    if info is None or not info.public or (info.published_at and info.published_at > utcnow()):
        # Drafts and scheduled posts do not exist yet for the outside world.
        return answer("there is no post with this TrackBack URL", 404)
    if request.method != "POST":
        return Response(render_template("linkback/trackback.html", post=info,
                                        trackback_url=trackback_url(info.id)))
    try:
        form = parse_form(read_body(), request.mimetype_params.get("charset"))
    except BodyTooLarge as error:
        return answer(str(error), 413)
    except FormError as error:
        return answer(str(error))
    if not info.pings_open:
        return _refused(form, info.url, "TrackBacks are closed on this post")
    if not form.get("url", "").strip():
        return _refused(form, info.url,
                        "the url field is required: the URL of the post that links here")
    intake = Intake(
        Kind.TRACKBACK,
        source=form["url"],
        target=info.url,
        sender_ip=request.remote_addr,
        title=form.get("title"),
        excerpt=form.get("excerpt"),
        blog_name=form.get("blog_name"),
        require_link=current_settings().trackback_require_link,
    )
    try:
        # TrackBack has no "queued" answer: within the wait budget the sender hears
        # the verdict; after it, error 0 and the queue decides.
        _, outcome = submit(intake, post, wait=current_app.config["LINKBACK_PINGBACK_WAIT"])
        if outcome is not None and outcome.refusal is not None:
            raise outcome.refusal
    except Refusal as refusal:
        if isinstance(refusal, (RateLimited, QueueFull)):
            response = answer(refusal.message, 429 if isinstance(refusal, RateLimited) else 503)
            response.headers["Retry-After"] = str(refusal.retry_after)
            return response
        return answer(refusal.message)
    return answer()


def _refused(form: dict[str, str], target: str, reason: str) -> Response:
    """Tell ``linkback_refused`` receivers (the refusal log), then answer the error."""
    signals.linkback_refused.send(current_app_object(), kind=Kind.TRACKBACK,
                                  source=form.get("url", ""), target=target, reason=reason)
    return answer(reason)


def trackback_url(post_id: str) -> str:
    return url_for("linkback.trackback", post_id=post_id, _external=True)


def parse_form(body: bytes, header_charset: str | None) -> dict[str, str]:
    """Decode a TrackBack form by its declared charset; :class:`FormError` says what is wrong."""
    raw: dict[str, bytes] = {}
    for pair in body.split(b"&"):
        if not pair:
            continue
        name, _, value = pair.partition(b"=")
        key = unquote_to_bytes(name.replace(b"+", b" ")).decode("ascii", "replace")
        if key in FIELDS and key not in raw:
            raw[key] = unquote_to_bytes(value.replace(b"+", b" "))
    declared = header_charset or raw.get("charset", b"").decode("ascii", "replace").strip()
    encodings = [_codec(declared)] if declared else ["utf-8", "iso-8859-1"]
    for encoding in encodings:
        try:
            form = {key: value.decode(encoding) for key, value in raw.items()}
        except ValueError:  # UnicodeDecodeError, or a codec's own complaint
            continue
        for key in ENTITY_FIELDS:
            if key in form:
                form[key] = html.unescape(form[key])
        return form
    raise FormError(f"the ping is not valid {declared or 'UTF-8'} text")


#: Python text codecs that are no charset a sender could mean: escape decoders that turn
#: ``\x3c`` into markup, IDNA/punycode host-name transforms (punycode raises on most input),
#: ``undefined`` (raises on everything) and ``charmap`` (no table: a Latin-1 in disguise).
NOT_CHARSETS = frozenset({"unicode-escape", "raw-unicode-escape", "punycode", "idna", "undefined",
                          "charmap"})


def _codec(name: str) -> str:
    """The Python codec for a declared charset; only real text encodings of web pages pass."""
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):  # ValueError: a name with NUL in it
        raise FormError(f"unknown charset {name!r}") from None
    codec = info.name
    if not getattr(info, "_is_text_encoding", True) or codec in NOT_CHARSETS:
        # hex, rot13, zlib, unicode_escape, punycode ...: codecs, not charsets
        raise FormError(f"unknown charset {name!r}")
    if codec == "utf-7":
        raise FormError("the UTF-7 charset is not accepted")
    return codec


def answer(error: str | None = None, status: int = 200) -> Response:
    """The TrackBack 1.2 response: error 0, or error 1 with a message."""
    if error is None:
        body = "<error>0</error>\n"
    else:
        body = f"<error>1</error>\n<message>{escape(error)}</message>\n"
    xml = f'<?xml version="1.0" encoding="utf-8"?>\n<response>\n{body}</response>\n'
    return Response(xml, status, content_type="text/xml; charset=utf-8")

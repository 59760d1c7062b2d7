"""Read a request body with a hard cap, before any parser sees it."""

from __future__ import annotations

from flask import current_app, request


class BodyTooLarge(Exception):
    pass


def read_body() -> bytes:
    """The request body, or :class:`BodyTooLarge` past LINKBACK_MAX_REQUEST_BYTES.

    A declared Content-Length over the cap is refused without reading; a
    chunked body is read only up to one byte past the cap.
    """
    limit = current_app.config["LINKBACK_MAX_REQUEST_BYTES"]
    if request.content_length is not None and request.content_length > limit:
        raise BodyTooLarge(f"the request body is over {limit} bytes")
    data = request.stream.read(limit + 1)
    if len(data) > limit:
        raise BodyTooLarge(f"the request body is over {limit} bytes")
    return data

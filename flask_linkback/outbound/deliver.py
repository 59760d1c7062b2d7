"""Send one ping and say what happened: sent, retry later, or give up.

Pingback is ``pingback.ping(source, target)`` over XML-RPC, POSTed through
the safe fetcher and its answer parsed with defusedxml. TrackBack is a form
POST with ``title``, ``excerpt``, ``url``, ``blog_name`` and the charset both
in the Content-Type and as a ``charset`` field (WordPress reads the field);
its ``<error>`` answer is parsed. The classification follows the Pingback
fault codes and what WordPress really answers (see the README).
"""

from __future__ import annotations

import enum
import xmlrpc.client
from dataclasses import dataclass
from urllib.parse import urlencode
from xml.parsers.expat import ExpatError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from defusedxml.xmlrpc import DefusedExpatParser

from ..fetch import (
    AddressRefused,
    FetchError,
    FetchLimits,
    FetchTimeout,
    TooManyRedirects,
    UnsupportedURL,
    fetch,
)
from .webmention import send_webmention

#: Faults that end the matter: the receiver will never accept this ping.
PERMANENT_FAULTS = frozenset({0, 16, 17, 32, 33, 49, 409})
#: "Already registered": the receiver has it, which is what we wanted.
DONE_FAULTS = frozenset({48})
#: The receiver could not reach us or an upstream: try again later.
TRANSIENT_FAULTS = frozenset({50})
#: Fetch errors no later attempt can mend: the address policy refuses the host, the URL is not
#: http(s), or the redirects go round in a loop (or past the cap) -- at discovery or delivery.
PERMANENT_FETCH_ERRORS: tuple[type[FetchError], ...] = (AddressRefused, UnsupportedURL,
                                                         TooManyRedirects)
#: WordPress's comment-flood answer: try again, spaced per receiving host.
RATE_LIMITED = 429
TRACKBACK_EXCERPT_CHARS = 255
_KEEP_RESPONSE = 2000


class Result(enum.StrEnum):
    SENT = "sent"
    PERMANENT = "permanent"
    TRANSIENT = "transient"
    RATE_LIMITED = "rate-limited"
    UNSUPPORTED = "unsupported"


@dataclass(frozen=True)
class Outcome:
    """What one delivery attempt came to, with the reason a person can read."""

    result: Result
    message: str
    response: str = ""
    #: A webmention receiver's status URL, when it gave one.
    location: str | None = None
    #: The HTTP status of an answer that was not a success, when that decided the outcome.
    http_status: int | None = None

    @property
    def refused_by_http(self) -> bool:
        """A 4xx (but 429) from the endpoint: it may have moved, or refuses for good."""
        return self.http_status is not None and 400 <= self.http_status < 500 \
            and self.http_status != RATE_LIMITED


def send_pingback(endpoint: str, source: str, target: str, limits: FetchLimits) -> Outcome:
    body = xmlrpc.client.dumps((source, target), "pingback.ping", encoding="utf-8").encode("utf-8")
    try:
        answer = fetch(endpoint, limits, method="POST", data=body,
                       headers={"Content-Type": "text/xml; charset=utf-8",
                                "Accept": "text/xml, application/xml;q=0.9, */*;q=0.1"})
    except FetchError as error:
        return _fetch_failed(error)
    text = answer.content[:_KEEP_RESPONSE].decode("utf-8", "replace")
    http = _http_problem(answer.status, text)
    if http is not None:
        return http
    try:
        value = parse_response(answer.content)
    except xmlrpc.client.Fault as fault:
        return classify_fault(fault.faultCode, str(fault.faultString), text)
    except (ExpatError, DefusedXmlException, xmlrpc.client.ResponseError, ValueError, TypeError,
            IndexError, KeyError, OverflowError):
        return Outcome(Result.TRANSIENT, "the Pingback endpoint did not answer with XML-RPC", text)
    return Outcome(Result.SENT, str(value)[:300], text)


def deliver_webmention(endpoint: str, source: str, target: str, limits: FetchLimits) -> Outcome:
    """POST the webmention; any 2xx is success (a 201/202 ``Location`` is kept in the message).

    4xx other than 429 is permanent (the receiver refused it); 5xx, 429 and
    timeouts are retried like any other ping.
    """
    try:
        answer = send_webmention(endpoint, source, target, limits)
    except FetchError as error:
        return _fetch_failed(error)
    text = answer.body[:_KEEP_RESPONSE].decode("utf-8", "replace")
    if answer.ok:
        return Outcome(Result.SENT, f"HTTP {answer.status}: webmention accepted", text,
                       answer.location[:2048] if answer.location else None)
    http = _http_problem(answer.status, text)
    return http or Outcome(Result.PERMANENT, f"HTTP {answer.status}: not a webmention answer", text,
                           http_status=answer.status)


def parse_response(body: bytes) -> object:
    """The value of an XML-RPC method response; raises ``xmlrpc.client.Fault`` for a fault.

    DTDs, entities and external references are refused (defusedxml).
    """
    unmarshaller = xmlrpc.client.Unmarshaller()
    parser = DefusedExpatParser(unmarshaller, forbid_dtd=True)
    parser.feed(body)
    parser.close()
    values = unmarshaller.close()
    return values[0] if values else None


def classify_fault(code: object, message: str, response: str = "") -> Outcome:
    text = f"fault {code}: {message}".strip().rstrip(":")
    if code in DONE_FAULTS:
        return Outcome(Result.SENT, f"already registered ({text})", response)
    if code == RATE_LIMITED:
        return Outcome(Result.RATE_LIMITED, text, response)
    if code in TRANSIENT_FAULTS:
        return Outcome(Result.TRANSIENT, text, response)
    return Outcome(Result.PERMANENT, text, response)


def send_trackback(trackback_url: str, *, source: str, title: str, excerpt: str, blog_name: str,
                   limits: FetchLimits) -> Outcome:
    excerpt = " ".join(excerpt.split())
    if len(excerpt) > TRACKBACK_EXCERPT_CHARS:
        excerpt = excerpt[: TRACKBACK_EXCERPT_CHARS - 1].rstrip() + "…"
    form = {"title": title or source, "excerpt": excerpt, "url": source, "blog_name": blog_name,
            "charset": "utf-8"}
    try:
        answer = fetch(trackback_url, limits, method="POST", data=urlencode(form).encode("ascii"),
                       headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
                                "Accept": "text/xml, application/xml;q=0.9, */*;q=0.1"})
    except FetchError as error:
        return _fetch_failed(error)
    text = answer.content[:_KEEP_RESPONSE].decode("utf-8", "replace")
    if answer.status == 429 or answer.status >= 500:
        return _http_problem(answer.status, text) or Outcome(Result.TRANSIENT, "", text)
    try:
        code, message = parse_trackback_answer(answer.content)
    except ValueError as problem:
        return Outcome(Result.PERMANENT, f"HTTP {answer.status}: {problem}", text)
    if code == "0" and answer.ok:
        return Outcome(Result.SENT, "TrackBack accepted", text)
    return Outcome(Result.PERMANENT,
                   message or f"TrackBack refused (error {code}, HTTP {answer.status})",
                   text)


def parse_trackback_answer(body: bytes) -> tuple[str, str]:
    """``(error, message)`` from a TrackBack ``<response>``; ValueError when it is not one."""
    if not body.strip():
        raise ValueError("the TrackBack URL gave an empty answer")
    try:
        root = fromstring(body, forbid_dtd=True)
    except (DefusedXmlException, SyntaxError) as error:
        raise ValueError(f"not a TrackBack answer ({error})") from None
    code = root.findtext("error")
    if root.tag != "response" or code is None:
        raise ValueError("not a TrackBack answer (no <response><error>)")
    return code.strip(), " ".join((root.findtext("message") or "").split())[:300]


def _fetch_failed(error: FetchError) -> Outcome:
    if isinstance(error, PERMANENT_FETCH_ERRORS):
        return Outcome(Result.PERMANENT, f"the request cannot be sent: {error}")
    kind = "timed out" if isinstance(error, FetchTimeout) else "failed"
    return Outcome(Result.TRANSIENT, f"the request {kind}: {error}")


def _http_problem(status: int, text: str) -> Outcome | None:
    if status == 429:
        return Outcome(Result.RATE_LIMITED, "HTTP 429: too many requests", text, http_status=status)
    if status >= 500:
        return Outcome(Result.TRANSIENT, f"HTTP {status}", text, http_status=status)
    if status >= 400:
        return Outcome(Result.PERMANENT, f"HTTP {status}", text, http_status=status)
    return None

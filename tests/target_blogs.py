"""Blogs that receive our outgoing pings: small Flask apps on 127.0.0.1 that record every call.

Their XML-RPC endpoint parses calls with the stdlib ``xmlrpc.client.loads``;
their TrackBack endpoint reads the form as WordPress does. What each answers
can be scripted per call, so tests can make a target fail then succeed.
"""

from __future__ import annotations

import threading
import time
import xmlrpc.client
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from conftest import LiveServer
from flask import Flask, Response, request

OK = "ok"


def fault(code: int, message: str = "refused") -> Callable[[], Response]:
    return lambda: _xml(
        xmlrpc.client.dumps(xmlrpc.client.Fault(code, message), methodresponse=True)
    )


def http(status: int, body: str = "error") -> Callable[[], Response]:
    return lambda: Response(body, status, mimetype="text/plain")


def trackback_error(message: str, status: int = 200) -> Callable[[], Response]:
    body = ('<?xml version="1.0" encoding="utf-8"?>\n<response>\n<error>1</error>\n'
            f"<message>{message}</message>\n</response>\n")
    return lambda: Response(body, status, content_type="text/xml")


@dataclass
class Call:
    kind: str  # "pingback", "trackback" or "webmention"
    path: str
    params: tuple[Any, ...] = ()
    form: dict[str, list[str]] = field(default_factory=dict)
    content_type: str = ""
    user_agent: str = ""
    at: float = field(default_factory=time.time)  # when it arrived (wall clock)


class TargetBlog:
    """A receiving blog. ``post(path, ...)`` adds a page; ``calls`` holds every ping received."""

    def __init__(self) -> None:
        self.server = LiveServer(self._make_app())
        self.url = self.server.url
        self.calls: list[Call] = []
        self.page_hits: dict[str, int] = {}
        self.answers: list[Callable[[], Response] | str] = []
        self.pages: dict[str, tuple[str, dict[str, str]]] = {}
        self.delay = 0.0
        self.in_flight = 0
        self.most_in_flight = 0  # the most pings this blog was handling at once
        self._changed = threading.Condition()
        self._hold = threading.Event()

    def start(self) -> TargetBlog:
        self.server.start()
        return self

    def stop(self) -> None:
        self._hold.set()
        self.server.stop()

    def post(
        self,
        path: str,
        discovery: str = "header",
        endpoint: str = "/xmlrpc",
        webmention: str | None = None,
    ) -> str:
        """A post page advertising ``endpoint`` by ``discovery`` ("header", "link" or "none"),
        and a Webmention endpoint by a ``<link>`` when ``webmention`` is a path."""
        head, headers = "", {}
        if discovery == "header":
            headers["X-Pingback"] = self.url + endpoint
        elif discovery == "link":
            head = f'<link rel="pingback" href="{endpoint}">'
        if webmention is not None:
            head += f'<link rel="webmention" href="{webmention}">'
        self.pages[path] = (
            (
                f"<!doctype html><html><head><title>{path}</title>{head}</head>"
                f"<body><p>A post at {path}.</p></body></html>"
            ),
            headers,
        )
        return self.url + path

    def pingbacks(self) -> list[tuple[Any, ...]]:
        return [call.params for call in self.calls if call.kind == "pingback"]

    def webmentions(self) -> list[tuple[str, str]]:
        """(source, target) of each webmention received, in order."""
        return [
            (call.form["source"][0], call.form["target"][0])
            for call in self.calls
            if call.kind == "webmention"
        ]

    def wait_for_calls(self, count: int, timeout: float = 10.0) -> bool:
        """Block until ``count`` pings arrived (True) or ``timeout`` passed (False)."""
        with self._changed:
            return self._changed.wait_for(lambda: len(self.calls) >= count, timeout)

    def _record(self, call: Call) -> Response:
        with self._changed:
            answer = self.answers.pop(0) if self.answers else OK
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        if self.delay:
            self._hold.wait(self.delay)
        with self._changed:
            self.in_flight -= 1
            self.calls.append(call)
            self._changed.notify_all()
        if callable(answer):
            return answer()
        if call.kind == "webmention":
            return Response("accepted", 202, {"Location": f"/status/{len(self.calls)}"})
        if call.kind == "trackback":
            return Response(
                '<?xml version="1.0" encoding="utf-8"?>\n'
                "<response>\n<error>0</error>\n</response>\n",
                content_type="text/xml",
            )
        return _xml(
            xmlrpc.client.dumps(
                ("Pingback registered. Keep the web talking! :-)",), methodresponse=True
            )
        )

    def _make_app(self) -> Flask:
        app = Flask("target_blog")

        @app.post("/xmlrpc")
        @app.post("/rpc/<name>")
        def xmlrpc_endpoint(name: str = "") -> Response:
            params, method = xmlrpc.client.loads(request.get_data())
            assert method == "pingback.ping"
            return self._record(
                Call(
                    "pingback",
                    request.path,
                    params,
                    content_type=request.content_type or "",
                    user_agent=request.user_agent.string,
                )
            )

        @app.post("/trackback/<name>")
        @app.post("/trackback/<name>/")
        def trackback_endpoint(name: str) -> Response:
            return self._record(
                Call(
                    "trackback",
                    request.path,
                    form=request.form.to_dict(flat=False),
                    content_type=request.content_type or "",
                )
            )

        @app.post("/webmention")
        @app.post("/wm/<name>")
        @app.post("/wm/<name>/")
        def webmention_endpoint(name: str = "") -> Response:
            return self._record(
                Call(
                    "webmention",
                    request.full_path.rstrip("?"),
                    form=request.form.to_dict(flat=False),
                    content_type=request.content_type or "",
                    user_agent=request.user_agent.string,
                )
            )

        @app.route("/<path:path>")
        def page(path: str) -> Response:
            path = "/" + path
            self.page_hits[path] = self.page_hits.get(path, 0) + 1
            if path not in self.pages:
                return Response("not found", 404)
            body, headers = self.pages[path]
            return Response(body, 200, headers=headers, content_type="text/html; charset=utf-8")

        return app


def _xml(body: str) -> Response:
    return Response(body, 200, content_type="text/xml")


@pytest.fixture
def target_blogs() -> Iterator[Callable[[], TargetBlog]]:
    """A factory of running target blogs, each on its own port; all stopped at the end."""
    started: list[TargetBlog] = []

    def make() -> TargetBlog:
        blog = TargetBlog().start()
        started.append(blog)
        return blog

    yield make
    for blog in started:
        blog.stop()

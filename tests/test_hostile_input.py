"""What the open internet sends to linkback endpoints.

Each gets a quick, clear error and stores nothing.
"""

from __future__ import annotations

import logging
import socket
import time
import xmlrpc.client
from typing import Any

import pytest
import requests
from defusedxml import ElementTree

from flask_linkback.logtext import loggable

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<methodCall><methodName>pingback.ping</methodName><params>
<param><value><string>&lol9;</string></value></param>
<param><value><string>&lol9;</string></value></param>
</params></methodCall>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<methodCall><methodName>pingback.ping</methodName><params>
<param><value><string>&secret;</string></value></param>
<param><value><string>http://127.0.0.1/</string></value></param>
</params></methodCall>"""


def post_xmlrpc(blog: Any, body: bytes) -> requests.Response:
    return requests.post(
        blog.url + "/xmlrpc", data=body, headers={"Content-Type": "text/xml"}, timeout=10
    )


def fault_code(response: requests.Response) -> int:
    with pytest.raises(xmlrpc.client.Fault) as info:
        xmlrpc.client.loads(response.content)
    return info.value.faultCode


@pytest.mark.parametrize(
    "body", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["entity-expansion", "external-entity"]
)
def test_xml_with_entities_is_a_parse_fault_and_stores_nothing(blog, body):
    started = time.monotonic()
    response = post_xmlrpc(blog, body)

    assert response.status_code == 200
    assert fault_code(response) == -32700
    assert b"root:" not in response.content
    assert time.monotonic() - started < 5
    assert blog.linkbacks() == []


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not xml at all",
        b"<methodCall><methodName>pingback.ping</methodName>",
        b"<methodCall><params><param><value><int>99999999999999999999</int></value></param></params></methodCall>",
        "<methodCall><methodName>pingback.ping</methodName><params><param><value><struct>"
        "<member><name>x</name><value><string>é</string></value></member></struct></value></param>"
        "</params></methodCall>".encode(),
    ],
    ids=["empty", "garbage", "truncated", "huge-int", "struct-argument"],
)
def test_malformed_xmlrpc_gets_a_fault_not_a_server_error(blog, body):
    response = post_xmlrpc(blog, body)

    assert response.status_code == 200
    assert fault_code(response) in (-32700, -32601, 0)
    assert blog.linkbacks() == []


def _raw_post(url: str, path: str, headers: dict[str, str], chunks: Any) -> bytes:
    """Send a request by hand (to keep sending after the server has answered) and return the
    answer."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            + "".join(f"{name}: {value}\r\n" for name, value in headers.items())
            + "\r\n"
        )
        sock.sendall(head.encode())
        try:
            for chunk in chunks:
                sock.sendall(chunk)
        except OSError:
            pass  # the server may close as soon as it has refused the body
        answer = b""
        while b"\r\n\r\n" not in answer:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
        return answer


MEGABYTE = b"x" * 1_000_000


@pytest.mark.parametrize("path", ["/xmlrpc", "/trackback/1"])
def test_twenty_megabyte_body_is_refused_with_413(blog, path):
    blog.add_post("open")
    started = time.monotonic()

    answer = _raw_post(
        blog.url,
        path,
        {"Content-Type": "text/xml", "Content-Length": str(20 * len(MEGABYTE))},
        (MEGABYTE for _ in range(20)),
    )

    assert answer.startswith(b"HTTP/1.1 413"), answer[:100]
    assert time.monotonic() - started < 10
    assert blog.linkbacks() == []


def test_chunked_body_over_the_cap_is_refused_with_413(blog):
    def chunks():
        for _ in range(20):
            yield b"%x\r\n%s\r\n" % (len(MEGABYTE), MEGABYTE)
        yield b"0\r\n\r\n"

    answer = _raw_post(
        blog.url, "/xmlrpc", {"Content-Type": "text/xml", "Transfer-Encoding": "chunked"}, chunks()
    )

    assert answer.startswith(b"HTTP/1.1 413"), answer[:100]
    assert blog.linkbacks() == []


def test_source_that_trickles_forever_is_fault_50_within_the_time_limit(
    app_config, source_site, request
):
    app_config["LINKBACK_FETCH_TIMEOUT"] = 1.0
    blog = request.getfixturevalue("blog")
    blog.add_post("open")

    def trickle():
        yield f'<html><title>slow</title><a href="{blog.post_url("open")}">x</a>'.encode()
        while not source_site.stop.wait(0.05):
            yield b" "

    source = source_site.page("/slow", trickle)
    started = time.monotonic()

    with pytest.raises(xmlrpc.client.Fault) as info:
        xmlrpc.client.ServerProxy(blog.url + "/xmlrpc").pingback.ping(source, blog.post_url("open"))

    assert info.value.faultCode == 50
    assert time.monotonic() - started < 5
    assert blog.linkbacks() == []


LOOPBACK_SPELLINGS = ["127.0.0.1", "127.1", "2130706433", "[::1]", "localhost"]


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS)
def test_source_on_a_loopback_spelling_is_refused_when_private_addresses_are_off(
    app_config, source_site, request, host
):
    app_config["LINKBACK_ALLOW_PRIVATE_ADDRESSES"] = False
    blog = request.getfixturevalue("blog")
    blog.add_post("open")
    source_site.linking_page("/s", blog.post_url("open"))
    source = f"http://{host}:{source_site.server.port}/s"

    with pytest.raises(xmlrpc.client.Fault) as info:
        xmlrpc.client.ServerProxy(blog.url + "/xmlrpc").pingback.ping(source, blog.post_url("open"))

    assert info.value.faultCode == 49
    assert "not a public address; refused" in info.value.faultString
    if host not in ("127.0.0.1", "[::1]"):  # how the name resolved is not the sender's to know
        assert "127.0.0.1" not in info.value.faultString and "::1" not in info.value.faultString
    assert source_site.hits("/s") == 0
    assert blog.linkbacks() == []


def test_trackback_from_a_loopback_source_is_refused_when_private_addresses_are_off(
    app_config, source_site, request
):
    app_config["LINKBACK_ALLOW_PRIVATE_ADDRESSES"] = False
    blog = request.getfixturevalue("blog")
    post = blog.add_post("open")
    source = source_site.linking_page("/s", blog.post_url("open"))

    response = requests.post(
        f"{blog.url}/trackback/{post.id}", data={"url": source, "title": "t"}, timeout=10
    )

    answer = ElementTree.fromstring(response.content)
    assert answer.findtext("error") == "1"
    assert "not a public address; refused" in answer.findtext("message")
    assert source_site.hits("/s") == 0
    assert blog.linkbacks() == []


@pytest.mark.parametrize(
    "source", ["javascript:alert(1)", "file:///etc/passwd", "data:text/html,<a>", "//no-scheme/"]
)
def test_non_http_source_is_refused_without_fetching(blog, source):
    blog.add_post("open")

    with pytest.raises(xmlrpc.client.Fault) as info:
        xmlrpc.client.ServerProxy(blog.url + "/xmlrpc").pingback.ping(source, blog.post_url("open"))

    assert info.value.faultCode == 16
    assert blog.linkbacks() == []


@pytest.mark.parametrize("url", ["javascript:alert(1)", "file:///etc/passwd"])
def test_trackback_with_non_http_url_is_refused(blog, url):
    post = blog.add_post("open")

    response = requests.post(
        f"{blog.url}/trackback/{post.id}", data={"url": url, "title": "t"}, timeout=10
    )

    answer = ElementTree.fromstring(response.content)
    assert answer.findtext("error") == "1"
    assert answer.findtext("message")
    assert blog.linkbacks() == []


FORGED_LINE = (
    "INFO flask_linkback: pingback stored: http://evil.example/ -> /posts/open as approved"
)


@pytest.mark.parametrize("protocol", ["pingback", "trackback"])
def test_a_newline_in_a_refused_source_url_does_not_forge_a_log_line(blog, caplog, protocol):
    post = blog.add_post("open")
    source = f"http://127.0.0.1:9/a\n{FORGED_LINE}\u2028{FORGED_LINE}"
    client = blog.app.test_client()

    with caplog.at_level(logging.INFO, logger="flask_linkback"):
        if protocol == "pingback":
            call = xmlrpc.client.dumps((source, blog.post_url("open")), "pingback.ping")
            response = client.post("/xmlrpc", data=call.encode("utf-8"), content_type="text/xml")
            with pytest.raises(xmlrpc.client.Fault) as info:
                xmlrpc.client.loads(response.data)
            assert info.value.faultCode == 16
        else:
            response = client.post(f"/trackback/{post.id}", data={"url": source})
            assert ElementTree.fromstring(response.data).findtext("error") == "1"

    lines = [record.getMessage() for record in caplog.records if record.name == "flask_linkback"]
    refused = [line for line in lines if "refused" in line]
    assert len(refused) == 1
    assert f"/a\\n{FORGED_LINE}\\u2028{FORGED_LINE}" in refused[0]
    assert not any(separator in line for line in lines for separator in ("\n", "\r", "\u2028"))
    assert blog.linkbacks() == []


@pytest.mark.parametrize(
    "text, logged",
    [
        ("http://a.example/\r\nforged", "http://a.example/\\r\\nforged"),
        ("tab\there", "tab\\there"),
        ("\x1b[31mred", "\\x1b[31mred"),
        ("next\x85line\u2029para", "next\\x85line\\u2029para"),
        ("a literal \\n stays apart", "a literal \\\\n stays apart"),
        ("Café ☕", "Café ☕"),
    ],
)
def test_remote_text_is_escaped_for_log_lines(text, logged):
    assert loggable(text) == logged

"""A hostile reverse proxy on loopback: honest bytes to tools, tampered ones to browsers.

This is the attack on `intake-admin check-site` that a server (or anything in
front of it) can mount: tell a checking tool from an applicant's browser by
the request's headers, and show each what it expects. It forwards every
request to the real server and, for a client whose headers look like a real
browser's, passes the answer through `tamper` first.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

from harness.loopback import loopback_server

Headers = list[tuple[str, str]]
# (path, answer headers, answer body) -> (headers, body) for a browser.
Tamper = Callable[[str, Headers, bytes], tuple[Headers, bytes]]

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "te", "upgrade"}


def looks_like_a_browser(headers: dict[str, str]) -> bool:
    """What a tampering server keys on: a browser's User-Agent and the
    Fetch Metadata headers every current browser sends (a tool's urllib
    sends neither)."""
    agent = headers.get("user-agent", "")
    return agent.startswith("Mozilla/5.0") and "sec-fetch-dest" in headers


@dataclass
class ProxyLog:
    """What each kind of client was served (for the test's own assertions)."""

    to_browsers: list[str] = field(default_factory=list)
    to_others: list[str] = field(default_factory=list)


def sri384(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode("ascii")


def replace_script(path: str, new: bytes, old: bytes) -> Tamper:
    """Serve `new` instead of `old` at `path`, and rewrite its Subresource
    Integrity value wherever a page or script names it, so the browser runs it."""
    before, after = sri384(old).encode(), sri384(new).encode()

    def tamper(at: str, headers: Headers, body: bytes) -> tuple[Headers, bytes]:
        if at == path:
            return headers, new
        return headers, body.replace(before, after)

    return tamper


def replace_header(name: str, value: str) -> Tamper:
    """Send `value` for header `name` on every answer (bytes untouched)."""

    def tamper(at: str, headers: Headers, body: bytes) -> tuple[Headers, bytes]:
        kept = [(k, v) for k, v in headers if k.lower() != name.lower()]
        return [*kept, (name, value)], body

    return tamper


def _handler(upstream: str, tamper: Tamper | None, log: ProxyLog) -> type[BaseHTTPRequestHandler]:
    target = urlsplit(upstream)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            return

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            sent = {k.lower(): v for k, v in self.headers.items()}
            forward = {
                k: v
                for k, v in self.headers.items()
                if k.lower() not in _HOP_BY_HOP and k.lower() not in ("host", "accept-encoding")
            }
            conn = http.client.HTTPConnection(
                target.hostname or "127.0.0.1", target.port, timeout=60
            )
            try:
                conn.request(self.command, self.path, body=body, headers=forward)
                answer = conn.getresponse()
                data = answer.read()
                headers = [(k, v) for k, v in answer.getheaders() if k.lower() not in _HOP_BY_HOP]
                status = answer.status
            finally:
                conn.close()
            path = self.path.split("?", 1)[0]
            if tamper is not None and looks_like_a_browser(sent):
                headers, data = tamper(path, headers, data)
                log.to_browsers.append(path)
            else:
                log.to_others.append(path)
            self.send_response_only(status)
            for key, value in headers:
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_HEAD = _forward

    return Handler


@contextmanager
def tampering_proxy(upstream: str, tamper: Tamper | None) -> Iterator[tuple[str, ProxyLog]]:
    """A reverse proxy in front of `upstream` on a free loopback port; yields
    (its URL, its log). `tamper=None` makes it an honest proxy."""
    log = ProxyLog()
    with loopback_server(_handler(upstream, tamper, log)) as url:
        yield url, log

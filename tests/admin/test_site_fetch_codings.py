"""check-site --http and site-digest read what the server sends browsers.

The server prefers br (app/compression.py); the admin tools' standard-library
fetches (crypto/cli/transport.py `browser_get`) must read it, bounded like
gzip, and ask for it only when they can. A real HTTP server on loopback
answers with the bytes each test chooses.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import ClassVar

import brotli
import pytest

from crypto.cli import transport
from crypto.cli.common import ServerError
from harness.loopback import loopback_server

PAGE = b"<!doctype html><title>x</title>" + b"<p>encrypted before it is sent</p>" * 500

# path -> (Content-Encoding, body)
ANSWERS: dict[str, tuple[str, bytes]] = {
    "/br": ("br", brotli.compress(PAGE)),
    "/gzip": ("gzip", gzip.compress(PAGE)),
    "/br-cut": ("br", brotli.compress(PAGE)[:-8]),
    "/br-garbage": ("br", b"this is not brotli at all"),
    "/br-bomb": ("br", brotli.compress(b"\0" * (transport.MAX_ANSWER + 1))),
    "/zstd": ("zstd", b"(\xb5/\xfd whatever"),
}


class _Handler(BaseHTTPRequestHandler):
    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.seen.append(self.headers.get("Accept-Encoding", ""))
        coding, body = ANSWERS[self.path]
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Encoding", coding)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def origin() -> Iterator[str]:
    with loopback_server(_Handler) as url:
        yield url


@pytest.mark.parametrize("path", ["/br", "/gzip"])
def test_a_compressed_page_is_read_as_the_browser_reads_it(origin: str, path: str) -> None:
    answer = transport.browser_get(origin, path, "document")
    assert answer.status == 200
    assert answer.body == PAGE


def test_chromiums_accept_encoding_is_sent_when_br_can_be_read(origin: str) -> None:
    transport.browser_get(origin, "/br", "document")
    assert _Handler.seen[-1] == transport.CHROMIUM_ACCEPT_ENCODING == "gzip, deflate, br, zstd"


@pytest.mark.parametrize("path", ["/br-cut", "/br-garbage"])
def test_a_corrupt_br_answer_is_an_error_not_a_digest_of_garbage(origin: str, path: str) -> None:
    with pytest.raises(ServerError, match="corrupt"):
        transport.browser_get(origin, path, "document")


def test_a_br_answer_expanding_past_the_cap_is_refused(origin: str) -> None:
    with pytest.raises(ServerError, match="expands to more than"):
        transport.browser_get(origin, "/br-bomb", "document")


def test_a_coding_the_tool_cannot_read_is_named(origin: str) -> None:
    with pytest.raises(ServerError, match="zstd compression"):
        transport.browser_get(origin, "/zstd", "document")


@pytest.mark.parametrize("path", ["/br", "/gzip"])
def test_an_api_answer_sent_compressed_is_read_decoded(origin: str, path: str) -> None:
    # The server compresses the public manifest chain for browser-like
    # requests, which check-site sends: `request` hands back the decoded bytes.
    answer = transport.request(origin, "GET", path, headers=transport.browser_headers("fetch"))
    assert answer.body == PAGE


@pytest.mark.parametrize("path", ["/br-cut", "/br-garbage", "/br-bomb"])
def test_an_api_answer_that_does_not_decompress_is_refused(origin: str, path: str) -> None:
    with pytest.raises(ServerError):
        transport.request(origin, "GET", path, headers=transport.browser_headers("fetch"))

"""Content codings (gzip, brotli) for what carries no secret: static files and pages.

An applicant on a slow phone line waits for every byte of libsodium.js before
the page can encrypt; compressed, the page is ready seconds earlier. Only
answers with nothing secret in them are compressed (BREACH, SECURITY.md):
the static files, the pages, whose bytes depend only on their language
and the server's state, and one API answer, the public manifest chain every
page loads before it is ready (`public_answer`). No other API answer is.

The coding is chosen from the request's Accept-Encoding; every compressed
answer says `Vary: Accept-Encoding`. Subresource Integrity covers the decoded
bytes, so the pages' `integrity=` values are the same for every coding.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterable

import anyio.to_thread
import brotli
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

GZIP_LEVEL = 9
BROTLI_QUALITY = 11

# Tried in this order when the client accepts several equally (q-values win
# first). br first: it takes about a fifth more off libsodium.js than gzip
# (docs/PERFORMANCE.md, time to ready on a slow phone). The admin tools read
# br too (`intake-admin site-digest`, `check-site --http`: crypto/cli/transport.py,
# with the `check` extra's brotli); without it they ask for gzip alone.
PREFERENCE: tuple[str, ...] = ("br", "gzip")

# Types worth compressing: text, and libsodium's WebAssembly (half its size
# with brotli). Images and the like are compressed already.
COMPRESSIBLE_SUFFIXES = frozenset(
    {".js", ".mjs", ".css", ".txt", ".json", ".html", ".svg", ".wasm"}
)

VARY = "Accept-Encoding"


def compress(data: bytes, coding: str) -> bytes:
    """`data` in `coding` ("gzip" or "br"), at the strongest setting: done once per file."""
    if coding == "gzip":
        return gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0)
    if coding == "br":
        return bytes(brotli.compress(data, quality=BROTLI_QUALITY))
    raise ValueError(f"unknown content coding {coding!r}")


def decompress(data: bytes, coding: str) -> bytes:
    if coding == "gzip":
        return gzip.decompress(data)
    if coding == "br":
        return bytes(brotli.decompress(data))
    raise ValueError(f"unknown content coding {coding!r}")


def accepted(header: str | None) -> dict[str, float]:
    """Accept-Encoding as coding -> q-value (RFC 9110, 12.5.3); names lower-cased."""
    weights: dict[str, float] = {}
    for part in (header or "").split(","):
        name, _, params = part.partition(";")
        name = name.strip().lower()
        if not name:
            continue
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = min(max(float(value.strip()), 0.0), 1.0)
                except ValueError:
                    quality = 0.0
        weights[name] = max(quality, weights.get(name, 0.0))
    return weights


def choose(header: str | None, available: Iterable[str] = PREFERENCE) -> str | None:
    """The coding to send, or None for the plain bytes.

    No Accept-Encoding means plain bytes (what a tool that cannot decode
    expects); a coding the client refuses (q=0) is never sent.
    """
    if not header:
        return None
    weights = accepted(header)
    offered = set(available)
    best: str | None = None
    best_q = 0.0
    for coding in PREFERENCE:
        if coding not in offered:
            continue
        quality = weights.get(coding, weights.get("*", 0.0))
        if quality > best_q:
            best, best_q = coding, quality
    return best


def add_vary(headers: MutableHeaders) -> None:
    """Add Accept-Encoding to Vary, once, keeping what is there."""
    present = [v.strip().lower() for v in headers.get("vary", "").split(",") if v.strip()]
    if VARY.lower() not in present and "*" not in present:
        headers.append("Vary", VARY)


class CompressedBodies:
    """Compressed copies of bodies that recur (a page for each language), by
    the SHA-256 of the plain body; the least recently used go first."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._items: OrderedDict[tuple[bytes, str], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, body: bytes, coding: str) -> bytes:
        key = (hashlib.sha256(body).digest(), coding)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        encoded = compress(body, coding)
        with self._lock:
            self._items[key] = encoded
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return encoded

    def cached(self, body: bytes, coding: str) -> bytes | None:
        key = (hashlib.sha256(body).digest(), coding)
        with self._lock:
            return self._items.get(key)


_page_bodies = CompressedBodies()


async def public_answer(body: bytes, media_type: str, accept_encoding: str | None) -> Response:
    """An answer that is the same for everyone and holds no secret, compressed when accepted.

    Only for bodies that reflect nothing from the request and carry nothing
    secret (the manifest chain: public keys and signatures, which every page
    shows): BREACH needs both a secret and attacker-chosen text in the same
    answer. The compressed copy is kept, as such a body changes rarely.
    """
    headers = {"Vary": VARY}
    body, coding = await _smaller(body, choose(accept_encoding), _page_bodies)
    if coding is not None:
        headers["Content-Encoding"] = coding
    return Response(body, media_type=media_type, headers=headers)


async def _smaller(
    body: bytes, coding: str | None, bodies: CompressedBodies
) -> tuple[bytes, str | None]:
    """(`body` in `coding`, the coding) where that is smaller; else (`body`, None)."""
    if coding is None or not body:
        return body, None
    encoded = bodies.cached(body, coding)
    if encoded is None:
        # brotli at its strongest takes tens of ms per page: not on the event loop.
        encoded = await anyio.to_thread.run_sync(bodies.get, body, coding)
    return (encoded, coding) if len(encoded) < len(body) else (body, None)


class CompressPages:
    """Compresses the applicant's HTML pages (200 answers to GET and HEAD
    whose type is text/html); anything else passes through untouched.

    Pages are small and rendered whole, so the body is collected and
    compressed at once; the compressed copies are kept, as a page's bytes
    change only with the server's state.
    """

    def __init__(self, app: ASGIApp, bodies: CompressedBodies | None = None) -> None:
        self.app = app
        self.bodies = bodies or _page_bodies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        coding = choose(Headers(scope=scope).get("accept-encoding"))
        start: Message | None = None
        chunks: list[bytes] = []
        passing = False

        async def collect(message: Message) -> None:
            nonlocal start, passing
            if passing:
                await send(message)
                return
            if message["type"] == "http.response.start":
                headers = Headers(raw=message.get("headers", []))
                if (
                    message.get("status") == 200
                    and headers.get("content-type", "").startswith("text/html")
                    and "content-encoding" not in headers
                ):
                    start = message
                    return
                passing = True
                await send(message)
                return
            if message["type"] == "http.response.body" and start is not None:
                chunks.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                await self._send_page(start, b"".join(chunks), coding, scope, send)
                return
            await send(message)

        await self.app(scope, receive, collect)

    async def _send_page(
        self, start: Message, body: bytes, coding: str | None, scope: Scope, send: Send
    ) -> None:
        headers = MutableHeaders(raw=list(start.get("headers", [])))
        add_vary(headers)
        body, sent = await _smaller(body, coding, self.bodies)
        if sent is not None:
            headers["Content-Encoding"] = sent
        headers["Content-Length"] = str(len(body))
        await send({**start, "headers": headers.raw})
        await send(
            {
                "type": "http.response.body",
                "body": b"" if scope["method"] == "HEAD" else body,
                "more_body": False,
            }
        )

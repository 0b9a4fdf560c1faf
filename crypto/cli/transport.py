"""HTTP for the online tools (courier, admin publish) with the standard library only.

Requests are signed per PROTOCOL.md (`Authorization: Intake-Sig ...`) over the
exact request target. Redirects are refused: a signed request is valid for one
target only, and a redirect to another host would be a server we did not name.
Server answers are hostile text: only their error code and message are shown,
made visible.

`check-site --http` fetches pages as a browser would (`browser_get`): a
browser's request headers, never the tool's own User-Agent, because a server
that can tell a checking tool from a browser can show each what it expects.
Any request may go through a proxy (`--proxy`, e.g. Tor's SOCKS port); with
one, nothing goes direct.

Brotli: the server prefers br for its pages and static files, as browsers
accept it. With the `brotli` package (the `check` extra) these fetches send
Chromium's Accept-Encoding and read br; without it they ask for gzip and
deflate only, which the standard library reads.
"""

from __future__ import annotations

import functools
import http.client
import ipaddress
import socket
import ssl
import struct
import time
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass, field
from email.message import Message
from typing import Any
from urllib.parse import unquote, urlsplit

import crypto

from .common import InputError, ServerError
from .hostile import HostileJSONError, strict_json, visible

try:
    import brotli as _brotli
except ImportError:  # no `check` extra: gzip and deflate only (see ACCEPT_ENCODING)
    _brotli = None

USER_AGENT = "intake-tools/1"
MAX_ANSWER = 16 * 2**20
TIMEOUT = 120


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # urllib then raises HTTPError for the 3xx answer


_OPENER = urllib.request.build_opener(_RefuseRedirects)

# --------------------------------------------------------------------------
# Proxies: HTTP(S) through urllib's own handler, SOCKS5 (Tor) through ours.


def check_proxy(proxy: str) -> str:
    """A proxy URL we can use: socks5://, socks5h:// or http:// with host and port."""
    parts = urlsplit(proxy.strip())
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in ("socks5", "socks5h", "http") or not parts.hostname or port is None:
        raise InputError(
            f"{visible(proxy, limit=100)!r} is not a proxy URL",
            "give e.g. socks5://127.0.0.1:9050 (Tor) or http://proxy.example:3128",
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise InputError(f"{visible(proxy, limit=100)!r} is not a proxy URL", None)
    return proxy.strip()


def show_proxy(proxy: str | None) -> str | None:
    """The proxy without any user name or password in it (for reports)."""
    if proxy is None:
        return None
    parts = urlsplit(proxy)
    return f"{parts.scheme}://{parts.hostname}:{parts.port}"


def _socks5_connect(proxy: str, host: str, port: int, timeout: float) -> socket.socket:
    """A TCP connection to host:port through a SOCKS5 proxy (RFC 1928), the
    host name resolved by the proxy: through Tor, no DNS query leaves this
    machine. Optional user/password (RFC 1929) from the proxy URL."""
    parts = urlsplit(check_proxy(proxy))
    sock = socket.create_connection((parts.hostname or "", parts.port or 0), timeout=timeout)
    try:
        user = unquote(parts.username or "").encode()
        password = unquote(parts.password or "").encode()
        methods = b"\x02" if user else b"\x00"
        sock.sendall(b"\x05\x01" + methods)
        version, method = _recv_exact(sock, 2)
        if version != 5 or method != methods[0]:
            raise OSError("the SOCKS proxy refused our authentication method")
        if user:
            sock.sendall(b"\x01" + bytes([len(user)]) + user + bytes([len(password)]) + password)
            if _recv_exact(sock, 2)[1] != 0:
                raise OSError("the SOCKS proxy refused the user name or password")
        try:
            address = ipaddress.ip_address(host)
            target = (b"\x01" if address.version == 4 else b"\x04") + address.packed
        except ValueError:
            name = host.encode("idna")
            target = b"\x03" + bytes([len(name)]) + name
        sock.sendall(b"\x05\x01\x00" + target + struct.pack(">H", port))
        reply = _recv_exact(sock, 4)
        if reply[1] != 0:
            raise OSError(f"the SOCKS proxy could not connect (code {reply[1]})")
        skip = {1: 4, 4: 16}.get(reply[3])
        if skip is None:
            skip = _recv_exact(sock, 1)[0]
        _recv_exact(sock, skip + 2)
        return sock
    except BaseException:
        sock.close()
        raise


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise OSError("the SOCKS proxy closed the connection")
        data += chunk
    return data


class _SocksHTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args: Any, proxy: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._proxy = proxy

    def connect(self) -> None:
        self.sock = _socks5_connect(self._proxy, self.host, self.port, self.timeout or TIMEOUT)


class _SocksHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *args: Any, proxy: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._proxy = proxy

    def connect(self) -> None:
        raw = _socks5_connect(self._proxy, self.host, self.port, self.timeout or TIMEOUT)
        context = ssl.create_default_context()
        self.sock = context.wrap_socket(raw, server_hostname=self.host)


class _SocksHandler(urllib.request.HTTPHandler, urllib.request.HTTPSHandler):
    def __init__(self, proxy: str) -> None:
        urllib.request.HTTPHandler.__init__(self)
        urllib.request.HTTPSHandler.__init__(self)
        self._proxy = proxy

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(functools.partial(_SocksHTTPConnection, proxy=self._proxy), req)

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(functools.partial(_SocksHTTPSConnection, proxy=self._proxy), req)


@functools.cache
def _opener(proxy: str | None) -> urllib.request.OpenerDirector:
    if proxy is None:
        return _OPENER
    if urlsplit(proxy).scheme == "http":
        handler: urllib.request.BaseHandler = urllib.request.ProxyHandler(
            {"http": proxy, "https": proxy}
        )
        return urllib.request.build_opener(handler, _RefuseRedirects)
    # No environment proxy either: everything through the SOCKS proxy.
    return urllib.request.build_opener(
        urllib.request.ProxyHandler({}), _SocksHandler(proxy), _RefuseRedirects
    )


def split_server(server: str) -> tuple[str, str]:
    """(scheme://host[:port], path prefix) of a server base URL; only http(s)."""
    parts = urlsplit(server.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise InputError(
            f"{visible(server, limit=100)!r} is not a server URL",
            "give the base URL, e.g. https://intake.example.org",
        )
    return f"{parts.scheme}://{parts.netloc}", parts.path.rstrip("/")


@dataclass
class Answer:
    status: int
    headers: Message
    body: bytes


def open_stream(
    server: str,
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    signer: crypto.Identity | None = None,
    proxy: str | None = None,
) -> http.client.HTTPResponse:
    """Send one request; the caller reads (and closes) the streamed answer."""
    origin, prefix = split_server(server)
    target = prefix + path
    signed_at: int | None = None
    retried = False
    while True:
        all_headers = {"User-Agent": USER_AGENT, **(headers or {})}
        if signer is not None:
            signed_at = int(time.time())
            all_headers["Authorization"] = crypto.sign_request(
                signer, method, target, body or b"", signed_at
            )
        # split_server admitted only http and https, so no file: or custom scheme.
        request = urllib.request.Request(  # noqa: S310
            origin + target, data=body, method=method, headers=all_headers
        )
        try:
            response = _opener(proxy).open(request, timeout=TIMEOUT)
            break
        except urllib.error.HTTPError as exc:
            answer = exc.read(MAX_ANSWER) if exc.fp else b""
            if signed_at is not None and not retried and _replayed(exc.code, answer):
                # Ed25519 is deterministic: the same request signed in the same
                # second (a resume straight after a cut) is the same signature,
                # which the server refuses as a replay. Sign again, once, a
                # second later.
                retried = True
                _wait_past(signed_at)
                continue
            raise answer_error(exc.code, answer, server) from None
        except urllib.error.URLError as exc:
            raise ServerError(
                f"cannot reach {visible(server, limit=100)}: {visible(str(exc.reason), limit=200)}",
                "check the URL and the network connection",
            ) from None
        except (OSError, http.client.HTTPException) as exc:
            raise ServerError(
                f"the connection to {visible(server, limit=100)} failed: {type(exc).__name__}"
                + (f" ({visible(str(exc), limit=120)})" if proxy else ""),
                "try again; check the network connection"
                + (" and that the proxy runs" if proxy else ""),
            ) from None
    return response  # type: ignore[no-any-return]


def _replayed(status: int, body: bytes) -> bool:
    """The server's answer to a signature it has seen before."""
    if status != 401:
        return False
    try:
        doc = strict_json(body)
    except HostileJSONError:
        return False
    error = doc.get("error") if isinstance(doc, dict) else None
    return isinstance(error, dict) and error.get("code") == "replayed-request"


def _wait_past(second: int) -> None:
    while int(time.time()) <= second:
        time.sleep(0.05)


def request(
    server: str,
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    signer: crypto.Identity | None = None,
    proxy: str | None = None,
) -> Answer:
    """Send one request and read the whole (size-capped) answer, decoded.

    Only a request that offers a coding (the browser-like ones) gets one back:
    the server compresses the public manifest chain for such requests.
    """
    response = open_stream(
        server, method, path, body=body, headers=headers, signer=signer, proxy=proxy
    )
    with response:
        try:
            data = response.read(MAX_ANSWER)
        except (OSError, http.client.HTTPException) as exc:
            raise ServerError(
                f"the answer was cut off ({type(exc).__name__})", "try again"
            ) from None
        try:
            data = _decoded(data, response.headers.get("Content-Encoding", ""))
        except _CorruptBody:
            raise ServerError(
                f"{visible(server, limit=100)}{path} sent a compressed answer that does "
                "not decompress",
                "try again",
            ) from None
        return Answer(response.status, response.headers, data)


_HINTS = {
    400: "the server found the file malformed; was it changed after it was written?",
    401: "the server refused the signature: is this key in the current manifest, "
    "and is this computer's clock right (within 5 minutes)?",
    403: "the server refused this key: is it in the current manifest?",
    404: "check the server URL",
    409: "the server's state differs; pull a fresh bundle or chain and try again",
    413: "the file is too large for the server",
    422: "the server refused the content; see the message",
    429: "the server is rate-limiting; wait and try again",
}


def answer_error(status: int, body: bytes, server: str) -> ServerError:
    """The server's error, in its one JSON shape, as a ServerError with a hint."""
    code, message = "", ""
    try:
        doc = strict_json(body)
        error = doc.get("error") if isinstance(doc, dict) else None
        if isinstance(error, dict):
            raw_code, raw_message = error.get("code"), error.get("message")
            code = raw_code if isinstance(raw_code, str) else ""
            message = raw_message if isinstance(raw_message, str) else ""
    except HostileJSONError:
        pass
    detail = ": ".join(visible(p, limit=200) for p in (code, message) if p)
    hint = _HINTS.get(status)
    if hint is None and status >= 500:
        hint = "the server has a problem; try again later or tell its operator"
    return ServerError(
        f"{visible(server, limit=100)} refused the request (HTTP {status})"
        + (f": {detail}" if detail else ""),
        hint,
    )


def json_answer(answer: Answer) -> Any:
    try:
        return strict_json(answer.body)
    except HostileJSONError:
        return None


# --------------------------------------------------------------------------
# Fetching as a browser does (check-site)

# What Chromium 156 on Linux sends (captured from /usr/bin/chromium). A
# server keys on such details to tell a tool from a browser; this mode can
# only copy them, which is why check-site's default is the real browser.
BROWSER_USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/156.0.0.0 Safari/537.36"
)
CHROMIUM_ACCEPT_ENCODING = "gzip, deflate, br, zstd"
# Chromium's exact list when br can be read; without the brotli package only
# what can be read: a server honouring the header then never sends a body
# the check would have to give up on. (zstd stays in Chromium's list for the
# likeness; our server never sends it, and another's zstd is refused below.)
ACCEPT_ENCODING = CHROMIUM_ACCEPT_ENCODING if _brotli is not None else "gzip, deflate"
_BROWSER_COMMON = {
    "User-Agent": BROWSER_USER_AGENT,
    "Accept-Language": "en-US,en;q=0.9",
    "Accept-Encoding": ACCEPT_ENCODING,
    "sec-ch-ua": '"Not:A-Brand";v="8", "Chromium";v="156"',
    "sec-ch-ua-mobile": "?0",
    "sec-ch-ua-platform": '"Linux"',
}
_BROWSER_KIND = {
    "document": {
        "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,"
        "image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7",
        "Upgrade-Insecure-Requests": "1",
        "Sec-Fetch-Site": "none",
        "Sec-Fetch-Mode": "navigate",
        "Sec-Fetch-User": "?1",
        "Sec-Fetch-Dest": "document",
    },
    "script": {
        "Accept": "*/*",
        "Sec-Fetch-Site": "same-origin",
        "Sec-Fetch-Mode": "cors",
        "Sec-Fetch-Dest": "script",
    },
    "style": {
        "Accept": "text/css,*/*;q=0.1",
        "Sec-Fetch-Site": "same-origin",
        "Sec-Fetch-Mode": "no-cors",
        "Sec-Fetch-Dest": "style",
    },
    "fetch": {
        "Accept": "*/*",
        "Sec-Fetch-Site": "same-origin",
        "Sec-Fetch-Mode": "cors",
        "Sec-Fetch-Dest": "empty",
    },
}


def browser_headers(kind: str) -> dict[str, str]:
    """A browser's request headers for a `document`, `script`, `style` or `fetch` load."""
    return {**_BROWSER_COMMON, **_BROWSER_KIND[kind]}


@dataclass
class Observation:
    """One response as the checker received it: what is compared with the site document."""

    url: str  # the path on the checked origin, or the full URL if elsewhere
    status: int
    body: bytes | None
    headers: list[tuple[str, str]] = field(default_factory=list)
    same_origin: bool = True
    kind: str = ""


class _CorruptBody(Exception):
    """A compressed answer that does not decompress."""


def _decoded(body: bytes, encoding: str) -> bytes:
    """The body as a browser hands it to the page (gzip, deflate, and br with
    the brotli package)."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding in ("gzip", "x-gzip"):
        return _inflate(body, 16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        try:
            return _inflate(body, zlib.MAX_WBITS)
        except _CorruptBody:
            return _inflate(body, -zlib.MAX_WBITS)
    if encoding == "br" and _brotli is not None:
        return _unbrotli(body)
    raise ServerError(
        f"the server answered with {visible(encoding, limit=40)} compression, "
        "which the standard-library mode cannot read"
        + (" (br needs the brotli package)" if encoding == "br" else ""),
        "install the `check` extra (pip install 'intake[check]'), or run check-site "
        "without --http (in the browser)"
        if encoding == "br"
        else "run check-site without --http (in the browser)",
    )


def _too_large() -> ServerError:
    return ServerError(f"an answer expands to more than {MAX_ANSWER} bytes", None)


def _inflate(body: bytes, wbits: int) -> bytes:
    """Decompress at most MAX_ANSWER bytes: a small hostile answer must not
    expand into all of the checker's memory."""
    inflater = zlib.decompressobj(wbits)
    try:
        data = inflater.decompress(body, MAX_ANSWER)
    except zlib.error:
        raise _CorruptBody from None
    if inflater.unconsumed_tail:
        raise _too_large()
    return data


def _unbrotli(body: bytes) -> bytes:
    """br, at most MAX_ANSWER bytes of it (the same bound as `_inflate`)."""
    if _brotli is None:  # only called when it imported; fail closed if not
        raise _CorruptBody
    decompressor = _brotli.Decompressor()
    try:
        # The output stops growing at the limit: one byte over it is enough to tell.
        data = bytes(decompressor.process(body, output_buffer_limit=MAX_ANSWER + 1))
    except _brotli.error:
        raise _CorruptBody from None
    if len(data) > MAX_ANSWER or not decompressor.can_accept_more_data():
        raise _too_large()
    if not decompressor.is_finished():
        raise _CorruptBody  # cut short
    return data


def browser_get(origin: str, path: str, kind: str, *, proxy: str | None = None) -> Observation:
    """GET `path` with a browser's headers for a `kind` load; every answer is
    an observation (an error status too), only a failed connection raises."""
    # split_server admitted only http and https, so no file: or custom scheme.
    request = urllib.request.Request(  # noqa: S310
        origin + path, method="GET", headers=browser_headers(kind)
    )
    try:
        response = _opener(proxy).open(request, timeout=TIMEOUT)
        status, headers = response.status, response.headers
    except urllib.error.HTTPError as exc:
        response, status, headers = exc, exc.code, exc.headers
    except urllib.error.URLError as exc:
        raise ServerError(
            f"cannot reach {visible(origin, limit=100)}: {visible(str(exc.reason), limit=200)}",
            "check the URL, the network connection" + (" and the proxy" if proxy else ""),
        ) from None
    except (OSError, http.client.HTTPException) as exc:
        raise ServerError(
            f"the connection to {visible(origin, limit=100)} failed: {type(exc).__name__}",
            "try again; check the network connection" + (" and the proxy" if proxy else ""),
        ) from None
    try:
        with response:
            raw = response.read(MAX_ANSWER) if response.fp else b""
    except (OSError, http.client.HTTPException) as exc:
        raise ServerError(f"the answer was cut off ({type(exc).__name__})", "try again") from None
    try:
        body = _decoded(raw, headers.get("Content-Encoding", ""))
    except _CorruptBody:
        raise ServerError(
            f"{visible(path, limit=100)}: the compressed answer is corrupt", None
        ) from None
    return Observation(path, status, body, list(headers.items()), True, kind)

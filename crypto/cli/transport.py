"""HTTP for the online tools (courier, admin publish) with the standard library only.

Requests are signed per PROTOCOL.md (`Authorization: Intake-Sig ...`) over the
exact request target. Redirects are refused: a signed request is valid for one
target only, and a redirect to another host would be a server we did not name.
Server answers are hostile text: only their error code and message are shown,
made visible.
"""

from __future__ import annotations

import http.client
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import Message
from typing import Any
from urllib.parse import urlsplit

import crypto

from .common import InputError, ServerError
from .hostile import HostileJSONError, strict_json, visible

USER_AGENT = "intake-tools/1"
MAX_ANSWER = 16 * 2**20
TIMEOUT = 120


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # urllib then raises HTTPError for the 3xx answer


_OPENER = urllib.request.build_opener(_RefuseRedirects)


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
            response = _OPENER.open(request, timeout=TIMEOUT)
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
        except (TimeoutError, ConnectionError, http.client.HTTPException) as exc:
            raise ServerError(
                f"the connection to {visible(server, limit=100)} failed: {type(exc).__name__}",
                "try again; check the network connection",
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
) -> Answer:
    """Send one request and read the whole (size-capped) answer."""
    response = open_stream(server, method, path, body=body, headers=headers, signer=signer)
    with response:
        try:
            data = response.read(MAX_ANSWER)
        except (OSError, http.client.HTTPException) as exc:
            raise ServerError(
                f"the answer was cut off ({type(exc).__name__})", "try again"
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

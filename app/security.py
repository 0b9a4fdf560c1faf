"""Response hardening applied to every answer, errors included.

Pure ASGI (not BaseHTTPMiddleware), so streamed bodies stay streamed.
"""

from __future__ import annotations

import json
import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.settings import Settings

log = logging.getLogger("intake")

CSP = (
    "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; "
    "img-src 'self' blob: data:; connect-src 'self'; form-action 'none'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
# Nothing on an intake page needs a sensor, a camera or a payment sheet; a
# compromised script must not be able to ask for them.
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "ambient-light-sensor",
        "autoplay",
        "bluetooth",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "hid",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "serial",
        "usb",
        "xr-spatial-tracking",
    )
)
HSTS = "max-age=63072000; includeSubDomains"


def security_headers(settings: Settings) -> list[tuple[bytes, bytes]]:
    headers = [
        ("Content-Security-Policy", CSP),
        ("Referrer-Policy", "no-referrer"),
        ("X-Frame-Options", "DENY"),
        ("X-Content-Type-Options", "nosniff"),
        ("Permissions-Policy", PERMISSIONS_POLICY),
        ("Cross-Origin-Opener-Policy", "same-origin"),
        ("Cross-Origin-Resource-Policy", "same-origin"),
    ]
    if settings.https:
        headers.append(("Strict-Transport-Security", HSTS))
    if settings.onion_location:
        headers.append(("Onion-Location", settings.onion_location))
    return [(name.lower().encode(), value.encode()) for name, value in headers]


class SecurityHeaders:
    """Sets the hardening headers (replacing any a route set) and the cache
    policy: `no-store` on every answer, static assets included. A script of
    ours left in the phone's disk cache (or V8's code cache beside it) tells
    whoever searches the phone that it visited this site; with `no-store`
    the browser keeps it only in memory, for the page that loaded it."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.headers = security_headers(settings)
        self.names = {name for name, _ in self.headers} | {b"cache-control", b"server"}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cache = b"no-store"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() not in self.names
                ]
                message["headers"] = [*kept, *self.headers, (b"cache-control", cache)]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class CatchAll:
    """Turns an unhandled exception into the standard error shape inside the
    security-headers layer (Starlette's own 500 page would bypass it). Logs
    the exception type and traceback, never the request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            log.exception("unhandled error")
            if started:
                raise
            body = json.dumps(
                {
                    "error": {
                        "code": "internal-error",
                        "message": "Internal server error.",
                        "detail": {},
                    }
                }
            ).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})

"""The intake page: `/` in Russian, `/en/` in English.

Each language has its own URL rather than content negotiation, so a page's
bytes depend on nothing the browser sends: admins can sign their digests and
anyone can check them from outside.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.pages.i18n import DEFAULT_LANGUAGE
from app.pages.rendering import check_language, mark, render

router = APIRouter(include_in_schema=False)

# Strings the page's script shows; translated on the server and handed to the
# script as JSON, so every word lives in the gettext catalogs.
SCRIPT_MESSAGES = {
    "loading": mark("Preparing encryption…"),
    "ready": mark("Encryption is ready. Nothing leaves this phone unencrypted."),
    "crypto_failed": mark(
        "Encryption could not start. Reload the page; if it keeps failing, try another browser."
    ),
    "chain_failed": mark(
        "The organisation's keys could not be verified. "
        "Do not send anything; tell the organisation."
    ),
    "empty": mark("Please write something before sending."),
    "encrypting": mark("Encrypting…"),
    "working": mark("Checking that you are not a robot (a few seconds)…"),
    "uploading": mark("Sending: {percent}%"),
    "offline": mark("Connection lost. Waiting to resume…"),
    "server_error": mark("The server refused the message: {message}"),
    "sent": mark("Sent and encrypted. Your reference: {reference}"),
    "unexpected": mark("Something went wrong. Nothing was sent in plain text. Try again."),
}


@router.get("/", response_class=HTMLResponse)
def intake_default(request: Request) -> HTMLResponse:
    return render(request, "intake.html", DEFAULT_LANGUAGE, SCRIPT_MESSAGES)


@router.get("/{lang}/", response_class=HTMLResponse)
def intake_in(request: Request, lang: str) -> HTMLResponse:
    return render(request, "intake.html", check_language(lang), SCRIPT_MESSAGES)

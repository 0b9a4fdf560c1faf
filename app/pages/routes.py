"""Routes of the applicant's pages: `/` in Russian, `/en/` in English.

Each language has its own URL rather than content negotiation, so a page's
bytes depend on nothing the browser sends: admins can sign their digests and
anyone can check them from outside (issue "Admins", check-site).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from app.pages.assets import AssetIndex, build_asset_index
from app.pages.i18n import DEFAULT_LANGUAGE, LANGUAGES, Catalogs, load_catalogs

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"

router = APIRouter(include_in_schema=False)


def _n(message: str) -> str:
    """Mark a string for extraction into the catalogs; it is translated at render time."""
    return message


# Strings the page's script shows; translated on the server and handed to the
# script as JSON, so every word lives in the gettext catalogs.
SCRIPT_MESSAGES = {
    "loading": _n("Preparing encryption…"),
    "ready": _n("Encryption is ready. Nothing leaves this phone unencrypted."),
    "crypto_failed": _n(
        "Encryption could not start. Reload the page; if it keeps failing, try another browser."
    ),
    "chain_failed": _n(
        "The organisation's keys could not be verified. "
        "Do not send anything; tell the organisation."
    ),
    "empty": _n("Please write something before sending."),
    "encrypting": _n("Encrypting…"),
    "working": _n("Checking that you are not a robot (a few seconds)…"),
    "uploading": _n("Sending: {percent}%"),
    "offline": _n("Connection lost. Waiting to resume…"),
    "server_error": _n("The server refused the message: {message}"),
    "sent": _n("Sent and encrypted. Your reference: {reference}"),
    "unexpected": _n("Something went wrong. Nothing was sent in plain text. Try again."),
}


@dataclass(frozen=True)
class PageContext:
    """What every page render needs, built once at start-up."""

    env: Environment
    catalogs: Catalogs
    assets: AssetIndex
    trust_root: dict[str, Any] | None


def setup_pages(app: FastAPI, settings: Any) -> None:
    catalogs = load_catalogs()
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
    )
    trust_root_text = getattr(settings, "trust_root", None)
    trust_root = json.loads(trust_root_text) if trust_root_text else None
    app.state.pages = PageContext(env, catalogs, build_asset_index(), trust_root)


def _render(request: Request, lang: str) -> HTMLResponse:
    ctx: PageContext = request.app.state.pages
    translations = ctx.catalogs.get(lang)
    template = ctx.env.get_template("intake.html")
    messages = {key: translations.gettext(text) for key, text in SCRIPT_MESSAGES.items()}
    # Jinja's i18n extension reads gettext from the render globals; one
    # template object serves every language this way without shared state.
    html = template.render(
        gettext=translations.gettext,
        ngettext=translations.ngettext,
        _=translations.gettext,
        lang=lang,
        languages=LANGUAGES,
        assets=ctx.assets,
        trust_root_json=json.dumps(ctx.trust_root or {}, separators=(",", ":")),
        vendor_sri_json=json.dumps(ctx.assets.vendor_sri(), separators=(",", ":")),
        messages_json=json.dumps(messages, ensure_ascii=False, separators=(",", ":")),
    )
    return HTMLResponse(html)


@router.get("/", response_class=HTMLResponse)
def intake_default(request: Request) -> HTMLResponse:
    return _render(request, DEFAULT_LANGUAGE)


@router.get("/{lang}/", response_class=HTMLResponse)
def intake_in(request: Request, lang: str) -> HTMLResponse:
    if lang not in LANGUAGES:
        raise HTTPException(status_code=404)
    return _render(request, lang)

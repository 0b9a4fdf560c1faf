"""What every applicant page shares: templates, catalogs, asset hashes, one render function.

Built once at start-up by `setup_pages`; each page module (intake, mailbox)
defines its routes and the strings its script needs, and calls `render`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

import crypto
from app.db import read_session
from app.errors import NoManifest
from app.manifests import service as manifests
from app.pages.assets import AssetIndex, build_asset_index
from app.pages.i18n import LANGUAGES, Catalogs, load_catalogs

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"

# Where every page's quick-exit link leaves to: a neutral site. It is a
# navigation the applicant makes (replacing this page in the history), never
# a request our page sends.
QUICK_EXIT_URL = "https://www.google.com/search?q=weather"


def mark(message: str) -> str:
    """Mark a string for extraction into the catalogs (`make messages`); translated at render."""
    return message


@dataclass(frozen=True)
class PageContext:
    """What every page render needs, built once at start-up."""

    env: Environment
    catalogs: Catalogs
    assets: AssetIndex
    trust_root: dict[str, Any] | None


def setup_pages(app: FastAPI, settings: Any) -> None:
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        # Fewer bytes on a slow line: block tags leave no blank lines behind.
        trim_blocks=True,
        lstrip_blocks=True,
    )
    trust_root_text = getattr(settings, "trust_root", None)
    trust_root = json.loads(trust_root_text) if trust_root_text else None
    app.state.pages = PageContext(env, load_catalogs(), build_asset_index(), trust_root)


def check_language(lang: str) -> str:
    if lang not in LANGUAGES:
        raise HTTPException(status_code=404)
    return lang


def latest_manifest(request: Request) -> crypto.Manifest | None:
    """The newest manifest the server holds, or None before the genesis is imported."""
    runtime = request.app.state.runtime
    try:
        with read_session(runtime.engine) as session:
            return manifests.current(session, runtime.manifests)
    except NoManifest:
        return None


def anchor_attribute(manifest: crypto.Manifest | None) -> str:
    """(v3) The page's manifest anchor as JSON; empty without a manifest, which
    the page's script refuses (it encrypts to nothing it cannot anchor)."""
    if manifest is None:
        return ""
    return json.dumps(crypto.anchor_json(manifest), separators=(",", ":"))


def render(
    request: Request,
    template_name: str,
    lang: str,
    script_messages: Mapping[str, str],
    *,
    manifest: crypto.Manifest | None,
    **extra: Any,
) -> HTMLResponse:
    """Render a page in `lang`; its script's strings travel as translated JSON.

    The bytes depend only on the language and the server's state (its
    configuration, the latest manifest), never on the request, so admins can
    sign them and anyone can check them. `manifest` is the latest one: the
    page carries its anchor (v3), so a chain rolled back behind it is refused
    in the browser, and rolling the anchor back too changes the signed page.
    """
    ctx: PageContext = request.app.state.pages
    translations = ctx.catalogs.get(lang)
    messages = {key: translations.gettext(text) for key, text in script_messages.items()}
    # Jinja's i18n extension reads gettext from the render globals; one
    # template object serves every language this way without shared state.
    html = ctx.env.get_template(template_name).render(
        gettext=translations.gettext,
        ngettext=translations.ngettext,
        _=translations.gettext,
        lang=lang,
        languages=LANGUAGES,
        assets=ctx.assets,
        quick_exit_url=QUICK_EXIT_URL,
        trust_root_json=json.dumps(ctx.trust_root or {}, separators=(",", ":")),
        manifest_anchor_json=anchor_attribute(manifest),
        vendor_sri_json=json.dumps(ctx.assets.vendor_sri(), separators=(",", ":")),
        messages_json=json.dumps(messages, ensure_ascii=False, separators=(",", ":")),
        **extra,
    )
    return HTMLResponse(html)

"""The mailbox page as the server renders it: languages, safety headers, SRI."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from babel.messages.extract import extract_from_file

from app.pages.assets import PAGE_ASSETS, STATIC_DIR, sri
from app.pages.i18n import load_catalogs
from app.pages.mailbox import SCRIPT_MESSAGES

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "app" / "templates" / "mailbox.html"

Client = Callable[..., "TestClient"]


@pytest.fixture
def database_kind() -> str:
    """The page does not depend on the database: SQLite alone is enough here."""
    return "sqlite"


def test_the_page_is_russian_at_the_root_and_english_under_en(make_client: Client) -> None:
    client = make_client()
    russian = client.get("/mailbox/")
    english = client.get("/en/mailbox/")
    assert russian.status_code == english.status_code == 200
    assert '<html lang="ru">' in russian.text
    assert '<html lang="en">' in english.text
    assert "Check for replies" in english.text
    assert 'data-lang="ru"' in russian.text
    assert client.get("/xx/mailbox/").status_code == 404


def test_the_page_is_hardened_like_the_intake_page(make_client: Client) -> None:
    client = make_client()
    response = client.get("/en/mailbox/")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "set-cookie" not in response.headers
    assert '<meta name="robots" content="noindex' in response.text
    # No inline script or style: the policy would refuse them anyway.
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", response.text) is None
    assert " style=" not in response.text


def test_every_file_the_page_loads_carries_its_integrity_value(make_client: Client) -> None:
    html = make_client().get("/en/mailbox/").text
    loaded = re.findall(r'(?:src|href)="/static/([^"]+)" integrity="([^"]+)"', html)
    names = {name for name, _ in loaded}
    assert {"js/mailbox-page.js", "js/upload.js", "css/mailbox.css"} <= names
    for name, integrity in loaded:
        assert name in PAGE_ASSETS
        assert integrity == sri((STATIC_DIR / name).read_bytes())
    # The module graph itself: tests/server/test_page_modules.py.


def test_the_upload_limits_are_stated_before_a_file_is_picked(make_client: Client) -> None:
    client = make_client(max_attachments=7, max_envelope_bytes=50_000_000)
    html = client.get("/en/mailbox/").text
    assert "Up to 7 files, each at most 49\xa0MB" in html
    assert 'data-max-files="7"' in html
    # What the page lets through must fit the server's envelope limit.
    largest = int(re.findall(r'data-max-file-bytes="(\d+)"', html)[0])
    assert 49_000_000 < largest < 50_000_000


def test_the_page_is_the_same_bytes_for_every_visitor(make_client: Client) -> None:
    client = make_client()
    first = client.get("/mailbox/", headers={"Accept-Language": "en", "User-Agent": "a"})
    second = client.get("/mailbox/", headers={"Accept-Language": "de", "User-Agent": "b"})
    assert first.content == second.content


def _page_msgids() -> set[str]:
    ids = {
        message[1]
        for message in extract_from_file(
            "jinja2", str(TEMPLATE), options={"extensions": "jinja2.ext.i18n"}
        )
    }
    return {i for i in ids if isinstance(i, str)} | set(SCRIPT_MESSAGES.values())


def test_every_string_of_the_page_is_translated_into_russian() -> None:
    russian = load_catalogs().get("ru")
    untranslated = sorted(m for m in _page_msgids() if russian.gettext(m) == m)
    assert untranslated == []

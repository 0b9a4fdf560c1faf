"""Codenames: the committed word lists, and the page's codename made from them."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from tests.page import flow
from tests.support.live_server import LiveServer

ROOT = Path(__file__).resolve().parents[2]
LISTS = {"ru": re.compile(r"[а-яё]+"), "en": re.compile(r"[a-z]+")}


def words_of(lang: str) -> list[str]:
    return (
        (ROOT / "app" / "static" / "wordlists" / f"{lang}.txt").read_text("utf-8").split("\n")[:-1]
    )


@pytest.mark.parametrize("lang", sorted(LISTS))
def test_each_word_list_has_2048_lower_case_words_none_a_prefix_of_another(lang: str) -> None:
    words = words_of(lang)
    assert len(words) == 2048 == len(set(words))
    for word in words:
        assert LISTS[lang].fullmatch(word), word
        assert "ё" not in word and 4 <= len(word) <= 8
    ordered = sorted(words)
    assert not [(a, b) for a, b in itertools.pairwise(ordered) if b.startswith(a)]


@pytest.fixture
def page(chromium: Browser, page_server: LiveServer) -> Page:
    page = chromium.new_page()
    flow.open_page(page, page_server)
    return page


@pytest.mark.browser
def test_the_page_draws_nine_words_of_its_language_uniformly_from_the_list(page: Page) -> None:
    result = page.evaluate(
        """async () => {
          const c = await import("/static/js/codename.js");
          const config = JSON.parse(document.getElementById("intake-config").dataset.wordlist);
          const list = await c.loadWordlist(config.lang, config.sri, config.url);
          const {loadSodium} = await import("/static/js/sodium-loader.js");
          const sri = document.getElementById("intake-config").dataset.vendorSri;
          const s = await loadSodium(JSON.parse(sri));
          const names = [];
          for (let i = 0; i < 200; i++) names.push(c.generateCodename(s, config.lang, list));
          return {names, list, lang: config.lang};
        }"""
    )
    assert result["lang"] == "ru"
    words = set(words_of("ru"))
    assert result["list"] == words_of("ru")
    seen: set[str] = set()
    for name in result["names"]:
        parts = name.split(" ")
        assert len(parts) == 9 and set(parts) <= words
        seen.update(parts)
    # 1,800 draws from 2,048 words: a uniform draw sees about 1,200 distinct ones.
    assert len(seen) > 1000
    assert len(set(result["names"])) == 200


@pytest.mark.browser
def test_a_word_list_that_fails_its_integrity_or_the_rules_is_refused(page: Page) -> None:
    errors = page.evaluate(
        """async () => {
          const c = await import("/static/js/codename.js");
          const out = {};
          const attempt = async (name, run) => {
            try { await run(); out[name] = "accepted"; } catch (e) { out[name] = e.name; }
          };
          await attempt("sri", () => c.loadWordlist("ru", "sha384-" + "A".repeat(64)));
          const list = Array.from({length: 2048}, (_, i) => "слово" + i);
          await attempt("digits", () => c.checkWordlist(list));
          const prefix = Array.from({length: 2048}, (_, i) => "а".repeat(i + 1));
          await attempt("prefix", () => c.checkWordlist(prefix));
          await attempt("short", () => c.checkWordlist(list.slice(1)));
          return out;
        }"""
    )
    assert errors == {
        "sri": "TypeError",  # fetch refuses bytes that fail their integrity value
        "digits": "WordlistError",
        "prefix": "WordlistError",
        "short": "WordlistError",
    }

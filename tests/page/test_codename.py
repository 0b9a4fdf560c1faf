"""Codenames: the committed word lists, and the page's codename made from them."""

from __future__ import annotations

import importlib.util
import itertools
import math
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page

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


def retired_of(lang: str) -> list[str]:
    return (
        (ROOT / "app" / "static" / "wordlists" / f"{lang}-retired.txt")
        .read_text("utf-8")
        .split("\n")[:-1]
    )


def blocked_of(lang: str) -> set[str]:
    """The reviewed blocklist (scripts/wordlists/<lang>-blocked.txt)."""
    text = (ROOT / "scripts" / "wordlists" / f"{lang}-blocked.txt").read_text("utf-8")
    return {line.strip() for line in text.splitlines() if line.strip() and line[0] != "#"}


# Words the brief named as frightening or degrading, and a few of each kind
# the blocklist names: none may be drawn again.
NEVER = {
    "ru": {"сифилис", "вонь", "геморрой", "трусость", "колония", "дробовик", "допрос", "смерть"},
    "en": {"surgery", "virus", "verdict", "musket", "hatred", "ideology", "darkness"},
}


@pytest.mark.parametrize("lang", sorted(LISTS))
def test_no_word_of_a_list_is_blocked(lang: str) -> None:
    words = set(words_of(lang))
    blocked = blocked_of(lang)
    assert len(blocked) > 100
    assert not words & blocked
    assert not words & NEVER[lang]


@pytest.mark.parametrize("lang", sorted(LISTS))
def test_retired_words_stay_checkable_and_are_never_drawn(lang: str) -> None:
    words = words_of(lang)
    retired = retired_of(lang)
    # Sorted, distinct, of the list's alphabet, none back in the list.
    assert retired == sorted(set(retired))
    assert not set(retired) & set(words)
    for word in retired:
        assert LISTS[lang].fullmatch(word) and "ё" not in word, word
    # Every blocked word that was ever published is retired, not forgotten:
    # codenames already handed out may hold it.
    assert {w for w in NEVER[lang] if w in retired} == NEVER[lang] - {"смерть", "допрос"}
    # Read back unambiguously together: no word of either is a prefix of another.
    ordered = sorted(words + retired)
    assert not [(a, b) for a, b in itertools.pairwise(ordered) if b.startswith(a)]


@pytest.mark.parametrize("lang", sorted(LISTS))
def test_a_codename_still_carries_at_least_96_bits(lang: str) -> None:
    # 9 words drawn uniformly from 2,048: 9 x log2(2048) = 9 x 11 = 99 bits.
    assert 9 * math.log2(len(set(words_of(lang)))) >= 96


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


def test_the_curation_script_accepts_the_committed_lists(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The same rules, as scripts/make_wordlists.py --check applies them (it
    # needs none of its generation-time tools for that).
    spec = importlib.util.spec_from_file_location(
        "make_wordlists", ROOT / "scripts" / "make_wordlists.py"
    )
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.main(["--check"]) == 0
    out = capsys.readouterr().out
    assert "ru.txt: 2048 words" in out and "9 words carry 99 bits" in out


@pytest.mark.browser
def test_retired_words_count_when_checking_and_a_broken_retired_list_is_refused(
    page: Page,
) -> None:
    result = page.evaluate(
        """async () => {
          const c = await import("/static/js/codename.js");
          const out = {};
          const attempt = async (name, run) => {
            try { await run(); out[name] = "accepted"; } catch (e) { out[name] = e.name; }
          };
          await attempt("sri", () => c.loadRetired("ru", "sha384-" + "A".repeat(64)));
          await attempt("twice", () => c.checkRetired(["вонь", "вонь"]));
          await attempt("digits", () => c.checkRetired(["вонь1"]));
          const many = Array.from({length: 2049}, (_, i) => "я" + i);
          await attempt("long", () => c.checkRetired(many));
          await attempt("fine", () => c.checkRetired(["вонь", "геморрой"]));
          const lists = [["ru", ["груша", "камень"], ["вонь"]], ["en", ["pear", "stone"]]];
          out.retired = c.wrongWords(["вонь", "груша", "камень"], lists);
          out.typo = c.wrongWords(["вонъ", "груша", "камень"], lists);
          out.without = c.wrongWords(["вонь", "груша", "камень"], [["ru", ["груша", "камень"]]]);
          return out;
        }"""
    )
    assert result.pop("retired") == {"lang": "ru", "wrong": []}
    assert result.pop("typo") == {
        "lang": "ru",
        "wrong": [{"position": 1, "word": "вонъ", "suggestion": "вонь"}],
    }
    assert result.pop("without")["wrong"][0]["word"] == "вонь"
    assert result == {
        "sri": "TypeError",
        "twice": "WordlistError",
        "digits": "WordlistError",
        "long": "WordlistError",
        "fine": "accepted",
    }

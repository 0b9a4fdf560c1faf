"""Both applicant pages load every module integrity-checked (issue 16).

A static import carries no integrity value of its own: a module enters the
module map checked only through a `<link rel="modulepreload" integrity>`.
The preload lists are derived from the imports (app/pages/assets.py); these
tests recompute the module graph on their own and compare it with the page
the server renders, so a new import can never load unchecked.
"""

from __future__ import annotations

import json
import posixpath
import re
from html import unescape
from typing import TYPE_CHECKING

import pytest

from app.pages.assets import STATIC_DIR, sri

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

# Static imports and re-exports (`from "./x.js"`), and the intake page's
# `lazy("x.js")` calls, which import() a module by its integrity value.
STATIC = re.compile(r'from\s*"(\.{1,2}/[\w./-]+\.js)"')
LAZY = re.compile(r'lazy\("([\w.-]+\.js)"\)')


# The pages' head does not depend on the database: SQLite alone is enough.
pytestmark = pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True, scope="session")


def _graph(start: str) -> tuple[set[str], set[str]]:
    """(modules reached by static imports from `start`, modules it import()s lazily)."""
    static: set[str] = set()
    lazy: set[str] = set()
    todo = [start]
    while todo:
        name = todo.pop()
        if name in static:
            continue
        static.add(name)
        source = (STATIC_DIR / name).read_text(encoding="utf-8")
        base = posixpath.dirname(name)
        todo += [posixpath.normpath(posixpath.join(base, ref)) for ref in STATIC.findall(source)]
        lazy |= {posixpath.join(base, ref) for ref in LAZY.findall(source)}
    return static, lazy


def _preloaded(html: str) -> dict[str, str]:
    links = re.findall(
        r'<link rel="modulepreload" href="/static/([^"]+)" integrity="([^"]+)">', html
    )
    return dict(links)


def _checked(preloaded: dict[str, str]) -> None:
    for name, integrity in preloaded.items():
        assert integrity == sri((STATIC_DIR / name).read_bytes()), name


def test_the_intake_page_preloads_every_module_it_imports_before_ready(
    client: TestClient,
) -> None:
    html = client.get("/en/").text
    preloaded = _preloaded(html)
    _checked(preloaded)
    static, lazy = _graph("js/intake-page.js")
    assert {"js/form.js", "js/safety.js"} <= static
    assert {"js/intake-crypto.js", "js/exif.js", "js/codename.js"} <= lazy
    # Each lazy module carries its integrity value in the page's JSON...
    sri_json = json.loads(unescape(re.findall(r'data-module-sri="([^"]+)"', html)[0]))
    for name in lazy:
        assert sri_json[f"/static/{name}"] == sri((STATIC_DIR / name).read_bytes())
    # ...and everything the page imports statically, or that a lazy module
    # imports in turn, is preloaded with its own.
    needed = set().union(*(_graph(name)[0] for name in lazy)) | static
    late = {"js/exif.js", "js/codename.js"}
    assert needed - late - {"js/intake-page.js"} == set(preloaded)
    # exif.js and codename.js wait until the page is ready (not preloaded).
    assert not late & set(preloaded)


def test_the_mailbox_page_preloads_every_module_it_imports(client: TestClient) -> None:
    html = client.get("/en/mailbox/").text
    preloaded = _preloaded(html)
    _checked(preloaded)
    static, lazy = _graph("js/mailbox-page.js")
    assert lazy == set()
    assert {"js/intake-crypto.js", "js/protocol/state.js", "js/codename.js"} <= static
    assert static - {"js/mailbox-page.js"} == set(preloaded)


@pytest.mark.parametrize("page", ["intake", "mailbox"])
def test_the_preload_list_is_dependencies_first(page: str, client: TestClient) -> None:
    preloaded = list(_preloaded(client.get("/en/" if page == "intake" else "/en/mailbox/").text))
    for position, name in enumerate(preloaded):
        imports = _graph(name)[0] - {name}
        assert imports <= set(preloaded[:position]), name

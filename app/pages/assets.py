"""Subresource-integrity values for every script and stylesheet the pages load.

The page carries an `integrity` attribute for each file it loads, so a file
altered on the server's disk (or by anything between the disk and the
browser) is refused by the browser instead of run. Values are computed from
the files themselves when the app starts, so they cannot drift from what is
served.
"""

from __future__ import annotations

import base64
import hashlib
import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

# The modules behind the intake-crypto.js facade, in dependency order.
PROTOCOL_MODULES = (
    "js/protocol/state.js",
    "js/protocol/encoding.js",
    "js/protocol/constants.js",
    "js/protocol/primitives.js",
    "js/protocol/manifest.js",
    "js/protocol/envelope.js",
    "js/protocol/content.js",
    "js/protocol/seal.js",
    "js/protocol/mailbox.js",
)

# Files the applicant's page may load; the vendored ones come from npm (see
# scripts/vendor_assets.py) and are absent until `make vendor` has run.
PAGE_ASSETS = (
    "css/intake.css",
    "js/intake-page.js",
    "js/safety.js",
    "js/form.js",
    "js/files.js",
    "js/upload.js",
    "js/exif.js",
    "js/codename.js",
    "wordlists/ru.txt",
    "wordlists/en.txt",
    # Words taken out of the lists: the mailbox page still accepts them.
    "wordlists/ru-retired.txt",
    "wordlists/en-retired.txt",
    "js/intake-crypto.js",
    # intake-crypto.js's modules (a static import gets no integrity value of its
    # own: each page preloads these with theirs, see intake.html/mailbox.html).
    *PROTOCOL_MODULES,
    "js/sodium-loader.js",
    "js/sodium-preload.js",
    "js/pow.js",
    "vendor/libsodium.mjs",
    # libsodium.mjs's WebAssembly, cut to what the pages call, and the module
    # that fetches it under its SRI value (scripts/trim_libsodium.py).
    "vendor/libsodium.wasm",
    "vendor/libsodium-boot.mjs",
    "vendor/libsodium-wrappers.mjs",
    "vendor/libsodium.js",
    "vendor/libsodium-wrappers.js",
    "js/mailbox-page.js",
    "css/mailbox.css",
)


# Each page's entry module and the modules it import()s as soon as it runs:
# with their static imports, they are what the page preloads, each with its
# integrity value (a static import carries none of its own). Modules imported
# later (the intake page's exif.js and codename.js, once it is ready) are not
# preloaded, so they do not slow libsodium down on a slow line.
PAGE_MODULES: dict[str, tuple[str, ...]] = {
    "intake": (
        "js/intake-page.js",
        "js/sodium-loader.js",
        "js/intake-crypto.js",
        "js/upload.js",
        "js/pow.js",
    ),
    "mailbox": ("js/mailbox-page.js",),
}

_STATIC_IMPORT = re.compile(
    r'^\s*(?:import|export)\b[^;"]*?(?:\bfrom\s*)?"(\.{1,2}/[\w./-]+\.js)"', re.MULTILINE
)


def static_imports(names: Iterable[str], static_dir: Path = STATIC_DIR) -> tuple[str, ...]:
    """`names` and every module they import statically, directly or not,
    each after the modules it imports (the order a browser evaluates them)."""
    order: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in order or name in visiting:
            return
        visiting.add(name)
        source = (static_dir / name).read_text(encoding="utf-8")
        for ref in _STATIC_IMPORT.findall(source):
            visit(posixpath.normpath(posixpath.join(posixpath.dirname(name), ref)))
        order.append(name)

    for name in names:
        visit(name)
    return tuple(order)


class MissingAsset(RuntimeError):
    """A file the page needs is not on disk (run `make vendor`)."""


def sri(data: bytes) -> str:
    """The SRI string (sha384) of `data`."""
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode("ascii")


@dataclass(frozen=True)
class AssetIndex:
    """URL path and integrity value of each page asset."""

    integrity: dict[str, str]
    # page -> the modules its <head> preloads (`PAGE_MODULES`), entry excluded.
    preloads: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def url(self, name: str) -> str:
        return f"/static/{name}"

    def sri(self, name: str) -> str:
        return self.integrity[name]

    def subset(self, names: tuple[str, ...] | list[str]) -> dict[str, str]:
        """URL path to SRI for `names`: what a page's lazy module loader needs."""
        return {self.url(name): self.integrity[name] for name in names}

    def vendor_sri(self) -> dict[str, str]:
        """What sodium-loader.js needs: vendor file name to SRI."""
        prefix = "vendor/"
        return {k[len(prefix) :]: v for k, v in self.integrity.items() if k.startswith(prefix)}


def build_asset_index(static_dir: Path = STATIC_DIR) -> AssetIndex:
    """Hash every page asset; refuse to start without one, rather than serve a broken page."""
    integrity: dict[str, str] = {}
    missing = []
    for name in PAGE_ASSETS:
        path = static_dir / name
        if not path.is_file():
            missing.append(name)
            continue
        integrity[name] = sri(path.read_bytes())
    if missing:
        raise MissingAsset(
            "missing page assets: "
            + ", ".join(missing)
            + " (run `make vendor` to fetch libsodium.js)"
        )
    preloads = {}
    for page, (entry, *early) in PAGE_MODULES.items():
        modules = static_imports([entry, *early], static_dir)
        unlisted = sorted(set(modules) - set(integrity))
        if unlisted:
            # A module the page would load without an integrity value.
            raise MissingAsset(f"modules not in PAGE_ASSETS: {', '.join(unlisted)}")
        preloads[page] = tuple(name for name in modules if name != entry)
    return AssetIndex(integrity, preloads)

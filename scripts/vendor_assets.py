#!/usr/bin/env python3
"""Copy the pinned browser libraries from node_modules/ into app/static/vendor/.

Why: the applicant's page must load its crypto from our own origin, never a
CDN (a CDN could serve a backdoored libsodium to one applicant), and the page
pins every file by Subresource Integrity. This script is the only way files
reach ``app/static/vendor/`` (gitignored); it writes ``manifest.json`` with the
SRI value and gzip size of each file so the templates can emit ``integrity=``.

Run after ``npm ci --ignore-scripts`` (the lockfile's integrity hashes pin the
npm tarballs; ``--ignore-scripts`` stops any package code running at install):

    npm ci --ignore-scripts
    .venv/bin/python scripts/vendor_assets.py

It also writes a gzip (``.gz``) and, when the ``brotli`` package is installed
(the server's extra), a brotli (``.br``) copy of each file the page loads, at
the strongest settings: the server sends these to browsers that accept them
(app/static_files.py, which checks that each copy decodes to its file), so
the slow compression is paid once here, not by the server.

libsodium.mjs, the build nearly every applicant downloads, is cut to the
functions our pages call (scripts/trim_libsodium.py, with the pinned binaryen
from node_modules): about a third fewer bytes before the page can encrypt.

Standard library only (brotli optional), so it runs before the project is installed.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from trim_libsodium import TrimError, strip_module, trim_module

ROOT = Path(__file__).resolve().parent.parent

# The bare specifier the ESM wrappers import; browsers cannot resolve it
# without an import map (which would need an inline script, forbidden by our
# CSP), so it is rewritten to a relative URL on our own origin: our boot
# module, which hands libsodium.mjs its WebAssembly (scripts/libsodium-boot.mjs).
BARE_IMPORT = b'from"libsodium"'
RELATIVE_IMPORT = b'from"./libsodium-boot.mjs"'

# libsodium.mjs's WebAssembly, cut and taken out of it (scripts/trim_libsodium.py),
# and the module of ours that fetches it under its SRI value.
WASM_NAME = "libsodium.wasm"
BOOT_NAME = "libsodium-boot.mjs"
BOOT_SOURCE = ROOT / "scripts" / BOOT_NAME
BOOT_INTEGRITY = b"@WASM_INTEGRITY@"

# binaryen's optimiser (npm devDependency, pinned in package-lock.json).
WASM_OPT = Path("binaryen/bin/wasm-opt")


class VendorError(Exception):
    """A source file is missing or not what we expect: nothing is half-written."""


@dataclass(frozen=True)
class Asset:
    """One vendored file: where it comes from and whether its import is rewritten."""

    name: str
    source: str  # relative to node_modules/
    rewrite_import: bool = False
    compressed: bool = True  # .gz and .br copies for the server (not for test-only files)
    trim_wasm: bool = False  # cut its WebAssembly to what the pages call, serve it apart
    strip_wasm: bool = False  # drop its WebAssembly, keep its asm.js backup


ASSETS: tuple[Asset, ...] = (
    # ES modules for browsers with WebAssembly (the normal case).
    Asset("libsodium.mjs", "libsodium/dist/modules-esm/libsodium.mjs", trim_wasm=True),
    Asset(
        "libsodium-wrappers.mjs",
        "libsodium-wrappers/dist/modules-esm/libsodium-wrappers.mjs",
        rewrite_import=True,
    ),
    # Classic scripts for browsers without WebAssembly (Tor Browser "Safer"):
    # libsodium.js carries libsodium's asm.js backup module (and, upstream, a
    # WebAssembly module too, which we drop: scripts/trim_libsodium.py).
    Asset("libsodium.js", "libsodium/dist/modules/libsodium.js", strip_wasm=True),
    Asset("libsodium-wrappers.js", "libsodium-wrappers/dist/modules/libsodium-wrappers.js"),
    # Accessibility engine, loaded only by tests.
    Asset("axe.min.js", "axe-core/axe.min.js", compressed=False),
)


def sri(data: bytes) -> str:
    """The Subresource Integrity value (sha384) browsers check before running a file."""
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode("ascii")


def gzip_size(data: bytes) -> int:
    """Bytes over the wire with gzip at level 9 (what a proxy like Caddy sends)."""
    return len(gzip.compress(data, compresslevel=9, mtime=0))


def write_compressed(path: Path, data: bytes) -> list[str]:
    """Write `path`.gz (and `path`.br with brotli installed); remove stale ones. Names written."""
    written = []
    gz = path.with_name(path.name + ".gz")
    gz.write_bytes(gzip.compress(data, compresslevel=9, mtime=0))
    written.append(gz.name)
    br = path.with_name(path.name + ".br")
    try:
        import brotli  # optional: the server compresses at first request without it
    except ImportError:
        br.unlink(missing_ok=True)
        return written
    br.write_bytes(brotli.compress(data, quality=11))
    written.append(br.name)
    return written


def load(asset: Asset, node_modules: Path) -> dict[str, bytes]:
    """Read one source file, applying its rewrites; the file(s) it gives, by name."""
    path = node_modules / asset.source
    if not path.is_file():
        raise VendorError(f"missing {path}: run `npm ci --ignore-scripts` in {ROOT} first")
    data = path.read_bytes()
    if asset.rewrite_import:
        count = data.count(BARE_IMPORT)
        if count != 1:
            # A new release that imports differently must be looked at by a person,
            # not patched blindly.
            raise VendorError(
                f"{path}: expected exactly one {BARE_IMPORT.decode()} import, found {count}"
            )
        data = data.replace(BARE_IMPORT, RELATIVE_IMPORT)
    try:
        if asset.strip_wasm:
            data = strip_module(data)
        if asset.trim_wasm:
            return _with_boot(asset.name, *trim_module(data, node_modules / WASM_OPT))
    except TrimError as exc:
        raise VendorError(f"{path}: {exc}") from exc
    return {asset.name: data}


def _with_boot(name: str, glue: bytes, wasm: bytes) -> dict[str, bytes]:
    """The glue, its WebAssembly, and our boot module pinning the WebAssembly."""
    boot = BOOT_SOURCE.read_bytes()
    if boot.count(BOOT_INTEGRITY) != 1:
        raise VendorError(f"{BOOT_SOURCE}: expected {BOOT_INTEGRITY.decode()} once")
    return {
        name: glue,
        WASM_NAME: wasm,
        BOOT_NAME: boot.replace(BOOT_INTEGRITY, sri(wasm).encode()),
    }


def vendor(node_modules: Path, dest: Path) -> dict[str, dict[str, object]]:
    """Copy every asset and write manifest.json; return the manifest."""
    # Read everything first so a missing file leaves the old vendor/ intact.
    files = [(asset, load(asset, node_modules)) for asset in ASSETS]
    dest.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, dict[str, object]] = {}
    for asset, contents in files:
        for name, data in contents.items():
            (dest / name).write_bytes(data)
            if asset.compressed:
                write_compressed(dest / name, data)
            manifest[name] = {
                "integrity": sri(data),
                "size": len(data),
                "gzip": gzip_size(data),
                "source": asset.source if name == asset.name else f"{asset.source} ({name})",
            }
    (dest / "manifest.json").write_text(
        json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    return manifest


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: vendor, then print what was written."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--node-modules", type=Path, default=ROOT / "node_modules")
    parser.add_argument("--dest", type=Path, default=ROOT / "app" / "static" / "vendor")
    args = parser.parse_args(argv)
    try:
        manifest = vendor(args.node_modules, args.dest)
    except VendorError as exc:
        print(f"vendor_assets: error: {exc}", file=sys.stderr)
        return 1
    print(f"vendor_assets: wrote {len(manifest)} files to {args.dest}")
    for name, entry in manifest.items():
        print(
            f"  {name:24} {entry['size']:>9} bytes  gzip {entry['gzip']:>8}  {entry['integrity']}"
        )
    print(f"  rewrote {BARE_IMPORT.decode()} -> {RELATIVE_IMPORT.decode()} once")
    trimmed = [asset.name for asset in ASSETS if asset.trim_wasm]
    print(
        f"  cut the WebAssembly in {', '.join(trimmed)} to the functions the pages call;"
        f" it is {WASM_NAME}, fetched by {BOOT_NAME}"
    )
    print(f"vendor_assets: wrote {args.dest / 'manifest.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

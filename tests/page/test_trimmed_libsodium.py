"""The libsodium the page downloads is cut to what the pages call, and nothing they call is cut.

scripts/trim_libsodium.py removes about 280 of libsodium.mjs's exported
functions at vendor time and takes the WebAssembly out of the glue, to be
sent as a binary (libsodium.wasm, fetched by libsodium-boot.mjs under its
SRI value): about half the bytes before "encryption ready" on a slow line.
These tests read the real vendored files: a page that starts calling a
function the build no longer has fails here, by name, before any applicant
meets it. The browser tests prove the cut build works, and is the one that
runs (tests/browser/test_sodium_loader.py, WebAssembly and not the asm.js
fallback; a tampered libsodium.wasm is refused).
"""

from __future__ import annotations

import base64
import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENDOR = ROOT / "app" / "static" / "vendor"
NODE_MODULES = ROOT / "node_modules"

# A libsodium function as our code reaches it, `sodium.crypto_box_seal(` or
# `s.randombytes_buf(` (lower case: crypto_box_SEALBYTES and the like are
# constants), or by name in protocol/state.js's list of what init() requires.
CALL = re.compile(r"(?<=\.)((?:crypto|randombytes)_[a-z0-9_]+)\b")
REQUIRED = re.compile(r'"((?:crypto|randombytes)_[a-z0-9_]+)"')


def _load_trim() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "trim_libsodium", ROOT / "scripts" / "trim_libsodium.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("trim_libsodium", module)
    spec.loader.exec_module(module)
    return module


trim = _load_trim()


def _called(folder: Path) -> set[str]:
    names: set[str] = set()
    for path in folder.rglob("*.js"):
        text = path.read_text(encoding="utf-8")
        names.update(CALL.findall(text))
        if path.name == "state.js":
            names.update(REQUIRED.findall(text))
    return names


def _embedded(mjs: bytes) -> tuple[bytes, dict[str, str]]:
    """The module's WebAssembly and its export-name -> function-name bindings."""
    (match,) = trim.embedded_modules(mjs)
    glue = mjs[: match.start(1)] + mjs[match.end(1) :]
    return base64.b64decode(match.group(1)), trim.glue_bindings(glue)


def _functions(wasm: bytes, bindings: dict[str, str]) -> set[str]:
    return {bindings[name] for name in trim.export_names(wasm) if name in bindings}


@pytest.fixture(scope="module")
def vendored() -> tuple[bytes, dict[str, str]]:
    """The vendored libsodium.wasm and the bindings of the vendored libsodium.mjs glue."""
    if not (VENDOR / "libsodium.wasm").is_file():
        pytest.fail("app/static/vendor/ is missing: run `make vendor`")
    glue = (VENDOR / "libsodium.mjs").read_bytes()
    return (VENDOR / "libsodium.wasm").read_bytes(), trim.glue_bindings(glue)


@pytest.fixture(scope="module")
def original() -> bytes:
    path = NODE_MODULES / "libsodium" / "dist" / "modules-esm" / "libsodium.mjs"
    if not path.is_file():
        pytest.fail("node_modules/ is missing: run `make vendor`")
    return path.read_bytes()


def test_the_kept_list_is_exactly_what_the_pages_call() -> None:
    called = _called(ROOT / "app" / "static" / "js")
    missing, unused = sorted(called - trim.PAGE_FUNCTIONS), sorted(trim.PAGE_FUNCTIONS - called)
    assert called == set(trim.PAGE_FUNCTIONS), (
        "scripts/trim_libsodium.py PAGE_FUNCTIONS must list exactly what app/static/js calls: "
        f"missing {missing}, unused {unused}"
    )


def test_the_benchmark_baseline_calls_only_kept_functions() -> None:
    called = _called(ROOT / "bench" / "pages")
    assert called <= trim.KEPT_FUNCTIONS, sorted(called - trim.KEPT_FUNCTIONS)


def test_the_vendored_build_has_every_kept_function(vendored: tuple[bytes, dict[str, str]]) -> None:
    assert _functions(*vendored) >= trim.KEPT_FUNCTIONS


def test_the_vendored_build_has_lost_what_no_page_calls(
    vendored: tuple[bytes, dict[str, str]], original: bytes
) -> None:
    kept, before = _functions(*vendored), _functions(*_embedded(original))
    for dropped in (
        "crypto_kx_keypair",
        "crypto_kem_mlkem768_keypair",
        "crypto_aead_aegis256_encrypt",
        "crypto_hash_sha3512",
        "crypto_box_easy",
    ):
        assert dropped in before and dropped not in kept, dropped
    assert len(vendored[0]) < 0.6 * len(_embedded(original)[0])


def test_the_glue_no_longer_carries_the_module(original: bytes) -> None:
    glue = (VENDOR / "libsodium.mjs").read_bytes()
    assert trim.embedded_modules(glue) == []
    assert len(glue) < 0.1 * len(original)
    # Its decoder, never used, would decode nothing and fail at once.
    (match,) = trim.embedded_modules(original)
    assert str(len(match.group(1))).encode() not in glue


def test_the_boot_module_pins_the_binary_and_the_wrappers_import_it() -> None:
    manifest = json.loads((VENDOR / "manifest.json").read_text(encoding="utf-8"))
    boot = (VENDOR / "libsodium-boot.mjs").read_text(encoding="utf-8")
    assert f'const INTEGRITY = "{manifest["libsodium.wasm"]["integrity"]}";' in boot
    assert 'import factory from "./libsodium.mjs";' in boot
    wrappers = (VENDOR / "libsodium-wrappers.mjs").read_bytes()
    assert wrappers.count(b'from"./libsodium-boot.mjs"') == 1
    assert b'from"./libsodium.mjs"' not in wrappers


def test_keeping_every_export_changes_nothing(original: bytes) -> None:
    wasm, _ = _embedded(original)
    assert trim.keep_exports(wasm, set(trim.export_names(wasm))) == wasm


def test_a_release_without_a_kept_function_is_refused(original: bytes) -> None:
    changed = original.replace(b"._crypto_box_seal=", b"._crypto_box_sealed=", 1)
    with pytest.raises(trim.TrimError, match="no longer exports crypto_box_seal"):
        trim.trim_module(changed, NODE_MODULES / "binaryen" / "bin" / "wasm-opt")


def test_a_glue_whose_decoder_lengths_are_not_found_once_is_refused(original: bytes) -> None:
    (match,) = trim.embedded_modules(original)
    length = str(len(match.group(1))).encode()
    changed = original.replace(b"export default", b"var twice=" + length + b";export default", 1)
    with pytest.raises(trim.TrimError, match=f"length {length.decode()} once"):
        trim.trim_module(changed, NODE_MODULES / "binaryen" / "bin" / "wasm-opt")


def test_a_release_without_the_instantiate_hook_is_refused(original: bytes) -> None:
    changed = original.replace(b"instantiateWasm", b"instantiateWasX")
    with pytest.raises(trim.TrimError, match="instantiateWasm"):
        trim.trim_module(changed, NODE_MODULES / "binaryen" / "bin" / "wasm-opt")


def test_the_classic_build_carries_only_its_asmjs_backup() -> None:
    # Loaded where WebAssembly is missing (Tor Browser "Safer"), where its
    # WebAssembly module was bytes for nothing.
    vendored = (VENDOR / "libsodium.js").read_bytes()
    upstream = (NODE_MODULES / "libsodium" / "dist" / "modules" / "libsodium.js").read_bytes()
    assert trim.embedded_modules(vendored) == []
    assert len(trim.embedded_modules(upstream)) == 1
    assert b"useBackupModule()" in vendored
    assert len(upstream) - len(vendored) > 290_000


def test_a_classic_release_without_its_backup_is_refused() -> None:
    upstream = (NODE_MODULES / "libsodium" / "dist" / "modules" / "libsodium.js").read_bytes()
    with pytest.raises(trim.TrimError, match=r"asm\.js backup"):
        trim.strip_module(upstream.replace(b"useBackupModule()", b"useOtherModule()"))


def test_a_missing_optimiser_is_refused(original: bytes, tmp_path: Path) -> None:
    with pytest.raises(trim.TrimError, match="missing"):
        trim.trim_module(original, tmp_path / "wasm-opt")

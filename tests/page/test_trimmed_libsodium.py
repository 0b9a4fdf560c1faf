"""The libsodium the page downloads is cut to what the pages call, and nothing they call is cut.

scripts/trim_libsodium.py removes about 280 of libsodium.mjs's exported
functions at vendor time (a third of the bytes before "encryption ready" on
a slow line). These tests read the real vendored files: a page that starts
calling a function the build no longer has fails here, by name, before any
applicant meets it. The browser tests (tests/browser/test_sodium_loader.py
checks that the WebAssembly build, not the asm.js fallback, is the one that
ran) prove the cut build works.
"""

from __future__ import annotations

import base64
import importlib.util
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
    (match,) = trim.EMBEDDED_WASM.finditer(mjs)
    glue = mjs[: match.start(1)] + mjs[match.end(1) :]
    return base64.b64decode(match.group(1)), trim.glue_bindings(glue)


def _functions(mjs: bytes) -> set[str]:
    wasm, bindings = _embedded(mjs)
    return {bindings[name] for name in trim.export_names(wasm) if name in bindings}


@pytest.fixture(scope="module")
def vendored() -> bytes:
    path = VENDOR / "libsodium.mjs"
    if not path.is_file():
        pytest.fail("app/static/vendor/ is missing: run `make vendor`")
    return path.read_bytes()


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


def test_the_vendored_build_has_every_kept_function(vendored: bytes) -> None:
    assert _functions(vendored) >= trim.KEPT_FUNCTIONS


def test_the_vendored_build_has_lost_what_no_page_calls(vendored: bytes, original: bytes) -> None:
    kept, before = _functions(vendored), _functions(original)
    for dropped in (
        "crypto_kx_keypair",
        "crypto_kem_mlkem768_keypair",
        "crypto_aead_aegis256_encrypt",
        "crypto_hash_sha3512",
        "crypto_box_easy",
    ):
        assert dropped in before and dropped not in kept, dropped
    assert len(_embedded(vendored)[0]) < 0.7 * len(_embedded(original)[0])


def test_the_glue_decodes_the_cut_module_to_its_exact_length(vendored: bytes) -> None:
    (match,) = trim.EMBEDDED_WASM.finditer(vendored)
    encoded = match.group(1)
    glue = vendored[: match.start(1)] + vendored[match.end(1) :]
    for number in (len(encoded), len(encoded) // 4 * 3, len(encoded) - 2, len(encoded) - 1):
        assert re.search(rb"(?<![\w.])%d(?![\w.])" % number, glue), number


def test_keeping_every_export_changes_nothing(original: bytes) -> None:
    wasm, _ = _embedded(original)
    assert trim.keep_exports(wasm, set(trim.export_names(wasm))) == wasm


def test_a_release_without_a_kept_function_is_refused(original: bytes) -> None:
    changed = original.replace(b"._crypto_box_seal=", b"._crypto_box_sealed=", 1)
    with pytest.raises(trim.TrimError, match="no longer exports crypto_box_seal"):
        trim.trim_module(changed, NODE_MODULES / "binaryen" / "bin" / "wasm-opt")


def test_a_glue_whose_decoder_lengths_are_not_found_once_is_refused(original: bytes) -> None:
    (match,) = trim.EMBEDDED_WASM.finditer(original)
    length = str(len(match.group(1))).encode()
    changed = original.replace(b"export default", b"var twice=" + length + b";export default", 1)
    with pytest.raises(trim.TrimError, match=f"length {length.decode()} once"):
        trim.trim_module(changed, NODE_MODULES / "binaryen" / "bin" / "wasm-opt")


def test_a_missing_optimiser_is_refused(original: bytes, tmp_path: Path) -> None:
    with pytest.raises(trim.TrimError, match="missing"):
        trim.trim_module(original, tmp_path / "wasm-opt")

"""Cut libsodium's WebAssembly down to the functions our pages call, and send it as a binary.

Why: on the applicant's slow phone line (400 kbit/s) every byte before
"encryption ready" costs time, and libsodium.mjs is most of them
(docs/PERFORMANCE.md, time to ready). The npm build exports about 300
functions (password hashing, ML-KEM, AEGIS, SHA-3 ...); the pages call 14. We
remove the other exports from the module and let binaryen's
`--remove-unused-module-elements` drop the code only they reached. Function
bodies are not optimised or rewritten otherwise, so what runs is libsodium's
own compiled code; the browser vector tests run against this build.

The emscripten glue in libsodium.mjs binds each export by its minified name
(`g._crypto_box_seal=A.za`) and the wrappers install only the functions the
module has (`"function"==typeof r["_"+name]`), so a removed export is simply
absent from the `sodium` object.

The module is then taken out of the glue, where it sat as base64 (a third
more bytes, even compressed), and served as libsodium.wasm: our
libsodium-boot.mjs hands the glue emscripten's `instantiateWasm` option,
which fetches it under the SRI value written into libsodium-boot.mjs (itself
pinned by the page) and instantiates it.

Everything here is checked, never patched blindly: an unexpected shape of
a new release raises TrimError and nothing is written.

Standard library only (binaryen's wasm-opt runs under node from node_modules).
"""

from __future__ import annotations

import base64
import re
import shutil
import subprocess  # nosec B404: runs the pinned wasm-opt from node_modules, no shell
import tempfile
from pathlib import Path

# What the pages call (app/static/js; tests/page/test_trimmed_libsodium.py
# fails when a page starts calling anything else) ...
PAGE_FUNCTIONS: frozenset[str] = frozenset(
    {
        "crypto_box_seal",
        "crypto_box_seal_open",
        "crypto_box_seed_keypair",
        "crypto_scalarmult_base",
        "crypto_generichash",
        "crypto_generichash_init",
        "crypto_generichash_update",
        "crypto_generichash_final",
        "crypto_secretstream_xchacha20poly1305_init_pull",
        "crypto_secretstream_xchacha20poly1305_pull",
        "crypto_secretstream_xchacha20poly1305_push",
        "crypto_sign_verify_detached",
        "randombytes_buf",
        "randombytes_uniform",
    }
)
# ... what the benchmark's raw-libsodium baseline calls on the same build
# (bench/pages/encrypt.js; all three share the code the pages keep) ...
BENCH_FUNCTIONS: frozenset[str] = frozenset(
    {
        "crypto_box_keypair",
        "crypto_secretstream_xchacha20poly1305_init_push",
        "crypto_secretstream_xchacha20poly1305_keygen",
    }
)
# ... and what the glue and the wrappers themselves need: the wrappers run a
# secretbox round trip as their start-up self-test, and fail without it (the
# loader would then fall back to the slow asm.js build).
RUNTIME_FUNCTIONS: frozenset[str] = frozenset(
    {"sodium_init", "malloc", "free", "crypto_secretbox_easy", "crypto_secretbox_open_easy"}
)

KEPT_FUNCTIONS: frozenset[str] = PAGE_FUNCTIONS | BENCH_FUNCTIONS | RUNTIME_FUNCTIONS

# Constant getters (crypto_box_SEALBYTES, TAG_FINAL, version ...): a few bytes
# each, and the wrappers read them when they start. All are kept.
CONSTANT_GETTER = re.compile(
    r"(bytes|bytes_min|bytes_max|_tag_[a-z]+|primitive|version_[a-z_]+|_is_available"
    r"|domain_standard|library_minimal)$"
)

# The features libsodium.js 0.8 is compiled with (it carries no target
# features section). wasm-opt refuses a module that uses anything else.
WASM_FEATURES: tuple[str, ...] = (
    "--enable-bulk-memory",
    "--enable-bulk-memory-opt",
    "--enable-sign-ext",
    "--enable-nontrapping-float-to-int",
    "--enable-mutable-globals",
)

EMBEDDED_WASM = re.compile(
    rb'"((?:[A-Za-z0-9+/]{4}){1000,}(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?)"'
)
GLUE_BINDING = re.compile(rb"\b[A-Za-z_$]\._([a-z0-9_]+)=[A-Za-z_$]\.([A-Za-z_$][\w$]*)[,;]")
EXPORT_SECTION = 7
WASM_MAGIC = b"\0asm\x01\0\0\0"


class TrimError(Exception):
    """libsodium.mjs or wasm-opt is not what this script was written for."""


def _uleb(data: bytes, at: int) -> tuple[int, int]:
    """Read one unsigned LEB128 number; return it and the offset after it."""
    value = shift = 0
    while True:
        if at >= len(data):
            raise TrimError("WebAssembly module ends inside a number")
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, at


def _uleb_bytes(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def export_names(wasm: bytes) -> list[str]:
    """The module's export names, in order."""
    return [name for name, _ in _exports(wasm)[0]]


def _exports(wasm: bytes) -> tuple[list[tuple[str, bytes]], int, int]:
    """(name, encoded entry) for each export; the export section's start and end."""
    if not wasm.startswith(WASM_MAGIC):
        raise TrimError("not a WebAssembly 1.0 module")
    at = len(WASM_MAGIC)
    while at < len(wasm):
        section_start = at
        section_id = wasm[at]
        size, body = _uleb(wasm, at + 1)
        end = body + size
        if section_id == EXPORT_SECTION:
            count, at = _uleb(wasm, body)
            entries = []
            for _ in range(count):
                entry_start = at
                length, at = _uleb(wasm, at)
                name = wasm[at : at + length].decode("utf-8")
                at += length + 1  # the export's kind
                _, at = _uleb(wasm, at)  # its index
                entries.append((name, wasm[entry_start:at]))
            if at != end:
                raise TrimError("export section has bytes after its entries")
            return entries, section_start, end
        at = end
    raise TrimError("WebAssembly module has no export section")


def keep_exports(wasm: bytes, keep: set[str]) -> bytes:
    """`wasm` with only the exports named in `keep` (everything else unchanged)."""
    entries, start, end = _exports(wasm)
    kept = [entry for name, entry in entries if name in keep]
    body = _uleb_bytes(len(kept)) + b"".join(kept)
    return wasm[:start] + bytes([EXPORT_SECTION]) + _uleb_bytes(len(body)) + body + wasm[end:]


def glue_bindings(glue: bytes) -> dict[str, str]:
    """Minified export name -> libsodium function name, read off the glue."""
    bindings: dict[str, str] = {}
    for match in GLUE_BINDING.finditer(glue):
        bindings[match.group(2).decode()] = match.group(1).decode()
    return bindings


def exports_to_keep(exports: list[str], bindings: dict[str, str]) -> set[str]:
    """The export names to keep: our functions, the constant getters, and the runtime's own.

    An export the glue does not bind to a libsodium name (the memory, the
    function table) belongs to the runtime and is kept.
    """
    named = {bindings[name] for name in exports if name in bindings}
    missing = sorted(KEPT_FUNCTIONS - named)
    if missing:
        raise TrimError(f"libsodium.mjs no longer exports {', '.join(missing)}")
    return {
        name
        for name in exports
        if name not in bindings
        or bindings[name] in KEPT_FUNCTIONS
        or CONSTANT_GETTER.search(bindings[name])
    }


def remove_unused(wasm: bytes, wasm_opt: Path) -> bytes:
    """Run binaryen's dead-code removal (and nothing else) over `wasm`."""
    if not wasm_opt.is_file():
        raise TrimError(f"missing {wasm_opt}: run `npm ci --ignore-scripts` first")
    node = shutil.which("node")
    if node is None:
        raise TrimError("node is missing: apt-get install -y nodejs npm")
    with tempfile.TemporaryDirectory(prefix="trim-libsodium-") as folder:
        source, target = Path(folder) / "in.wasm", Path(folder) / "out.wasm"
        source.write_bytes(wasm)
        result = subprocess.run(  # noqa: S603  # nosec B603: fixed argument list, no shell
            [
                node,
                str(wasm_opt),
                *WASM_FEATURES,
                "--remove-unused-module-elements",
                str(source),
                "-o",
                str(target),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0 or not target.is_file():
            detail = (result.stderr or result.stdout).strip().splitlines()[-3:]
            raise TrimError("wasm-opt failed: " + " / ".join(detail))
        return target.read_bytes()


def _rewrite_lengths(glue: bytes, lengths: list[tuple[int, int]]) -> bytes:
    """Replace each old length (found exactly once, as a whole number) with the new one."""
    patterns = []
    for old, new in lengths:
        pattern = re.compile(rb"(?<![\w.])" + str(old).encode() + rb"(?![\w.])")
        found = len(pattern.findall(glue))
        if found != 1:
            raise TrimError(f"expected the length {old} once in the glue, found {found}")
        patterns.append((pattern, str(new).encode()))
    for pattern, replacement in patterns:
        glue = pattern.sub(replacement, glue)
    return glue


def embedded_modules(text: bytes) -> list[re.Match[bytes]]:
    """The base64 strings in `text` that hold a WebAssembly module (not other data)."""
    return [
        match
        for match in EMBEDDED_WASM.finditer(text)
        if base64.b64decode(match.group(1)[:12]).startswith(WASM_MAGIC)
    ]


def _take_module(text: bytes) -> tuple[bytes, bytes]:
    """(`text` without its one embedded module, the module).

    The glue keeps its base64 decoder, pointed at an empty string: its
    `Q=<base64 length>` and `new Uint8Array(<length/4*3>-("="==A[<length-2>])
    -("="==A[<length-1>]))` are rewritten to an empty module's, so if it ever
    runs it fails at once instead of running anything.
    """
    modules = embedded_modules(text)
    if len(modules) != 1:
        raise TrimError(f"expected one embedded WebAssembly module, found {len(modules)}")
    match = modules[0]
    encoded = match.group(1)
    glue = _rewrite_lengths(
        text[: match.start(1)] + text[match.end(1) :],
        [
            (len(encoded), 0),
            (len(encoded) // 4 * 3, 0),
            (len(encoded) - 2, -2),
            (len(encoded) - 1, -1),
        ],
    )
    return glue, base64.b64decode(encoded, validate=True)


def trim_module(mjs: bytes, wasm_opt: Path) -> tuple[bytes, bytes]:
    """(libsodium.mjs without its WebAssembly, the module cut to KEPT_FUNCTIONS).

    The glue's decoder then runs only if no `instantiateWasm` is given
    (libsodium-boot.mjs always gives one).
    """
    if b"instantiateWasm" not in mjs:
        raise TrimError("libsodium.mjs no longer takes an instantiateWasm option")
    glue, wasm = _take_module(mjs)
    keep = exports_to_keep(export_names(wasm), glue_bindings(glue))
    return glue, remove_unused(keep_exports(wasm, keep), wasm_opt)


def strip_module(classic: bytes) -> bytes:
    """libsodium.js (the classic build) without its WebAssembly: only its asm.js backup.

    The page loads the classic build where WebAssembly is missing (Tor Browser
    "Safer"), where the module is dead weight: 107 of its 240 kB br, and a
    base64 decode in the interpreter before the backup starts. Its other use,
    a fallback when the ES-module build could not run (a CSP without
    'wasm-unsafe-eval', a refused file), then runs the asm.js backup too: the
    glue's empty module fails at once, and its own `.catch` starts the backup.
    """
    if b"useBackupModule()" not in classic:
        raise TrimError("libsodium.js no longer falls back to its asm.js backup")
    return _take_module(classic)[0]

"""/static/: the files of app/static/, gzip- or brotli-compressed when the browser accepts it.

Each file is compressed once per process, at its strongest setting, the
first time it is asked for, and kept in memory; the big vendored files come
already compressed by `make vendor` (scripts/vendor_assets.py writes `.gz`
and `.br` beside them), and such a copy is used only after it has been
decompressed and found equal to the file. A file changed on disk (its size or
time) is compressed again.

Plain answers (no acceptable coding, or a Range request: ranges of a
compressed body would be ranges of bytes the browser never checks) are
Starlette's, unchanged. The pages' SRI values cover the decoded bytes, so
they hold for every coding.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import threading
import zlib
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path

import brotli
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.staticfiles import NotModifiedResponse, PathLike, StaticFiles
from starlette.types import Scope

from app.compression import (
    COMPRESSIBLE_SUFFIXES,
    PREFERENCE,
    add_vary,
    choose,
    compress,
    decompress,
)

SIBLING_SUFFIX = {"gzip": ".gz", "br": ".br"}


@dataclass(frozen=True)
class Variants:
    """One file's compressed copies (only those smaller than the file), and their ETags."""

    mtime_ns: int
    size: int
    bodies: dict[str, bytes]
    etags: dict[str, str]


def precompressed(path: Path, data: bytes, coding: str) -> bytes | None:
    """The copy `make vendor` wrote beside `path`, if it decodes to exactly `data`."""
    sibling = path.with_name(path.name + SIBLING_SUFFIX[coding])
    try:
        encoded = sibling.read_bytes()
    except OSError:
        return None
    try:
        decoded = decompress(encoded, coding)
    except (brotli.error, zlib.error, OSError, EOFError):
        return None  # a corrupt copy: the file is compressed again
    return encoded if decoded == data else None


def build_variants(path: Path, stat_result: os.stat_result) -> Variants:
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()[:32]
    bodies: dict[str, bytes] = {}
    for coding in PREFERENCE:
        encoded = precompressed(path, data, coding) or compress(data, coding)
        if len(encoded) < len(data):
            bodies[coding] = encoded
    return Variants(
        mtime_ns=stat_result.st_mtime_ns,
        size=stat_result.st_size,
        bodies=bodies,
        etags={coding: f'"{digest}-{coding}"' for coding in bodies},
    )


class VariantCache:
    """Compressed copies by file path, shared by every app in the process."""

    def __init__(self) -> None:
        self._items: dict[str, Variants] = {}
        self._lock = threading.Lock()

    def get(self, full_path: str, stat_result: os.stat_result) -> Variants:
        with self._lock:
            held = self._items.get(full_path)
            if (
                held is not None
                and held.mtime_ns == stat_result.st_mtime_ns
                and held.size == stat_result.st_size
            ):
                return held
            # Built under the lock: two first requests for libsodium.js must
            # not compress it twice at once.
            variants = build_variants(Path(full_path), stat_result)
            self._items[full_path] = variants
            return variants

    def peek(self, full_path: str, stat_result: os.stat_result) -> Variants | None:
        with self._lock:
            held = self._items.get(full_path)
        if held and held.mtime_ns == stat_result.st_mtime_ns and held.size == stat_result.st_size:
            return held
        return None


_variants = VariantCache()


def compressible(path: str) -> bool:
    return os.path.splitext(path)[1].lower() in COMPRESSIBLE_SUFFIXES


class CompressedStaticFiles(StaticFiles):
    """StaticFiles that answers with a compressed copy when the browser accepts one."""

    def __init__(self, *args: object, cache: VariantCache | None = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.variants = cache or _variants

    def lookup_path(self, path: str) -> tuple[str, os.stat_result | None]:
        # The compressed copies are an encoding of their file, not files of their own.
        if path.endswith(tuple(SIBLING_SUFFIX.values())):
            return "", None
        full_path, stat_result = super().lookup_path(path)
        # lookup_path runs in a worker thread: compress here, off the event loop.
        if stat_result is not None and compressible(full_path) and os.path.isfile(full_path):
            self.variants.get(full_path, stat_result)
        return full_path, stat_result

    def file_response(
        self,
        full_path: PathLike,
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        request_headers = Headers(scope=scope)
        path = os.fspath(full_path)
        if not compressible(str(path)):
            return super().file_response(full_path, stat_result, scope, status_code)
        variants = self.variants.peek(str(path), stat_result)
        coding = None
        if variants is not None and "range" not in request_headers:
            coding = choose(request_headers.get("accept-encoding"), variants.bodies)
        if variants is None or coding is None:
            plain = super().file_response(full_path, stat_result, scope, status_code)
            add_vary(plain.headers)
            return plain
        body = variants.bodies[coding]
        # As FileResponse names the plain file's type.
        media_type = mimetypes.guess_type(path)[0] or "text/plain"
        response = Response(
            b"" if scope["method"] == "HEAD" else body,
            status_code=status_code,
            media_type=media_type,
        )
        headers: MutableHeaders = response.headers
        headers["Content-Encoding"] = coding
        headers["Content-Length"] = str(len(body))
        headers["ETag"] = variants.etags[coding]
        headers["Last-Modified"] = formatdate(stat_result.st_mtime, usegmt=True)
        add_vary(headers)
        if self.is_not_modified(headers, request_headers):
            return NotModifiedResponse(headers)
        return response

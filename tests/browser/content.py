"""The deterministic test content the harness builds in the page (harness.js).

Piece ``k`` (1 MiB) has byte ``i = ((i + (13k mod 251)) * 31 + 7) mod 251``,
so every piece differs: a chunk the browser reordered, dropped or repeated
could not decrypt to the same bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import BinaryIO

PIECE = 1 << 20
_BASE = bytes(((i * 31) + 7) % 251 for i in range(PIECE + 251))


def piece(k: int, length: int = PIECE) -> bytes:
    shift = (k * 13) % 251
    return _BASE[shift : shift + length]


def pieces(size: int) -> Iterator[bytes]:
    k = 0
    while k * PIECE < size:
        yield piece(k, min(PIECE, size - k * PIECE))
        k += 1


def content(size: int) -> bytes:
    """The whole content (small sizes only)."""
    return b"".join(pieces(size))


def matches(src: BinaryIO, size: int) -> bool:
    """Whether ``src`` holds exactly the content of ``size`` bytes, read piece by piece."""
    for expected in pieces(size):
        if src.read(len(expected)) != expected:
            return False
    return src.read(1) == b""


def sha256(size: int) -> str:
    digest = hashlib.sha256()
    for p in pieces(size):
        digest.update(p)
    return digest.hexdigest()

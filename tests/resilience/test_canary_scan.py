"""The canary scanner finds a plaintext however it sits in a file, so its
"0 hits" after the resilience runs means something."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from tests.resilience.support import canary_hits, new_canary


def _encodings(canary: str) -> dict[str, bytes]:
    raw = canary.encode()
    found = {
        "raw": raw,
        "utf-16": canary.encode("utf-16-le"),
        "hex": raw.hex().encode(),
        "json": json.dumps({"story": f"Я ушёл. {canary}"}).encode(),
    }
    for shift in range(3):
        found[f"base64+{shift}"] = base64.b64encode(os.urandom(shift) + raw + os.urandom(5))
    return found


@pytest.mark.parametrize(
    "encoding", ["raw", "utf-16", "hex", "json", "base64+0", "base64+1", "base64+2"]
)
def test_scan_finds_a_canary_in_any_encoding(tmp_path: Path, encoding: str) -> None:
    canary = new_canary()
    folder = tmp_path / "blobs" / "objects" / "ab"
    folder.mkdir(parents=True)
    planted = folder / "blob"
    planted.write_bytes(os.urandom(1000) + _encodings(canary)[encoding] + os.urandom(1000))
    (folder / "clean").write_bytes(os.urandom(4000))
    assert canary_hits([new_canary(), canary], [tmp_path / "blobs"]) == [(planted, canary)]


def test_scan_reports_nothing_for_ciphertext_only(tmp_path: Path) -> None:
    (tmp_path / "log").write_bytes(b"INFO started\n" + os.urandom(10_000))
    assert canary_hits([new_canary() for _ in range(50)], [tmp_path / "log", tmp_path]) == []

"""JSON nesting is bounded before the parser runs (issue 14, item 7).

The parser recurses once per level of arrays and objects; the offline tools'
readers (key files, manifest chains, a bundle's chain.json and meta.json,
decrypted content and server answers) now refuse more than 64 levels from a
linear scan of the bytes, before parsing, so a hostile document costs no
recursion and meets the same limit everywhere. Brackets inside strings do
not count, whatever escapes the strings hold.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from crypto import InvalidEnvelope, InvalidKeyFile, load_json, read_bundle, read_key_file
from crypto.cli.hostile import HostileJSONError, strict_json
from crypto.encoding import MAX_JSON_DEPTH, JSONTooDeep, json_depth

from .test_bundle import tar_of


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        (b"1", 0),
        (b"{}", 1),
        (b'{"a": [1, {"b": []}]}', 4),
        (b'["[[[", "{{{"]', 1),
        (b'["\\"[[", "\\\\", [[]]]', 3),  # an escaped quote, an escaped backslash
        (b'"[[[', 0),  # a string never closed: what follows is inside it
        (b"[]][[[", 2),  # the parser stops at the stray "]": never deeper than this
        ('{"ключ": "[["}'.encode(), 1),
    ],
)
def test_depth_is_counted_outside_strings_only(text: bytes, depth: int) -> None:
    assert json_depth(text) == depth
    assert json_depth(text.decode("utf-8")) == depth


def test_nesting_to_the_limit_parses_and_one_level_more_is_refused_before_parsing() -> None:
    assert load_json(nested(MAX_JSON_DEPTH)) is not None
    # 65 levels are well within what the parser could take: the refusal is
    # the scan's, made before the parser runs.
    json.loads(nested(MAX_JSON_DEPTH + 1))
    with pytest.raises(JSONTooDeep):
        load_json(nested(MAX_JSON_DEPTH + 1))
    with pytest.raises(JSONTooDeep):
        load_json(nested(1_000_000))
    assert load_json(b'{"a": "' + b"[{" * 100_000 + b'"}') == {"a": "[{" * 100_000}


def test_a_key_file_nested_too_deep_is_an_invalid_key_file(tmp_path: Path) -> None:
    path = tmp_path / "deep.key"
    path.write_bytes(b'{"v": 1, "kdf": ' + nested(MAX_JSON_DEPTH + 1) + b"}")
    with pytest.raises(InvalidKeyFile):
        read_key_file(path, "correct horse battery staple orbit")


@pytest.mark.parametrize("member", ["chain.json", "s/" + "a" * 32 + "/meta.json"])
def test_a_bundle_member_nested_too_deep_is_a_malformed_bundle(member: str) -> None:
    deep = b'{"chain": [' + nested(MAX_JSON_DEPTH) + b"]}"
    members = [(member, deep)] if member == "chain.json" else [("chain.json", b'{"chain":[]}')]
    if member != "chain.json":
        members.append((member, deep))
    with pytest.raises(InvalidEnvelope):
        list(read_bundle(io.BytesIO(tar_of(members))))


def test_the_tools_strict_reader_refuses_deep_nesting_with_its_own_error() -> None:
    assert strict_json(nested(MAX_JSON_DEPTH)) is not None
    with pytest.raises(HostileJSONError, match="nested deeper than 64"):
        strict_json(nested(MAX_JSON_DEPTH + 1))
    with pytest.raises(HostileJSONError, match="nested deeper than 64"):
        strict_json(nested(1_000_000).decode())

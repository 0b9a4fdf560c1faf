"""Strict encodings: one value, one spelling, so Python and the browser agree."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from crypto import b64d, b64e, blake2b, canonical_json, fingerprint, format_time, kid, parse_time
from crypto.encoding import load_json


def test_b64_round_trips_standard_alphabet_with_padding() -> None:
    for data in (b"", b"\x00", b"\xfb\xff", bytes(range(256))):
        assert b64d(b64e(data)) == data
    assert b64e(b"\xfb\xff") == "+/8="


@pytest.mark.parametrize(
    "text",
    ["QQ", "QQ=", "Q Q==", "QQ==\n", "-_8=", "QR==", "QQ===", "====", 5],
    ids=[
        "no-padding",
        "short-padding",
        "space",
        "newline",
        "urlsafe",
        "non-canonical-bits",
        "extra-padding",
        "only-padding",
        "not-a-string",
    ],
)
def test_b64d_refuses_everything_but_canonical_standard_base64(text: object) -> None:
    with pytest.raises(ValueError):
        b64d(text)  # type: ignore[arg-type]


def test_kid_is_hex_of_16_byte_blake2b_and_fingerprint_groups_it() -> None:
    pk = bytes(range(32))
    k = kid(pk)
    assert k == blake2b(16, pk).hex() and len(k) == 32
    assert fingerprint(k) == " ".join(k[i : i + 4] for i in range(0, 32, 4))
    with pytest.raises(ValueError):
        kid(b"short")
    with pytest.raises(ValueError):
        fingerprint(k.upper())


def test_blake2b_keyed_differs_from_unkeyed_and_checks_sizes() -> None:
    assert blake2b(32, b"m", key=b"k" * 32) != blake2b(32, b"m")
    with pytest.raises(ValueError):
        blake2b(8, b"m")
    with pytest.raises(ValueError):
        blake2b(32, b"m", key=b"short")


def test_times_are_rfc3339_utc_with_z() -> None:
    dt = datetime(2026, 11, 22, 10, 0, 0, tzinfo=UTC)
    assert format_time(dt) == "2026-11-22T10:00:00Z"
    assert parse_time("2026-11-22T10:00:00Z") == dt
    assert parse_time("2026-11-22T10:00:00.500Z") == dt + timedelta(milliseconds=500)
    plus_one = timezone(timedelta(hours=1))
    assert format_time(datetime(2026, 11, 22, 11, 0, tzinfo=plus_one)) == "2026-11-22T10:00:00Z"
    for bad in ("2026-11-22T10:00:00+00:00", "2026-11-22 10:00:00Z", "2026-13-01T00:00:00Z", ""):
        with pytest.raises(ValueError):
            parse_time(bad)
    with pytest.raises(ValueError):
        format_time(datetime(2026, 1, 1))  # naive on purpose


def test_canonical_json_sorts_keys_drops_spaces_and_keeps_utf8() -> None:
    assert canonical_json({"b": 1, "a": "ё"}) == '{"a":"ё","b":1}'.encode()


@pytest.mark.parametrize(
    "text",
    ['{"a":1,"a":2}', '{"a":NaN}', '{"a":Infinity}', "[" * 100000, b'{"a":"\xff"}', "1" * 5000],
    ids=["duplicate-key", "nan", "infinity", "deep-nesting", "bad-utf8", "huge-integer"],
)
def test_load_json_refuses_ambiguous_or_hostile_documents(text: str | bytes) -> None:
    with pytest.raises(ValueError):
        load_json(text)

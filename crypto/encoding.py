"""Encodings and hashing shared by every part of the protocol.

Strictness here is a security property: a lenient base64 or JSON decoder lets
two readers (Python and the browser) see different values in the same bytes.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from array import array
from collections.abc import Mapping
from datetime import UTC, datetime
from itertools import accumulate
from typing import Any

from crypto import _sodium

_B64_RE = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_TIME_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z")
# The 32-hex-digit id grammar: kids, submission ids, attachment ids, mailbox
# tags. One spelling here; the server's schemas and the tools use these.
HEX32 = "[0-9a-f]{32}"
# An envelope's id within its submission: the form, or an attachment's 32 hex.
EID = f"form|{HEX32}"
_HEX32_RE = re.compile(HEX32)
_EID_RE = re.compile(EID)


def b64e(data: bytes) -> str:
    """Standard base64 with padding (RFC 4648 section 4)."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError("b64e expects bytes")
    return base64.b64encode(bytes(data)).decode("ascii")


def b64d(text: str) -> bytes:
    """Decode strict standard base64: padding required, no whitespace, canonical.

    Canonical means the unused low bits are zero, so each value has exactly
    one encoding and signed JSON cannot be varied without changing bytes.
    """
    if not isinstance(text, str):
        raise ValueError("base64 value must be a string")
    if len(text) % 4 or not _B64_RE.fullmatch(text):
        raise ValueError("not strict base64")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not strict base64") from exc
    if base64.b64encode(data).decode("ascii") != text:
        raise ValueError("not canonical base64")
    return data


def blake2b(size: int, message: bytes, key: bytes | None = None) -> bytes:
    """The spec's ``H(size, message, key?)``."""
    if not 16 <= size <= 64:
        raise ValueError("BLAKE2b digest size must be 16..64 bytes")
    if key is not None and not 16 <= len(key) <= 64:
        raise ValueError("BLAKE2b key must be 16..64 bytes")
    return _sodium.blake2b(size, bytes(message), key or b"")


def kid(public_key: bytes) -> str:
    """``kid(pk)``: lowercase hex of ``H(16, pk)``."""
    if not isinstance(public_key, bytes) or len(public_key) != 32:
        raise ValueError("a public key is 32 bytes")
    return blake2b(16, public_key).hex()


def is_hex32(text: object) -> bool:
    """True for 32 lowercase hex digits: a kid, a submission or attachment id."""
    return isinstance(text, str) and _HEX32_RE.fullmatch(text) is not None


def is_kid(text: object) -> bool:
    """True for a well-formed kid (32 lowercase hex digits)."""
    return is_hex32(text)


def is_eid(text: object) -> bool:
    """True for an envelope id: ``form`` or 32 lowercase hex digits."""
    return isinstance(text, str) and _EID_RE.fullmatch(text) is not None


def fingerprint(kid_hex: str) -> str:
    """A kid as people compare it: 8 groups of 4 hex digits."""
    if not is_kid(kid_hex):
        raise ValueError("a kid is 32 lowercase hex digits")
    return " ".join(kid_hex[i : i + 4] for i in range(0, 32, 4))


def format_time(dt: datetime) -> str:
    """RFC 3339 UTC with whole seconds, e.g. ``2026-11-22T10:00:00Z``."""
    if dt.tzinfo is None:
        raise ValueError("naive datetime: give an aware UTC time")
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    """Parse an RFC 3339 UTC time (``Z`` suffix; fractional seconds allowed, as
    JavaScript's ``toISOString`` writes them) into an aware UTC datetime."""
    if not isinstance(text, str):
        raise ValueError("time must be a string")
    m = _TIME_RE.fullmatch(text)
    if m is None:
        raise ValueError("not an RFC 3339 UTC time")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    micro = int((m.group(7) or "0").ljust(6, "0")[:6])
    try:
        return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)
    except ValueError as exc:
        raise ValueError("not an RFC 3339 UTC time") from exc


def canonical_json(value: Mapping[str, Any] | list[Any]) -> bytes:
    """Canonical JSON bytes: sorted keys, no spaces, UTF-8 (not ASCII-escaped)."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


class _Refused(ValueError):
    """Valid JSON that no document of the protocol may hold (the message says why)."""


def _reject_constant(name: str) -> Any:
    raise _Refused(f"JSON constant {name} is not allowed")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        # Duplicate keys are read differently by different parsers (first vs
        # last wins): refuse them so every reader sees the same document.
        if key in result:
            raise _Refused("duplicate JSON key")
        result[key] = value
    return result


# No document of the protocol nests deeper than about 6; 64 leaves room and
# stays far below the parser's recursion limit.
MAX_JSON_DEPTH = 64

# A JSON string, possessively (no backtracking, so linear time); an
# unterminated one runs to the end of the input rather than being retried
# from every later quote, which would be quadratic.
_JSON_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"?', re.DOTALL)
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_BRACKET_STEP = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")  # +1, +1, -1, -1 as signed bytes


class JSONTooDeep(ValueError):
    """Arrays and objects nested deeper than `MAX_JSON_DEPTH`."""

    def __init__(self) -> None:
        super().__init__(f"JSON nested deeper than {MAX_JSON_DEPTH}")


def json_depth(data: bytes | str) -> int:
    """How deep arrays and objects nest in `data`, brackets inside strings not
    counted. Linear and without recursion, so it can run before the parser,
    which recurses once per level: a body of a million `[` would otherwise
    exhaust the stack (RecursionError) or the memory of the process."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    brackets = _JSON_STRING.sub(b"", raw).translate(None, _NOT_BRACKET)
    steps = array("b", brackets.translate(_BRACKET_STEP))
    return max(0, max(accumulate(steps), default=0))


def check_json_depth(data: bytes | str) -> None:
    """`JSONTooDeep` if `data` nests deeper than `MAX_JSON_DEPTH`."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    # Cheap first: fewer opening brackets than the limit cannot nest deeper.
    if raw.count(b"[") + raw.count(b"{") > MAX_JSON_DEPTH and json_depth(raw) > MAX_JSON_DEPTH:
        raise JSONTooDeep()


def load_json(data: bytes | str) -> Any:
    """Parse untrusted JSON strictly: UTF-8, no duplicate keys, no NaN/Infinity,
    nesting no deeper than `MAX_JSON_DEPTH` (checked before parsing).

    Raises ``ValueError`` for anything else (`JSONTooDeep`, a subclass, for
    nesting), including integers too long to convert, so callers map one
    exception to their class. Its message names the rule broken (never a
    value from the document): the tools show it.
    """
    check_json_depth(data)
    try:
        text = data.decode("utf-8") if isinstance(data, bytes | bytearray) else data
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except _Refused as exc:
        raise ValueError(str(exc)) from None
    except UnicodeDecodeError as exc:
        raise ValueError("not UTF-8") from exc
    except (ValueError, RecursionError) as exc:
        raise ValueError("malformed JSON") from exc


def is_int(value: object) -> bool:
    """A JSON integer (``bool`` is not one, though Python thinks so)."""
    return isinstance(value, int) and not isinstance(value, bool)

"""Padmé padding (PURBs paper): hides an envelope's exact size.

Padmé leaks at most O(log log L) bits of the length while costing at most
~12% overhead; the 4096-byte floor hides short messages entirely.
"""

from __future__ import annotations

MIN_PADDED = 4096
LENGTH_PREFIX = 8


def padme(length: int) -> int:
    """``padme(L)``: round ``L`` up so only its top ``floor(log2 E) + 1`` bits vary."""
    if not isinstance(length, int) or isinstance(length, bool):
        raise TypeError("length must be an int")
    if length < 0:
        raise ValueError("length must not be negative")
    if length < 2:
        return length  # E = 0: nothing to round (and log2(0) is undefined)
    e = length.bit_length() - 1  # floor(log2 L)
    s = e.bit_length()  # floor(log2 E) + 1
    mask = (1 << (e - s)) - 1
    return (length + mask) & ~mask


def padded_size(content_length: int) -> int:
    """Plaintext size of a payload carrying ``content_length`` bytes of content."""
    if not isinstance(content_length, int) or isinstance(content_length, bool):
        raise TypeError("content_length must be an int")
    if content_length < 0:
        raise ValueError("content_length must not be negative")
    return padme(max(LENGTH_PREFIX + content_length, MIN_PADDED))

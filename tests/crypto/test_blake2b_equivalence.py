"""crypto._sodium's BLAKE2b (hashlib) equals libsodium's crypto_generichash byte for byte.

The protocol's H is libsodium's; hashlib computes the same RFC 7693 function
faster. This proves it for the digest sizes and key lengths the protocol uses
and the edges libsodium allows.
"""

from __future__ import annotations

import os

import nacl.bindings as sodium
import pytest

from crypto import _sodium


@pytest.mark.parametrize("size", [16, 24, 32, 64])
@pytest.mark.parametrize("key_len", [0, 16, 32, 64])
@pytest.mark.parametrize("length", [0, 1, 127, 128, 129, 65553, 200_000])
def test_one_shot_equals_libsodium(size: int, key_len: int, length: int) -> None:
    message, key = os.urandom(length), os.urandom(key_len)
    expected = sodium.crypto_generichash_blake2b_salt_personal(message, digest_size=size, key=key)
    assert _sodium.blake2b(size, message, key) == expected


@pytest.mark.parametrize("key_len", [0, 32])
def test_incremental_equals_libsodium(key_len: int) -> None:
    key, data = os.urandom(key_len), os.urandom(300_000)
    state = sodium.crypto_generichash_blake2b_init(key=key, digest_size=32)
    ours = _sodium.Blake2b(32, key)
    for i in range(0, len(data), 65553):
        sodium.crypto_generichash_blake2b_update(state, data[i : i + 65553])
        ours.update(memoryview(data)[i : i + 65553])
    assert ours.digest() == sodium.crypto_generichash_blake2b_final(state)


def test_out_of_range_sizes_are_refused() -> None:
    with pytest.raises(ValueError):
        _sodium.blake2b(65, b"x")
    with pytest.raises(ValueError):
        _sodium.blake2b(32, b"x", bytes(65))

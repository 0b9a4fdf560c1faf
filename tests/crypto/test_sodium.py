"""The reproducible (rng-driven) primitives in crypto._sodium equal libsodium's own.

These compare against PyNaCl directly: they are the proof that seeding the
push side through init_pull and building sealed boxes by hand is sound.
"""

from __future__ import annotations

import os

import nacl.bindings as sodium
import pytest

from crypto import _sodium

TAG_FINAL = sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL
TAG_MESSAGE = sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE


def test_push_seeded_with_libsodiums_header_produces_libsodiums_ciphertext() -> None:
    key = os.urandom(32)
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    header = sodium.crypto_secretstream_xchacha20poly1305_init_push(state, key)
    messages = [os.urandom(1), os.urandom(65536), b"", os.urandom(4096)]
    expected = [
        sodium.crypto_secretstream_xchacha20poly1305_push(
            state, m, tag=TAG_FINAL if i == len(messages) - 1 else TAG_MESSAGE
        )
        for i, m in enumerate(messages)
    ]
    ours = _sodium.StreamPush(key, header)
    got = [ours.push(m, final=i == len(messages) - 1) for i, m in enumerate(messages)]
    assert got == expected


def test_seeded_push_round_trips_through_a_normal_init_pull() -> None:
    key, header = os.urandom(32), os.urandom(24)
    push = _sodium.StreamPush(key, header)
    blocks = [push.push(b"one", final=False), push.push(b"two", final=True)]
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    sodium.crypto_secretstream_xchacha20poly1305_init_pull(state, header, key)
    pulled = [sodium.crypto_secretstream_xchacha20poly1305_pull(state, b) for b in blocks]
    assert pulled == [(b"one", TAG_MESSAGE), (b"two", TAG_FINAL)]


def test_unseeded_push_draws_a_fresh_header_each_time() -> None:
    key = os.urandom(32)
    assert _sodium.StreamPush(key).header != _sodium.StreamPush(key).header


def test_seeded_sealed_box_opens_with_libsodiums_seal_open() -> None:
    pk, sk = sodium.crypto_box_keypair()
    seed = os.urandom(32)
    sealed = _sodium.box_seal(b"k" * 32, pk, seed)
    assert sodium.crypto_box_seal_open(sealed, pk, sk) == b"k" * 32
    assert sealed == _sodium.box_seal(b"k" * 32, pk, seed), "same seed, same bytes"
    assert sealed != _sodium.box_seal(b"k" * 32, pk, os.urandom(32))


def test_libsodiums_sealed_box_opens_with_our_open() -> None:
    pk, sk = sodium.crypto_box_keypair()
    assert _sodium.box_seal_open(sodium.crypto_box_seal(b"m", pk), pk, sk) == b"m"
    other_pk, other_sk = sodium.crypto_box_keypair()
    assert _sodium.box_seal_open(sodium.crypto_box_seal(b"m", pk), other_pk, other_sk) is None


def test_pull_reports_forgery_as_none_not_an_exception() -> None:
    key, header = os.urandom(32), os.urandom(24)
    block = bytearray(_sodium.StreamPush(key, header).push(b"data", final=True))
    block[-1] ^= 1
    assert _sodium.StreamPull(key, header).pull(bytes(block)) is None
    assert _sodium.StreamPull(key, header).pull(b"short") is None


def test_detached_signature_verifies_only_for_its_message_and_key() -> None:
    seed = os.urandom(32)
    sig = _sodium.sign_detached(b"msg", seed)
    assert _sodium.verify_detached(sig, b"msg", _sodium.sign_public(seed))
    assert not _sodium.verify_detached(sig, b"msh", _sodium.sign_public(seed))
    assert not _sodium.verify_detached(sig, b"msg", _sodium.sign_public(os.urandom(32)))
    assert not _sodium.verify_detached(sig[:-1], b"msg", _sodium.sign_public(seed))
    assert not _sodium.verify_detached(sig, b"msg", bytes(32))  # small-order key


@pytest.mark.parametrize("size", [16, 32, 64])
def test_incremental_blake2b_equals_one_shot(size: int) -> None:
    data = os.urandom(10000)
    h = _sodium.Blake2b(size)
    for i in range(0, len(data), 777):
        h.update(data[i : i + 777])
    assert h.digest() == _sodium.blake2b(size, data)

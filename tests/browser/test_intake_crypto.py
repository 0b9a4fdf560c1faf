"""The browser's crypto and the Python ``crypto`` package agree byte for byte.

Envelopes the browser seals from an in-page Blob are opened by the verifier's
Python code; envelopes, manifests, mailboxes and replies made in Python are
checked by the browser. Both builds (WebAssembly and asm.js) run everything.
"""

from __future__ import annotations

import io
import itertools
import json
from typing import Any

import pytest

from crypto import (
    InvalidEnvelope,
    Keyring,
    ManifestRef,
    NoMatchingKey,
    anchor_json,
    b64d,
    b64e,
    blake2b,
    derive_mailbox,
    dsse_sign,
    normalise_codename,
    open_bytes,
    open_envelope,
    payload_digest,
    payload_length_for,
    read_header,
    seal_bytes,
    sign_reply,
)
from tests.browser import content
from tests.browser.conftest import Harness, StaticServer
from tests.browser.deployment import Deployment, make_deployment

pytestmark = pytest.mark.browser


@pytest.fixture(scope="session")
def deployment() -> Deployment:
    return make_deployment()


# The envelope version a page writes by default: 4 (AES-256-GCM in WebCrypto)
# where WebAssembly is missing, 3 elsewhere (PROTOCOL.md, version 5).
DEFAULT_VERSION = {"wasm": 3, "jitless": 4}


@pytest.mark.parametrize("size", [0, 1, 1_000_003], ids=["empty", "one-byte", "about-1MB"])
def test_python_opens_what_the_browser_sealed_from_a_blob(
    harness: Harness, static_server: StaticServer, deployment: Deployment, size: int
) -> None:
    name = f"seal-{harness.mode}-{size}"
    result = harness.call(
        "sealToSink", name, size, {**deployment.page_args(), "kind": "attachment"}
    )
    envelope = static_server.sink(name).read_bytes()

    # The size announced before sealing is the size uploaded.
    assert result["size"] == result["expected"] == result["uploaded"] == len(envelope)
    opened, plaintext = open_bytes(envelope, deployment.keyring())
    assert plaintext == content.content(size)
    assert opened.header.v == DEFAULT_VERSION[harness.mode]
    assert opened.header.kind == "attachment"
    # Sealed to exactly the active verifiers of the latest manifest, under its digest.
    assert sorted(opened.header.recipient_kids) == sorted(
        v.kid for v in deployment.latest.active_verifiers()
    )
    assert opened.header.manifest == deployment.latest.ref
    # The digest the page puts in the submission is the one Python computes.
    assert (
        b64d(result["payloadDigest"])
        == opened.payload_digest
        == payload_digest(io.BytesIO(envelope))
    )
    assert result["progressCalls"] >= 1


def test_the_browser_seals_version_2_when_asked_and_python_opens_it(
    harness: Harness, static_server: StaticServer, deployment: Deployment
) -> None:
    # Version 2 stays writable for the benchmark's baseline; its payload
    # digest is the version-2 one, and Python agrees with it.
    name = f"seal-v2-{harness.mode}"
    args = {**deployment.page_args(), "kind": "attachment", "chunk": 4096, "version": 2}
    result = harness.call("sealToSink", name, 30_000, args)
    envelope = static_server.sink(name).read_bytes()
    opened, plaintext = open_bytes(envelope, deployment.keyring())
    assert plaintext == content.content(30_000) and opened.header.v == 2
    assert (
        b64d(result["payloadDigest"])
        == opened.payload_digest
        == payload_digest(io.BytesIO(envelope))
    )


@pytest.mark.parametrize("version", [3, 4])
def test_the_browser_seals_the_version_asked_for_and_python_opens_it(
    harness: Harness, static_server: StaticServer, deployment: Deployment, version: int
) -> None:
    # Either version in either build (v4 needs WebCrypto, not WebAssembly);
    # 70 001 bytes span two 65536-byte chunks and a short last one.
    name = f"seal-v{version}-{harness.mode}"
    args = {**deployment.page_args(), "kind": "attachment", "version": version}
    result = harness.call("sealToSink", name, 70_001, args)
    envelope = static_server.sink(name).read_bytes()
    assert result["size"] == result["expected"] == len(envelope)
    opened, plaintext = open_bytes(envelope, deployment.keyring())
    assert plaintext == content.content(70_001) and opened.header.v == version
    assert (
        b64d(result["payloadDigest"])
        == opened.payload_digest
        == payload_digest(io.BytesIO(envelope))
    )


@pytest.mark.parametrize("version", [3, 4])
def test_sealing_reports_rising_progress_and_lets_the_page_paint_before_it_finishes(
    harness: Harness, deployment: Deployment, version: int
) -> None:
    if harness.mode != "jitless":
        pytest.skip("without a JIT every chunk is slow: what Tor Browser's Safer level needs")
    args = {**deployment.page_args(), "version": version}
    watched = harness.call("sealWatchingProgress", 700_000, args)
    values = watched["values"]
    # One report per 64 KiB chunk at least, each further than the one before,
    # every one of them before the (single) part was handed out.
    assert len(values) >= 700_000 // 65536
    assert all(a < b for a, b in itertools.pairwise(values))
    assert values[-1] == watched["size"]
    assert watched["beforePart"] == len(values)
    # The event loop got turns while sealing: the page rendered frames. Only
    # version 3 is slow enough here to span frames (its asm.js cipher); version
    # 4 (WebCrypto's AES-GCM, what this page writes by default) seals 700 kB
    # in milliseconds.
    if version == 3:
        assert watched["framesWhileSealing"] >= 2


@pytest.mark.parametrize("length", [0, 55, 56, 64, 1000, 65553])
def test_the_plain_javascript_sha256_matches_webcrypto_and_python(
    harness: Harness, length: int
) -> None:
    import hashlib

    data = bytes((i * 7 + length) % 256 for i in range(length))
    got = harness.call("sha256B64", b64e(data))
    assert b64d(got["js"]) == b64d(got["native"]) == hashlib.sha256(data).digest()


def test_every_active_verifier_can_open_alone_and_the_retired_one_cannot(
    harness: Harness, static_server: StaticServer, deployment: Deployment
) -> None:
    name = f"recipients-{harness.mode}"
    harness.call("sealToSink", name, 777, {**deployment.page_args(), "kind": "submission"})
    envelope = static_server.sink(name).read_bytes()
    active, second, retired = deployment.verifiers
    for verifier in (active, second):
        _, plaintext = open_bytes(envelope, Keyring([verifier]))
        assert plaintext == content.content(777)
    with pytest.raises(NoMatchingKey):
        open_bytes(envelope, Keyring([retired]))


def test_a_resumed_upload_produces_the_same_envelope(
    harness: Harness, static_server: StaticServer, deployment: Deployment
) -> None:
    # Stop after 3 parts of 64 KiB and resume from the sink's offset with a
    # fresh encryption pass: the bytes must continue exactly where they stopped.
    name = f"resume-{harness.mode}"
    size = 400_000
    args = {**deployment.page_args(), "kind": "attachment", "partSize": 65536, "interruptAfter": 3}
    result = harness.call("sealToSink", name, size, args)
    envelope = static_server.sink(name).read_bytes()
    assert result["uploaded"] == result["size"] == len(envelope)
    opened, plaintext = open_bytes(envelope, deployment.keyring())
    assert plaintext == content.content(size)
    assert b64d(result["payloadDigest"]) == opened.payload_digest


@pytest.mark.parametrize("chunk", [4096, 1048576])
def test_chunk_sizes_at_both_bounds_interoperate(
    harness: Harness, static_server: StaticServer, deployment: Deployment, chunk: int
) -> None:
    name = f"chunk-{harness.mode}-{chunk}"
    size = 70_000
    result = harness.call("sealToSink", name, size, {**deployment.page_args(), "chunk": chunk})
    envelope = static_server.sink(name).read_bytes()
    assert len(envelope) == result["expected"]
    header = read_header(io.BytesIO(envelope))
    assert header.chunk == chunk
    _, plaintext = open_bytes(envelope, deployment.keyring())
    assert plaintext == content.content(size)


def test_the_browser_opens_what_python_sealed_and_reports_tampering(
    harness: Harness, deployment: Deployment
) -> None:
    verifier = deployment.verifiers[0]
    assert verifier.x25519_public is not None and verifier.x25519_secret is not None
    message = "Здравствуйте: ё и е".encode() * 50
    envelope = seal_bytes(
        message,
        kind="reply",
        manifest=deployment.latest.ref,
        recipients=[verifier.x25519_public],
        chunk=4096,
    )
    secret = b64e(verifier.x25519_secret)
    opened = harness.call("openB64", b64e(envelope), secret)
    assert opened == {
        "ok": True,
        "content": b64e(message),
        "kind": "reply",
        "payloadDigest": b64e(payload_digest(io.BytesIO(envelope))),
    }
    flipped_mac = bytearray(envelope)
    flipped_mac[len(read_header(io.BytesIO(envelope)).prefix) - 1] ^= 1
    assert harness.call("openB64", b64e(bytes(flipped_mac)), secret)["reason"] == "header-mac"
    flipped_payload = bytearray(envelope)
    flipped_payload[-1] ^= 1
    assert harness.call("openB64", b64e(bytes(flipped_payload)), secret)["reason"] == "payload"
    assert harness.call("openB64", b64e(envelope[:-200]), secret)["reason"] == "payload"
    other = deployment.verifiers[1].x25519_secret
    assert other is not None
    assert harness.call("openB64", b64e(envelope), b64e(other))["reason"] == "no-match"


def test_the_browser_trusts_the_chain_python_trusts(
    harness: Harness, deployment: Deployment
) -> None:
    args = deployment.page_args()
    assert harness.call("verifyChainResult", args["chain"], args["trustRoot"], args["now"]) == {
        "ok": True,
        "versions": [1, 2],
        "keySetFingerprint": deployment.latest.key_set_fingerprint,
    }
    described = harness.call("describe", [1234], {**args, "kind": "submission"})
    assert described["fingerprint"] == deployment.latest.fingerprint
    assert described["keySetFingerprint"] == deployment.latest.key_set_fingerprint
    # (v3) Anchored at the latest manifest, the chain without it is a rollback.
    anchor = json.dumps(anchor_json(deployment.latest))
    full = harness.call("verifyChainResult", args["chain"], args["trustRoot"], args["now"], anchor)
    short = harness.call(
        "verifyChainResult", args["chain"][:1], args["trustRoot"], args["now"], anchor
    )
    assert full["ok"] is True and short == {"ok": False, "reason": "rollback"}
    assert sorted(described["active"]) == sorted(
        v.kid for v in deployment.latest.active_verifiers()
    )


def test_the_browser_refuses_chains_python_refuses(
    harness: Harness, deployment: Deployment
) -> None:
    args = deployment.page_args()
    chain, root = args["chain"], args["trustRoot"]

    def verdict(
        chain: list[dict[str, Any]], root: dict[str, Any] = root, now: str = args["now"]
    ) -> Any:
        return harness.call("verifyChainResult", chain, root, now).get("reason")

    # Latest expired (a year later).
    assert verdict(chain, now="2027-11-22T10:00:00Z") == "expired"
    # A different pinned admin set.
    assert (
        verdict(chain, {"threshold": 2, "admins": [a.sign_kid for a in deployment.admins[1:]]})
        == "untrusted-root"
    )
    # Rollback: version 2 followed by genesis again.
    assert verdict([chain[0], chain[1], chain[0]]) == "rollback"
    # Only one admin of the old set signed version 2.
    weak = dsse_sign(
        chain[1]["payloadType"],
        b64d(chain[1]["payload"]),
        [deployment.admins[3], deployment.admins[1]],
    )
    assert verdict([chain[0], weak]) == "threshold"
    # A forged signature under an admin's kid.
    forged = dict(chain[1])
    forged["signatures"] = [dict(s) for s in chain[1]["signatures"]]
    sig = bytearray(b64d(forged["signatures"][0]["sig"]))
    sig[0] ^= 1
    forged["signatures"][0]["sig"] = b64e(bytes(sig))
    assert verdict([chain[0], forged]) == "bad-signature"
    # Non-canonical base64 in a signature is malformed, as in Python.
    bent = dict(chain[1])
    bent["signatures"] = [dict(s) for s in chain[1]["signatures"]]
    text = bent["signatures"][0]["sig"]
    assert text.endswith("==")
    last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".index(text[-3])
    bent["signatures"][0]["sig"] = (
        text[:-3]
        + "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[last | 1]
        + "=="
    )
    assert verdict([chain[0], bent]) == "malformed"


CODENAMES = [
    "  Ёлка\u00a0БЕРЁЗА\tклён  \u3000 дуб ",
    "ﬁsh\u2003FISH\u205fﬂag",  # NFKC folds ligatures and the em space
    "word\ufeffword other",  # U+FEFF is not in the list: not a separator
    "a\u001cb c",  # Python's str.split() would split here; the spec does not
]


@pytest.mark.parametrize("codename", CODENAMES)
def test_mailbox_derivation_matches_python(
    harness: Harness, deployment: Deployment, codename: str
) -> None:
    genesis = deployment.genesis.payload
    got = harness.call("mailbox", codename, b64e(genesis))
    want = derive_mailbox(codename, genesis)
    assert got["normalised"] == normalise_codename(codename)
    assert b64d(got["replyPublic"]) == want.reply_public
    assert b64d(got["replySecret"]) == want.reply_secret
    assert b64d(got["token"]) == want.token
    assert got["mailboxId"] == want.mailbox_id


def test_a_signed_reply_opens_and_a_forged_one_does_not(
    harness: Harness, deployment: Deployment
) -> None:
    codename = "ракета окно шёлк море туман карта зебра лампа вишня"
    keys = derive_mailbox(codename, deployment.genesis.payload)
    body = json.dumps(
        {"status": "received", "message": "Принято", "sent": "2026-11-22T10:00:00Z"},
        ensure_ascii=False,
    ).encode()
    ref = deployment.latest.ref

    def reply(envelope: bytes, kid: str, sig: bytes, name: str = codename) -> Any:
        args = deployment.page_args()
        return harness.call(
            "openReplyResult",
            b64e(envelope),
            kid,
            b64e(sig),
            args["chain"],
            args["trustRoot"],
            args["now"],
            name,
        )

    envelope = seal_bytes(body, kind="reply", manifest=ref, recipients=[keys.reply_public])
    # Signed by the retired verifier: still a verifier of the manifest, so it verifies.
    signer = deployment.verifiers[2]
    kid, sig = sign_reply(signer, envelope)
    assert reply(envelope, kid, sig) == {
        "ok": True,
        "message": {"status": "received", "message": "Принято", "sent": "2026-11-22T10:00:00Z"},
        "verifier": signer.kid,
    }
    # A correct signature over the reply, but by the courier: a key of the
    # manifest that is not a verifier's. The server holds no verifier key.
    courier_sig = deployment.courier.sign(b"intake/v1/reply" + blake2b(32, envelope))
    assert reply(envelope, deployment.courier.sign_kid, courier_sig)["reason"] == "bad-signature"
    # A verifier's signature over a different envelope.
    other = seal_bytes(b"{}", kind="reply", manifest=ref, recipients=[keys.reply_public])
    assert reply(envelope, kid, sign_reply(signer, other)[1])["reason"] == "bad-signature"
    # A correctly signed envelope that is not a reply.
    not_reply = seal_bytes(body, kind="followup", manifest=ref, recipients=[keys.reply_public])
    assert reply(not_reply, *sign_reply(signer, not_reply))["reason"] == "malformed"
    # Another codename derives another key, which opens nothing.
    assert reply(envelope, kid, sig, codename + " x")["reason"] == "no-match"


def test_python_and_browser_agree_on_sizes(harness: Harness, deployment: Deployment) -> None:
    sizes = [0, 1, 4088, 4089, 65536, 1_000_000, 123_456_789, 2**40]
    for chunk in (4096, 65536, 1048576):
        args = {**deployment.page_args(), "kind": "attachment", "chunk": chunk}
        described = harness.call("describe", sizes, args)
        envelope = seal_bytes(
            b"",
            kind="attachment",
            manifest=deployment.latest.ref,
            recipients=[v.x25519 for v in deployment.latest.active_verifiers()],
            chunk=chunk,
        )
        prefix = len(read_header(io.BytesIO(envelope)).prefix)
        v = DEFAULT_VERSION[harness.mode]
        assert described["envelopeSizes"] == [
            prefix + payload_length_for(n, chunk, v=v) for n in sizes
        ]


def test_opening_never_releases_content_of_a_truncated_envelope(
    harness: Harness, deployment: Deployment
) -> None:
    verifier = deployment.verifiers[0]
    assert verifier.x25519_public is not None and verifier.x25519_secret is not None
    envelope = seal_bytes(
        bytes(20_000),
        kind="attachment",
        manifest=ManifestRef(2, deployment.latest.digest),
        recipients=[verifier.x25519_public],
        chunk=4096,
    )
    header_len = len(read_header(io.BytesIO(envelope)).prefix)
    # Cut exactly after the first whole chunk: every remaining chunk is missing.
    cut = envelope[: header_len + 4096 + 17]
    result = harness.call("openB64", b64e(cut), b64e(verifier.x25519_secret))
    assert result == {"ok": False, "reason": "truncated"}
    # Python agrees.
    with pytest.raises(InvalidEnvelope) as info:
        open_envelope(io.BytesIO(cut), io.BytesIO(), deployment.keyring())
    assert info.value.reason == "truncated"

"""Vectors for the protocol rules beside the byte formats (PROTOCOL.md, issue 16).

``pow.json`` (proof of work), ``authorization.json`` (the courier's
``Authorization`` header) and ``site_documents.json`` (canonical JSON, site
document signatures, detached signature files). Every vector is produced by
the real implementation (``app.pow``, ``crypto.signatures``, ``crypto.site``,
``crypto.cli.manifests``) and checked against it while it is made: a vector
whose class the implementation does not give is an error here, not a file.

Kept apart from ``generate.py`` (the byte-format vectors) but built from its
identities and chain, so the two agree on who the admins and couriers are.
``.venv/bin/python tests/vectors/generate_rules.py`` writes the files;
``--check`` exits 1 if they are stale.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the checkout importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.errors import PowInvalid, PowRequired
from app.mailbox.service import mailbox_pow
from app.pow import PowStale, ProofOfWork, leading_zero_bits, solve
from app.settings import Settings
from crypto import (
    IntakeCryptoError,
    InvalidSignature,
    b64d,
    b64e,
    blake2b,
    canonical_json,
    parse_authorization,
    parse_manifest,
    request_signing_bytes,
    sign_request,
    verify_chain,
)
from crypto.cli.manifests import Document, detached_signature
from crypto.detached import sign_detached
from crypto.dsse import dsse_sign, pae
from crypto.site import SITE_TYPE, build_site_payload, parse_site, verify_site
from tests.vectors.generate import (
    A1,
    A2,
    A3,
    A4,
    A5,
    BASE_CHAIN,
    C1,
    GENESIS,
    NOW,
    OUT_ADMIN,
    ROOT,
    SECOND,
    T0,
    V1,
    _bad_sig,
    _content,
    _craft,
    _dump,
    _envelope_vector,
    _flip,
    _manifest_vector,
    _padded_plain,
    _payload_offset,
    manifest,
    request_class,
    request_fields,
    write_or_check,
)

FILES = ("pow.json", "authorization.json", "site_documents.json", "precedence.json")

# -- pow.json ---------------------------------------------------------------------------

POW_SECRET = "intake-test-vectors/pow-secret/0123456789abcdef"  # >= 32 characters
POW_KEY = POW_SECRET.encode("utf-8")
POW_TTL = 1800
POW_NOW = 1780272000  # 2026-06-01T00:00:00Z
HALF_LIFE = 60.0


def _cid(label: str) -> str:
    return blake2b(16, b"intake-test-vectors/pow/" + label.encode()).hex()


def _pow_for(endpoint: str, base: int, maximum: int, target: float) -> ProofOfWork:
    """The server's ProofOfWork for ``endpoint``, built as app.runtime builds it."""
    if endpoint == "submissions":
        return ProofOfWork(
            POW_KEY,
            base,
            POW_TTL,
            max_difficulty=maximum,
            target_per_minute=target,
            half_life_seconds=HALF_LIFE,
        )
    settings = Settings(
        environment="test",
        pow_secret=POW_SECRET,
        pow_difficulty=base,
        mailbox_pow_difficulty=base,
        pow_ttl_seconds=POW_TTL,
    )
    return mailbox_pow(settings).adaptive(
        max_difficulty=maximum, target_per_minute=target, half_life_seconds=HALF_LIFE
    )


def load_meter(pow_: ProofOfWork, events: int) -> None:
    """``events`` redeemed proofs, all just now (the meter's own clock)."""
    moment = time.monotonic()
    for _ in range(events):
        pow_.load.add(now=moment)


def pow_outcome(pow_: ProofOfWork, challenge: str | None, nonce: str | None, now: int) -> str:
    """The error code the server answers (``ok`` when the proof is taken)."""
    try:
        pow_.check(challenge, nonce, now=now)
    except PowStale:
        return "pow-stale"
    except PowRequired:
        return "pow-required"
    except PowInvalid:
        return "pow-invalid"
    return "ok"


def _challenge(pow_: ProofOfWork, cid: str, expires: int, bits: int) -> str:
    # The real MAC of the real server object (``_mac`` is what ``issue`` uses).
    return f"v1.{cid}.{expires}.{bits}.{pow_._mac(cid, expires, bits)}"


def _first_failing_nonce(challenge: str, bits: int) -> str:
    counter = 0
    while leading_zero_bits(hashlib.sha256(f"{challenge}:{counter}".encode()).digest()) >= bits:
        counter += 1
    return str(counter)


def pow_doc() -> dict[str, Any]:
    checks: list[dict[str, Any]] = []

    def check(
        name: str,
        expect: str,
        *,
        endpoint: str = "submissions",
        base: int = 4,
        maximum: int = 12,
        target: float = 10.0,
        events: int = 0,
        bits: int | None = None,
        expires: int = POW_NOW + POW_TTL,
        now: int = POW_NOW,
        challenge: Callable[[str], str] | str | None = "default",
        nonce: Callable[[str, int], str] | str | None = "solve",
        mac_endpoint: str | None = None,
    ) -> None:
        bits = base if bits is None else bits
        server = _pow_for(endpoint, base, maximum, target)
        load_meter(server, events)
        price = server.difficulty
        minted_by = _pow_for(mac_endpoint or endpoint, base, maximum, target)
        cid = _cid(name)
        honest = _challenge(minted_by, cid, expires, bits)
        text: str | None
        if challenge == "default":
            text = honest
        elif callable(challenge):
            text = challenge(honest)
        else:
            text = challenge
        value: str | None
        if nonce == "solve":
            value = solve(text or honest, bits)
        elif callable(nonce):
            value = nonce(text or honest, bits)
        else:
            value = nonce
        got = pow_outcome(server, text, value, now)
        if got != expect:
            raise AssertionError(f"pow {name}: got {got}, want {expect}")
        digest = (
            hashlib.sha256(f"{text}:{value}".encode()).digest()
            if text is not None and value is not None
            else None
        )
        checks.append(
            {
                "name": name,
                "endpoint": endpoint,
                "base_difficulty": base,
                "max_difficulty": maximum,
                "target_per_minute": target,
                "load_events": events,
                "price": price,
                "now": now,
                "challenge": text,
                "nonce": value,
                "mac_input": f"intake/pow/v1|{cid}.{expires}.{bits}",
                "sha256": digest.hex() if digest is not None else None,
                "leading_zero_bits": leading_zero_bits(digest) if digest is not None else None,
                "expect": expect,
            }
        )

    # Accepted.
    check("ok-submission", "ok")
    check("ok-mailbox", "ok", endpoint="mailbox")
    check("ok-ten-bits", "ok", base=10, maximum=10)
    check("ok-expires-exactly-now", "ok", now=POW_NOW + POW_TTL)
    check("ok-above-the-price", "ok", bits=7)
    check("ok-within-grace-of-a-risen-price", "ok", events=200, bits=6)
    check("ok-pow-off-nothing-asked", "ok", base=0, maximum=0, challenge=None, nonce=None)
    # Missing.
    check("pow-required-no-challenge", "pow-required", challenge=None, nonce="0")
    check("pow-required-no-nonce", "pow-required", nonce=None)
    check("pow-required-empty-nonce", "pow-required", nonce="")
    # Grammar.
    check("pow-invalid-version-v2", "pow-invalid", challenge=lambda c: "v2" + c[2:])
    check(
        "pow-invalid-uppercase-id",
        "pow-invalid",
        challenge=lambda c: c[:3] + c[3:35].upper() + c[35:],
    )
    check(
        "pow-invalid-bits-three-digits",
        "pow-invalid",
        challenge=lambda c: c.replace(".4.", ".004.", 1),
    )
    check("pow-invalid-trailing-newline", "pow-invalid", challenge=lambda c: c + "\n")
    check("pow-invalid-nonce-with-space", "pow-invalid", nonce="1 2")
    check("pow-invalid-nonce-65-characters", "pow-invalid", nonce="0" * 65)
    # MAC.
    check(
        "pow-invalid-mac-flipped",
        "pow-invalid",
        challenge=lambda c: c[:-1] + ("0" if c[-1] != "0" else "1"),
    )
    check(
        "pow-invalid-bits-lowered-under-the-mac",
        "pow-invalid",
        bits=5,
        challenge=lambda c: c.replace(".5.", ".4.", 1),
        nonce=lambda c, b: solve(c, 4),
    )
    check("pow-invalid-mailbox-challenge-at-submissions", "pow-invalid", mac_endpoint="mailbox")
    check(
        "pow-invalid-submission-challenge-at-mailbox",
        "pow-invalid",
        endpoint="mailbox",
        mac_endpoint="submissions",
    )
    # Expiry, work, price.
    check("pow-invalid-expired-one-second-ago", "pow-invalid", now=POW_NOW + POW_TTL + 1)
    check(
        "pow-invalid-too-few-zero-bits",
        "pow-invalid",
        base=8,
        maximum=8,
        nonce=_first_failing_nonce,
    )
    check("pow-invalid-below-the-base-price", "pow-invalid", base=6, maximum=6, bits=5)
    check("pow-stale-price-rose-past-grace", "pow-stale", events=200, bits=5)
    check("pow-stale-at-the-base-of-a-risen-price", "pow-stale", events=200, bits=4)
    # Precedence: the first failing check names the class.
    check(
        "precedence-invalid-before-stale-when-expired",
        "pow-invalid",
        events=200,
        bits=4,
        now=POW_NOW + POW_TTL + 1,
    )
    check("precedence-invalid-below-base-before-stale", "pow-invalid", base=6, events=400, bits=5)
    check(
        "precedence-required-before-grammar",
        "pow-required",
        challenge="not a challenge",
        nonce="",
    )

    solutions = []
    for difficulty in (0, 1, 4, 8, 10, 12):
        server = _pow_for("submissions", difficulty, difficulty, 0.0)
        text = _challenge(server, _cid(f"solution-{difficulty}"), POW_NOW + POW_TTL, difficulty)
        nonce = solve(text, difficulty)
        digest = hashlib.sha256(f"{text}:{nonce}".encode()).digest()
        solutions.append(
            {
                "challenge": text,
                "difficulty": difficulty,
                "nonce": nonce,
                "sha256": digest.hex(),
                "leading_zero_bits": leading_zero_bits(digest),
            }
        )

    zero_bits = [
        {"digest": digest.hex(), "bits": leading_zero_bits(digest)}
        for digest in (
            bytes(32),
            b"\x80" + bytes(31),
            b"\x01" + bytes(31),
            b"\x00\x40" + bytes(30),
            b"\x00\x00\x01" + bytes(29),
            b"\x00" * 31 + b"\x01",
        )
    ]

    prices = []
    for base, maximum, target, events in (
        (4, 12, 10.0, 0),
        (4, 12, 10.0, 12),
        (4, 12, 10.0, 20),
        (4, 12, 10.0, 40),
        (4, 12, 10.0, 100),
        (4, 12, 10.0, 1000),
        (4, 4, 10.0, 1000),
        (4, 12, 0.0, 1000),
        (0, 12, 10.0, 1000),
    ):
        server = _pow_for("submissions", base, maximum, target)
        load_meter(server, events)
        rate = events * math.log(2) / HALF_LIFE * 60.0
        prices.append(
            {
                "base_difficulty": base,
                "max_difficulty": maximum,
                "target_per_minute": target,
                "half_life_seconds": HALF_LIFE,
                "load_events": events,
                "rate_per_minute": round(rate, 6),
                "price": server.difficulty,
            }
        )

    return {
        "pow_secret": POW_SECRET,
        "ttl_seconds": POW_TTL,
        "grace_bits": 2,
        "mailbox_key": hmac.new(POW_KEY, b"intake/pow/mailbox", hashlib.sha256).hexdigest(),
        "vectors": checks,
        "solutions": solutions,
        "leading_zero_bits": zero_bits,
        "prices": prices,
    }


# -- authorization.json -----------------------------------------------------------------

AUTH_TS = 1780272000
_TARGET = "/api/v1/courier/bundle?limit=50"


def auth_parse(value: str) -> dict[str, Any] | None:
    try:
        kid, ts, sig = parse_authorization(value)
    except InvalidSignature:
        return None
    return {"kid": kid, "ts": ts, "sig": b64e(sig)}


_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _non_canonical(value: str) -> str:
    """The same signature with an unused low bit of its last base64 digit set:
    it decodes to the same 64 bytes, but only the canonical spelling is taken."""
    last = _B64.index(value[-3])
    return value[:-3] + _B64[last ^ 0x01] + "=="


def authorization_doc() -> dict[str, Any]:
    latest = verify_chain(BASE_CHAIN, ROOT, NOW)[-1]
    vecs: list[dict[str, Any]] = []
    ok = sign_request(C1, "GET", _TARGET, b"", AUTH_TS)
    sig_text = ok.rsplit("sig=", 1)[1]

    def vector(
        name: str,
        auth: str,
        expect: str,
        *,
        method: str = "GET",
        target: str = _TARGET,
        body: bytes = b"",
        now: int = AUTH_TS,
    ) -> None:
        got = request_class(auth, method, target, body, latest, now)
        if got != expect:
            raise AssertionError(f"authorization {name}: got {got}, want {expect}")
        parsed = auth_parse(auth)
        try:
            signing = (
                b64e(request_signing_bytes(method, target, parsed["ts"], blake2b(32, body)))
                if parsed is not None
                else None
            )
        except ValueError:
            signing = None
        vecs.append(
            {
                **request_fields(name, method, target, body, now, auth),
                "parsed": parsed,
                "signing_bytes": signing,
                "expect": expect,
            }
        )

    body = b'{"type":"intake/replies","replies":[]}'
    vector("ok-get", ok, "ok")
    vector(
        "ok-post-with-body",
        sign_request(C1, "POST", "/api/v1/courier/replies", body, AUTH_TS),
        "ok",
        method="POST",
        target="/api/v1/courier/replies",
        body=body,
    )
    vector(
        "ok-ts-zero-parses",
        sign_request(C1, "GET", _TARGET, b"", 0),
        "ok",
        now=300,
    )
    vector(
        "ok-ts-sixteen-digits-parses",
        sign_request(C1, "GET", _TARGET, b"", 10**15),
        "ok",
        now=10**15,
    )
    vector(
        "ok-target-is-opaque-percent-encoding-kept",
        sign_request(C1, "GET", "/api/v1/courier/bundle?after=a%2Fb", b"", AUTH_TS),
        "ok",
        target="/api/v1/courier/bundle?after=a%2Fb",
    )
    # Grammar: one spelling only.
    vector("malformed-empty", "", "malformed")
    vector("malformed-scheme-only", "Intake-Sig", "malformed")
    vector("malformed-uppercase-kid", ok.replace(C1.sign_kid, C1.sign_kid.upper()), "malformed")
    vector("malformed-kid-31-hex", ok.replace(C1.sign_kid, C1.sign_kid[:31]), "malformed")
    vector("malformed-tab-not-space", ok.replace(", ts=", ",\tts="), "malformed")
    vector("malformed-no-space-after-comma", ok.replace(", ts=", ",ts="), "malformed")
    vector("malformed-trailing-space", ok + " ", "malformed")
    vector("malformed-trailing-comma", ok + ",", "malformed")
    vector("malformed-leading-space", " " + ok, "malformed")
    vector("malformed-quoted-value", ok.replace(f"ts={AUTH_TS}", f'ts="{AUTH_TS}"'), "malformed")
    vector(
        "malformed-ts-seventeen-digits", ok.replace(f"ts={AUTH_TS}", "ts=" + "1" * 17), "malformed"
    )
    vector("malformed-ts-leading-zero", ok.replace(f"ts={AUTH_TS}", f"ts=0{AUTH_TS}"), "malformed")
    vector("malformed-ts-double-zero", ok.replace(f"ts={AUTH_TS}", "ts=00"), "malformed")
    vector("malformed-ts-negative", ok.replace(f"ts={AUTH_TS}", f"ts=-{AUTH_TS}"), "malformed")
    vector("malformed-sig-unpadded", ok.rstrip("="), "malformed")
    vector("malformed-sig-non-canonical-base64", _non_canonical(ok), "malformed")
    vector(
        "malformed-sig-url-safe-alphabet",
        ok.replace(sig_text, sig_text.replace("+", "-").replace("/", "_"))
        if ("+" in sig_text or "/" in sig_text)
        else ok[: -len(sig_text)] + "-" + sig_text[1:],
        "malformed",
    )
    vector("malformed-extra-parameter", ok + ", nonce=1", "malformed")
    # Verification, after the grammar.
    flipped = b64d(sig_text)
    flipped = bytes([flipped[0] ^ 0x01]) + flipped[1:]
    vector("bad-signature-sig-byte-flipped", ok.replace(sig_text, b64e(flipped)), "bad-signature")
    vector(
        "bad-signature-ts-one-later",
        ok.replace(f"ts={AUTH_TS}", f"ts={AUTH_TS + 1}"),
        "bad-signature",
        now=AUTH_TS,
    )
    vector(
        "bad-signature-query-reordered",
        ok,
        "bad-signature",
        target="/api/v1/courier/bundle?limit=50&",
    )
    vector(
        "bad-signature-admin-key-is-no-courier",
        sign_request(A1, "GET", _TARGET, b"", AUTH_TS),
        "bad-signature",
    )
    # Precedence: grammar, then courier, then time, then the signed bytes.
    vector(
        "precedence-malformed-before-unknown-courier",
        sign_request(V1, "GET", _TARGET, b"", AUTH_TS).replace(", ts=", ",  ts="),
        "malformed",
    )
    vector(
        "precedence-unknown-courier-before-lowercase-method",
        sign_request(V1, "GET", _TARGET, b"", AUTH_TS),
        "bad-signature",
        method="get",
    )
    vector(
        "precedence-skew-before-lowercase-method",
        ok,
        "bad-signature",
        method="get",
        now=AUTH_TS + 301,
    )
    vector("precedence-lowercase-method-is-malformed", ok, "malformed", method="get")
    vector("precedence-target-with-space-is-malformed", ok, "malformed", target="/api/v1/a b")
    return {"trust_root": ROOT.to_json(), "chain": BASE_CHAIN, "vectors": vecs}


# -- site_documents.json ----------------------------------------------------------------

ISSUED = datetime(2026, 5, 20, 12, 0, 0, tzinfo=UTC)


def canonical_vectors() -> list[dict[str, Any]]:
    values: list[tuple[str, Any]] = [
        ("keys-sorted-by-code-point", {"b": 1, "a": 2, "B": 3, "é": 4, "z": 5}),
        ("astral-key-after-bmp-key", {"😀": 1, "\uffff": 2, "\ue000": 3}),
        ("nested-objects-sorted-arrays-kept", {"z": [3, 1, {"b": True, "a": None}], "a": {}}),
        ("integers", {"n": [0, -1, 1, 9007199254740991, -9007199254740991]}),
        (
            "string-escapes",
            {"s": '"\\/\b\f\n\r\t\u0000\u001f\u007f\u2028é\U0001f600'},
        ),
        ("empty-containers", {"a": [], "o": {}, "s": ""}),
        ("top-level-array", [{"b": 2, "a": 1}, "x"]),
    ]
    return [
        {"name": name, "value": value, "canonical": b64e(canonical_json(value))}
        for name, value in values
    ]


_FILES = {
    "/": hashlib.sha256(b"<!doctype html>intake page").digest(),
    "/en/": hashlib.sha256(b"<!doctype html>intake page (en)").digest(),
    "/static/js/pow.js": hashlib.sha256(b"// pow.js").digest(),
}
_HEADERS = {
    "/": {
        "cache-control": "no-store",
        "content-security-policy": "default-src 'none'; script-src 'self'",
        "x-frame-options": "DENY",
    },
    "/static/": {"cache-control": "no-cache", "x-content-type-options": "nosniff"},
}


def _site_vector(
    name: str, envelope: dict[str, Any], expect: str, manifest: Any, **extra: Any
) -> dict[str, Any]:
    try:
        verify_site(envelope, manifest)
        got = "ok"
    except IntakeCryptoError as exc:
        got = exc.reason
    if got != expect:
        raise AssertionError(f"site {name}: got {got}, want {expect}")
    payload = b64d(envelope["payload"])
    return {
        "name": name,
        "envelope": envelope,
        "pae": b64e(pae(envelope["payloadType"], payload)),
        "payload_digest": b64e(blake2b(32, payload)),
        "expect": expect,
        **extra,
    }


def site_doc() -> dict[str, Any]:
    latest = verify_chain(BASE_CHAIN, ROOT, NOW)[-1]
    fields = {
        "manifest_version": 2,
        "issued": ISSUED,
        "files": _FILES,
        "headers": _HEADERS,
    }
    payload = build_site_payload(**fields)  # type: ignore[arg-type]
    v2_payload = build_site_payload(manifest_version=1, issued=ISSUED, files=_FILES)
    as_json = {
        "manifest_version": 2,
        "issued": "2026-05-20T12:00:00Z",
        "files": {path: b64e(digest) for path, digest in _FILES.items()},
        "headers": _HEADERS,
    }
    signed = dsse_sign(SITE_TYPE, payload, [A1, A2])
    unsigned = dsse_sign(SITE_TYPE, payload, [])
    doc = Document(unsigned, site=parse_site(unsigned))
    detached = [detached_signature(doc, admin) for admin in (A1, A2)]
    vecs = [
        _site_vector(
            "ok-v3-canonical",
            signed,
            "ok",
            latest,
            fields=as_json,
            detached=detached,
        ),
        _site_vector(
            "ok-v2-no-headers",
            dsse_sign(SITE_TYPE, v2_payload, [A1, A3]),
            "ok",
            latest,
            fields={k: v for k, v in as_json.items() if k != "headers"} | {"manifest_version": 1},
        ),
    ]
    loose = json.dumps(json.loads(payload), indent=2).encode()
    vecs.append(
        _site_vector(
            "ok-non-canonical-payload-signed-as-sent",
            dsse_sign(SITE_TYPE, loose, [A2, A3]),
            "ok",
            latest,
        )
    )
    tampered = dict(signed, payload=b64e(payload.replace(b'"no-store"', b'"no-cache"')))
    vecs.append(
        _site_vector(
            "bad-signature-payload-changed-after-signing", tampered, "bad-signature", latest
        )
    )
    reencoded = dict(signed, payload=b64e(loose))
    vecs.append(
        _site_vector("bad-signature-payload-re-serialised", reencoded, "bad-signature", latest)
    )
    vecs.append(
        _site_vector(
            "threshold-one-admin", dsse_sign(SITE_TYPE, payload, [A1]), "threshold", latest
        )
    )
    vecs.append(
        _site_vector(
            "threshold-outsider-does-not-count",
            dsse_sign(SITE_TYPE, payload, [A1, OUT_ADMIN]),
            "threshold",
            latest,
        )
    )
    bad_second = dsse_sign(SITE_TYPE, payload, [A1, A2])
    broken = b64d(bad_second["signatures"][1]["sig"])
    bad_second["signatures"][1]["sig"] = b64e(bytes([broken[0] ^ 1]) + broken[1:])
    vecs.append(_site_vector("bad-signature-one-of-two-fails", bad_second, "bad-signature", latest))
    ahead = build_site_payload(manifest_version=3, issued=ISSUED, files=_FILES, headers=_HEADERS)
    vecs.append(
        _site_vector(
            "precedence-malformed-manifest-version-ahead-before-signatures",
            dsse_sign(SITE_TYPE, ahead, [A1]),
            "malformed",
            latest,
        )
    )
    extra_key = json.loads(payload)
    extra_key["note"] = "x"
    vecs.append(
        _site_vector(
            "malformed-unknown-key",
            dsse_sign(SITE_TYPE, canonical_json(extra_key), [A1, A2]),
            "malformed",
            latest,
        )
    )
    upper = json.loads(payload)
    upper["headers"]["/"]["X-Frame-Options"] = upper["headers"]["/"].pop("x-frame-options")
    vecs.append(
        _site_vector(
            "malformed-upper-case-header-name",
            dsse_sign(SITE_TYPE, canonical_json(upper), [A1, A2]),
            "malformed",
            latest,
        )
    )
    manifest_detached = sign_detached(
        dsse_sign("application/vnd.intake.manifest+json", b64d(SECOND["payload"]), []),
        A1,
        parse_manifest(SECOND).version,
    )
    return {
        "trust_root": ROOT.to_json(),
        "chain": BASE_CHAIN,
        "canonical_json": canonical_vectors(),
        "vectors": vecs,
        "manifest_detached": {"manifest": SECOND, "signature": manifest_detached},
    }


# -- precedence.json --------------------------------------------------------------------


def precedence_doc() -> dict[str, Any]:
    """Inputs with two faults at once: the class of the check that comes
    first wins (PROTOCOL.md, *Failure classes*, precedence). Envelopes are
    version 2 and crafted here, so a change of what writers produce leaves
    them alone."""
    step = 4096 + 17
    content = _content("precedence", 9000)
    good = _craft("precedence-good", _padded_plain(content), v=2)
    # 7992 bytes pad to exactly two full chunks (8192), so a byte after the
    # FINAL chunk is read as trailing data, not as part of a short last piece.
    even = _content("precedence-even", 7992)
    bad_pad = _craft("precedence-bad-padding", _padded_plain(even, pad_byte_at=8100), v=2)
    off = _payload_offset(good)
    mac_at = off - 1  # the last byte of header_mac
    envelopes = [
        _envelope_vector("ok-precedence-base", good, ["verifier-1"], "ok", content),
        _envelope_vector(
            "precedence-malformed-before-no-match",
            b"INTAKEv0" + good[8:],
            ["outsider"],
            "malformed",
        ),
        _envelope_vector(
            "precedence-no-match-before-header-mac",
            _flip(good, mac_at),
            ["outsider"],
            "no-match",
        ),
        _envelope_vector(
            "precedence-header-mac-before-payload",
            _flip(_flip(good, mac_at), off + 10),
            ["verifier-1"],
            "header-mac",
        ),
        _envelope_vector(
            "precedence-header-mac-before-truncated",
            _flip(good, mac_at)[: off + step],
            ["verifier-1"],
            "header-mac",
        ),
        _envelope_vector(
            "precedence-payload-before-trailing-data",
            _flip(good, off + 10) + b"\x00",
            ["verifier-1"],
            "payload",
        ),
        _envelope_vector(
            "precedence-payload-before-padding",
            _flip(bad_pad, off + 10),
            ["verifier-1"],
            "payload",
        ),
        _envelope_vector(
            "precedence-truncated-before-padding",
            bad_pad[: off + step],
            ["verifier-1"],
            "truncated",
        ),
        _envelope_vector(
            "precedence-trailing-data-before-padding",
            bad_pad + b"\x00",
            ["verifier-1"],
            "trailing-data",
        ),
        _envelope_vector("padding-alone", bad_pad, ["verifier-1"], "padding"),
        _envelope_vector(
            "precedence-a-byte-after-a-short-final-chunk-is-payload",
            good + b"\x00",
            ["verifier-1"],
            "payload",
        ),
    ]

    expired_at = T0 + (NOW - T0) / 2
    rotated_mixed = _bad_sig(
        manifest(2, admins=(A4, A5), threshold=2, signers=(A1, A2, A4)), 1
    )  # old set: A1 valid, A2 broken; new set: A4 alone
    rotated_short = _bad_sig(
        manifest(2, admins=(A4, A5), threshold=2, signers=(A1, A4, A5)), 2
    )  # old set: A1 alone, none broken; new set: A4 valid, A5 broken
    chains = [
        _manifest_vector(
            "precedence-malformed-link-before-its-signatures",
            [
                GENESIS,
                manifest(2, signers=(), edit=lambda d: d["admins"].__setitem__("threshold", 0)),
            ],
            "malformed",
        ),
        _manifest_vector(
            "precedence-untrusted-root-before-signatures",
            [manifest(1, admins=(A4, A5), signers=())],
            "untrusted-root",
        ),
        _manifest_vector(
            "precedence-rollback-before-signatures",
            [GENESIS, manifest(1, signers=())],
            "rollback",
        ),
        _manifest_vector(
            "precedence-earlier-link-first",
            [GENESIS, manifest(2, signers=(A1,)), manifest(2, signers=(A1, A2))],
            "threshold",
        ),
        _manifest_vector(
            "precedence-previous-admin-set-before-own-set-bad-signature",
            [GENESIS, rotated_mixed],
            "bad-signature",
        ),
        _manifest_vector(
            "precedence-previous-admin-set-before-own-set-threshold",
            [GENESIS, rotated_short],
            "threshold",
        ),
        _manifest_vector(
            "precedence-signatures-before-expiry",
            [GENESIS, _bad_sig(manifest(2, expires=expired_at), 1)],
            "bad-signature",
        ),
        _manifest_vector(
            "precedence-malformed-anchor-before-the-chain",
            [manifest(1, admins=(A4, A5), signers=())],
            "malformed",
            anchor={"version": 0, "digest": ""},
        ),
    ]
    return {"envelopes": envelopes, "chains": chains}


def build_all() -> dict[str, bytes]:
    return {
        "pow.json": _dump(pow_doc()),
        "authorization.json": _dump(authorization_doc()),
        "site_documents.json": _dump(site_doc()),
        "precedence.json": _dump(precedence_doc()),
    }


def main(argv: list[str]) -> int:
    return write_or_check(build_all(), argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""pow.json in the browser: the page's solver (`app/static/js/pow.js`, loaded
as the pages load it) finds the same nonce as the server's reference solver,
and counts leading zero bits of SHA-256 (WebCrypto) as the protocol says.

The browser implements only the solving half of the proof of work (the MAC,
expiry and price are the server's); authorization.json and
site_documents.json are the offline tools' business and run in Python only.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.browser.conftest import VECTORS, Harness

pytestmark = pytest.mark.browser

DOC = json.loads((VECTORS / "pow.json").read_text(encoding="utf-8"))

RUN = """async () => {
    const pow = await import('/static/js/pow.js');
    const doc = await (await fetch('/vectors/pow.json')).json();
    const encoder = new TextEncoder();
    const zeroBits = async (text) => pow.leadingZeroBits(
        new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(text))));
    const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
    const solutions = [];
    for (const v of doc.solutions) {
        solutions.push(await pow.solve(v.challenge, v.difficulty));
    }
    const checks = [];
    for (const v of doc.vectors) {
        if (v.challenge === null || v.nonce === null) { checks.push(null); continue; }
        const text = `${v.challenge}:${v.nonce}`;
        const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(text)));
        checks.push({ sha256: hex(digest), bits: pow.leadingZeroBits(digest) });
    }
    const counted = doc.leading_zero_bits.map((v) =>
        pow.leadingZeroBits(Uint8Array.from(v.digest.match(/../g), (h) => parseInt(h, 16))));
    // Tampering check: one changed character of the challenge changes the hash.
    const first = doc.solutions[doc.solutions.length - 1];
    const tampered = await zeroBits(`${first.challenge.slice(0, -1)}x:${first.nonce}`);
    return { solutions, checks, counted, tampered };
}"""


@pytest.fixture
def results(harness: Harness) -> dict[str, Any]:
    return harness.page.evaluate(RUN)  # type: ignore[no-any-return]


def test_browser_solver_finds_the_vector_nonce_at_every_difficulty(
    results: dict[str, Any],
) -> None:
    expected = [v["nonce"] for v in DOC["solutions"]]
    assert results["solutions"] == expected


def test_browser_hashes_challenge_colon_nonce_as_the_vectors_say(results: dict[str, Any]) -> None:
    for vector, got in zip(DOC["vectors"], results["checks"], strict=True):
        if vector["sha256"] is None:
            assert got is None, vector["name"]
            continue
        assert got == {"sha256": vector["sha256"], "bits": vector["leading_zero_bits"]}, vector[
            "name"
        ]


def test_browser_counts_leading_zero_bits_as_the_vectors_say(results: dict[str, Any]) -> None:
    assert results["counted"] == [v["bits"] for v in DOC["leading_zero_bits"]]


def test_a_changed_challenge_no_longer_carries_the_proof(results: dict[str, Any]) -> None:
    hardest = DOC["solutions"][-1]
    assert hardest["difficulty"] >= 8
    assert results["tampered"] < hardest["difficulty"]


PRECEDENCE = json.loads((VECTORS / "precedence.json").read_text(encoding="utf-8"))

# The same calls as the page makes (and tests/browser/harness/vectors.js):
# openEnvelope with the keyring's X25519 keys; parseAnchor of the anchor's
# JSON text, then verifyChain.
RUN_PRECEDENCE = """async () => {
    const IC = await import('/static/js/intake-crypto.js');
    const doc = await (await fetch('/vectors/precedence.json')).json();
    const keys = await (await fetch('/vectors/keys.json')).json();
    const byLabel = new Map(keys.identities.map((i) => [i.label, i]));
    const reason = (e) => (e instanceof IC.IntakeError ? e.reason : `exception: ${e}`);
    const envelopes = doc.envelopes.map((v) => {
        const ring = v.keyring.map((l) => byLabel.get(l)).filter((i) => i.x25519_secret)
            .map((i) => ({
                secret: IC.b64decode(i.x25519_secret),
                public: IC.b64decode(i.x25519),
            }));
        try { IC.openEnvelope(IC.b64decode(v.envelope), ring); return 'ok'; }
        catch (e) { return reason(e); }
    });
    const chains = doc.chains.map((v) => {
        try {
            const anchor = v.anchor === undefined
                ? undefined : IC.parseAnchor(JSON.stringify(v.anchor));
            IC.verifyChain(v.chain, v.trust_root, IC.parseTime(v.now), anchor);
            return 'ok';
        } catch (e) { return reason(e); }
    });
    return { envelopes, chains };
}"""


def test_browser_reports_the_first_failing_check_when_two_fail(harness: Harness) -> None:
    got = harness.page.evaluate(RUN_PRECEDENCE)
    wrong = [
        f"{v['name']}: expected {v['expect']}, got {g}"
        for kind in ("envelopes", "chains")
        for v, g in zip(PRECEDENCE[kind], got[kind], strict=True)
        if g != v["expect"]
    ]
    assert wrong == [], f"{harness.mode}:\n" + "\n".join(wrong)
    # Both kinds hold refusals, not only "ok" (a runner that broke would say ok).
    assert {v["expect"] for v in PRECEDENCE["envelopes"]} >= {"no-match", "header-mac", "payload"}

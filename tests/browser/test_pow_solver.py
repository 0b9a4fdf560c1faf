"""The page's proof-of-work solver (`app/static/js/pow.js`) in real Chromium.

The server raises the price under load, so the solver must find a proof the
server accepts at whatever difficulty it names, and tell the page how far it
has got; it must refuse a difficulty no server of ours can name.
"""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from app.pow import ProofOfWork, proof_ok

from .conftest import Harness

SOLVE = """async ([challenge, difficulty]) => {
    const pow = await import('/static/js/pow.js');
    const progress = [];
    const nonce = await pow.solve(challenge, difficulty, {
        onProgress: (tried, expected) => progress.push([tried, expected]),
    });
    return { nonce, progress };
}"""


@pytest.mark.parametrize("difficulty", [0, 1, 8, 14])
def test_the_solver_finds_a_proof_the_server_accepts_at_any_named_difficulty(
    harness: Harness, difficulty: int
) -> None:
    issued = ProofOfWork(secrets.token_bytes(32), difficulty, 600).issue()
    found: dict[str, Any] = harness.page.evaluate(SOLVE, [issued.challenge, issued.difficulty])
    assert proof_ok(issued.challenge, found["nonce"], difficulty)
    # Progress counts up and names the expected work, 2^difficulty hashes.
    tried = [step[0] for step in found["progress"]]
    assert tried == sorted(tried)
    assert all(step[1] == 2**difficulty for step in found["progress"])


def test_the_solver_refuses_a_difficulty_no_server_names(harness: Harness) -> None:
    refused = harness.page.evaluate(
        """async () => {
            const pow = await import('/static/js/pow.js');
            const out = [];
            for (const d of [33, -1, 1.5, "8"]) {
                try { await pow.solve("v1.x", d); out.push(null); } catch (e) { out.push(e.name); }
            }
            return out;
        }"""
    )
    assert refused == ["RangeError"] * 4


def test_progress_shown_to_people_moves_in_steps_and_never_claims_done(harness: Harness) -> None:
    # The status line is read aloud: it must not chatter every batch, and the
    # expected work is an average, so it never says 100 % before the proof.
    shown = harness.page.evaluate(
        """async () => {
            const pow = await import('/static/js/pow.js');
            const shown = [];
            const report = pow.stepwise((percent) => shown.push(percent));
            for (let tried = 0; tried <= 5000; tried += 50) report(tried, 1000);
            return shown;
        }"""
    )
    assert shown == [10, 20, 30, 40, 50, 60, 70, 80, 90, 95]

"""Every shared vector the applicant's side covers gives the expected class in the browser.

All vectors of a file run in one page evaluation (the envelope file alone is
4 MB); each comes back as its own result, so a failure names the vector.
Runs in both builds: WebAssembly and the asm.js fallback (Tor Browser "Safer").
"""

from __future__ import annotations

import json

import pytest

from tests.browser.conftest import VECTORS, Harness
from tests.crypto.support import CHAIN_CLASSES, ENVELOPE_CLASSES

pytestmark = pytest.mark.browser

# What the browser implements: opening envelopes (replies), walking the
# manifest chain, the mailbox, reply signatures and padding. Courier requests
# (requests.json) and key files (keys.json) are the offline tools' business.
BROWSER_FILES = ["envelopes.json", "manifests.json", "replies.json", "mailbox.json", "padding.json"]


def _vector_count(name: str) -> int:
    return len(json.loads((VECTORS / name).read_text(encoding="utf-8"))["vectors"])


@pytest.mark.parametrize("name", BROWSER_FILES)
def test_every_vector_gives_the_expected_class(harness: Harness, name: str) -> None:
    if not (VECTORS / name).is_file():
        pytest.fail(f"tests/vectors/{name} is missing: run tests/vectors/generate.py")
    results = harness.call("runVectorFile", name)
    assert len(results) == _vector_count(name)
    wrong = [
        f"{r['name']}: expected {r['expect']}, got {r['got']}"
        + (f" ({r['detail']})" if r["detail"] else "")
        for r in results
        if r["got"] != r["expect"] or r["detail"]
    ]
    assert wrong == [], (
        f"{harness.mode}: {len(wrong)} of {len(results)} vectors differ:\n" + "\n".join(wrong)
    )


def test_the_vector_files_cover_every_failure_class_the_browser_reports() -> None:
    # Guards against a vector file shrinking to nothing but "ok" cases.
    classes: set[str] = set()
    for name in ("envelopes.json", "manifests.json", "replies.json"):
        classes |= {
            v["expect"] for v in json.loads((VECTORS / name).read_text(encoding="utf-8"))["vectors"]
        }
    assert classes >= ENVELOPE_CLASSES | CHAIN_CLASSES

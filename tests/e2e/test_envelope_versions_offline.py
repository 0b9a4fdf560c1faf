"""Envelope versions 2, 3 and 4 through the real verifier tool, attachments and all.

Version 3 (what pages and tools write now) names attachments by a different
payload digest than version 2. A bundle can hold both: submissions sent
before the change (or by a page cached from before it) are version 2. The
verifier tool must open each, match every attachment against the digest its
own version defines, and still refuse an attachment that is not the one named.

Version 4 (PROTOCOL.md version 5: an AES-256-GCM payload) is what the real
intake page writes in a browser without WebAssembly (Tor Browser "Safer",
jitless Chromium here); the last test sends through that page and the live
server and opens the case with the offline tools.
"""

from __future__ import annotations

import io
import json
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

import crypto
from crypto import _sodium
from crypto.envelope import _content_plaintext, _seal_plaintext
from tests.cli.support import (
    Attachment,
    Submission,
    assert_clean_failure,
    case_dirs,
    decrypt_into,
    new_org,
    write_bundle,
)
from tests.page import flow
from tests.support.live_server import LiveServer

PHOTO = b"\xff\xd8\xff\xe0" + secrets.token_bytes(150_000) + b"\xff\xd9"


def _seal_v2(data: bytes, kind: str, manifest: crypto.Manifest) -> bytes:
    out = io.BytesIO()
    _seal_plaintext(
        _content_plaintext(io.BytesIO(data), len(data)),
        crypto.padded_size(len(data)),
        out,
        v=2,
        kind=kind,
        manifest=manifest.ref,
        recipients=[v.x25519 for v in manifest.active_verifiers()],
        chunk=65536,
        rng=None,
    )
    return out.getvalue()


def _seal_v3(data: bytes, kind: str, manifest: crypto.Manifest) -> bytes:
    to = [v.x25519 for v in manifest.active_verifiers()]
    return crypto.seal_bytes(data, kind=kind, manifest=manifest.ref, recipients=to)


def _v2_style_digest(envelope: bytes) -> bytes:
    """Version 2's digest computed over any envelope's bytes, whatever its `v`."""
    header = crypto.read_header(io.BytesIO(envelope))
    payload = envelope[len(header.prefix) :]
    return crypto.blake2b(32, b"intake/v2/payload-digest" + header.stream_header + payload)


def _submission(
    manifest: crypto.Manifest,
    photo: Attachment,
    seal: Callable[[bytes, str, crypto.Manifest], bytes],
    name_by: Callable[[bytes], bytes] | None = None,
) -> Submission:
    """A form naming one photo, every envelope sealed by `seal`; the form
    names the photo by `name_by` of its envelope (default: its payload digest)."""
    sealed = seal(photo.data, "attachment", manifest)
    digest = crypto.payload_digest(io.BytesIO(sealed))
    named = digest if name_by is None else name_by(sealed)
    content: dict[str, Any] = {
        "v": 2,
        "lang": "ru",
        "form": {"id": "deserter-intake", "version": 1},
        "answers": {"name": "Пётр"},
        "attachments": [
            {
                "id": photo.id,
                "name": photo.name,
                "type": photo.type,
                "size": len(photo.data),
                "digest": crypto.b64e(named),
            }
        ],
        "sent": "2026-11-22T10:00:00Z",
    }
    form = seal(json.dumps(content, ensure_ascii=False).encode(), "submission", manifest)
    digests = {"form": crypto.payload_digest(io.BytesIO(form)), photo.id: digest}
    return Submission(
        secrets.token_hex(16), "submission", [("form", form), (photo.id, sealed)], digests
    )


def _case(out: Path, sid: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((out / sid / "case.json").read_text())
    return doc


def test_a_bundle_of_version_2_and_version_3_submissions_opens_with_every_digest_matched(
    tmp_path: Path,
) -> None:
    org = new_org(tmp_path / "org")
    old_photo = Attachment("старое-фото.jpg", PHOTO, "image/jpeg")
    new_photo = Attachment("фото.jpg", PHOTO, "image/jpeg")
    old = _submission(org.manifest, old_photo, _seal_v2)  # a page from before version 3
    new = _submission(org.manifest, new_photo, _seal_v3)
    for sub, version in ((old, 2), (new, 3)):
        assert {crypto.read_header(io.BytesIO(data)).v for _, data in sub.envelopes} == {version}
    # The same photo, sealed as v2 and as v3: different names, never confused.
    assert old.digests[old_photo.id] != new.digests[new_photo.id]
    out = tmp_path / "cases"

    result = decrypt_into(
        write_bundle(tmp_path / "b.tar", org.chain, [old, new]), org.keyring_dir, out
    )

    assert result.exit_code == 0, result.output
    assert case_dirs(out) == sorted([out / old.sid, out / new.sid])
    for sub, photo, version in ((old, old_photo, 2), (new, new_photo, 3)):
        doc = _case(out, sub.sid)
        assert doc["status"] == "ok" and doc["envelope_version"] == version
        assert {e["id"]: e["payload_digest"] for e in doc["envelopes"]} == {
            eid: crypto.b64e(d) for eid, d in sub.digests.items()
        }
        assert [a["flags"] for a in doc["attachments"]] == [[]]
        assert (out / sub.sid / "attachments" / photo.name).read_bytes() == PHOTO


def test_a_version_3_attachment_named_by_the_version_2_digest_of_its_bytes_is_refused(
    tmp_path: Path,
) -> None:
    # Exactly these bytes, named by the other version's digest: a reader that
    # took either meaning would accept it. Each version has one meaning.
    org = new_org(tmp_path / "org")
    photo = Attachment("фото.jpg", PHOTO, "image/jpeg")
    sub = _submission(org.manifest, photo, _seal_v3, name_by=_v2_style_digest)
    out = tmp_path / "cases"

    bundle = write_bundle(tmp_path / "b.tar", org.chain, [sub])
    result = decrypt_into(bundle, org.keyring_dir, out)

    assert_clean_failure(result)
    assert "does not match the digest in the form" in result.stderr
    assert case_dirs(out) == []


def _seal_v4(data: bytes, kind: str, manifest: crypto.Manifest) -> bytes:
    to = [v.x25519 for v in manifest.active_verifiers()]
    return crypto.seal_bytes(data, kind=kind, manifest=manifest.ref, recipients=to, version=4)


def test_a_bundle_with_a_version_4_submission_opens_with_its_digests_matched(
    tmp_path: Path,
) -> None:
    org = new_org(tmp_path / "org")
    photo = Attachment("фото.jpg", PHOTO, "image/jpeg")
    sub = _submission(org.manifest, photo, _seal_v4)
    assert {crypto.read_header(io.BytesIO(data)).v for _, data in sub.envelopes} == {4}
    out = tmp_path / "cases"

    result = decrypt_into(write_bundle(tmp_path / "b.tar", org.chain, [sub]), org.keyring_dir, out)

    assert result.exit_code == 0, result.output
    doc = _case(out, sub.sid)
    assert doc["status"] == "ok" and doc["envelope_version"] == 4
    assert {e["id"]: e["payload_digest"] for e in doc["envelopes"]} == {
        eid: crypto.b64e(d) for eid, d in sub.digests.items()
    }
    assert [a["flags"] for a in doc["attachments"]] == [[]]
    assert (out / sub.sid / "attachments" / photo.name).read_bytes() == PHOTO


def test_a_laptop_without_aes_instructions_refuses_a_version_4_case_clearly_and_writes_nothing(
    tmp_path: Path, no_aes_instructions: None
) -> None:
    org = new_org(tmp_path / "org")
    photo = Attachment("фото.jpg", PHOTO, "image/jpeg")
    _sodium._aes_available = None  # seal on this machine (it has them) ...
    sub = _submission(org.manifest, photo, _seal_v4)
    _sodium._aes_available = False  # ... and open as if it had none
    out = tmp_path / "cases"

    result = decrypt_into(write_bundle(tmp_path / "b.tar", org.chain, [sub]), org.keyring_dir, out)

    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert "AES" in result.output and "another laptop" in result.output
    assert case_dirs(out) == []
    assert b"\xff\xd8\xff\xe0" not in b"".join(
        p.read_bytes() for p in out.rglob("*") if p.is_file()
    )


def test_a_safer_mode_browser_seals_version_4_through_the_page_and_the_verifier_opens_it(
    chromium_jitless: Browser,
    server: LiveServer,
    demo_org: Path,
    tools_env: dict[str, str],
    tmp_path: Path,
    database_kind: str,
) -> None:
    if database_kind != "sqlite":
        pytest.skip("the envelope version does not depend on the database")
    canary = "canary-" + secrets.token_hex(8)
    scan = flow.write_file(
        tmp_path / "повестка.pdf", 200_000, head=b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"
    )
    context = chromium_jitless.new_context()
    page = context.new_page()
    flow.open_page(page, server)
    assert page.evaluate("() => typeof WebAssembly") == "undefined"
    # Without WebAssembly, with WebCrypto (localhost is a secure context): version 4.
    assert page.evaluate("() => window.isSecureContext") is True
    flow.fill(page, "#q-contact-address", "signal " + canary[-6:])
    flow.go_to(page, "story")
    page.fill("#q-story", f"Я ушёл из части. {canary}")
    flow.go_to(page, "files")
    page.set_input_files("#files", [str(scan)])
    expect(page.locator("#file-list li")).to_have_count(1)
    page.locator("#file-list li").get_by_role("button", name="Всё равно отправить").click()
    flow.go_to(page, "reply")
    flow.decline_codename(page)
    flow.send(page, timeout=180_000)
    context.close()

    cases = flow.pull_and_decrypt(server, demo_org, tools_env, tmp_path / "offline")

    case = flow.find_case(cases, canary)
    assert case.doc["status"] == "ok", case.doc["warnings"]
    assert case.doc["envelope_version"] == 4
    [attachment] = case.doc["attachments"]
    assert attachment["flags"] == []  # its v4 payload digest matched the form's
    assert (case.folder / attachment["file"]).read_bytes() == scan.read_bytes()
    # Every envelope the page sent (form and attachment) is version 4.
    versions = []
    with (tmp_path / "offline" / "bundle.tar").open("rb") as src:
        for item in crypto.read_bundle(src):
            if isinstance(item, crypto.SubmissionItem):
                versions += [crypto.read_header(fh).v for _eid, fh in item.envelopes]
                item.close()
    assert versions == [4, 4]

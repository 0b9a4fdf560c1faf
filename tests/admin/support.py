"""Steps of an admin ceremony, the applicant's page, and uploads through the real API."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

import crypto
from app.pow import solve
from crypto.formdef import default_form

from .people import People, Person


def server_chain(url: str) -> list[dict[str, Any]]:
    chain: list[dict[str, Any]] = httpx.get(url + "/api/v1/manifests").json()["chain"]
    return chain


def latest(url: str) -> crypto.Manifest:
    return crypto.parse_manifest(server_chain(url)[-1])


def write_chain(path: Path, chain: Sequence[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"chain": list(chain)}))
    return path


def sign_draft(draft: Path, signers: Sequence[Person], collector: Person, tag: str) -> list[Path]:
    """Each signer receives the draft, signs it on their own machine, and hands
    the signature file back to `collector`."""
    collected = []
    for signer in signers:
        mine = signer.receive(draft, f"{tag}.draft.json")
        sig = signer.home / f"{tag}.{signer.name}.sig.json"
        signer.run("intake-admin", "sign", mine, "--key", signer.key, "--out", sig)
        collected.append(collector.receive(sig) if signer is not collector else sig)
    return collected


def ceremony_step(
    url: str,
    collector: Person,
    signers: Sequence[Person],
    tag: str,
    *draft_args: object,
) -> Path:
    """Draft (by `collector`, from the server's chain), sign, combine: a signed manifest."""
    current = write_chain(collector.home / f"{tag}.chain.json", server_chain(url))
    draft = collector.home / f"{tag}.draft.json"
    collector.run("intake-admin", *draft_args, "--current", current, "--out", draft)
    sigs = sign_draft(draft, signers, collector, tag)
    signed = collector.home / f"{tag}.manifest.json"
    collector.run("intake-admin", "combine", draft, *sigs, "--current", current, "--out", signed)
    return signed


def merge_signatures(draft: Path, sigs: Sequence[Path], out: Path) -> Path:
    """Signature files put beside a draft's payload without any check: what
    someone who skips `combine`'s refusals (or an attacker) would publish."""
    envelope = json.loads(draft.read_text())
    envelope["signatures"] = [
        {"keyid": data["keyid"], "sig": data["sig"]}
        for data in (json.loads(sig.read_text()) for sig in sigs)
    ]
    out.write_text(json.dumps(envelope))
    return out


def draft_and_sign(
    url: str, collector: Person, signers: Sequence[Person], tag: str, *draft_args: object
) -> Path:
    """A draft of the server's next version signed by `signers`, however few or wrong."""
    current = write_chain(collector.home / f"{tag}.chain.json", server_chain(url))
    draft = collector.home / f"{tag}.draft.json"
    collector.run("intake-admin", *draft_args, "--current", current, "--out", draft)
    sigs = sign_draft(draft, signers, collector, tag)
    return merge_signatures(draft, sigs, collector.home / f"{tag}.manifest.json")


def publish(person: Person, url: str, signed: Path, *, ok: bool = True) -> Any:
    return person.run("intake-admin", "publish", signed, "--server", url, ok=ok)


def verify_chain(verifier: Person, url: str, tag: str, *, ok: bool = True) -> Any:
    chain = write_chain(verifier.home / f"{tag}.chain.json", server_chain(url))
    return verifier.run(
        "intake-verifier", "verify-chain", chain, "--keyring", verifier.keyring, ok=ok
    )


# --------------------------------------------------------------------------
# The applicant's page


def page_state(
    browser: Any, url: str, *, chain: Sequence[dict[str, Any]] | None = None
) -> tuple[str, str]:
    """(final `#intake-form[data-state]`, fingerprint shown) of the page at `/`.

    With `chain`, the page's request for the manifests is answered with that
    chain instead of the server's (a hostile server or network, as the page
    would see one)."""
    context = browser.new_context()
    try:
        page = context.new_page()
        if chain is not None:
            body = json.dumps({"chain": list(chain), "trust_root": None})

            def serve(route: Any) -> None:
                route.fulfill(status=200, content_type="application/json", body=body)

            page.route("**/api/v1/manifests", serve)
        page.goto(url + "/")
        page.wait_for_function(
            "() => ['ready', 'error'].includes("
            "document.getElementById('intake-form')?.dataset.state)",
            timeout=30_000,
        )
        state = str(page.get_attribute("#intake-form", "data-state"))
        shown = page.text_content("#manifest-fingerprint") or ""
        return state, shown.strip()
    finally:
        context.close()


# --------------------------------------------------------------------------
# An applicant's submission through the real API


def submission_content(marker: str) -> bytes:
    form = default_form()
    textarea = next(
        field["id"]
        for section in form["sections"]
        for field in section["fields"]
        if field["type"] == "textarea"
    )
    content = {
        "v": 2,
        "lang": "ru",
        "form": {"id": form["id"], "version": form["version"]},
        "answers": {textarea: marker},
        "attachments": [],
        "sent": "2026-11-22T10:00:00Z",
    }
    return json.dumps(content, ensure_ascii=False).encode()


def submit(
    url: str,
    manifest: crypto.Manifest,
    marker: str,
    *,
    recipients: Sequence[bytes] | None = None,
) -> httpx.Response:
    """Seal a submission as the page does (to `manifest`'s active verifiers unless
    told otherwise) and upload it; the last response (finalise, or the refusal)."""
    to = (
        list(recipients)
        if recipients is not None
        else [v.x25519 for v in manifest.active_verifiers()]
    )
    sealed = crypto.seal_bytes(
        submission_content(marker), kind="submission", manifest=manifest.ref, recipients=to
    )
    with httpx.Client(base_url=url, timeout=30) as client:
        challenge = client.post("/api/v1/challenges").json()
        nonce = solve(challenge["challenge"], challenge["difficulty"])
        created = client.post(
            "/api/v1/submissions",
            json={
                "kind": "submission",
                "mailbox": None,
                "envelopes": [{"id": "form", "size": len(sealed)}],
                "pow": {"challenge": challenge["challenge"], "nonce": nonce},
            },
        )
        if created.status_code != 201:
            return created
        sid = created.json()["id"]
        put = client.put(
            f"/api/v1/submissions/{sid}/envelopes/form?offset=0",
            content=sealed,
            headers={"Content-Type": "application/octet-stream"},
        )
        if put.status_code != 200:
            return put
        return client.post(f"/api/v1/submissions/{sid}/finalise")


def marker() -> str:
    return "marker-" + secrets.token_hex(8)


def admins_of(people: People, manifest: crypto.Manifest) -> list[Person]:
    """The people whose keys are the admin set of `manifest`."""
    by_kid = people.by_sign_kid()
    return [by_kid[a.sign_kid] for a in manifest.admins]


def app_package_in_use() -> Path:
    """The `app` package the servers run (the same environment as theirs)."""
    found = subprocess.run(
        [sys.executable, "-c", "import app; print(app.__path__[0])"],
        capture_output=True,
        text=True,
        check=True,
        cwd="/",
    )
    return Path(found.stdout.strip())


def copy_app_package(root: Path) -> Path:
    """Copies the `app` package into `root`: a server run from the copy
    (`pythonpath_with`) serves files that cannot change under the test (the
    checkout's may, while it is edited), and a test may change the copy's."""
    shutil.copytree(
        app_package_in_use(), root / "app", ignore=shutil.ignore_patterns("__pycache__")
    )
    return root


def pythonpath_with(root: Path) -> str:
    """PYTHONPATH that puts the packages in `root` before the environment's."""
    return os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)

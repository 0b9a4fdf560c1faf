"""intake-admin's drafts and displays, in process: genesis from public keys, the
signed form definition, expiry warnings, site documents and their parsing.

Signatures here are made in memory (`dsse_sign`): what is under test is what
the tool writes and shows, not the key files (the ceremony tests use those).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import crypto
from crypto.cli import admin
from crypto.cli.manifests import (
    detached_signature,
    form_diff_lines,
    load_document,
    parse_document,
)
from crypto.formdef import default_form
from crypto.site import (
    SITE_TYPE,
    build_site_payload,
    file_digest,
    module_references,
    page_links,
    page_references,
    parse_site,
    verify_site,
)


def run(*args: object, input: str | None = None) -> Result:
    return CliRunner().invoke(
        admin.cli,
        [str(a) for a in args],
        env={"COLUMNS": "200"},
        prog_name="intake-admin",
        input=input,
    )


def clean_failure(result: Result) -> str:
    """Exit 1 with one `error:` and one `hint:` line and no traceback; the error line."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("intake-admin: error: ")]
    hints = [ln for ln in result.stderr.splitlines() if ln.startswith("intake-admin: hint: ")]
    assert len(errors) == 1 and len(hints) == 1, result.stderr
    return errors[0]


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


ADMINS = [crypto.generate_identity("admin", f"admin-{n}") for n in (1, 2, 3)]


def manifest(
    version: int = 1,
    *,
    expires_in: dt.timedelta = dt.timedelta(days=365),
    form: dict[str, Any] | None = None,
    signers: Sequence[crypto.Identity] = ADMINS[:2],
) -> dict[str, Any]:
    payload = crypto.build_manifest_payload(
        version=version,
        issued=now(),
        expires=now() + expires_in,
        org={"name": "Org", "contact": "c@example.invalid"},
        threshold=2,
        admins=[a.public() for a in ADMINS],
        verifiers=[],
        couriers=[],
        extra={"form": form if form is not None else default_form()},
    )
    return crypto.dsse_sign(crypto.MANIFEST_TYPE, payload, list(signers))


def write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data, ensure_ascii=False))
    return path


def root_file(tmp_path: Path) -> Path:
    root = crypto.TrustRoot(2, frozenset(a.sign_kid for a in ADMINS))
    return write(tmp_path / "trust-root.json", root.to_json())


# --------------------------------------------------------------------------
# genesis from each admin's own public key


def test_init_from_public_keys_writes_an_unsigned_genesis_with_the_default_form(
    tmp_path: Path,
) -> None:
    pubs = [write(tmp_path / f"{a.label}.pub.json", a.public().to_json()) for a in ADMINS]
    out = tmp_path / "org"

    made = run(
        "init",
        "--org",
        "Org",
        "--contact",
        "c@example.invalid",
        *[x for p in pubs for x in ("--admin-pub", p)],
        "--threshold",
        "2",
        "--out",
        out,
    )

    assert made.exit_code == 0, made.output
    assert not list(out.glob("*.key"))  # no key was made or copied here
    draft = json.loads((out / "manifest-1.draft.json").read_text())
    assert draft["signatures"] == []
    genesis = crypto.parse_manifest(draft)
    assert genesis.version == 1 and genesis.data["form"] == default_form()
    root = crypto.TrustRoot.parse((out / "trust-root.json").read_text())
    assert root == crypto.TrustRoot(2, frozenset(a.sign_kid for a in ADMINS))
    assert json.loads(made.stdout) == root.to_json()
    # Two of the three sign it; then it verifies against the printed root.
    signed = draft
    for signer in ADMINS[1:]:
        signed = crypto.dsse_add_signature(signed, signer)
    checked = run(
        "verify", write(tmp_path / "m1.json", signed), "--trust-root", out / "trust-root.json"
    )
    assert checked.exit_code == 0, checked.output
    assert "OK: genesis manifest version 1 matches the trust root" in checked.stderr


def test_init_needs_exactly_one_way_of_naming_the_admins(tmp_path: Path) -> None:
    pub = write(tmp_path / "a.pub.json", ADMINS[0].public().to_json())
    both = run(
        "init",
        "--org",
        "O",
        "--contact",
        "c",
        "--admins",
        "1",
        "--admin-pub",
        pub,
        "--threshold",
        "1",
        "--out",
        tmp_path / "x",
    )
    neither = run(
        "init", "--org", "O", "--contact", "c", "--threshold", "1", "--out", tmp_path / "y"
    )

    assert "either --admin-pub" in clean_failure(both)
    assert "either --admin-pub" in clean_failure(neither)
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


# --------------------------------------------------------------------------
# the signed form definition


def changed_form() -> dict[str, Any]:
    form = default_form()
    fields = [f for s in form["sections"] for f in s["fields"]]
    choice = next(f for f in fields if f["type"] == "choice")
    choice["options"].append({"value": "pigeon", "label": {"ru": "Голубь", "en": "Pigeon"}})
    relabelled = next(f for f in fields if f["type"] == "textarea")
    relabelled["label"]["en"] = "Tell us everything, including your commander's name"
    removed = next(f for f in fields if f["type"] == "date")
    for section in form["sections"]:
        section["fields"] = [f for f in section["fields"] if f is not removed]
    form["sections"][0]["fields"].append(
        {
            "id": "home-address",
            "type": "text",
            "required": True,
            "label": {"ru": "Домашний адрес", "en": "Home address"},
        }
    )
    form["version"] += 1
    return form


def test_set_form_drafts_the_new_form_and_shows_each_question_change(tmp_path: Path) -> None:
    current = write(tmp_path / "current.json", manifest())
    new_form = changed_form()
    out = tmp_path / "draft.json"

    drafted = run(
        "set-form", write(tmp_path / "form.json", new_form), "--current", current, "--out", out
    )
    shown = run("show", out, "--current", current)

    assert drafted.exit_code == 0, drafted.output
    draft = crypto.parse_manifest(json.loads(out.read_text()))
    assert draft.version == 2 and draft.data["form"] == new_form
    for text in (drafted.stderr, shown.stderr):
        assert "~ form version 1 -> 2" in text
        assert "+ QUESTION ADDED 'home-address' ('text', required" in text
        assert "- QUESTION REMOVED" in text
        assert "option 'pigeon' added" in text
        assert "including your commander's name" in text
    assert "field 'form' changes" not in drafted.stderr


def test_set_form_refuses_an_invalid_form_definition(tmp_path: Path) -> None:
    current = write(tmp_path / "current.json", manifest())
    broken = default_form()
    broken["sections"][0]["fields"][0]["secretly_send_to"] = "elsewhere"
    out = tmp_path / "draft.json"

    result = run(
        "set-form", write(tmp_path / "form.json", broken), "--current", current, "--out", out
    )

    assert "is not a valid form definition" in clean_failure(result)
    assert "secretly_send_to" in result.stderr
    assert not out.exists()


def test_every_draft_carries_the_signed_form_forward(tmp_path: Path) -> None:
    form = changed_form()
    current = write(tmp_path / "current.json", manifest(form=form))
    verifier = crypto.generate_identity("verifier", "vera")
    pub = write(tmp_path / "vera.pub.json", verifier.public().to_json())
    drafts = {
        "add-verifier": ["add-verifier", pub],
        "renew": ["renew"],
        "rotate-admins": [
            "rotate-admins",
            "--new-admins",
            pub.with_name("a.json"),
            "--threshold",
            "1",
        ],
    }
    write(pub.with_name("a.json"), ADMINS[2].public().to_json())

    for name, args in drafts.items():
        out = tmp_path / f"{name}.json"
        result = run(*args, "--current", current, "--out", out)
        assert result.exit_code == 0, (name, result.output)
        assert crypto.parse_manifest(json.loads(out.read_text())).data["form"] == form, name
        assert "FORM" not in result.stderr and "QUESTION" not in result.stderr


def test_add_verifier_takes_the_scanned_text_of_a_qr_code(tmp_path: Path) -> None:
    current = write(tmp_path / "current.json", manifest())
    verifier = crypto.generate_identity("verifier", "vera")
    # What keygen puts in the QR code, as a scanner types it.
    scanned = json.dumps(verifier.public().to_json(), sort_keys=True, separators=(",", ":"))

    added = run(
        "add-verifier",
        "-",
        "--current",
        current,
        "--out",
        tmp_path / "d.json",
        input=scanned + "\n",
    )
    garbage = run(
        "add-verifier",
        "-",
        "--current",
        current,
        "--out",
        tmp_path / "e.json",
        input="https://example.invalid/not-a-key\n",
    )

    assert added.exit_code == 0, added.output
    draft = crypto.parse_manifest(json.loads((tmp_path / "d.json").read_text()))
    assert [v.kid for v in draft.active_verifiers()] == [verifier.kid]
    assert "scanned text is not a public key" in clean_failure(garbage)


# --------------------------------------------------------------------------
# expiry warnings


def test_show_and_verify_warn_when_the_manifest_expires_within_14_days(tmp_path: Path) -> None:
    # Manifests are valid 30 days (v3); the warning comes at half of that.
    soon = manifest(1, expires_in=dt.timedelta(days=10, hours=1))
    chain = write(tmp_path / "chain.json", {"chain": [soon]})
    renewal = manifest(2, expires_in=dt.timedelta(days=30))
    late = manifest(2, expires_in=dt.timedelta(days=13, hours=1))

    shown = run("show", chain)
    verified_soon = run("verify", chain, "--trust-root", root_file(tmp_path))
    verified_late = run(
        "verify",
        write(tmp_path / "late.json", late),
        "--chain",
        chain,
        "--trust-root",
        root_file(tmp_path),
    )
    verified_renewal = run(
        "verify",
        write(tmp_path / "renewal.json", renewal),
        "--chain",
        chain,
        "--trust-root",
        root_file(tmp_path),
    )

    for result, days in ((shown, 10), (verified_soon, 10), (verified_late, 13)):
        assert result.exit_code == 0, result.output
        assert "WARNING: " in result.stderr and f"in {days} day(s)" in result.stderr
    assert verified_renewal.exit_code == 0 and "WARNING" not in verified_renewal.stderr


def test_show_says_an_expired_manifest_is_refused_by_browsers(tmp_path: Path) -> None:
    expired = manifest(1, expires_in=dt.timedelta(days=-1))

    shown = run("show", write(tmp_path / "m.json", expired))

    assert "EXPIRED on" in shown.stderr and "browsers refuse it" in shown.stderr


# --------------------------------------------------------------------------
# site documents


def site(
    files: dict[str, bytes], *, version: int = 1, signers: Sequence[Any] = ()
) -> dict[str, Any]:
    payload = build_site_payload(
        manifest_version=version,
        issued=now(),
        files={path: file_digest(body) for path, body in files.items()},
    )
    return crypto.dsse_sign(SITE_TYPE, payload, list(signers))


FILES = {"/": b"<html>", "/en/": b"<html lang=en>", "/static/js/pow.js": b"export {}"}


def test_show_lists_a_site_documents_files_and_what_changed(tmp_path: Path) -> None:
    old = write(tmp_path / "old.json", site(FILES))
    changed = {**FILES, "/static/js/pow.js": b"export {evil}", "/static/js/new.js": b"1"}
    del changed["/en/"]
    new = write(tmp_path / "new.json", site(changed))

    shown = run("show", new, "--current", old)

    assert shown.exit_code == 0, shown.output
    assert file_digest(b"export {evil}").hex() in shown.stderr
    assert "~ file changes: '/static/js/pow.js'" in shown.stderr
    assert "+ file added: '/static/js/new.js'" in shown.stderr
    assert "- file no longer listed: '/en/'" in shown.stderr


def test_site_signature_files_combine_only_with_the_current_admins(tmp_path: Path) -> None:
    draft = write(tmp_path / "site.draft.json", site(FILES))
    chain = write(tmp_path / "chain.json", {"chain": [manifest()]})
    doc = load_document(draft, "draft")
    sigs = [
        write(tmp_path / f"sig-{n}.json", detached_signature(doc, a))
        for n, a in enumerate(ADMINS[:2])
    ]

    without_current = run("combine", draft, *sigs, "--out", tmp_path / "x.json")
    combined = run("combine", draft, *sigs, "--current", chain, "--out", tmp_path / "site.json")
    checked = run(
        "verify", tmp_path / "site.json", "--chain", chain, "--trust-root", root_file(tmp_path)
    )

    assert "signed by the current manifest's admins" in clean_failure(without_current)
    assert combined.exit_code == 0, combined.output
    assert checked.exit_code == 0, checked.output
    assert "is signed by the admins of manifest version 1" in checked.stderr
    # A manifest's signature file does not combine into a site document.
    manifest_sig = write(
        tmp_path / "manifest-sig.json",
        detached_signature(parse_document(manifest(signers=()), "m"), ADMINS[0]),
    )
    mixed = run("combine", draft, manifest_sig, "--current", chain, "--out", tmp_path / "y.json")
    assert "signs a different draft" in clean_failure(mixed)


def test_site_document_verification_classes() -> None:
    current = crypto.parse_manifest(manifest())

    assert verify_site(site(FILES, signers=ADMINS[:2]), current).files.keys() == FILES.keys()
    with pytest.raises(crypto.InvalidSignature) as one:
        verify_site(site(FILES, signers=ADMINS[:1]), current)
    forged = site(FILES, signers=ADMINS[:2])
    forged["signatures"][0]["sig"] = crypto.b64e(bytes(64))
    with pytest.raises(crypto.InvalidSignature) as bad:
        verify_site(forged, current)
    with pytest.raises(crypto.InvalidSignature) as future:
        verify_site(site(FILES, version=2, signers=ADMINS[:2]), current)
    outsider = crypto.generate_identity("admin", "outsider")
    with pytest.raises(crypto.InvalidSignature) as foreign:
        verify_site(site(FILES, signers=[outsider, ADMINS[0]]), current)

    assert (one.value.reason, bad.value.reason) == ("threshold", "bad-signature")
    assert (future.value.reason, foreign.value.reason) == ("malformed", "threshold")


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.update(extra="x"),
        lambda d: d["files"].update({"/../etc/passwd": d["files"]["/"]}),
        lambda d: d["files"].update({"relative.js": d["files"]["/"]}),
        lambda d: d["files"].update({"/x#frag": d["files"]["/"]}),
        lambda d: d["files"].update({"/": crypto.b64e(bytes(31))}),
        lambda d: d.update(files={}),
        lambda d: d.update(type="intake/manifest"),
    ],
    ids=["extra-field", "dot-segment", "relative", "fragment", "short-digest", "empty", "type"],
)
def test_malformed_site_documents_are_refused(mutate: Any) -> None:
    envelope = site(FILES)
    data = json.loads(crypto.b64d(envelope["payload"]))
    mutate(data)
    envelope["payload"] = crypto.b64e(crypto.canonical_json(data))

    with pytest.raises(crypto.InvalidSignature) as refused:
        parse_site(envelope)

    assert refused.value.reason == "malformed"


def test_references_are_found_in_pages_and_modules() -> None:
    html = """<!doctype html><html><head>
    <link rel="stylesheet" href="/static/css/intake.css" integrity="sha384-x">
    <link rel="icon" href="data:,">
    <link rel="modulepreload" href="/static/js/sodium-loader.js">
    <link rel="alternate" href="/feed.xml">
    <script type="module" src="/static/js/intake-page.js"></script>
    <script src="https://elsewhere.example/evil.js"></script>
    </head><body>
    <div id="intake-config" data-vendor-sri='{"libsodium.mjs":"sha384-a","libsodium.js":"sha384-b"}'
         data-wordlist="/static/wordlists/ru.txt"
         data-modules='{"/static/js/codename.js": "sha384-c", "x": ["/static/js/exif.js"]}'></div>
    <a href="/en/">English</a> <a href="/mailbox/">Replies</a> <a href="/static/doc.pdf">pdf</a>
    </body></html>"""
    js = """import { a } from "./sodium-loader.js";
    import * as b from './intake-crypto.js';
    export { c } from "../js/pow.js";
    const words = await import(`./codename.js`);
    fetch("/static/wordlists/en.txt");
    const note = "not a path";"""

    assert sorted(page_references(html, "/en/")) == [
        "/static/css/intake.css",
        "/static/js/codename.js",
        "/static/js/exif.js",
        "/static/js/intake-page.js",
        "/static/js/sodium-loader.js",
        "/static/vendor/libsodium.js",
        "/static/vendor/libsodium.mjs",
        "/static/wordlists/ru.txt",
    ]
    assert page_links(html, "/en/") == ["/en/", "/mailbox/"]
    assert module_references(js, "/static/js/intake-page.js") == [
        "/static/js/sodium-loader.js",
        "/static/js/intake-crypto.js",
        "/static/js/pow.js",
        "/static/js/codename.js",
        "/static/wordlists/en.txt",
    ]


def test_form_diff_names_a_form_added_or_removed_and_an_option_relabelled() -> None:
    form = default_form()
    relabelled = copy.deepcopy(form)
    choice = next(f for s in relabelled["sections"] for f in s["fields"] if f["type"] == "choice")
    choice["options"][0]["label"]["ru"] = "Другое"

    assert form_diff_lines(None, form)[0].startswith("+ FORM added: 'deserter-intake'")
    assert form_diff_lines(form, None) == ["- FORM REMOVED: the page will have no signed form"]
    assert form_diff_lines(form, relabelled) == [
        f"~ question {choice['id']!r}: option {choice['options'][0]['value']!r} label "
        f"en: {choice['options'][0]['label']['en']!r} / ru: "
        f"{form['sections'][0]['fields'][0]['options'][0]['label']['ru']!r} -> "
        f"en: {choice['options'][0]['label']['en']!r} / ru: 'Другое'"
    ]

"""intake-admin drafts: unsigned successors of the current manifest (add,
retire or revoke a verifier, couriers, the admin set, the form, a renewal),
and `show`, which displays a draft or signed document and what it changes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.table import Table
from rich.text import Text

import crypto
from crypto.formdef import validate_form
from crypto.site import SiteDocument

from .admin_shared import (
    MAX_ADMINS,
    PROG,
    F,
    PathArg,
    expires_days_option,
    expiry,
    warn_expiry,
)
from .common import (
    InputError,
    dump_json,
    read_json_file,
    refuse_existing,
    say,
    stderr_console,
    warn,
    write_file,
)
from .hostile import visible
from .manifests import (
    MAX_REVOCATION_DAYS,
    build_draft,
    check_label,
    diff_lines,
    fp,
    load_document,
    load_manifest_file,
    load_public_key,
    normalise_kid,
    parse_or_fail,
    print_manifest,
    site_diff_lines,
    verifier_kid_from,
)


def draft_options(func: F) -> F:
    """Options every draft command shares: the current manifest and the draft file."""
    func = expires_days_option("Validity in days from now.")(func)
    func = click.option("--out", required=True, type=PathArg, help="The unsigned draft to write.")(
        func
    )
    func = click.option(
        "--current",
        "current_path",
        required=True,
        type=PathArg,
        help="The current signed manifest (or the chain file).",
    )(func)
    return func


def _write_draft(out: Path, current: crypto.Manifest, expires_days: int, **changes: Any) -> None:
    """Every draft command ends here: `current`'s successor with `changes`
    (`build_draft`'s), valid `expires_days` from now, written and explained."""
    draft = build_draft(current, expires=expiry(expires_days), **changes)
    refuse_existing(out)
    new = parse_or_fail(draft, "the draft")
    write_file(out, dump_json(draft), mode=0o644)
    say(f"draft of manifest version {new.version} written to {out} (unsigned)")
    for line in diff_lines(current, new):
        say("  " + line)
    if new.key_set_fingerprint == current.key_set_fingerprint:
        say(f"  key-set fingerprint unchanged: {new.key_set_fingerprint}")
    else:
        say(
            f"  key-set fingerprint {current.key_set_fingerprint} -> {new.key_set_fingerprint}: "
            "once published, publish the new one for applicants to compare"
        )
    warn_expiry(new, "the draft")
    say(f"next: each admin runs `{PROG} sign {out} --key ADMIN.key --out SIG.json`")


@click.command("add-verifier")
@click.argument("public_path", type=PathArg)
@draft_options
@click.option("--label", help="Override the label in the public key file.")
def add_verifier(
    public_path: Path, current_path: Path, out: Path, expires_days: int, label: str | None
) -> None:
    """Draft: add a verifier (it will receive every new submission).

    PUBLIC_PATH is the verifier's public key file, or `-` to read the text of
    its QR code (as a scanner types it) from stdin.
    """
    current = load_manifest_file(current_path, "current manifest")
    key = load_public_key(public_path, "verifier")
    entry = crypto.VerifierEntry.from_public(key)
    if label is not None:
        entry = crypto.VerifierEntry(
            entry.kid, check_label(label), entry.x25519, entry.ed25519, "active"
        )
    else:
        check_label(entry.label)
    if verifier_kid_from(current, entry.kid) is not None:
        raise InputError(
            f"verifier {fp(entry.kid)} is already listed", "use retire/revoke to change it"
        )
    _write_draft(out, current, expires_days, verifiers=[*current.verifiers, entry])


def _find_verifier(current: crypto.Manifest, kid_text: str) -> crypto.VerifierEntry:
    entry = verifier_kid_from(current, normalise_kid(kid_text))
    if entry is None:
        raise InputError(
            f"no verifier {kid_text!r} in manifest version {current.version}",
            f"list them with `{PROG} show --current`",
        )
    return entry


@click.command()
@click.argument("kid")
@draft_options
def retire(kid: str, current_path: Path, out: Path, expires_days: int) -> None:
    """Draft: retire a verifier (nothing new is sealed to it; its replies still verify)."""
    current = load_manifest_file(current_path, "current manifest")
    target = _find_verifier(current, kid)
    if not target.active:
        raise InputError(f"verifier {fp(target.kid)} is already retired", None)
    verifiers = [
        crypto.VerifierEntry(v.kid, v.label, v.x25519, v.ed25519, "retired")
        if v.kid == target.kid
        else v
        for v in current.verifiers
    ]
    _write_draft(out, current, expires_days, verifiers=verifiers)


@click.command()
@click.argument("kid")
@draft_options
def revoke(kid: str, current_path: Path, out: Path, expires_days: int) -> None:
    """Draft: remove a verifier entirely (for a lost or compromised key).

    Valid for at most 30 days: until the manifest before it expires, a reader
    without a page anchor can still be served the chain that trusts the key.
    """
    if expires_days > MAX_REVOCATION_DAYS:
        raise InputError(
            f"a revocation may be valid for at most {MAX_REVOCATION_DAYS} days",
            f"use --expires-days {MAX_REVOCATION_DAYS} or less, and renew it routinely",
        )
    current = load_manifest_file(current_path, "current manifest")
    target = _find_verifier(current, kid)
    verifiers = [v for v in current.verifiers if v.kid != target.kid]
    _write_draft(out, current, expires_days, verifiers=verifiers)


@click.command("add-courier")
@click.argument("public_path", type=PathArg)
@draft_options
def add_courier(public_path: Path, current_path: Path, out: Path, expires_days: int) -> None:
    """Draft: add a courier key (may pull ciphertext and push receipts and replies)."""
    current = load_manifest_file(current_path, "current manifest")
    key = load_public_key(public_path, "courier")
    check_label(key.label)
    if any(c.sign_kid == key.sign_kid for c in current.couriers):
        raise InputError(f"courier {fp(key.sign_kid)} is already listed", None)
    _write_draft(out, current, expires_days, couriers=[*current.couriers, key])


@click.command("remove-courier")
@click.argument("kid")
@draft_options
def remove_courier(kid: str, current_path: Path, out: Path, expires_days: int) -> None:
    """Draft: remove a courier key."""
    current = load_manifest_file(current_path, "current manifest")
    wanted = normalise_kid(kid)
    couriers = [c for c in current.couriers if c.sign_kid != wanted]
    if len(couriers) == len(current.couriers):
        raise InputError(f"no courier {kid!r} in manifest version {current.version}", None)
    _write_draft(out, current, expires_days, couriers=couriers)


@click.command("rotate-admins")
@click.argument("more", nargs=-1, type=PathArg)
@click.option(
    "--new-admins",
    "new_admins",
    multiple=True,
    type=PathArg,
    help="Public key files of the new admin set (repeat, or list them after it).",
)
@click.option("--threshold", required=True, type=click.IntRange(1, MAX_ADMINS))
@draft_options
def rotate_admins(
    more: tuple[Path, ...],
    new_admins: tuple[Path, ...],
    threshold: int,
    current_path: Path,
    out: Path,
    expires_days: int,
) -> None:
    """Draft: replace the admin set (both the old and the new set must sign)."""
    current = load_manifest_file(current_path, "current manifest")
    paths = [*new_admins, *more]
    if not paths:
        raise InputError("no new admin keys given", "--new-admins A.pub.json B.pub.json ...")
    keys = [load_public_key(p, "admin") for p in paths]
    if len({k.sign_kid for k in keys}) != len(keys):
        raise InputError("the same admin key is listed twice", None)
    if threshold > len(keys):
        raise InputError(f"threshold {threshold} is more than {len(keys)} admins", None)
    _write_draft(out, current, expires_days, admins=keys, threshold=threshold)


@click.command()
@draft_options
def renew(current_path: Path, out: Path, expires_days: int) -> None:
    """Draft: the same keys with a new expiry (the routine every two weeks or so).

    Manifests are valid 30 days, so that a chain served as it was before a
    revocation stops working soon; GET /api/v1/status says when to renew.
    The key-set fingerprint applicants compare does not change.
    """
    current = load_manifest_file(current_path, "current manifest")
    _write_draft(out, current, expires_days)


@click.command("set-form")
@click.argument("form_path", type=PathArg)
@draft_options
def set_form(form_path: Path, current_path: Path, out: Path, expires_days: int) -> None:
    """Draft: replace the signed form definition (the questions applicants are asked)."""
    current = load_manifest_file(current_path, "current manifest")
    form = read_json_file(form_path, "form definition")
    try:
        validate_form(form)
    except ValueError as exc:
        raise InputError(
            f"{form_path} is not a valid form definition: {visible(str(exc), limit=200)}",
            "see docs/FORMS.md for the format",
        ) from None
    if form == current.data.get("form"):
        raise InputError(f"{form_path} is the form manifest version {current.version} has", None)
    _write_draft(out, current, expires_days, extra={"form": form})


@click.command()
@click.argument("draft_path", type=PathArg)
@click.option(
    "--current",
    "current_path",
    type=PathArg,
    help="Show the changes against this manifest (or, for a site document, the one it replaces).",
)
def show(draft_path: Path, current_path: Path | None) -> None:
    """Show a draft or signed document and, with --current, who gains and loses access."""
    doc = load_document(draft_path, "draft")
    console = stderr_console()
    if doc.site is not None:
        _show_site(console, doc.site, current_path)
        return
    new = doc.manifest
    if new is None:  # pragma: no cover - a Document is a manifest or a site document
        raise InputError(f"{draft_path} is not a manifest", None)
    print_manifest(console, new)
    warn_expiry(new, "this manifest")
    if current_path is not None:
        current = load_manifest_file(current_path, "current manifest")
        console.print(Text(f"Changes from version {current.version}:", style="bold"))
        for line in diff_lines(current, new):
            console.print(Text("  " + line))
        if current.version < new.version:
            warn_expiry(current, "the current manifest")


def _show_site(console: Any, site: SiteDocument, against: Path | None) -> None:
    console.print(
        Text(
            f"Site document issued {crypto.format_time(site.issued)} for manifest version "
            f"{site.manifest_version}: {len(site.files)} files (SHA-256)"
        )
    )
    table = Table(show_header=True, header_style="bold")
    table.add_column("path")
    table.add_column("sha256 (hex)")
    for path, digest in sorted(site.files.items()):
        table.add_row(Text(visible(path, limit=120)), digest.hex())
    console.print(table)
    if site.headers is None:
        warn("version 2: this document does not cover the security headers")
    for prefix, values in sorted((site.headers or {}).items()):
        console.print(Text(f"Security headers of every listed path under {prefix}:", style="bold"))
        for name, value in sorted(values.items()):
            console.print(Text(f"  {name}: {visible(value, limit=600)}"))
    if against is not None:
        old = load_document(against, "earlier site document")
        if old.site is None:
            raise InputError(f"{against} is not a site document", None)
        console.print(Text("Changes from the earlier document:", style="bold"))
        for line in site_diff_lines(old.site, site):
            console.print(Text("  " + line))

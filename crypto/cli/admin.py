"""intake-admin: the admins' offline tool for key manifests.

No password ever sits on a server: the authority to change who can read
submissions is a threshold of admin signatures over a manifest. Changes are
written as unsigned drafts; each admin signs on their own machine (`sign`),
someone collects the signature files (`combine`), anyone can check the result
(`verify`) and `publish` uploads it.

The same signing serves the site document (`site-digest`): the admins' digests
of every byte the applicant's pages load, which `check-site` compares with
the live pages from any machine. `audit` checks the server's log of every
manifest against the signatures; `revocation-report` lists the held
submissions a revoked or retired key can still open. Those online commands
live in `admin_online`.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import shlex
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.table import Table
from rich.text import Text

import crypto
from crypto.formdef import default_form, validate_form
from crypto.site import SiteDocument, check_path, verify_site

from . import admin_online as online
from . import transport
from .common import (
    InputError,
    ToolError,
    ToolGroup,
    TrustError,
    dump_json,
    load_chain_file,
    new_passphrase,
    now_utc,
    open_one_key,
    read_json_file,
    refuse_existing,
    say,
    stderr_console,
    verify_chain_or_fail,
    warn,
    write_file,
    write_new_key,
)
from .hostile import visible
from .keygen import generate_key
from .manifests import (
    MANIFEST_VALIDITY_DAYS,
    MAX_REVOCATION_DAYS,
    DetachedSignature,
    Document,
    build_draft,
    check_label,
    detached_signature,
    diff_lines,
    effective_now_for,
    expiry_warning,
    fp,
    load_document,
    load_manifest_file,
    load_public_key,
    normalise_kid,
    parse_or_fail,
    parse_signature_file,
    print_manifest,
    site_diff_lines,
    verifier_kid_from,
)

PROG = "intake-admin"
# Public by design: printed loudly and written into README.txt as DEMO ONLY.
DEMO_PASSPHRASE = "demo-only-not-secret"  # noqa: S105  # nosec B105
DEMO_MARKER = ".intake-demo"
# `make run` renews the demo chain when its latest manifest has less left than this.
DEMO_RENEW_DAYS = 7
MAX_ADMINS = 32
PathArg = click.Path(path_type=Path)
F = TypeVar("F", bound=Callable[..., Any])


@click.group(cls=ToolGroup, prog=PROG, context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Create and sign key manifests offline."""


# --------------------------------------------------------------------------
# keys and genesis


@cli.command()
@click.option("--out", required=True, type=PathArg, help="The new key file (written 0600).")
@click.option("--label", required=True, help="A short name others will see.")
@click.option("--kind", type=click.Choice(["admin", "courier"]), default="admin", show_default=True)
@click.option("--public-out", type=PathArg, help="Also write the public part to this file.")
@click.option("--qr-png", type=PathArg, help="Also write the public part as a QR code PNG.")
def keygen(out: Path, label: str, kind: str, public_out: Path | None, qr_png: Path | None) -> None:
    """Make an admin (or courier) key file and show its public part."""
    generate_key(kind, out, label, public_out, qr_png)


def _fresh_dir(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(f"{out} already exists and is not empty", "choose a new folder")
    out.mkdir(mode=0o700, parents=True, exist_ok=True)


def _genesis(
    org: dict[str, str],
    admins: list[crypto.Identity],
    threshold: int,
    expires_days: int,
    verifiers: list[crypto.VerifierEntry] | None = None,
    couriers: list[crypto.PublicKey] | None = None,
) -> tuple[dict[str, Any], crypto.TrustRoot]:
    now = now_utc()
    try:
        payload = crypto.build_manifest_payload(
            version=1,
            issued=now,
            expires=now + dt.timedelta(days=expires_days),
            org=org,
            threshold=threshold,
            admins=[a.public() for a in admins],
            verifiers=verifiers or [],
            couriers=couriers or [],
            extra={"form": default_form()},
        )
    except ValueError as exc:
        raise InputError(f"these settings do not make a valid manifest: {exc}", None) from None
    signed = crypto.dsse_sign(crypto.MANIFEST_TYPE, payload, admins)
    root = crypto.TrustRoot(threshold, frozenset(a.sign_kid for a in admins))
    verify_chain_or_fail([signed], root)  # self-check: what we hand out must verify
    return signed, root


def _write_genesis(out: Path, signed: dict[str, Any], root: crypto.TrustRoot) -> None:
    write_file(out / "manifest-1.json", dump_json(signed), mode=0o644)
    write_file(out / "chain.json", dump_json({"chain": [signed]}), mode=0o644)
    write_file(out / "trust-root.json", dump_json(root.to_json()), mode=0o644)


@cli.command()
@click.option("--org", required=True, help="The organisation's name, as applicants will see it.")
@click.option("--contact", required=True, help="How applicants can reach the organisation.")
@click.option(
    "--admin-pub",
    "admin_pubs",
    multiple=True,
    type=PathArg,
    help="Public key file of an admin who made their own key with `keygen` (repeat for "
    "each). Writes an unsigned genesis draft for them to sign: no key ever leaves its admin.",
)
@click.option(
    "--admins",
    "count",
    type=click.IntRange(1, MAX_ADMINS),
    help="Instead: generate this many admin key files here (each must then travel to its admin).",
)
@click.option("--threshold", required=True, type=click.IntRange(1, MAX_ADMINS))
@click.option("--out", required=True, type=PathArg, help="A new folder for keys and manifest.")
@click.option(
    "--expires-days",
    default=MANIFEST_VALIDITY_DAYS,
    show_default=True,
    type=click.IntRange(1, 3650),
    help="Validity of the genesis; renew it routinely (short validity bounds a rollback).",
)
def init(
    org: str,
    contact: str,
    admin_pubs: tuple[Path, ...],
    count: int | None,
    threshold: int,
    out: Path,
    expires_days: int,
) -> None:
    """Start an organisation: the genesis manifest and the trust root to pin.

    With --admin-pub (one per admin), writes an unsigned genesis draft that a
    threshold of those admins sign (`sign`, `combine`), each on their own
    machine. With --admins N, makes N key files here and signs with all.
    The genesis carries the default form definition (change it with `set-form`).
    """
    if bool(admin_pubs) == (count is not None):
        raise InputError(
            "give either --admin-pub (once per admin) or --admins N",
            "--admin-pub keeps every key on its admin's own machine",
        )
    total = len(admin_pubs) if admin_pubs else int(count or 0)
    if threshold > total:
        raise InputError(
            f"threshold {threshold} is more than {total} admins", "use a threshold <= the admins"
        )
    organisation = {"name": org, "contact": contact}
    if admin_pubs:
        _init_draft(organisation, admin_pubs, threshold, out, expires_days)
        return
    _fresh_dir(out)
    admins: list[crypto.Identity] = []
    for n in range(1, total + 1):
        path = out / f"admin-{n}.key"
        identity = crypto.generate_identity("admin", f"admin-{n}")
        write_new_key(path, identity, new_passphrase(path))
        write_file(out / f"admin-{n}.pub.json", dump_json(identity.public().to_json()), mode=0o644)
        admins.append(identity)
        say(f"admin-{n}: {fp(identity.sign_kid)}")
    signed, root = _genesis(organisation, admins, threshold, expires_days)
    _write_genesis(out, signed, root)
    genesis = parse_or_fail(signed, "genesis")
    say(
        f"genesis manifest written to {out / 'manifest-1.json'} (fingerprint {genesis.fingerprint})"
    )
    _say_key_set(genesis)
    say("Pin this trust root in the server's configuration and in every verifier's keyring")
    say(f"(it is also in {out / 'trust-root.json'}):")
    click.echo(json.dumps(root.to_json()))
    say("Give each admin key file to its admin; keep no copies together.")


def _say_key_set(manifest: crypto.Manifest) -> None:
    say(
        f"key-set fingerprint {manifest.key_set_fingerprint}: publish it where applicants "
        "can compare it with the one their page shows (it changes with every key change)"
    )


def _init_draft(
    org: dict[str, str], pub_paths: tuple[Path, ...], threshold: int, out: Path, days: int
) -> None:
    """The genesis as an unsigned draft for admins who each made their own key."""
    keys = [load_public_key(p, "admin") for p in pub_paths]
    if len({k.sign_kid for k in keys}) != len(keys):
        raise InputError("the same admin key is listed twice", None)
    for key in keys:
        check_label(key.label)
    now = now_utc()
    try:
        payload = crypto.build_manifest_payload(
            version=1,
            issued=now,
            expires=now + dt.timedelta(days=days),
            org=org,
            threshold=threshold,
            admins=keys,
            verifiers=[],
            couriers=[],
            extra={"form": default_form()},
        )
    except ValueError as exc:
        raise InputError(f"these settings do not make a valid manifest: {exc}", None) from None
    _fresh_dir(out)
    draft = crypto.dsse_sign(crypto.MANIFEST_TYPE, payload, [])
    root = crypto.TrustRoot(threshold, frozenset(k.sign_kid for k in keys))
    write_file(out / "manifest-1.draft.json", dump_json(draft), mode=0o644)
    write_file(out / "trust-root.json", dump_json(root.to_json()), mode=0o644)
    genesis = parse_or_fail(draft, "genesis draft")
    say(f"unsigned genesis draft written to {out / 'manifest-1.draft.json'}")
    for key in keys:
        say(f"  admin {key.label!r}: {fp(key.sign_kid)}")
    say(f"  {threshold} of {len(keys)} must sign; fingerprint {genesis.fingerprint}")
    _say_key_set(genesis)
    say("Pin this trust root in the server's configuration and in every verifier's keyring")
    say(f"(it is also in {out / 'trust-root.json'}):")
    click.echo(json.dumps(root.to_json()))
    say(
        f"next: each admin runs `{PROG} sign manifest-1.draft.json --key ADMIN.key "
        f"--out SIG.json`; then `{PROG} combine manifest-1.draft.json SIG... "
        f"--out manifest-1.json` and `{PROG} verify manifest-1.json --trust-root trust-root.json`"
    )


@cli.command()
@click.option("--out", required=True, type=PathArg, help="A new folder for the demo organisation.")
@click.option("--force", is_flag=True, help="Replace an earlier demo folder.")
@click.option(
    "--server",
    default="http://127.0.0.1:8000",
    show_default=True,
    help="Server URL written into README.txt.",
)
@click.option(
    "--renew",
    is_flag=True,
    help=f"Keep the existing demo folder; renew its chain if the latest manifest expires "
    f"within {DEMO_RENEW_DAYS} days (what `make run` does on every start).",
)
def demo(out: Path, force: bool, server: str, renew: bool) -> None:
    """Create the DEMO ONLY organisation used by `make run` (fixed, public passphrase)."""
    if renew:
        _renew_demo(out)
        return
    if out.exists():
        if not force:
            raise InputError(
                f"{out} already exists", "add --force to replace an earlier demo folder"
            )
        if not (out / DEMO_MARKER).is_file() and any(out.iterdir()):
            raise InputError(
                f"{out} is not a demo folder (no {DEMO_MARKER})",
                "refusing to delete it; choose another",
            )
        shutil.rmtree(out)
    out.mkdir(mode=0o700, parents=True)
    for sub in ("admins", "keyring", "courier"):
        (out / sub).mkdir(mode=0o700)
    write_file(out / DEMO_MARKER, b"made by intake-admin demo\n")
    banner = f"DEMO ONLY: every key here has the public passphrase {DEMO_PASSPHRASE!r}"
    warn(banner)
    admins = [crypto.generate_identity("admin", f"demo-admin-{n}") for n in (1, 2)]
    verifier = crypto.generate_identity("verifier", "demo-verifier")
    courier = crypto.generate_identity("courier", "demo-courier")
    for n, admin in enumerate(admins, 1):
        write_new_key(out / "admins" / f"admin-{n}.key", admin, DEMO_PASSPHRASE)
    write_new_key(out / "keyring" / "verifier.key", verifier, DEMO_PASSPHRASE)
    write_new_key(out / "courier" / "courier.key", courier, DEMO_PASSPHRASE)
    write_file(out / "verifier.pub.json", dump_json(verifier.public().to_json()), mode=0o644)
    write_file(out / "courier.pub.json", dump_json(courier.public().to_json()), mode=0o644)
    signed, root = _genesis(
        {"name": "Demo organisation (DEMO ONLY)", "contact": "demo@example.invalid"},
        admins,
        2,
        MANIFEST_VALIDITY_DAYS,
        verifiers=[crypto.VerifierEntry.from_public(verifier.public())],
        couriers=[courier.public()],
    )
    _write_genesis(out, signed, root)
    write_file(out / "keyring" / "trust-root.json", dump_json(root.to_json()), mode=0o644)
    write_file(out / "README.txt", _demo_readme(out.resolve(), server).encode(), mode=0o644)
    say(f"demo organisation written to {out}; see {out / 'README.txt'}")
    click.echo(json.dumps(root.to_json()))
    warn(banner)


def _renew_demo(folder: Path) -> None:
    """Extend an existing demo chain by a renewal signed with the demo admins' keys.

    Demo manifests are valid 30 days like every other; without this, `make
    run` on a demo folder a month old would serve a chain every page refuses.
    """
    if not (folder / DEMO_MARKER).is_file():
        raise InputError(
            f"{folder} is not a demo folder (no {DEMO_MARKER})",
            f"make one with `{PROG} demo --out {folder}`",
        )
    chain = load_chain_file(folder / "chain.json")
    root = _load_root(folder / "trust-root.json")
    try:
        latest = crypto.verify_chain(chain, root, now=effective_now_for(chain))[-1]
    except crypto.IntakeCryptoError as exc:
        raise TrustError(
            f"the demo chain does not verify: {exc.reason}", "make a new demo with --force"
        ) from None
    if latest.expires - now_utc() > dt.timedelta(days=DEMO_RENEW_DAYS):
        say(
            f"demo manifest version {latest.version} is valid until "
            f"{crypto.format_time(latest.expires)}: no renewal needed"
        )
        return
    admins = [
        crypto.read_key_file(folder / "admins" / f"admin-{n}.key", DEMO_PASSPHRASE) for n in (1, 2)
    ]
    draft = build_draft(latest, expires=_expiry(None))
    signed = crypto.dsse_sign(crypto.MANIFEST_TYPE, crypto.b64d(draft["payload"]), admins)
    renewed = crypto.verify_successor(latest, signed)  # self-check, as for the genesis
    write_file(folder / f"manifest-{renewed.version}.json", dump_json(signed), mode=0o644)
    write_file(
        folder / "chain.json",
        dump_json({"chain": [*chain, signed]}),
        overwrite=True,  # the chain grows by the renewal; written atomically
        mode=0o644,
    )
    say(
        f"demo chain renewed: manifest version {renewed.version} valid until "
        f"{crypto.format_time(renewed.expires)} written to {folder}"
    )


def _demo_readme(folder: Path, server_url: str) -> str:
    out, server = shlex.quote(str(folder)), shlex.quote(server_url)
    return f"""DEMO ONLY -- NOT FOR REAL USE
==============================

Every key file in this folder is protected by the PUBLIC passphrase
    {DEMO_PASSPHRASE}
Anyone who has read this file can open them. Never use these keys for real
submissions.

Trust root (pin it in the server's configuration): {out}/trust-root.json
Manifest chain (genesis, 2 admins, threshold 2):   {out}/chain.json

The pages show a key-set fingerprint ("Check the organisation's keys"): it
names the admins and verifiers of the newest manifest. A real organisation
publishes it (`intake-admin show {out}/chain.json` prints it) so applicants
can compare; it changes whenever a key is added, retired or revoked, so a page
served an outdated chain shows one the organisation no longer publishes.
Manifests are valid 30 days: `make run` renews this demo chain when it has
less than {DEMO_RENEW_DAYS} days left (`intake-admin demo --out {out} --renew`).

Round trip, with the server at {server}:

  # the tools live in the project's .venv: in the project folder, first
  source .venv/bin/activate
  export INTAKE_PASSPHRASE={DEMO_PASSPHRASE}

  # online side: fetch the ciphertext
  intake-courier pull --server {server} --key {out}/courier/courier.key --out {out}/bundle.tar

  # air-gapped side: open it into readable cases (--lang ru for reports in Russian)
  intake-verifier decrypt {out}/bundle.tar --keyring {out}/keyring --out {out}/cases

  # list the cases: urgent ones first, each with a short id; that short id is CASE
  intake-verifier cases {out}/cases

  # read one: open its report in a browser (questions, urgent risks, files, replies);
  # the folder has the whole id, so let the shell complete the short one with *
  xdg-open {out}/cases/CASE*/answers.html     # macOS: open ...; or drag it into a browser

  # let the server delete what was opened
  intake-verifier receipts --keyring {out}/keyring --cases {out}/cases --out {out}/receipts.json
  intake-courier push {out}/receipts.json --server {server} --key {out}/courier/courier.key

  # answer the applicant of CASE (in their language; --append adds to an existing file)
  intake-verifier reply {out}/cases/CASE --keyring {out}/keyring --status received \\
      --message "Мы получили вашу заявку и ответим в течение двух дней." \\
      --out {out}/replies.json --append
  intake-courier push {out}/replies.json --server {server} --key {out}/courier/courier.key

Admin keys (both needed to sign a new manifest): {out}/admins/admin-1.key, admin-2.key
"""


# --------------------------------------------------------------------------
# drafts


def draft_options(func: F) -> F:
    """Options every draft command shares: the current manifest and the draft file."""
    func = click.option(
        "--expires-days",
        type=click.IntRange(1, 3650),
        help=f"Validity in days from now (default {MANIFEST_VALIDITY_DAYS}).",
    )(func)
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


def _expiry(days: int | None) -> dt.datetime:
    """Every draft is valid MANIFEST_VALIDITY_DAYS unless --expires-days says otherwise."""
    return now_utc() + dt.timedelta(days=MANIFEST_VALIDITY_DAYS if days is None else days)


def _write_draft(out: Path, current: crypto.Manifest, draft: dict[str, Any]) -> None:
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
    _warn_expiry(new, "the draft")
    say(f"next: each admin runs `{PROG} sign {out} --key ADMIN.key --out SIG.json`")


@cli.command("add-verifier")
@click.argument("public_path", type=PathArg)
@draft_options
@click.option("--label", help="Override the label in the public key file.")
def add_verifier(
    public_path: Path, current_path: Path, out: Path, expires_days: int | None, label: str | None
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
    draft = build_draft(
        current, verifiers=[*current.verifiers, entry], expires=_expiry(expires_days)
    )
    _write_draft(out, current, draft)


def _find_verifier(current: crypto.Manifest, kid_text: str) -> crypto.VerifierEntry:
    entry = verifier_kid_from(current, normalise_kid(kid_text))
    if entry is None:
        raise InputError(
            f"no verifier {kid_text!r} in manifest version {current.version}",
            f"list them with `{PROG} show --current`",
        )
    return entry


@cli.command()
@click.argument("kid")
@draft_options
def retire(kid: str, current_path: Path, out: Path, expires_days: int | None) -> None:
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
    _write_draft(
        out, current, build_draft(current, verifiers=verifiers, expires=_expiry(expires_days))
    )


@cli.command()
@click.argument("kid")
@draft_options
def revoke(kid: str, current_path: Path, out: Path, expires_days: int | None) -> None:
    """Draft: remove a verifier entirely (for a lost or compromised key).

    Valid for at most 30 days: until the manifest before it expires, a reader
    without a page anchor can still be served the chain that trusts the key.
    """
    if expires_days is not None and expires_days > MAX_REVOCATION_DAYS:
        raise InputError(
            f"a revocation may be valid for at most {MAX_REVOCATION_DAYS} days",
            f"use --expires-days {MAX_REVOCATION_DAYS} or less, and renew it routinely",
        )
    current = load_manifest_file(current_path, "current manifest")
    target = _find_verifier(current, kid)
    verifiers = [v for v in current.verifiers if v.kid != target.kid]
    _write_draft(
        out, current, build_draft(current, verifiers=verifiers, expires=_expiry(expires_days))
    )


@cli.command("add-courier")
@click.argument("public_path", type=PathArg)
@draft_options
def add_courier(public_path: Path, current_path: Path, out: Path, expires_days: int | None) -> None:
    """Draft: add a courier key (may pull ciphertext and push receipts and replies)."""
    current = load_manifest_file(current_path, "current manifest")
    key = load_public_key(public_path, "courier")
    check_label(key.label)
    if any(c.sign_kid == key.sign_kid for c in current.couriers):
        raise InputError(f"courier {fp(key.sign_kid)} is already listed", None)
    draft = build_draft(current, couriers=[*current.couriers, key], expires=_expiry(expires_days))
    _write_draft(out, current, draft)


@cli.command("remove-courier")
@click.argument("kid")
@draft_options
def remove_courier(kid: str, current_path: Path, out: Path, expires_days: int | None) -> None:
    """Draft: remove a courier key."""
    current = load_manifest_file(current_path, "current manifest")
    wanted = normalise_kid(kid)
    couriers = [c for c in current.couriers if c.sign_kid != wanted]
    if len(couriers) == len(current.couriers):
        raise InputError(f"no courier {kid!r} in manifest version {current.version}", None)
    _write_draft(
        out, current, build_draft(current, couriers=couriers, expires=_expiry(expires_days))
    )


@cli.command("rotate-admins")
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
    expires_days: int | None,
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
    draft = build_draft(current, admins=keys, threshold=threshold, expires=_expiry(expires_days))
    _write_draft(out, current, draft)


@cli.command()
@click.option(
    "--current",
    "current_path",
    required=True,
    type=PathArg,
    help="The current signed manifest (or the chain file).",
)
@click.option("--out", required=True, type=PathArg, help="The unsigned draft to write.")
@click.option(
    "--expires-days",
    default=MANIFEST_VALIDITY_DAYS,
    show_default=True,
    type=click.IntRange(1, 3650),
)
def renew(current_path: Path, out: Path, expires_days: int) -> None:
    """Draft: the same keys with a new expiry (the routine every two weeks or so).

    Manifests are valid 30 days, so that a chain served as it was before a
    revocation stops working soon; GET /api/v1/status says when to renew.
    The key-set fingerprint applicants compare does not change.
    """
    current = load_manifest_file(current_path, "current manifest")
    _write_draft(out, current, build_draft(current, expires=_expiry(expires_days)))


@cli.command("set-form")
@click.argument("form_path", type=PathArg)
@draft_options
def set_form(form_path: Path, current_path: Path, out: Path, expires_days: int | None) -> None:
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
    draft = build_draft(current, extra={"form": form}, expires=_expiry(expires_days))
    _write_draft(out, current, draft)


@cli.command()
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
    _warn_expiry(new, "this manifest")
    if current_path is not None:
        current = load_manifest_file(current_path, "current manifest")
        console.print(Text(f"Changes from version {current.version}:", style="bold"))
        for line in diff_lines(current, new):
            console.print(Text("  " + line))
        if current.version < new.version:
            _warn_expiry(current, "the current manifest")


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


def _warn_expiry(manifest: crypto.Manifest, what: str) -> None:
    message = expiry_warning(manifest, what)
    if message is not None:
        warn(message)


# --------------------------------------------------------------------------
# signing


@cli.command()
@click.argument("draft_path", type=PathArg)
@click.option("--key", "key_path", required=True, type=PathArg, help="Your admin key file.")
@click.option("--out", required=True, type=PathArg, help="The signature file to write.")
@click.option("--current", "current_path", type=PathArg, help="Show the changes before signing.")
def sign(draft_path: Path, key_path: Path, out: Path, current_path: Path | None) -> None:
    """Sign a draft (manifest or site document) with your admin key: a detached signature file."""
    refuse_existing(out)
    doc = load_document(draft_path, "draft")
    if doc.manifest is not None:
        new = doc.manifest
        say(
            f"signing manifest version {new.version} (fingerprint {new.fingerprint}, "
            f"key-set fingerprint {new.key_set_fingerprint})"
        )
        if current_path is not None:
            for line in diff_lines(load_manifest_file(current_path, "current manifest"), new):
                say("  " + line)
    else:
        say(f"signing {doc.title}")
        say("  its digests vouch for every byte of the applicant's pages: check them first")
        say(f"  (`{PROG} show {draft_path}`, and compare with a build you trust)")
    admin = open_one_key(key_path, kind="admin")
    signature = detached_signature(doc, admin)
    write_file(out, dump_json(signature), mode=0o644)
    say(f"signature by {admin.label!r} ({fp(admin.sign_kid)}) written to {out}")


@cli.command()
@click.argument("draft_path", type=PathArg)
@click.argument("signature_paths", nargs=-1, required=True, type=PathArg)
@click.option("--out", required=True, type=PathArg, help="The signed document to write.")
@click.option(
    "--current",
    "current_path",
    type=PathArg,
    help="The current manifest, to check signatures by its admins "
    "(needed for rotate-admins and for site documents).",
)
def combine(
    draft_path: Path, signature_paths: tuple[Path, ...], out: Path, current_path: Path | None
) -> None:
    """Put the signature files beside the draft's payload."""
    refuse_existing(out)
    doc = load_document(draft_path, "draft")
    new = doc.manifest
    current = load_manifest_file(current_path, "current manifest") if current_path else None
    if new is None and current is None:
        raise InputError(
            "a site document is signed by the current manifest's admins",
            "pass --current CHAIN.json (the chain as the server serves it)",
        )
    keys: dict[str, bytes] = dict(new.admin_keys) if new is not None else {}
    if current is not None:
        keys.update(current.admin_keys)
    signatures: dict[str, DetachedSignature] = {}
    for path in signature_paths:
        detached = parse_signature_file(path)
        if detached.kind != doc.kind or detached.payload_digest != doc.digest:
            raise InputError(
                f"{path} signs a different draft", "collect signatures of this draft file"
            )
        if detached.keyid not in keys:
            raise TrustError(
                f"{path} is signed by {fp(detached.keyid)}, which is not an admin we know",
                "pass --current M.json so the current admins' keys are known",
            )
        signatures[detached.keyid] = detached
    combined = {
        "payloadType": doc.envelope["payloadType"],
        "payload": doc.envelope["payload"],
        "signatures": [{"keyid": s.keyid, "sig": s.sig} for s in signatures.values()],
    }
    valid, bad = crypto.dsse_check_signers(combined, keys)
    if bad:
        raise TrustError(
            "signature(s) by " + ", ".join(fp(k) for k in sorted(bad)) + " do not verify",
            "that admin must sign this exact draft again",
        )
    write_file(out, dump_json(combined), mode=0o644)
    say(f"{len(valid)} signature(s) combined into {out}")
    if new is not None:
        have_new = len(valid & set(new.admin_keys))
        if have_new < new.threshold:
            warn(f"only {have_new} of the {new.threshold} signatures the new admin set needs")
    if current is not None:
        have_old = len(valid & set(current.admin_keys))
        if have_old < current.threshold:
            warn(f"only {have_old} of the {current.threshold} signatures the current admins need")
    say(f"check it with `{PROG} verify {out} --chain CHAIN.json --trust-root trust-root.json`")


@cli.command()
@click.argument("signed_path", type=PathArg)
@click.option("--chain", "chain_path", type=PathArg, help="The chain it must extend.")
@click.option(
    "--trust-root",
    "root_path",
    type=PathArg,
    help="The pinned trust root (for a genesis manifest, or to check the chain).",
)
def verify(signed_path: Path, chain_path: Path | None, root_path: Path | None) -> None:
    """Show who signed a manifest (or site document) and whether the thresholds hold."""
    doc = load_document(signed_path, "signed document")
    root = _load_root(root_path) if root_path else None
    console = stderr_console()
    if doc.site is not None:
        _verify_site_file(console, doc, chain_path, root)
        return
    signed, new = doc.envelope, doc.manifest
    if new is None:  # pragma: no cover - a Document is a manifest or a site document
        raise InputError(f"{signed_path} is not a manifest", None)
    if chain_path is None:
        if root is None:
            raise InputError("give --chain CHAIN.json or --trust-root trust-root.json", None)
        _signer_table(console, signed, None, new)
        try:
            crypto.verify_chain([signed], root)
        except crypto.IntakeCryptoError as exc:
            raise TrustError(
                f"genesis manifest refused: {exc.reason}", _reason_hint(exc.reason)
            ) from None
        say(f"OK: genesis manifest version {new.version} matches the trust root and is signed")
        _warn_expiry(new, "this manifest")
        return
    chain = load_chain_file(chain_path)
    if root is None:
        genesis = parse_or_fail(chain[0], "the chain's genesis")
        root = crypto.TrustRoot(genesis.threshold, frozenset(genesis.admin_keys))
        warn("no --trust-root: trusting the chain's genesis as given")
    try:
        manifests = crypto.verify_chain(chain, root, now=effective_now_for(chain))
    except crypto.IntakeCryptoError as exc:
        raise TrustError(
            f"the chain does not verify: {exc.reason}", _reason_hint(exc.reason)
        ) from None
    head = manifests[-1]
    if new.version <= head.version:
        _verify_chain_link(console, signed, new, chain, manifests, root)
        return
    # Only a successor of the head is news: a validly signed manifest at a
    # lower version that is not the chain's own link is a fork (it may keep a
    # key a later version revoked), never "OK".
    current = head
    _signer_table(console, signed, current, new)
    try:
        crypto.verify_successor(current, signed)
    except crypto.IntakeCryptoError as exc:
        raise TrustError(
            f"manifest version {new.version} is NOT a valid successor of "
            f"version {current.version}: {exc.reason}",
            _reason_hint(exc.reason),
        ) from None
    say(f"OK: version {new.version} is a valid successor of version {current.version}")
    _warn_expiry(new, "this manifest")


def _verify_chain_link(
    console: Any,
    signed: dict[str, Any],
    new: crypto.Manifest,
    chain: list[dict[str, Any]],
    manifests: list[crypto.Manifest],
    root: crypto.TrustRoot,
) -> None:
    """A manifest at or below the chain's head is fine only as the chain's own link."""
    head = manifests[-1]
    index = next((i for i, m in enumerate(manifests) if m.version == new.version), None)
    if index is None or not hmac.compare_digest(manifests[index].digest, new.digest):
        raise TrustError(
            f"manifest version {new.version} is NOT version {new.version} of the chain "
            f"(whose head is version {head.version}): it is a fork or an outdated draft",
            f"only the chain's own links, or a successor of version {head.version}, are valid; "
            "fetch the current chain and draft from its head",
        )
    previous = manifests[index - 1] if index > 0 else None
    _signer_table(console, signed, previous, new)
    # The file's own signatures, in the chain's place of this link.
    own = [*chain[:index], signed]
    try:
        crypto.verify_chain(own, root, now=effective_now_for(own))
    except crypto.IntakeCryptoError as exc:
        raise TrustError(
            f"manifest version {new.version} matches the chain's but its signatures "
            f"do not verify: {exc.reason}",
            _reason_hint(exc.reason),
        ) from None
    say(
        f"OK: version {new.version} is the chain's own version {new.version} "
        f"(the head is version {head.version})"
    )


def _verify_site_file(
    console: Any, doc: Document, chain_path: Path | None, root: crypto.TrustRoot | None
) -> None:
    if chain_path is None or root is None:
        raise InputError(
            "a site document is checked against the chain",
            "give --chain CHAIN.json and --trust-root trust-root.json",
        )
    manifests = verify_chain_or_fail(load_chain_file(chain_path), root)
    latest = manifests[-1]
    _signer_table(console, doc.envelope, None, latest, title=doc.title)
    try:
        verify_site(doc.envelope, latest)
    except crypto.IntakeCryptoError as exc:
        raise TrustError(
            f"the site document is NOT signed for manifest version {latest.version}: {exc.reason}",
            _reason_hint(exc.reason),
        ) from None
    say(f"OK: {doc.title} is signed by the admins of manifest version {latest.version}")
    _warn_expiry(latest, "the current manifest")


def _reason_hint(reason: str) -> str:
    return {
        "threshold": "collect more admin signatures (`sign`, then `combine`)",
        "bad-signature": "a signature does not verify: was the draft changed after signing?",
        "rollback": "the version must be higher than the current manifest's",
        "expired": "make a draft with a later expiry (--expires-days)",
        "untrusted-root": "the admin set does not match the pinned trust root",
    }.get(reason, "check the files")


def _load_root(path: Path) -> crypto.TrustRoot:
    data = read_json_file(path, "trust root")
    try:
        return crypto.TrustRoot.from_json(data)
    except (TypeError, ValueError):
        raise InputError(f"{path} is not a trust root", None) from None


def _signer_table(
    console: Any,
    signed: dict[str, Any],
    current: crypto.Manifest | None,
    new: crypto.Manifest,
    *,
    title: str | None = None,
) -> None:
    keys: dict[str, crypto.PublicKey] = {a.sign_kid: a for a in new.admins}
    if current is not None:
        keys.update({a.sign_kid: a for a in current.admins})
    valid, bad = crypto.dsse_check_signers(signed, {k: a.ed25519 for k, a in keys.items()})
    table = Table(
        title=f"Signatures on {title or f'manifest version {new.version}'}", title_justify="left"
    )
    table.add_column("admin")
    table.add_column("key id")
    if current is not None:
        table.add_column(f"in v{current.version}")
    table.add_column(f"in v{new.version}")
    table.add_column("signed")
    for kid, key in keys.items():
        row: list[Any] = [Text(visible(key.label, limit=40)), fp(kid)]
        if current is not None:
            row.append("yes" if kid in current.admin_keys else "")
        row.append("yes" if kid in new.admin_keys else "")
        row.append("valid" if kid in valid else ("BAD" if kid in bad else "-"))
        table.add_row(*row)
    console.print(table)
    if current is not None:
        have = len(valid & set(current.admin_keys))
        mark = "ok" if have >= current.threshold else "NOT MET"
        say(f"current admins (v{current.version}): {have} of {current.threshold} needed: {mark}")
    have_new = len(valid & set(new.admin_keys))
    mark = "ok" if have_new >= new.threshold else "NOT MET"
    who = "admins" if title else "new admins"
    say(f"{who} (v{new.version}): {have_new} of {new.threshold} needed: {mark}")


@cli.command()
@click.argument("signed_path", type=PathArg)
@click.option(
    "--server", required=True, help="The server's base URL, e.g. https://intake.example.org"
)
def publish(signed_path: Path, server: str) -> None:
    """Upload a signed manifest or site document (the server checks the signatures)."""
    doc = load_document(signed_path, "signed document")
    if not doc.envelope.get("signatures"):
        raise InputError(
            f"{signed_path} is an unsigned draft", f"`{PROG} sign` and `combine` it first"
        )
    path = "/api/v1/manifests" if doc.manifest is not None else "/api/v1/site"
    body = json.dumps(doc.envelope).encode()
    response = transport.request(
        server, "POST", path, body=body, headers={"Content-Type": "application/json"}
    )
    if response.status not in (200, 201):
        raise ToolError(f"the server answered {response.status} unexpectedly", None)
    say(f"{doc.title} published to {server}")


# --------------------------------------------------------------------------
# online: served-code integrity, the audit log, the revocation report

TrustRootOption = click.option(
    "--trust-root",
    "root_path",
    required=True,
    type=PathArg,
    help="The pinned trust root (trust-root.json): everything the server says is checked by it.",
)


@cli.command("site-digest")
@click.option("--server", required=True, help="The server whose pages to digest.")
@TrustRootOption
@click.option("--out", required=True, type=PathArg, help="The unsigned site document to write.")
@click.option("--page", "pages", multiple=True, help="Another page path to include (repeat).")
@click.option("--file", "files", multiple=True, help="Another file path to include (repeat).")
def site_digest(
    server: str, root_path: Path, out: Path, pages: tuple[str, ...], files: tuple[str, ...]
) -> None:
    """Draft a site document: the SHA-256 of every byte the applicant's pages load.

    Fetches each page in each language (and every page they link to), every
    script, stylesheet and module they load, and the vendored files named in
    `data-vendor-sri`. Run it against a server you have just deployed from a
    release you trust; admins then `sign` and `combine` the draft like a
    manifest (with `--current CHAIN.json`) and `publish` it.
    """
    refuse_existing(out)
    root = _load_root(root_path)
    for path in (*pages, *files):
        try:
            check_path(path)
        except ValueError:
            raise InputError(
                f"{visible(path, limit=80)!r} is not a path on the server", "start it with /"
            ) from None
    draft, found, latest = online.site_draft(server, root, pages, files)
    write_file(out, dump_json(draft), mode=0o644)
    for path, why in found.skipped:
        say(f"  page {visible(path, limit=80)} skipped: {visible(why, limit=120)}")
    say(
        f"site document draft for manifest version {latest.version} written to {out}: "
        f"{len(found.pages)} page(s), {len(found.files)} file(s)"
    )
    for path in sorted(found.files):
        say(f"  {visible(path, limit=120)}")
    rules = crypto.load_json(crypto.dsse_payload(draft)[1])["headers"]
    for prefix, values in sorted(rules.items()):
        say(f"  security headers of {visible(prefix, limit=80)}*: {', '.join(sorted(values))}")
    say(
        f"next: each admin runs `{PROG} sign {out} --key ADMIN.key --out SIG.json`; then "
        f"`{PROG} combine {out} SIG... --current CHAIN.json --out site.json` and "
        f"`{PROG} publish site.json --server URL`"
    )


@cli.command("check-site")
@click.argument("server")
@TrustRootOption
@click.option(
    "--http",
    "http_only",
    is_flag=True,
    help="Fetch with the standard library (a browser's headers) instead of Chromium: "
    "for machines without Chromium; a careful server can still tell it from a browser.",
)
@click.option(
    "--proxy",
    envvar="INTAKE_CHECK_PROXY",
    default=None,
    help="Fetch everything through this proxy, e.g. socks5://127.0.0.1:9050 (Tor); "
    "nothing goes direct. Also read from INTAKE_CHECK_PROXY.",
)
@click.option("--json", "as_json", is_flag=True, help="Also print a JSON report on stdout.")
@click.option(
    "--allow-unsigned-headers",
    is_flag=True,
    help="Accept a version-2 site document, which does not cover the security headers.",
)
@click.option(
    "--chromium",
    "chromium_path",
    type=PathArg,
    default=None,
    help="The Chromium executable (default /usr/bin/chromium).",
)
def check_site(
    server: str,
    root_path: Path,
    http_only: bool,
    proxy: str | None,
    as_json: bool,
    allow_unsigned_headers: bool,
    chromium_path: Path | None,
) -> None:
    """From any machine: load the pages as a browser does and check every byte
    and every security header against the signed site document.

    Loads each page in each language in headless Chromium, records every
    response it receives, and compares each body's SHA-256 and each security
    header with what the admins signed. Exits 1 if anything differs, is
    missing, or is loaded without being listed. Run it from machines that are
    not the server, and through Tor (--proxy), on a schedule.
    """
    root = _load_root(root_path)
    report = online.check_site(
        server,
        root,
        browser=not http_only,
        proxy=proxy or None,
        chromium=chromium_path,
        allow_unsigned_headers=allow_unsigned_headers,
    )
    console = stderr_console()
    for path, size, expected, actual in report.changed:
        console.print(
            Text("CHANGED ", style="bold red")
            + Text(f"{visible(path, limit=120)}: {size} bytes, sha256 {actual.hex()}, ")
            + Text(f"signed {expected.hex()}")
        )
    for path, why in report.missing:
        console.print(
            Text("MISSING ", style="bold red")
            + Text(f"{visible(path, limit=120)}: {visible(why, limit=160)}")
        )
    for path, by in report.uncovered:
        console.print(
            Text("UNSIGNED ", style="bold red")
            + Text(f"{visible(path, limit=120)} is loaded by {visible(by, limit=80)} ")
            + Text("but not listed in the signed site document")
        )
    for problem in report.headers:
        signed = "(absent)" if problem.expected is None else repr(problem.expected)
        served = "(absent)" if problem.actual is None else repr(problem.actual)
        console.print(
            Text("HEADER ", style="bold red")
            + Text(f"{visible(problem.path, limit=120)} {problem.name}: ")
            + Text(f"signed {visible(signed, limit=300)}, served {visible(served, limit=300)}")
        )
    if report.headers_not_covered:
        message = (
            "headers not covered: this site document (version 2) does not sign the "
            "security headers, so a loosened Content-Security-Policy would pass"
        )
        if allow_unsigned_headers:
            warn(message)
        else:
            console.print(Text("HEADERS ", style="bold red") + Text(message))
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2, sort_keys=True))
    issued = crypto.format_time(report.issued)
    if report.failed:
        raise TrustError(
            f"{report.problems()} problem(s): what {visible(server, limit=80)} serves differs "
            f"from the site document the admins signed ({issued})",
            "do not trust these pages; tell the admins and the server's operator"
            if not (report.headers_not_covered and report.problems() == 1)
            else "the admins should draft, sign and publish a new site document "
            "(it then covers the headers), or pass --allow-unsigned-headers",
        )
    how = "in Chromium" if report.mode == "browser" else "over HTTP with a browser's headers"
    via = f" through {transport.show_proxy(report.proxy)}" if report.proxy else ""
    covered = "" if report.headers_not_covered else " and their security headers"
    say(
        f"OK: all {len(report.ok)} files{covered} match the site document issued {issued}, "
        f"signed by the admins of manifest version {report.manifest.version} "
        f"(loaded {how}{via})"
    )
    _warn_expiry(report.manifest, "the current manifest")


@cli.command()
@click.option("--server", required=True, help="The server whose audit log to check.")
@TrustRootOption
def audit(server: str, root_path: Path) -> None:
    """Show and check the server's audit log: every manifest, who signed it, what changed."""
    root = _load_root(root_path)
    lines, sites = online.audit(server, root)
    # Plain lines rather than a table: an audit log is read in full, and copied.
    for line in lines:
        labels = _admin_labels(line.manifest, line.previous)
        say(
            f"version {line.manifest.version}  issued {crypto.format_time(line.manifest.issued)}"
            f"  accepted {visible(line.accepted, limit=30)}"
            f"  fingerprint {line.manifest.fingerprint}"
            f"  key set {line.manifest.key_set_fingerprint}"
        )
        say("  signed by: " + ", ".join(labels.get(kid, kid) for kid in line.signers))
        changes = (
            ["genesis"]
            if line.previous is None
            else diff_lines(line.previous, line.manifest)[1:] or ["(no change)"]
        )
        for change in changes:
            say("  " + change)
    for site in sites:
        valid = "valid now" if site.valid_now else "NOT valid for the current admins: sign again"
        say(
            f"site document issued {site.issued} for manifest version {site.manifest_version}"
            f"  accepted {visible(site.accepted, limit=30)}  {len(site.signers)} signature(s), "
            f"{valid}"
        )
    latest = lines[-1].manifest
    say(
        f"OK: audit log of {len(lines)} manifest(s) matches the chain verified from the trust "
        f"root; newest version {latest.version}, fingerprint {latest.fingerprint}, "
        f"key-set fingerprint {latest.key_set_fingerprint}"
    )
    _warn_expiry(latest, "the current manifest")


def _admin_labels(manifest: crypto.Manifest, previous: crypto.Manifest | None) -> dict[str, str]:
    admins = [*(previous.admins if previous else []), *manifest.admins]
    return {a.sign_kid: f"{visible(a.label, limit=30)} ({a.sign_kid[:8]})" for a in admins}


@cli.command("revocation-report")
@click.option("--server", required=True, help="The server holding the submissions.")
@TrustRootOption
@click.option(
    "--key", "key_path", required=True, type=PathArg, help="A courier key file of the manifest."
)
@click.option(
    "--kid",
    "kids",
    multiple=True,
    help="A verifier key id to report on (repeat). Default: every key that is not active.",
)
def revocation_report(server: str, root_path: Path, key_path: Path, kids: tuple[str, ...]) -> None:
    """Which held submissions are sealed to revoked or retired verifier keys.

    Prints a JSON summary on stdout. Submissions sealed only to a lost key can
    be opened by whoever holds it: rewrap them (`intake-verifier rewrap`,
    then `intake-courier push`) from a keyring that still opens them, or purge them.
    """
    root = _load_root(root_path)
    wanted = [normalise_kid(k) for k in kids]
    courier = open_one_key(key_path, kind="courier")
    latest, reports = online.revocation_report(server, root, courier, wanted)
    console = stderr_console()
    for report in reports:
        name = f"{visible(report.label, limit=40)!r} " if report.label else ""
        status = report.status.upper() if report.status != "active" else report.status
        console.print(
            Text(
                f"{status} key {name}{fp(report.kid)}: "
                f"{len(report.submissions)} held submission(s) sealed to it"
            )
        )
        for submission in report.submissions:
            console.print(
                Text(
                    f"  {visible(str(submission.get('id')), limit=32)}  "
                    f"{visible(str(submission.get('kind')), limit=12)}  "
                    f"received {visible(str(submission.get('received')), limit=24)}"
                )
            )
    click.echo(online.report_json(reports))
    exposed = sum(len(r.submissions) for r in reports if r.status != "active")
    if exposed:
        warn(
            f"{exposed} held submission(s) can be opened with keys that are not active in "
            f"manifest version {latest.version}: rewrap them (intake-verifier rewrap "
            "--to-manifest CHAIN.json, then intake-courier push) or purge them"
        )
    else:
        say(f"no held submission is sealed to a key that is not active in version {latest.version}")


def main() -> None:
    cli(prog_name=PROG)


__all__ = ["cli", "main"]

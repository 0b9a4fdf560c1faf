"""intake-admin keys and genesis: `keygen`, and `init`, which starts an
organisation with its genesis manifest and the trust root to pin."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import click

import crypto
from crypto.formdef import default_form

from .admin_shared import (
    MAX_ADMINS,
    PROG,
    PathArg,
    expires_days_option,
)
from .common import (
    InputError,
    dump_json,
    new_passphrase,
    now_utc,
    say,
    verify_chain_or_fail,
    write_file,
    write_new_key,
)
from .keygen import generate_key
from .manifests import (
    check_label,
    fp,
    load_public_key,
    parse_or_fail,
)


@click.command()
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


def _genesis_payload(
    org: dict[str, str],
    admins: list[crypto.PublicKey],
    threshold: int,
    expires_days: int,
    verifiers: list[crypto.VerifierEntry] | None = None,
    couriers: list[crypto.PublicKey] | None = None,
) -> bytes:
    """Every genesis this tool makes, signed here or drafted: version 1 with the
    default form (admins replace it later with `set-form`)."""
    now = now_utc()
    try:
        return crypto.build_manifest_payload(
            version=1,
            issued=now,
            expires=now + dt.timedelta(days=expires_days),
            org=org,
            threshold=threshold,
            admins=admins,
            verifiers=verifiers or [],
            couriers=couriers or [],
            extra={"form": default_form()},
        )
    except ValueError as exc:
        raise InputError(f"these settings do not make a valid manifest: {exc}", None) from None


def sign_genesis(
    org: dict[str, str],
    admins: list[crypto.Identity],
    threshold: int,
    expires_days: int,
    verifiers: list[crypto.VerifierEntry] | None = None,
    couriers: list[crypto.PublicKey] | None = None,
) -> tuple[dict[str, Any], crypto.TrustRoot]:
    admin_keys = [a.public() for a in admins]
    payload = _genesis_payload(org, admin_keys, threshold, expires_days, verifiers, couriers)
    signed = crypto.dsse_sign(crypto.MANIFEST_TYPE, payload, admins)
    root = crypto.TrustRoot(threshold, frozenset(a.sign_kid for a in admins))
    verify_chain_or_fail([signed], root)  # self-check: what we hand out must verify
    return signed, root


def write_genesis(out: Path, signed: dict[str, Any], root: crypto.TrustRoot) -> None:
    write_file(out / "manifest-1.json", dump_json(signed), mode=0o644)
    write_file(out / "chain.json", dump_json({"chain": [signed]}), mode=0o644)
    write_file(out / "trust-root.json", dump_json(root.to_json()), mode=0o644)


@click.command()
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
@expires_days_option(
    "Validity of the genesis; renew it routinely (short validity bounds a rollback)."
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
    signed, root = sign_genesis(organisation, admins, threshold, expires_days)
    write_genesis(out, signed, root)
    genesis = parse_or_fail(signed, "genesis")
    say(
        f"genesis manifest written to {out / 'manifest-1.json'} (fingerprint {genesis.fingerprint})"
    )
    _say_key_set(genesis)
    _say_trust_root(out, root)
    say("Give each admin key file to its admin; keep no copies together.")


def _say_trust_root(out: Path, root: crypto.TrustRoot) -> None:
    say("Pin this trust root in the server's configuration and in every verifier's keyring")
    say(f"(it is also in {out / 'trust-root.json'}):")
    click.echo(json.dumps(root.to_json()))


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
    payload = _genesis_payload(org, keys, threshold, days)
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
    _say_trust_root(out, root)
    say(
        f"next: each admin runs `{PROG} sign manifest-1.draft.json --key ADMIN.key "
        f"--out SIG.json`; then `{PROG} combine manifest-1.draft.json SIG... "
        f"--out manifest-1.json` and `{PROG} verify manifest-1.json --trust-root trust-root.json`"
    )

"""intake-admin demo: the DEMO ONLY organisation `make run` serves, with
keys under a fixed, public passphrase, and its routine renewal."""

from __future__ import annotations

import datetime as dt
import json
import shlex
import shutil
from pathlib import Path

import click

import crypto

from .admin_keys import sign_genesis, write_genesis
from .admin_shared import (
    PROG,
    PathArg,
    expiry,
    load_root,
)
from .common import (
    InputError,
    TrustError,
    dump_json,
    load_chain_file,
    now_utc,
    say,
    warn,
    write_file,
    write_new_key,
)
from .manifests import (
    MANIFEST_VALIDITY_DAYS,
    build_draft,
    effective_now_for,
)

# Public by design: printed loudly and written into README.txt as DEMO ONLY.
DEMO_PASSPHRASE = "demo-only-not-secret"  # noqa: S105  # nosec B105
DEMO_MARKER = ".intake-demo"
# `make run` renews the demo chain when its latest manifest has less left than this.
DEMO_RENEW_DAYS = 7


@click.command()
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
    signed, root = sign_genesis(
        {"name": "Demo organisation (DEMO ONLY)", "contact": "demo@example.invalid"},
        admins,
        2,
        MANIFEST_VALIDITY_DAYS,
        verifiers=[crypto.VerifierEntry.from_public(verifier.public())],
        couriers=[courier.public()],
    )
    write_genesis(out, signed, root)
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
    root = load_root(folder / "trust-root.json")
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
    draft = build_draft(latest, expires=expiry(MANIFEST_VALIDITY_DAYS))
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

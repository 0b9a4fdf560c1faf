"""Key generation shared by the three tools: key file, public part, fingerprint, QR code."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import segno

import crypto

from .common import dump_json, new_passphrase, refuse_existing, say, write_file, write_new_key
from .manifests import check_label


def generate_key(
    kind: str,
    out: Path,
    label: str,
    public_out: Path | None,
    qr_png: Path | None,
    *,
    passphrase: str | None = None,
) -> crypto.Identity:
    """Make a key file (0600) and show its public part for the admins to import.

    The public JSON goes to stdout (pipe it to a file); the fingerprint and the
    QR code go to stderr, so the kid can be read aloud or scanned across the
    air gap and compared with what the admins import.
    """
    label = check_label(label)
    for path in (out, public_out, qr_png):
        if path is not None:
            refuse_existing(path)
    secret = passphrase if passphrase is not None else new_passphrase(out)
    identity = crypto.generate_identity(kind, label)
    write_new_key(out, identity, secret)
    public = identity.public().to_json()
    if public_out is not None:
        write_file(public_out, dump_json(public), mode=0o644)
    click.echo(json.dumps(public, indent=2))
    kid = identity.kid
    say(f"{kind} key written to {out}")
    say(f"key id: {crypto.fingerprint(kid)}")
    if kind == "verifier":
        say(f"signing key id: {crypto.fingerprint(identity.sign_kid)}")
    compact = json.dumps(public, sort_keys=True, separators=(",", ":"))
    qr = segno.make_qr(compact, error="m")
    qr.terminal(out=sys.stderr, compact=True)
    if qr_png is not None:
        with qr_png.open("xb") as handle:
            qr.save(handle, kind="png", scale=6)
        say(f"QR code written to {qr_png}")
    return identity


def add_keygen_command(group: click.Group, kind: str, help_text: str) -> None:
    """Give a tool its `keygen` command: a `kind` key file and its public part."""
    path = click.Path(path_type=Path)

    @group.command(name="keygen", help=help_text)
    @click.option("--out", required=True, type=path, help="The new key file (written 0600).")
    @click.option("--label", required=True, help="A short name the admins will see.")
    @click.option("--public-out", type=path, help="Also write the public part to this file.")
    @click.option("--qr-png", type=path, help="Also write the public part as a QR code PNG.")
    def keygen(out: Path, label: str, public_out: Path | None, qr_png: Path | None) -> None:
        generate_key(kind, out, label, public_out, qr_png)

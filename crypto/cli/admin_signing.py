"""intake-admin signing: each admin `sign`s a draft on their own machine,
someone `combine`s the signature files, anyone can `verify` the result,
and `publish` uploads it."""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.table import Table
from rich.text import Text

import crypto
from crypto.detached import DetachedSignature, combine_detached
from crypto.site import verify_site

from . import transport
from .admin_shared import (
    PROG,
    PathArg,
    load_root,
    warn_expiry,
)
from .common import (
    InputError,
    ToolError,
    TrustError,
    dump_json,
    load_chain_file,
    open_one_key,
    refuse_existing,
    say,
    stderr_console,
    verify_chain_or_fail,
    warn,
    write_file,
)
from .hostile import visible
from .manifests import (
    Document,
    detached_signature,
    diff_lines,
    effective_now_for,
    fp,
    load_document,
    load_manifest_file,
    parse_or_fail,
    read_signature_file,
)


@click.command()
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


@click.command()
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
    signatures: list[DetachedSignature] = []
    for path in signature_paths:
        detached = read_signature_file(path)
        if not detached.signs(doc.envelope):
            raise InputError(
                f"{path} signs a different draft", "collect signatures of this draft file"
            )
        if detached.keyid not in keys:
            raise TrustError(
                f"{path} is signed by {fp(detached.keyid)}, which is not an admin we know",
                "pass --current M.json so the current admins' keys are known",
            )
        signatures.append(detached)
    combined = combine_detached(doc.envelope, signatures)
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


@click.command()
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
    root = load_root(root_path) if root_path else None
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
        with _refused_as("genesis manifest refused"):
            crypto.verify_chain([signed], root)
        say(f"OK: genesis manifest version {new.version} matches the trust root and is signed")
        warn_expiry(new, "this manifest")
        return
    chain = load_chain_file(chain_path)
    if root is None:
        genesis = parse_or_fail(chain[0], "the chain's genesis")
        root = crypto.TrustRoot(genesis.threshold, frozenset(genesis.admin_keys))
        warn("no --trust-root: trusting the chain's genesis as given")
    with _refused_as("the chain does not verify"):
        manifests = crypto.verify_chain(chain, root, now=effective_now_for(chain))
    head = manifests[-1]
    if new.version <= head.version:
        _verify_chain_link(console, signed, new, chain, manifests, root)
        return
    # Only a successor of the head is news: a validly signed manifest at a
    # lower version that is not the chain's own link is a fork (it may keep a
    # key a later version revoked), never "OK".
    current = head
    _signer_table(console, signed, current, new)
    with _refused_as(
        f"manifest version {new.version} is NOT a valid successor of version {current.version}"
    ):
        crypto.verify_successor(current, signed)
    say(f"OK: version {new.version} is a valid successor of version {current.version}")
    warn_expiry(new, "this manifest")


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
    with _refused_as(
        f"manifest version {new.version} matches the chain's but its signatures do not verify"
    ):
        crypto.verify_chain(own, root, now=effective_now_for(own))
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
    with _refused_as(f"the site document is NOT signed for manifest version {latest.version}"):
        verify_site(doc.envelope, latest)
    say(f"OK: {doc.title} is signed by the admins of manifest version {latest.version}")
    warn_expiry(latest, "the current manifest")


@contextmanager
def _refused_as(what: str) -> Iterator[None]:
    """`verify` reports every refusal alike: what failed, the reason class, and
    what to do about that class."""
    try:
        yield
    except crypto.IntakeCryptoError as exc:
        raise TrustError(f"{what}: {exc.reason}", _reason_hint(exc.reason)) from None


def _reason_hint(reason: str) -> str:
    return {
        "threshold": "collect more admin signatures (`sign`, then `combine`)",
        "bad-signature": "a signature does not verify: was the draft changed after signing?",
        "rollback": "the version must be higher than the current manifest's",
        "expired": "make a draft with a later expiry (--expires-days)",
        "untrusted-root": "the admin set does not match the pinned trust root",
    }.get(reason, "check the files")


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


@click.command()
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

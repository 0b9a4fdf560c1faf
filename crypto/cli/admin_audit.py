"""intake-admin audit: `audit` checks the server's log of every manifest
against the signatures; `revocation-report` lists the held submissions a
revoked or retired key can still open. The fetching is in `admin_online`."""

from __future__ import annotations

from pathlib import Path

import click
from rich.text import Text

import crypto

from . import admin_online as online
from .admin_shared import (
    PathArg,
    load_root,
    trust_root_option,
    warn_expiry,
)
from .common import (
    open_one_key,
    say,
    stderr_console,
    warn,
)
from .hostile import visible
from .manifests import (
    diff_lines,
    fp,
    normalise_kid,
)


@click.command()
@click.option("--server", required=True, help="The server whose audit log to check.")
@trust_root_option
def audit(server: str, root_path: Path) -> None:
    """Show and check the server's audit log: every manifest, who signed it, what changed."""
    root = load_root(root_path)
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
    warn_expiry(latest, "the current manifest")


def _admin_labels(manifest: crypto.Manifest, previous: crypto.Manifest | None) -> dict[str, str]:
    admins = [*(previous.admins if previous else []), *manifest.admins]
    return {a.sign_kid: f"{visible(a.label, limit=30)} ({a.sign_kid[:8]})" for a in admins}


@click.command("revocation-report")
@click.option("--server", required=True, help="The server holding the submissions.")
@trust_root_option
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
    root = load_root(root_path)
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

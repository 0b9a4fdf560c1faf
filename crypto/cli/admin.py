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
submissions a revoked or retired key can still open.

This module only joins the commands into one tool; each concern has its
module: keys and genesis (`admin_keys`), the demo organisation
(`admin_demo`), drafts and `show` (`admin_drafts`), signing, verifying and
publishing (`admin_signing`), the site document (`admin_site`), the audit
and the revocation report (`admin_audit`); what they share is in
`admin_shared`, and the online commands' fetching in `admin_online`.
"""

from __future__ import annotations

import click

from . import admin_audit, admin_demo, admin_drafts, admin_keys, admin_signing, admin_site
from .admin_demo import DEMO_PASSPHRASE
from .admin_shared import PROG
from .common import ToolGroup


@click.group(cls=ToolGroup, prog=PROG, context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Create and sign key manifests offline."""


for command in (
    admin_keys.keygen,
    admin_keys.init,
    admin_demo.demo,
    admin_drafts.add_verifier,
    admin_drafts.retire,
    admin_drafts.revoke,
    admin_drafts.add_courier,
    admin_drafts.remove_courier,
    admin_drafts.rotate_admins,
    admin_drafts.renew,
    admin_drafts.set_form,
    admin_drafts.show,
    admin_signing.sign,
    admin_signing.combine,
    admin_signing.verify,
    admin_signing.publish,
    admin_site.site_digest,
    admin_site.check_site,
    admin_audit.audit,
    admin_audit.revocation_report,
):
    cli.add_command(command)


def main() -> None:
    cli(prog_name=PROG)


__all__ = ["DEMO_PASSPHRASE", "cli", "main"]

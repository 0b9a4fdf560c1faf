"""intake-admin site document: `site-digest` drafts the admins' digests of
every byte the applicant's pages load; `check-site` compares the live pages
with the signed document from any machine. The fetching is in `admin_online`."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.text import Text

import crypto
from crypto.site import check_path

from . import admin_online as online
from . import transport
from .admin_shared import (
    PROG,
    PathArg,
    load_root,
    trust_root_option,
    warn_expiry,
)
from .common import (
    InputError,
    TrustError,
    dump_json,
    refuse_existing,
    say,
    stderr_console,
    warn,
    write_file,
)
from .hostile import visible


@click.command("site-digest")
@click.option("--server", required=True, help="The server whose pages to digest.")
@trust_root_option
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
    root = load_root(root_path)
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


@click.command("check-site")
@click.argument("server")
@trust_root_option
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
    root = load_root(root_path)
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
    warn_expiry(report.manifest, "the current manifest")

"""intake-verifier: the air-gapped verifier's tool.

It opens courier bundles into readable case folders, signs receipts and
replies, and rewraps envelopes to a new manifest's verifiers. It needs no
network: everything crosses the air gap as a file.
"""

from __future__ import annotations

import hmac
import json
import re
import tarfile
from collections import Counter
from pathlib import Path
from typing import Any, BinaryIO, cast

import click
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from rich.text import Text

import crypto

from . import casefiles
from .caselist import list_cases, resolve_case, unique_prefix_length
from .common import (
    InputError,
    PartialFailure,
    ProgressReader,
    ToolError,
    ToolGroup,
    byte_progress,
    choose_signer,
    current_manifest,
    describe_crypto_error,
    dump_json,
    keyring_dir,
    load_chain_file,
    load_keyring,
    load_trust_root,
    now_utc,
    read_json_file,
    refuse_existing,
    say,
    short_kid,
    stderr_console,
    trusted_chain,
    write_file,
)
from .decrypt import Decryptor, Outcome, remove_stale_staging
from .hostile import visible
from .keygen import add_keygen_command
from .manifests import print_manifest
from .report import LANGS, ReportContext, default_lang, report_lang_of, short_id, write_report

PROG = "intake-verifier"
MAX_MESSAGE = 64 * 1024
REPLY_STATUSES = ("received", "needs-info", "verified", "declined")
# A short BCP 47 tag (ru, en, kk, uz-Cyrl): what the page puts in `lang`.
LANG_TAG = re.compile(r"[a-z]{2,3}(?:-[A-Za-z0-9]{2,8}){0,2}")

PathArg = click.Path(path_type=Path)
KeyringOption = click.option(
    "--keyring",
    "keyring_path",
    required=True,
    type=PathArg,
    help="Folder with your *.key files, trust-root.json and last-manifest.json.",
)


@click.group(cls=ToolGroup, prog=PROG, context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Open intake bundles on an air-gapped laptop; sign receipts and replies."""


add_keygen_command(cli, "verifier", "Make a verifier key file and show its public part.")


# --------------------------------------------------------------------------
# decrypt


ProgressOption = click.option(
    "--progress/--no-progress",
    default=None,
    help="Show a progress bar on stderr (default: only when stderr is a terminal).",
)


def _progress(console: Console, description: str, forced: bool | None) -> Progress:
    """The byte progress bar; `--progress` draws it even when stderr is not a
    terminal (a log file, a test), `--no-progress` never."""
    if forced is None:
        return byte_progress(console, description)
    bar_console = Console(stderr=True, highlight=False, soft_wrap=False, force_terminal=forced)
    return byte_progress(bar_console, description)


def _check_bundle_file(bundle: Path) -> None:
    if not bundle.exists():
        raise InputError(
            f"bundle {bundle} does not exist", "name the file written by intake-courier pull"
        )
    if not bundle.is_file():
        raise InputError(
            f"bundle {bundle} is not a file", "name the file written by intake-courier pull"
        )


def _check_out_folder(out: Path) -> None:
    if (out.exists() or out.is_symlink()) and not out.is_dir():
        raise InputError(
            f"{out} exists and is not a folder", "give --out a new or existing folder for the cases"
        )


@cli.command()
@click.argument("bundle", type=PathArg)
@KeyringOption
@click.option("--out", required=True, type=PathArg, help="Folder for the case folders.")
@ProgressOption
@click.option(
    "--lang",
    "report_lang",
    type=click.Choice(LANGS),
    help="Language of the case reports (answers.html): ru or en "
    "(default: from your locale, else English).",
)
def decrypt(
    bundle: Path, keyring_path: Path, out: Path, progress: bool | None, report_lang: str | None
) -> None:
    """Open every submission of BUNDLE into OUT/<case id>/ (open answers.html in each)."""
    load_trust_root(keyring_path)  # fail before asking for a passphrase
    _check_bundle_file(bundle)
    _check_out_folder(out)
    keyring = load_keyring(keyring_path)
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    stale = remove_stale_staging(out)
    if stale:
        say(
            f"removed {stale} unfinished staging folder(s) that an interrupted decrypt "
            f"left in {out} (plaintext that never became a case)"
        )
    console = stderr_console()
    forced = progress

    def loud(message: str) -> None:
        console.print(Text("WARNING: ", style="bold red") + Text(message), soft_wrap=True)

    decryptor: Decryptor | None = None
    damaged: str | None = None
    truncated = False
    size = bundle.stat().st_size
    with bundle.open("rb") as raw, _progress(console, "decrypting", forced) as bar:
        task = bar.add_task("decrypting", total=size)
        reader = ProgressReader(cast(BinaryIO, raw), lambda pos: bar.update(task, completed=pos))
        try:
            for item in crypto.read_bundle(cast(BinaryIO, reader)):
                if isinstance(item, crypto.ChainItem):
                    if decryptor is not None:
                        raise crypto.InvalidEnvelope("malformed")
                    manifests = trusted_chain(keyring_path, item.chain)
                    context = ReportContext(
                        lang=report_lang or default_lang(), keyring=str(keyring_path)
                    )
                    decryptor = Decryptor(keyring, out, manifests, loud, context)
                    continue
                try:
                    if decryptor is None:
                        raise crypto.InvalidEnvelope("malformed")
                    decryptor.add(item.meta, item.envelopes)
                finally:
                    item.close()
                bar.update(task, description=f"decrypting: {len(decryptor.outcomes)} case(s)")
        except crypto.InvalidEnvelope as exc:
            # A reader that ran off the end of the file met a cut download,
            # not a tampered one: say so, it changes what to do next.
            truncated = _ends_early(exc, raw.tell() >= size)
            damaged = (
                "it ends early: the download was cut short"
                if truncated
                else describe_crypto_error(exc)[0]
            )
        except (tarfile.TarError, EOFError):
            damaged = "not a complete tar stream"
        except BaseException:
            if decryptor is not None:
                decryptor.abandon()
            raise
        if decryptor is not None:
            decryptor.finish()
    again = (
        "the file is incomplete: copy it again, or finish the download with the same "
        "intake-courier pull"
        if truncated
        else "pull the bundle again with intake-courier"
    )
    if decryptor is None:
        raise ToolError(
            f"the bundle {bundle} is damaged or not a bundle ({damaged or 'no manifest chain'})",
            f"{again}; nothing was written",
        )
    outcomes = decryptor.outcomes
    print_summary(console, outcomes)
    failed = [o for o in outcomes if o.failed]
    if damaged is not None:
        raise ToolError(
            f"the bundle is damaged ({damaged}) after {len(outcomes)} submission(s); "
            "the rest was not read",
            f"{again}; the complete cases listed above are kept",
        )
    if failed:
        hint = "see the table above; a tampered or damaged envelope needs a fresh bundle"
        if decryptor.unopened_recipients:
            kids = ", ".join(short_kid(k) for k in sorted(decryptor.unopened_recipients))
            hint = (
                f"no key of this keyring opened envelopes sealed to {kids}; "
                "is this the right keyring, or was that key retired?"
            )
        raise PartialFailure(
            f"{len(failed)} of {len(outcomes)} submission(s) failed; nothing was written for them",
            hint,
        )
    say_opened(outcomes, out)


def say_opened(outcomes: list[Outcome], out: Path) -> None:
    """What this run did: only what it newly opened counts as opened."""
    if not outcomes:
        say("the bundle holds no submissions")
        return
    opened = [o for o in outcomes if o.opened]
    there = sum(1 for o in outcomes if o.status == "exists")
    if not opened:
        say(f"nothing new: all {there} submission(s) of the bundle were already in {out}")
    else:
        threaded = sum(1 for o in opened if o.thread)
        extra = f", {threaded} of them follow-up(s) threaded into their case" if threaded else ""
        say(f"{len(opened)} submission(s) opened into {out}{extra}")
        if there:
            say(f"{there} submission(s) already in {out} from an earlier run; left unchanged")
    say(f"next: intake-verifier cases {out}  (then open {out}/CASE*/answers.html to read one)")


_END_OF_DATA = ("empty file", "truncated header", "unexpected end of data")


def _ends_early(exc: crypto.InvalidEnvelope, at_end: bool) -> bool:
    """Whether the bundle reader failed because the file stopped, not because
    its content is wrong (the tar reader's own words, or a member cut short
    at the end of the file)."""
    cause = exc.__cause__
    if isinstance(cause, EOFError):
        return True
    if isinstance(cause, tarfile.ReadError):
        return str(cause) in _END_OF_DATA
    return cause is None and at_end


_STATUS_STYLE = {
    "ok": "green",
    "warnings": "yellow",
    "orphan": "yellow",
    "exists": "dim",
    "failed": "bold red",
}


def print_summary(console: Console, outcomes: list[Outcome]) -> None:
    # Short ids keep the table inside 80 columns; FAILED lines below give whole ids.
    table = Table(title="Summary", title_justify="left", header_style="bold", box=None)
    table.add_column("case", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("files", justify="right", no_wrap=True)
    table.add_column("notes", overflow="fold")
    width = unique_prefix_length([o.sid for o in outcomes]) if outcomes else 8
    for o in outcomes:
        notes: list[str] = []
        if o.detail and o.status == "failed":
            notes.append(o.detail)
        if o.status == "exists":
            notes.append("already decrypted; left unchanged")
        else:
            if o.thread:
                notes.append(f"threaded into case {o.thread[:width]}")
            if o.flagged:
                notes.append(f"{o.flagged} attachment(s) flagged: open with care")
            notes += o.warnings
        table.add_row(
            o.sid[:width],
            "follow-up" if o.kind == "followup" else o.kind,
            Text(
                o.status.upper() if o.status == "failed" else o.status,
                style=_STATUS_STYLE.get(o.status, ""),
            ),
            str(o.attachments),
            Text("\n".join(visible(n, limit=300) for n in notes)),
        )
    console.print(table)
    # The same failures again as whole lines: easy to read in a log or to grep.
    for o in outcomes:
        if o.failed:
            console.print(
                Text("FAILED: ", style="bold red") + Text(f"{o.sid}: {visible(o.detail)}"),
                soft_wrap=True,
            )


# --------------------------------------------------------------------------
# receipts


@cli.command()
@KeyringOption
@click.option("--cases", "cases_dir", required=True, type=PathArg, help="The folder decrypt wrote.")
@click.option("--out", required=True, type=PathArg, help="The receipts file to write.")
def receipts(keyring_path: Path, cases_dir: Path, out: Path) -> None:
    """Sign a receipt for every envelope opened into CASES (lets the server delete it)."""
    refuse_existing(out)
    manifest = current_manifest(keyring_path)
    if not cases_dir.is_dir():
        raise InputError(f"{cases_dir} is not a folder", "name the folder given to decrypt --out")
    digests: dict[str, bytes] = {}
    openers: Counter[str] = Counter()
    for _folder, doc in casefiles.iter_cases(cases_dir):
        envelopes = doc.get("envelopes")
        for env in envelopes if isinstance(envelopes, list) else []:
            try:
                digest = crypto.b64d(env["payload_digest"])
            except (TypeError, KeyError, ValueError):
                continue
            if len(digest) == 32:
                digests.setdefault(crypto.b64e(digest), digest)
        if isinstance(doc.get("opened_by"), str):
            openers[doc["opened_by"]] += 1
    if not digests:
        raise InputError(f"no decrypted cases in {cases_dir}", "run intake-verifier decrypt first")
    keyring = load_keyring(keyring_path)
    prefer = openers.most_common(1)[0][0] if openers else None
    signer = choose_signer(keyring, manifest, prefer)
    entries = []
    for text, digest in digests.items():
        kid, sig = crypto.sign_receipt(signer, digest)
        crypto.verify_receipt(digest, kid, sig, manifest)  # self-check before it leaves
        entries.append({"digest": text, "kid": kid, "sig": crypto.b64e(sig)})
    write_file(out, dump_json({"type": "intake/receipts", "receipts": entries}))
    say(f"{len(entries)} receipt(s) signed by {signer.label!r} written to {out}")


# --------------------------------------------------------------------------
# reply


@cli.command()
@click.argument("case_dir", metavar="CASE", type=PathArg)
@KeyringOption
@click.option("--status", required=True, type=click.Choice(REPLY_STATUSES))
@click.option("--message", help="The message to the applicant.")
@click.option("--message-file", type=PathArg, help="Read the message from this UTF-8 file.")
@click.option("--out", required=True, type=PathArg, help="The replies file to write.")
@click.option("--append", is_flag=True, help="Add to an existing replies file.")
@click.option(
    "--lang",
    help="Language of the message, e.g. ru or en (default: the language the applicant wrote in).",
)
def reply(
    case_dir: Path,
    keyring_path: Path,
    status: str,
    message: str | None,
    message_file: Path | None,
    out: Path,
    append: bool,
    lang: str | None,
) -> None:
    """Seal a signed reply to the applicant of CASE.

    CASE is a case folder, or CASES/<the first characters of its id> (see
    `intake-verifier cases CASES`). The reply is also recorded in the case,
    so answers.html shows it in the conversation.
    """
    text = _message_text(message, message_file)
    case_dir = resolve_case(case_dir)
    doc = casefiles.read_case(case_dir)
    if doc is None:
        raise InputError(f"{case_dir} holds no case.json", "name a case folder written by decrypt")
    if lang is None and isinstance(doc.get("lang"), str) and LANG_TAG.fullmatch(doc["lang"]):
        lang = doc["lang"]
    if lang is not None and not LANG_TAG.fullmatch(lang):
        raise InputError(f"{lang!r} is not a language tag", "use a short tag such as ru or en")
    reply_info = doc.get("reply")
    try:
        reply_key = crypto.b64d(reply_info["x25519"]) if isinstance(reply_info, dict) else b""
        mailbox = reply_info["mailbox"] if isinstance(reply_info, dict) else ""
    except (KeyError, TypeError, ValueError):
        reply_key, mailbox = b"", ""
    if len(reply_key) != 32 or not casefiles.HEX64.fullmatch(str(mailbox)):
        raise InputError(
            "this applicant has no reply mailbox", "they declined replies; reach them another way"
        )
    existing: list[dict[str, Any]] = []
    if out.exists() or out.is_symlink():
        if not append:
            raise InputError(
                f"{out} already exists (it holds earlier replies)",
                "add --append to add this reply to it, or give --out a new file name",
            )
        existing = _read_replies(out)
    manifest = current_manifest(keyring_path)
    keyring = load_keyring(keyring_path)
    opened_by = doc.get("opened_by")
    signer = choose_signer(keyring, manifest, opened_by if isinstance(opened_by, str) else None)
    fields = {"status": status, "message": text, "sent": crypto.format_time(now_utc())}
    if lang is not None:
        fields["lang"] = lang  # the applicant's page marks the message with it
    content = json.dumps(fields, ensure_ascii=False).encode()
    envelope = crypto.seal_bytes(
        content, kind="reply", manifest=manifest.ref, recipients=[reply_key]
    )
    kid, sig = crypto.sign_reply(signer, envelope)
    crypto.verify_reply(envelope, kid, sig, manifest)  # self-check: the browser will do the same
    entry = {
        "mailbox": mailbox,
        "envelope": crypto.b64e(envelope),
        "kid": kid,
        "sig": crypto.b64e(sig),
    }
    write_file(
        out, dump_json({"type": "intake/replies", "replies": [*existing, entry]}), overwrite=append
    )
    say(f"reply ({status}) to case {doc.get('id')} signed by {signer.label!r}, written to {out}")
    sent = {**fields, "signer": signer.label, "out": str(out)}
    _record_reply(case_dir, doc, sent, keyring_path)
    say(f"next: intake-courier push {out} --server URL --key COURIER.key (on the online laptop)")


def _record_reply(case_dir: Path, doc: dict[str, Any], sent: dict[str, str], keyring: Path) -> None:
    """Keep the sent reply in the case (the follow-up's case, for a follow-up) and
    rebuild its report, so the conversation shows what the applicant was told."""
    target, target_doc = case_dir, doc
    thread = doc.get("thread")
    if doc.get("kind") == "followup" and isinstance(thread, str):
        parent = case_dir.parent.parent
        parent_doc = casefiles.read_case(parent)
        if case_dir.parent.name == "followups" and parent_doc and parent_doc.get("id") == thread:
            target, target_doc = parent, parent_doc
    listed = target_doc.get("replies")
    target_doc["replies"] = [*(listed if isinstance(listed, list) else []), sent]
    casefiles.replace_case_json(target, target_doc)
    context = ReportContext(lang=report_lang_of(target_doc), keyring=str(keyring))
    if not write_report(target, context):
        say(
            f"note: {target}/answers.html was not rebuilt (decrypted by an older version); "
            "the reply is recorded in case.json"
        )


def _message_text(message: str | None, message_file: Path | None) -> str:
    if message_file is not None and message is None:
        try:
            message = message_file.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise InputError(f"{message_file} is not UTF-8 text", "save it as UTF-8") from None
    elif message is None or message_file is not None:
        raise InputError("give exactly one of --message and --message-file", None)
    if not message.strip():
        raise InputError("the message is empty", "write something the applicant can act on")
    if len(message.encode()) > MAX_MESSAGE:
        raise InputError("the message is longer than 64 KiB", "shorten it")
    return message


def _read_replies(path: Path) -> list[dict[str, Any]]:
    data = read_json_file(path, "replies file")
    if (
        not isinstance(data, dict)
        or data.get("type") != "intake/replies"
        or not isinstance(data.get("replies"), list)
    ):
        raise InputError(
            f"{path} is not a replies file", "name a file written by intake-verifier reply"
        )
    return cast(list[dict[str, Any]], data["replies"])


# --------------------------------------------------------------------------
# cases and report


@cli.command()
@click.argument("cases_dir", metavar="CASES", type=PathArg)
def cases(cases_dir: Path) -> None:
    """List the cases decrypt wrote into CASES: urgent first, then those awaiting a reply.

    The short id in the first column is enough wherever a command takes CASE
    (give CASES/<short id>).
    """
    if not cases_dir.is_dir():
        raise InputError(f"{cases_dir} is not a folder", "name the folder given to decrypt --out")
    lines = list_cases(cases_dir)
    if not lines:
        raise InputError(f"no decrypted cases in {cases_dir}", "run intake-verifier decrypt first")
    width = unique_prefix_length([line.id for line in lines])
    table = Table(box=None, header_style="bold", pad_edge=False)
    for name in ("case", "received (UTC)", "lang", "urgency", "status", "replied"):
        table.add_column(name, no_wrap=True)
    for line in lines:
        table.add_row(
            line.id[:width],
            line.received,
            visible(line.lang, limit=5),
            Text("URGENT", style="bold red") if line.urgent else Text("-"),
            line.status,
            Text(line.replied, style="bold" if line.replied in ("NOT YET", "NEW F-UP") else ""),
        )
    Console(highlight=False, soft_wrap=False).print(table)
    urgent = sum(1 for line in lines if line.urgent)
    say(
        f"{len(lines)} case(s), {urgent} urgent. Read one: open {cases_dir}/CASE*/answers.html; "
        f"reply: intake-verifier reply {cases_dir}/CASE --keyring KEYRING ..."
    )


@cli.command()
@click.argument("case_dir", metavar="CASE", type=PathArg)
@click.option(
    "--lang",
    "report_lang",
    type=click.Choice(LANGS),
    help="Language of the rebuilt report (default: the one it was written in).",
)
def report(case_dir: Path, report_lang: str | None) -> None:
    """Rebuild answers.html and answers.txt of CASE (e.g. in another language)."""
    case_dir = resolve_case(case_dir)
    doc = casefiles.read_case(case_dir)
    if doc is None:
        raise InputError(f"{case_dir} holds no case.json", "name a case folder written by decrypt")
    lang = report_lang_of(doc, report_lang)
    if report_lang is not None and doc.get("report_lang") != report_lang:
        doc["report_lang"] = report_lang
        casefiles.replace_case_json(case_dir, doc)
    if not write_report(case_dir, ReportContext(lang=lang)):
        raise ToolError(
            f"{case_dir} was decrypted by an older version: its case.json holds no answers",
            "decrypt the bundle again into a new folder",
        )
    say(f"report of case {short_id(str(doc.get('id')))} rebuilt ({lang}): {case_dir}/answers.html")


# --------------------------------------------------------------------------
# rewrap


@cli.command()
@click.argument("bundle", type=PathArg)
@KeyringOption
@click.option(
    "--to-manifest",
    "chain_path",
    required=True,
    type=PathArg,
    help="Chain file whose newest manifest names the new verifiers.",
)
@click.option("--out", required=True, type=PathArg, help="The rewraps file to write.")
def rewrap(bundle: Path, keyring_path: Path, chain_path: Path, out: Path) -> None:
    """Re-seal every envelope of BUNDLE to the newest manifest's active verifiers."""
    refuse_existing(out)
    if not bundle.is_file():
        raise InputError(
            f"bundle {bundle} does not exist", "name the file written by intake-courier pull"
        )
    manifests = trusted_chain(keyring_dir(keyring_path), load_chain_file(chain_path))
    target = manifests[-1]
    active = target.active_verifiers()
    if not active:
        raise ToolError(f"manifest version {target.version} has no active verifier", None)
    keyring = load_keyring(keyring_path)
    # The server applies a rewrap only if a verifier of its current manifest
    # signed it: the manifest we rewrap to, once the admins have published it.
    signer = choose_signer(keyring, target)
    entries: list[dict[str, str]] = []
    failures: list[str] = []
    unchanged = 0
    console = stderr_console()
    with bundle.open("rb") as raw, byte_progress(console, "rewrapping") as progress:
        task = progress.add_task("rewrapping", total=bundle.stat().st_size)
        reader = ProgressReader(
            cast(BinaryIO, raw), lambda pos: progress.update(task, completed=pos)
        )
        try:
            for item in crypto.read_bundle(cast(BinaryIO, reader)):
                if isinstance(item, crypto.ChainItem):
                    continue
                sid = str(item.meta.get("id"))
                try:
                    for eid, src in item.envelopes:
                        where = f"{visible(sid, limit=32)}/{visible(eid, limit=32)}"
                        try:
                            entry = _rewrap_one(cast(BinaryIO, src), keyring, target, signer)
                        except crypto.IntakeCryptoError as exc:
                            failures.append(f"{where}: {describe_crypto_error(exc)[0]}")
                            continue
                        if entry is None:
                            unchanged += 1
                        else:
                            entries.append(entry)
                finally:
                    item.close()
        except crypto.InvalidEnvelope as exc:
            raise ToolError(
                f"the bundle is damaged: {describe_crypto_error(exc)[0]}", "pull the bundle again"
            ) from None
        except (tarfile.TarError, EOFError):
            raise ToolError(
                "the bundle is not a complete tar stream", "pull the bundle again"
            ) from None
    for failure in failures:
        console.print(Text("FAILED: ", style="bold red") + Text(failure), soft_wrap=True)
    if entries:
        write_file(out, dump_json({"type": "intake/rewraps", "rewraps": entries}))
        say(
            f"{len(entries)} envelope(s) rewrapped to manifest version {target.version}, "
            f"signed by {signer.label!r}, written to {out}"
        )
    if unchanged:
        say(f"{unchanged} envelope(s) already sealed to those verifiers; left out")
    if failures:
        raise PartialFailure(
            f"{len(failures)} envelope(s) could not be rewrapped",
            "an envelope no key of yours opens cannot be rewrapped by you",
        )
    if not entries:
        say("nothing to rewrap; no file written")


def _rewrap_one(
    src: BinaryIO, keyring: crypto.Keyring, target: crypto.Manifest, signer: crypto.Identity
) -> dict[str, str] | None:
    """A signed rewraps entry sealing this envelope's key to `target`'s active verifiers.

    None if it is already sealed to exactly them under that manifest. Only the
    prefix changes; the payload (and so its digest) stays as it is.
    """
    active = target.active_verifiers()
    src.seek(0)
    header = crypto.read_header(src)
    if (
        sorted(header.recipient_kids) == sorted(v.kid for v in active)
        and header.manifest.version == target.version
        and hmac.compare_digest(header.manifest.digest, target.digest)
    ):
        return None
    src.seek(0)
    prefix = crypto.rewrap_prefix(src, keyring, [v.x25519 for v in active], manifest=target.ref)
    src.seek(0)
    digest = crypto.payload_digest(src)
    kid, sig = crypto.sign_rewrap(signer, digest, prefix)
    crypto.verify_rewrap(digest, prefix, kid, sig, target)  # self-check: the server does the same
    return {
        "digest": crypto.b64e(digest),
        "prefix": crypto.b64e(prefix),
        "kid": kid,
        "sig": crypto.b64e(sig),
    }


# --------------------------------------------------------------------------
# verify-chain


@cli.command("verify-chain")
@click.argument("chain_path", type=PathArg)
@KeyringOption
def verify_chain_command(chain_path: Path, keyring_path: Path) -> None:
    """Verify a manifest chain from the pinned trust root and show it."""
    manifests = trusted_chain(keyring_dir(keyring_path), load_chain_file(chain_path))
    console = stderr_console()
    for manifest in manifests:
        print_manifest(console, manifest)
    latest = manifests[-1]
    say(
        f"chain verified: {len(manifests)} manifest(s), newest version {latest.version}, "
        f"fingerprint {latest.fingerprint}, key-set fingerprint "
        f"{latest.key_set_fingerprint}"
    )


def main() -> None:
    cli(prog_name=PROG)


__all__ = ["cli", "main"]

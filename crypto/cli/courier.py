"""intake-courier: moves ciphertext between the server and the air gap.

It runs on the online side with a courier key (listed in the manifest) that
can pull bundles and push receipts, replies and rewraps; it opens nothing.
HTTP is the standard library's, so it installs with the verifier tool.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
from pathlib import Path
from typing import Any

import click

import crypto

from . import transport
from .common import (
    InputError,
    ServerError,
    ToolGroup,
    byte_progress,
    dump_json,
    open_one_key,
    read_json_file,
    refuse_existing,
    say,
    stderr_console,
    write_file,
)
from .hostile import HostileJSONError, strict_json, visible
from .keygen import add_keygen_command

PROG = "intake-courier"
PathArg = click.Path(path_type=Path)
BUNDLE_PATH = "/api/v1/courier/bundle"
ENDPOINTS = {
    "intake/receipts": ("/api/v1/courier/receipts", "receipts"),
    "intake/replies": ("/api/v1/courier/replies", "replies"),
    "intake/rewraps": ("/api/v1/courier/rewraps", "rewraps"),
}
MAX_PUSH = 512 * 2**20
_BLOCK = 1 << 16


@click.group(cls=ToolGroup, prog=PROG, context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Pull bundles from the server and push receipts, replies and rewraps back."""


add_keygen_command(
    cli,
    "courier",
    "Make a courier key file and show its public part (for intake-admin add-courier).",
)


# --------------------------------------------------------------------------
# pull


def _state_path(part: Path) -> Path:
    return part.with_name(part.name + ".json")


def _resume_state(part: Path, target: str) -> str | None:
    """The ETag of an interrupted download of the same target, if we can resume it."""
    state = _state_path(part)
    if not part.is_file() or not state.is_file():
        return None
    try:
        data = read_json_file(state, "download state")
    except InputError:
        return None
    if (
        isinstance(data, dict)
        and data.get("target") == target
        and isinstance(data.get("etag"), str)
    ):
        return str(data["etag"])
    return None


def _discard(*paths: Path) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


@cli.command()
@click.option("--server", required=True, help="The server's base URL.")
@click.option("--key", "key_path", required=True, type=PathArg, help="The courier key file.")
@click.option("--out", required=True, type=PathArg, help="The bundle file to write.")
@click.option("--limit", type=click.IntRange(1, 10000), help="At most this many submissions.")
def pull(server: str, key_path: Path, out: Path, limit: int | None) -> None:
    """Download a bundle of complete submissions (resumes an interrupted download)."""
    refuse_existing(out)
    transport.split_server(server)
    courier = open_one_key(key_path, kind="courier")
    target = BUNDLE_PATH + (f"?limit={limit}" if limit else "")
    part = out.with_name(out.name + ".part")
    etag = _resume_state(part, target)
    if etag is None:
        _discard(part, _state_path(part))
    try:
        received = _download(server, target, courier, part, etag)
    except ServerError as exc:
        if "HTTP 416" not in exc.message or etag is None:
            raise
        # The server no longer has what we started: start again.
        _discard(part, _state_path(part))
        received = _download(server, target, courier, part, None)
    count = _check_bundle(part)
    os.replace(part, out)
    _discard(_state_path(part))
    say(f"{count} submission(s), {received} bytes, written to {out}")


def _download(
    server: str, target: str, courier: crypto.Identity, part: Path, etag: str | None
) -> int:
    offset = part.stat().st_size if etag is not None and part.exists() else 0
    headers = {"Accept": "application/x-tar"}
    if offset:
        # If-Range: the server sends the rest only if the bundle is the same
        # one (same ETag); otherwise the whole new bundle, and we start over.
        headers["Range"] = f"bytes={offset}-"
        headers["If-Range"] = etag or ""
    response = transport.open_stream(server, "GET", target, headers=headers, signer=courier)
    with response:
        resumed = response.status == 206 and _range_starts_at(
            response.headers.get("Content-Range"), offset
        )
        if response.status == 206 and not resumed:
            raise ServerError(
                "the server sent a range we did not ask for", "delete the .part file and pull again"
            )
        start = offset if resumed else 0
        new_etag = response.headers.get("ETag")
        if (
            new_etag
            and re.fullmatch(r'(W/)?"[\x21\x23-\x7e]{1,200}"', new_etag)
            and not new_etag.startswith("W/")
        ):
            write_file(
                _state_path(part), dump_json({"target": target, "etag": new_etag}), overwrite=True
            )
        else:
            _discard(_state_path(part))
        length = response.headers.get("Content-Length")
        expected = start + int(length) if length and length.isdigit() else None
        console = stderr_console()
        mode = "ab" if resumed else "wb"
        done = start
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
        with os.fdopen(fd, mode) as sink, byte_progress(console, "downloading") as progress:
            if not resumed:
                sink.truncate(0)
            task = progress.add_task("downloading", total=expected, completed=start)
            try:
                while block := response.read(_BLOCK):
                    sink.write(block)
                    done += len(block)
                    progress.update(task, completed=done)
            except (OSError, http.client.HTTPException) as exc:
                raise _interrupted(done, part, type(exc).__name__) from None
            finally:
                sink.flush()
                os.fsync(sink.fileno())
    if expected is not None and done != expected:
        raise _interrupted(done, part, f"expected {expected} bytes")
    return done


def _interrupted(done: int, part: Path, why: str) -> ServerError:
    resumable = _state_path(part).exists()
    return ServerError(
        f"the download was interrupted after {done} bytes ({why})",
        "run the same command again to resume" if resumable else "run the same command again",
    )


def _range_starts_at(content_range: str | None, offset: int) -> bool:
    match = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+|\*)", content_range or "")
    return bool(match) and int(match.group(1)) == offset  # type: ignore[union-attr]


def _check_bundle(part: Path) -> int:
    """Read the whole bundle's structure once, so a broken one never reaches the air gap."""
    count = 0
    try:
        with part.open("rb") as handle:
            for item in crypto.read_bundle(handle):
                if not isinstance(item, crypto.ChainItem):
                    item.close()
                    count += 1
    except crypto.InvalidEnvelope:
        _discard(part, _state_path(part))
        raise ServerError(
            "the server sent something that is not a valid bundle",
            "try again; tell the operator if it persists",
        ) from None
    return count


# --------------------------------------------------------------------------
# push


@cli.command()
@click.argument("file", type=PathArg)
@click.option("--server", required=True, help="The server's base URL.")
@click.option("--key", "key_path", required=True, type=PathArg, help="The courier key file.")
def push(file: Path, server: str, key_path: Path) -> None:
    """Upload a receipts, replies or rewraps file (detected by its `type`)."""
    transport.split_server(server)
    if not file.is_file():
        raise InputError(f"{file} does not exist", "name the file written by intake-verifier")
    if file.stat().st_size > MAX_PUSH:
        raise InputError(f"{file} is too large to push", "split it into several files")
    body = file.read_bytes()
    try:
        doc = strict_json(body)
    except HostileJSONError:
        raise InputError(
            f"{file} is not a JSON file", "name a file written by intake-verifier"
        ) from None
    kind = doc.get("type") if isinstance(doc, dict) else None
    if kind not in ENDPOINTS:
        raise InputError(
            f"{file} is not a receipts, replies or rewraps file",
            "push only files written by intake-verifier receipts, reply or rewrap",
        )
    path, field = ENDPOINTS[kind]
    items = doc.get(field)
    if not isinstance(items, list):
        raise InputError(f"{file} has no {field} list", None)
    courier = open_one_key(key_path, kind="courier")
    answer = transport.request(
        server,
        "POST",
        path,
        body=body,
        headers={"Content-Type": "application/json"},
        signer=courier,
    )
    reply = transport.json_answer(answer)
    accepted = reply.get("accepted") if isinstance(reply, dict) else None
    say(
        f"pushed {len(items)} {field} to {visible(server, limit=100)}; accepted: {_count(accepted)}"
    )
    if isinstance(accepted, int) and accepted < len(items):
        say(f"  ({len(items) - accepted} not accepted: {_NOT_ACCEPTED[field]}; nothing is wrong)")
    deleted = reply.get("deleted") if isinstance(reply, dict) else None
    if isinstance(deleted, list):
        say(f"the server deleted {len(deleted)} submission(s) now fully receipted")


# Why the server's `accepted` count can be lower than what was pushed (every
# entry was verified; the rest had nothing left to act on).
_NOT_ACCEPTED = {
    "receipts": "the server no longer holds those envelopes (deleted after earlier receipts)",
    "replies": "the server already had them from an earlier push; each is delivered once",
    "rewraps": "the server no longer holds those envelopes (receipted and deleted meanwhile)",
}


def _count(value: Any) -> str:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else "?"


def main() -> None:
    cli(prog_name=PROG)


__all__ = ["cli", "main"]

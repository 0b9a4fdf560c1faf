"""What the three tools share: errors, passphrases, key files, the keyring directory.

Expected failures are `ToolError`s raised anywhere below the commands and
turned into two lines at the edge (`ToolGroup.invoke`):

    intake-verifier: error: <what went wrong>
    intake-verifier: hint: <what to try>

so a verifier never sees a traceback for a wrong passphrase or a damaged
bundle, and the message never carries key material.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import hmac
import io
import json
import os
import re
import secrets
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO, cast

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

import crypto

from .hostile import HostileJSONError, strict_json, visible

# The name of an environment variable, not a secret.
PASSPHRASE_ENV = "INTAKE_PASSPHRASE"  # noqa: S105  # nosec B105
MANIFEST_PAYLOAD_TYPE = "application/vnd.intake.manifest+json"
TRUST_ROOT_FILE = "trust-root.json"
LAST_MANIFEST_FILE = "last-manifest.json"
MAX_JSON_FILE = 64 * 2**20  # a chain, receipts or replies file; far above any real one

# --------------------------------------------------------------------------
# Errors


class ToolError(Exception):
    """An expected failure: shown as one error line and an optional hint, exit 1."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class InputError(ToolError):
    """A file or argument we were given is missing, unreadable or malformed."""


class KeyFileError(ToolError):
    """A key file does not open, is of the wrong kind, or cannot be written."""


class TrustError(ToolError):
    """A manifest chain, signature or trust root fails to verify."""


class ServerError(ToolError):
    """The server could not be reached or refused a request (online tools only)."""


class PartialFailure(ToolError):
    """Some items failed; the summary already listed them."""


_SIGNATURE_REASONS = {
    "bad-signature": "a signature does not verify",
    "threshold": "too few distinct valid admin signatures",
    "rollback": "manifest versions do not increase",
    "untrusted-root": "the genesis manifest does not match the pinned trust root",
    "malformed": "a manifest or signed document is malformed",
}
_ENVELOPE_REASONS = {
    "malformed": "malformed (bad magic, lengths, JSON, fields or bounds)",
    "header-mac": "header authentication failed (tampered or corrupted header)",
    "payload": "payload authentication failed (tampered or corrupted content)",
    "truncated": "truncated (the stream ends early)",
    "trailing-data": "extra bytes after the end of the stream",
    "padding": "bad padding (tampered or corrupted content)",
}


def short_kid(kid: str) -> str:
    """The first two groups of a kid, enough to tell keys apart in a table."""
    return crypto.fingerprint(kid)[:9] + "…" if _is_kid(kid) else visible(kid, limit=12)


def _is_kid(kid: str) -> bool:
    return bool(re.fullmatch(r"[0-9a-f]{32}", kid))


def describe_crypto_error(exc: crypto.IntakeCryptoError) -> tuple[str, str | None]:
    """One line and a hint for a failure of the crypto package (no secrets in either)."""
    if isinstance(exc, crypto.WrongPassphrase):
        return (
            "the key file does not open with this passphrase",
            f"check the passphrase (or the {PASSPHRASE_ENV} variable)",
        )
    if isinstance(exc, crypto.InvalidKeyFile):
        return (
            "the key file is malformed or its cost parameters are out of bounds",
            "a weakened key file may have been tampered with; use a backup copy",
        )
    if isinstance(exc, crypto.NoMatchingKey):
        sealed_to = ", ".join(short_kid(k) for k in exc.recipients) or "nobody"
        return (
            "no key in the keyring opens this envelope",
            f"it was sealed to {sealed_to}; was that key retired, or is the keyring incomplete?",
        )
    if isinstance(exc, crypto.ManifestExpired):
        return (
            f"the newest manifest expired on {crypto.format_time(exc.expires)}",
            "ask the admins for a renewed manifest (intake-admin renew) and use the new chain",
        )
    if isinstance(exc, crypto.InvalidSignature):
        return (
            _SIGNATURE_REASONS.get(exc.reason, f"verification failed ({exc.reason})"),
            "do not trust this file; get the chain again from a trusted source",
        )
    if isinstance(exc, crypto.InvalidEnvelope):
        return (
            "envelope " + _ENVELOPE_REASONS.get(exc.reason, exc.reason),
            "the bundle may be damaged or tampered with; pull it again",
        )
    return (f"crypto failure ({exc.reason})", None)


class ToolFailure(click.ClickException):
    """Carries a ToolError through Click so it prints in our two-line form."""

    def __init__(self, prog: str, message: str, hint: str | None) -> None:
        super().__init__(message)
        self.prog = prog
        self.hint = hint

    def show(self, file: IO[Any] | None = None) -> None:
        stream = file if file is not None else sys.stderr
        click.echo(f"{self.prog}: error: {visible(self.message)}", file=stream)
        if self.hint:
            click.echo(f"{self.prog}: hint: {visible(self.hint)}", file=stream)


class ToolUsageError(click.UsageError):
    """A mistake on the command line, in the same two-line form (exit 2, as Click does)."""

    def __init__(self, prog: str, original: click.UsageError) -> None:
        super().__init__(original.format_message(), original.ctx)
        self.prog = prog

    def show(self, file: IO[Any] | None = None) -> None:
        stream = file if file is not None else sys.stderr
        where = self.ctx.command_path if self.ctx is not None else self.prog
        click.echo(f"{self.prog}: error: {self.format_message()}", file=stream)
        click.echo(f"{self.prog}: hint: see '{where} --help'", file=stream)


class ToolGroup(click.Group):
    """A Click group whose expected failures print `prog: error:` / `prog: hint:`."""

    def __init__(self, *args: Any, prog: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.prog = prog

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ToolUsageError:
            raise
        except click.UsageError as exc:
            raise ToolUsageError(self.prog, exc) from None
        except ToolError as exc:
            raise ToolFailure(self.prog, exc.message, exc.hint) from None
        except crypto.IntakeCryptoError as exc:
            message, hint = describe_crypto_error(exc)
            raise ToolFailure(self.prog, message, hint) from None
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError) as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            raise ToolFailure(
                self.prog, f"{where}{exc.strerror or exc}", "check the path and permissions"
            ) from None
        except OSError as exc:
            if exc.errno == errno.EPIPE:
                raise
            where = f"{exc.filename}: " if exc.filename else ""
            raise ToolFailure(
                self.prog,
                f"{where}{exc.strerror or exc}",
                "check the path, its permissions and the free space on that disk",
            ) from None
        except click.Abort:
            # Ctrl-C or Ctrl-D at a prompt: one form for every exit of the tool.
            raise ToolFailure(
                self.prog,
                "no passphrase or answer given",
                "type it at the prompt, or set INTAKE_PASSPHRASE for scripts",
            ) from None


# --------------------------------------------------------------------------
# Output


def stderr_console() -> Console:
    """Human output goes to stderr so stdout stays clean for JSON and pipes."""
    return Console(stderr=True, highlight=False, soft_wrap=False)


def say(message: str) -> None:
    """Print a line of our own text (never hostile text: use `visible` first)."""
    click.echo(message, err=True)


def warn(message: str) -> None:
    """A loud warning on stderr; hostile parts must already be made `visible`."""
    click.echo(click.style("WARNING: ", fg="red", bold=True) + message, err=True)


def byte_progress(console: Console, description: str) -> Progress:
    """A progress bar over bytes on stderr, silent when stderr is not a terminal."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )


class ProgressReader(io.RawIOBase):
    """A read-only file wrapper that reports how far a reader has got."""

    def __init__(self, raw: BinaryIO, report: Callable[[int], None]) -> None:
        super().__init__()
        self._raw = raw
        self._report = report

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._raw.seekable()

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        position = self._raw.seek(offset, whence)
        self._report(position)
        return position

    def tell(self) -> int:
        return self._raw.tell()

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self._raw.read(len(view))
        view[: len(data)] = data
        self._report(self._raw.tell())
        return len(data)


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


# --------------------------------------------------------------------------
# Files


def read_json_file(path: Path, what: str) -> Any:
    """A JSON file we were handed: size-capped and parsed strictly."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_JSON_FILE + 1)
    except FileNotFoundError:
        raise InputError(f"{what} {path} does not exist", "check the path") from None
    except IsADirectoryError:
        raise InputError(f"{what} {path} is a directory, not a file", "name the file") from None
    if len(data) > MAX_JSON_FILE:
        raise InputError(f"{what} {path} is too large", "is this the right file?")
    try:
        return strict_json(data)
    except HostileJSONError as exc:
        raise InputError(
            f"{what} {path} is not valid JSON ({exc})", "is this the right file?"
        ) from None


def dump_json(value: Any) -> bytes:
    return (json.dumps(value, indent=2, ensure_ascii=True) + "\n").encode()


def _temp_beside(path: Path) -> Path:
    return path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")


def write_file(path: Path, data: bytes, *, overwrite: bool = False, mode: int = 0o600) -> None:
    """Write a whole file atomically (temp file, fsync, rename); never a half-written file.

    Without `overwrite`, an existing file is refused (atomically, by `link`), so
    a second run cannot silently replace what the first one wrote.
    """
    tmp = _temp_beside(path)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), mode)
    except FileNotFoundError:
        raise InputError(
            f"cannot write {path}: its folder does not exist", "create the folder first"
        ) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise InputError(
                    f"{path} already exists", "remove it or choose another name"
                ) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def refuse_existing(path: Path) -> None:
    if path.exists() or path.is_symlink():
        raise InputError(f"{path} already exists", "remove it or choose another name")


# --------------------------------------------------------------------------
# Passphrases and key files


def _env_name_for(path: Path) -> str:
    stem = re.sub(r"[^A-Za-z0-9]", "_", path.name.removesuffix(".key")).upper()
    return f"{PASSPHRASE_ENV}_{stem}"


def env_passphrase(path: Path | None = None) -> str | None:
    """`INTAKE_PASSPHRASE_<FILE STEM>` for one file, else `INTAKE_PASSPHRASE`, for scripts."""
    if path is not None:
        specific = os.environ.get(_env_name_for(path))
        if specific:
            return specific
    value = os.environ.get(PASSPHRASE_ENV)
    return value or None


def new_passphrase(path: Path) -> str:
    """A passphrase for a new key file: strength checked, confirmed when typed."""
    from_env = env_passphrase(path)
    if from_env is not None:
        problems = crypto.check_passphrase_strength(from_env)
        if problems:
            raise KeyFileError(
                f"the passphrase in {PASSPHRASE_ENV} is too weak: {'; '.join(problems)}",
                "use at least 5 random words, or 16+ characters mixing letters, digits and symbols",
            )
        return from_env
    for _attempt in range(3):
        value = str(
            click.prompt(
                f"New passphrase for {path.name}",
                hide_input=True,
                confirmation_prompt="Repeat the passphrase",
                err=True,
            )
        )
        problems = crypto.check_passphrase_strength(value)
        if not problems:
            return value
        say("That passphrase is too weak: " + "; ".join(problems))
    raise KeyFileError(
        "no acceptable passphrase after three tries",
        "use at least 5 random words, or 16+ characters mixing letters, digits and symbols",
    )


def ask_passphrase(prompt: str) -> str:
    return str(click.prompt(prompt, hide_input=True, err=True))


def open_key_file(path: Path, passphrase: str, *, kind: str | None = None) -> crypto.Identity:
    """Open one key file, with the file's name in every error."""
    if not path.is_file():
        raise KeyFileError(f"key file {path} does not exist", "name the key file explicitly")
    _warn_if_readable_by_others(path)
    try:
        identity = crypto.read_key_file(path, passphrase)
    except crypto.WrongPassphrase:
        source = f" from {PASSPHRASE_ENV}" if env_passphrase(path) is not None else ""
        raise KeyFileError(
            f"key file {path} does not open with the passphrase{source}",
            "check the passphrase; a key file cannot be opened without its own passphrase",
        ) from None
    except crypto.InvalidKeyFile:
        raise KeyFileError(
            f"key file {path} is malformed or its cost parameters are out of bounds",
            "is this an intake key file? a weakened file may have been tampered with",
        ) from None
    if kind is not None and identity.kind != kind:
        raise KeyFileError(
            f"key file {path} holds a {identity.kind} key, not a {kind} key",
            f"name the {kind}'s key file",
        )
    return identity


def _warn_if_readable_by_others(path: Path) -> None:
    with contextlib.suppress(OSError):
        if path.stat().st_mode & 0o077:
            warn(f"key file {path} is readable by other users; run: chmod 600 {path}")


def open_one_key(path: Path, *, kind: str | None = None) -> crypto.Identity:
    passphrase = env_passphrase(path) or ask_passphrase(f"Passphrase for {path.name}")
    return open_key_file(path, passphrase, kind=kind)


def write_new_key(path: Path, identity: crypto.Identity, passphrase: str) -> None:
    refuse_existing(path)
    if not path.parent.is_dir():
        raise InputError(
            f"cannot write {path}: its folder does not exist", "create the folder first"
        )
    try:
        crypto.write_key_file(path, identity, passphrase)
    except FileExistsError:
        raise InputError(f"{path} already exists", "remove it or choose another name") from None


# --------------------------------------------------------------------------
# The keyring directory: *.key, trust-root.json, last-manifest.json


@dataclass
class Keyring:
    directory: Path
    ring: crypto.Keyring
    identities: list[crypto.Identity]

    def verifiers(self) -> list[crypto.Identity]:
        return [i for i in self.identities if i.kind == "verifier"]


def keyring_dir(directory: Path) -> Path:
    if not directory.is_dir():
        raise InputError(
            f"keyring {directory} is not a directory",
            "pass --keyring DIR, the folder holding your *.key files and trust-root.json",
        )
    return directory


def load_keyring(directory: Path) -> Keyring:
    """Open every *.key file: one passphrase for all, or one per file on a terminal.

    A script sets INTAKE_PASSPHRASE (or INTAKE_PASSPHRASE_<FILE STEM> for a
    file with its own passphrase); a person types one passphrase, and is asked
    again only for a file that it does not open.
    """
    keyring_dir(directory)
    paths = sorted(p for p in directory.glob("*.key") if p.is_file())
    if not paths:
        raise KeyFileError(
            f"no *.key files in {directory}",
            "put your verifier key file (made by intake-verifier keygen) in the keyring folder",
        )
    identities: list[crypto.Identity] = []
    shared: str | None = None
    for path in paths:
        specific = env_passphrase(path)
        if specific is None:
            if shared is None:
                shared = ask_passphrase("Keyring passphrase")
            try:
                identities.append(open_key_file(path, shared))
                continue
            except KeyFileError:
                if not sys.stdin.isatty():
                    raise
            specific = ask_passphrase(f"Passphrase for {path.name}")
        identities.append(open_key_file(path, specific))
    return Keyring(directory, crypto.Keyring(identities), identities)


def load_trust_root(directory: Path) -> crypto.TrustRoot:
    path = keyring_dir(directory) / TRUST_ROOT_FILE
    if not path.is_file():
        raise TrustError(
            f"no {TRUST_ROOT_FILE} in {directory}",
            "copy the trust root printed by `intake-admin init` into that file",
        )
    try:
        return crypto.TrustRoot.parse(path.read_text(encoding="utf-8"))
    except (ValueError, crypto.IntakeCryptoError, UnicodeDecodeError):
        raise TrustError(
            f"{path} is not a valid trust root",
            'it holds {"threshold": k, "admins": [kid, ...]} as printed by intake-admin init',
        ) from None


def load_chain_file(path: Path) -> list[dict[str, Any]]:
    """A chain as served by GET /api/v1/manifests, a bare list, or one manifest."""
    data = read_json_file(path, "chain file")
    return chain_from_json(data, str(path))


def chain_from_json(data: Any, where: str) -> list[dict[str, Any]]:
    chain: Any
    if isinstance(data, dict) and "chain" in data:
        chain = data["chain"]
    elif isinstance(data, dict) and "payloadType" in data:
        chain = [data]
    else:
        chain = data
    if not isinstance(chain, list) or not chain or not all(isinstance(x, dict) for x in chain):
        raise InputError(
            f"{where} holds no manifest chain",
            'expected {"chain": [manifest, ...]} as served by GET /api/v1/manifests',
        )
    return cast(list[dict[str, Any]], chain)


def verify_chain_or_fail(
    chain: Sequence[dict[str, Any]], root: crypto.TrustRoot
) -> list[crypto.Manifest]:
    try:
        return list(crypto.verify_chain(chain, root))
    except crypto.ManifestExpired as exc:
        raise TrustError(
            f"the newest manifest of the chain expired on {crypto.format_time(exc.expires)}",
            "ask the admins for a renewed manifest (intake-admin renew) and use the new chain",
        ) from None
    except crypto.InvalidSignature as exc:
        raise TrustError(
            "the manifest chain does not verify: " + _SIGNATURE_REASONS.get(exc.reason, exc.reason),
            "do not use it; get the chain again and compare the trust root with the admins",
        ) from None


@dataclass(frozen=True)
class Remembered:
    version: int
    digest: bytes
    chain: list[dict[str, Any]]


def load_remembered(directory: Path) -> Remembered | None:
    path = directory / LAST_MANIFEST_FILE
    if not path.exists():
        return None
    data = read_json_file(path, "remembered manifest")
    try:
        version = data["version"]
        digest = crypto.b64d(data["digest"])
        chain = chain_from_json(data["chain"], str(path))
        if not isinstance(version, int) or isinstance(version, bool) or len(digest) != 32:
            raise ValueError
    except (KeyError, TypeError, ValueError, InputError):
        raise TrustError(
            f"{path} is damaged",
            "restore it from a backup; deleting it disables rollback protection",
        ) from None
    return Remembered(version, digest, chain)


def check_not_rolled_back(manifests: Sequence[crypto.Manifest], remembered: Remembered) -> None:
    """Refuse a chain older than, or forked from, the newest one this keyring has seen.

    PROTOCOL.md "Known limits": an admin set that has been rotated out could
    still sign a fork for a reader that only knows the genesis; remembering the
    newest verified manifest closes that for this laptop.
    """
    latest = manifests[-1]
    if latest.version < remembered.version:
        raise TrustError(
            f"rollback: this chain ends at manifest version {latest.version}, but this keyring "
            f"has already seen version {remembered.version}",
            "an old or forked chain was supplied; get the current chain from the server",
        )
    for manifest in manifests:
        if manifest.version == remembered.version:
            if not _digest_equal(manifest.digest, remembered.digest):
                raise TrustError(
                    f"fork: manifest version {manifest.version} of this chain differs from the one "
                    "this keyring has seen",
                    "two different manifests carry the same version: tell the admins at once",
                )
            return
    raise TrustError(
        f"fork: this chain does not contain manifest version {remembered.version}, "
        "which this keyring has seen",
        "get the full chain from the server; if it still lacks it, tell the admins",
    )


def _digest_equal(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)


def trusted_chain(directory: Path, chain: Sequence[dict[str, Any]]) -> list[crypto.Manifest]:
    """Verify a chain from the pinned root, refuse rollback, and remember its newest link."""
    root = load_trust_root(directory)
    manifests = verify_chain_or_fail(chain, root)
    remembered = load_remembered(directory)
    if remembered is not None:
        check_not_rolled_back(manifests, remembered)
    if remembered is None or manifests[-1].version > remembered.version:
        latest = manifests[-1]
        record = {
            "type": "intake/last-manifest",
            "version": latest.version,
            "digest": crypto.b64e(latest.digest),
            "fingerprint": latest.fingerprint,
            "chain": list(chain),
        }
        write_file(directory / LAST_MANIFEST_FILE, dump_json(record), overwrite=True)
    return manifests


def current_manifest(directory: Path) -> crypto.Manifest:
    """The newest manifest this keyring has verified, checked again from the trust root."""
    remembered = load_remembered(directory)
    if remembered is None:
        raise TrustError(
            f"this keyring has not verified any manifest yet (no {LAST_MANIFEST_FILE})",
            "run `intake-verifier verify-chain CHAIN.json --keyring DIR` or decrypt a bundle first",
        )
    manifests = verify_chain_or_fail(remembered.chain, load_trust_root(directory))
    check_not_rolled_back(manifests, remembered)
    return manifests[-1]


def choose_signer(
    keyring: Keyring, manifest: crypto.Manifest, prefer_kid: str | None = None
) -> crypto.Identity:
    """The verifier identity that signs for us: listed in the manifest, active first."""
    listed = {v.kid: v for v in manifest.verifiers}
    candidates = [i for i in keyring.verifiers() if i.kid in listed]
    if not candidates:
        raise KeyFileError(
            "no verifier key in the keyring is listed in the current manifest",
            "the server accepts only listed verifiers; ask the admins to add your key",
        )
    candidates.sort(key=lambda i: (i.kid != prefer_kid, listed[i.kid].status != "active"))
    return candidates[0]

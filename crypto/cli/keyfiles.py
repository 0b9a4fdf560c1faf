"""Passphrases and key files: asked once, taken from the environment for scripts."""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

import click

import crypto

from .errors import PASSPHRASE_ENV, InputError, KeyFileError
from .files import refuse_existing
from .output import say, warn


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

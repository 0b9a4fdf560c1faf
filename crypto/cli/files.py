"""Files the tools are handed and write: size-capped strict JSON, atomic writes."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from pathlib import Path
from typing import Any

from .errors import InputError
from .hostile import HostileJSONError, strict_json

MAX_JSON_FILE = 64 * 2**20  # a chain, receipts or replies file; far above any real one


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

"""What every intake-admin command module shares: the tool's name, the
options several commands declare alike, the trust root loader and the
expiry warning."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

import crypto

from .common import InputError, now_utc, read_json_file, warn
from .manifests import MANIFEST_VALIDITY_DAYS, expiry_warning

PROG = "intake-admin"
MAX_ADMINS = 32
PathArg = click.Path(path_type=Path)
F = TypeVar("F", bound=Callable[..., Any])


def expires_days_option(help_text: str) -> Callable[[F], F]:
    """`--expires-days`, declared once: every manifest the tool writes is
    valid MANIFEST_VALIDITY_DAYS unless the admins choose otherwise (short
    validity bounds how long a rolled-back chain keeps working)."""
    return click.option(
        "--expires-days",
        default=MANIFEST_VALIDITY_DAYS,
        show_default=True,
        type=click.IntRange(1, 3650),
        help=help_text,
    )


trust_root_option = click.option(
    "--trust-root",
    "root_path",
    required=True,
    type=PathArg,
    help="The pinned trust root (trust-root.json): everything the server says is checked by it.",
)


def expiry(days: int) -> dt.datetime:
    """The expiry of a manifest written now and valid `days`."""
    return now_utc() + dt.timedelta(days=days)


def load_root(path: Path) -> crypto.TrustRoot:
    data = read_json_file(path, "trust root")
    try:
        return crypto.TrustRoot.from_json(data)
    except (TypeError, ValueError):
        raise InputError(f"{path} is not a trust root", None) from None


def warn_expiry(manifest: crypto.Manifest, what: str) -> None:
    message = expiry_warning(manifest, what)
    if message is not None:
        warn(message)


__all__ = [
    "MAX_ADMINS",
    "PROG",
    "F",
    "PathArg",
    "expires_days_option",
    "expiry",
    "load_root",
    "trust_root_option",
    "warn_expiry",
]

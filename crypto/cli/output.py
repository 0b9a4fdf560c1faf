"""What the tools print: human text on stderr, so stdout stays clean for JSON and pipes."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from typing import Any, BinaryIO

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

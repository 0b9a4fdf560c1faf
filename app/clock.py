"""Time helpers. Stored times are rounded to the hour so rows cannot be
correlated with network logs kept elsewhere (a Tor relay's, an ISP's)."""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, timedelta

log = logging.getLogger("intake")
_warned: list[bool] = []


def now() -> datetime:
    return datetime.now(UTC)


def hour(dt: datetime | None = None) -> datetime:
    """`dt` (default now) rounded down to the hour, in UTC."""
    dt = (dt or now()).astimezone(UTC)
    return dt.replace(minute=0, second=0, microsecond=0)


def hour_after(dt: datetime) -> datetime:
    """The first whole hour at or after `dt`: for expiry times, which must
    never be earlier than the exact instant they stand for."""
    floor = hour(dt)
    return floor if floor == dt.astimezone(UTC) else floor + timedelta(hours=1)


def rfc3339(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def hour_ns(dt: datetime | None = None) -> int:
    """`hour(dt)` as nanoseconds since the epoch: for file times."""
    return int(hour(dt).timestamp()) * 1_000_000_000


def round_file_times(*targets: str | os.PathLike[str] | int) -> None:
    """Sets the access and modification times of each path (or open file
    descriptor) to the current hour. A filesystem keeps nanosecond times of
    every write, rename and read; a disk seized from a live server would
    otherwise date each upload to the instant, defeating the hour-rounding of
    the database. A path that no longer exists is skipped."""
    stamp = hour_ns()
    for target in targets:
        try:
            os.utime(target, ns=(stamp, stamp))
        except FileNotFoundError:
            continue
        except PermissionError:
            # Not the owner (a misconfigured data directory): serving goes
            # on, and the operator is told once. No path: it would name an
            # upload in a log line that carries the exact time.
            if not _warned:
                _warned.append(True)
                log.warning("cannot set file times to the hour: the server must own its files")

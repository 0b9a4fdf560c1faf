"""Time helpers. Stored times are rounded to the hour so rows cannot be
correlated with network logs kept elsewhere (a Tor relay's, an ISP's)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


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

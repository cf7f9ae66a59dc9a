"""Time at the wire edge: UTC in storage, .NET-style ISO strings on the wire."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

# Bill24 answers in Cambodia's time (UTC+7, no daylight saving).
PHNOM_PENH = timezone(timedelta(hours=7))
DOTNET_ZERO = "0001-01-01T00:00:00"


def utcnow() -> datetime:
    """Naive UTC, as stored in the database."""
    return datetime.now(UTC).replace(tzinfo=None)


def dotnet_offset(dt: datetime, tz: timezone = PHNOM_PENH) -> str:
    """``2024-06-24T14:46:07.8930774+07:00``: seven fractional digits and an offset, as ASP.NET writes them."""
    local = dt.replace(tzinfo=UTC).astimezone(tz)
    base = local.strftime("%Y-%m-%dT%H:%M:%S")
    offset = local.strftime("%z")
    return f"{base}.{local.microsecond:06d}0{offset[:3]}:{offset[3:]}"


class Clock:
    """The one source of "now". The sandbox and the tests move it; production leaves it alone."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return utcnow() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)

    def reset(self) -> None:
        self.offset = timedelta(0)


clock = Clock()


def epoch(dt: datetime) -> int:
    """Unix seconds of a naive-UTC datetime (``datetime.timestamp`` would read it as local time)."""
    return int(dt.replace(tzinfo=UTC).timestamp())

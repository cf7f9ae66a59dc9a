"""Time at the wire edge: UTC in storage, .NET-style ISO strings on the wire."""

from __future__ import annotations

import re
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


def dotnet(dt: datetime) -> str:
    """``2025-04-08T11:51:58.049221`` / ``2025-06-25T00:00:00``: how ASP.NET writes a DateTime without offset
    (fractional digits only when there are any, trailing zeros dropped)."""
    base = dt.strftime("%Y-%m-%dT%H:%M:%S")
    if dt.microsecond:
        base += "." + f"{dt.microsecond:06d}".rstrip("0")
    return base


def dotnet_local(dt: datetime | None) -> str | None:
    """A stored (naive UTC) instant as Phnom Penh wall-clock time in the .NET form."""
    if dt is None:
        return None
    return dotnet(dt.replace(tzinfo=UTC).astimezone(PHNOM_PENH).replace(tzinfo=None))


_WIRE_DATE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?(Z|[+-]\d{2}:?\d{2})?$"
)


def parse_wire_date(value: str) -> datetime | None:
    """A bill date as merchants send it (``2025-11-06``, ``2024-06-22T02:41:55.350Z``, ``...+07:00``): the wall-clock
    digits as written, offset ignored (the settle-payment hash is computed over those digits). None if invalid."""
    m = _WIRE_DATE.match(value.strip())
    if not m:
        return None
    y, mo, d, h, mi, s, frac, _tz = m.groups()
    try:
        return datetime(
            int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0), int((frac or "0").ljust(6, "0")[:6])
        )
    except ValueError:
        return None


def local_to_utc(dt: datetime) -> datetime:
    """Phnom Penh wall-clock time (how merchants write filter dates) as naive UTC."""
    return dt.replace(tzinfo=PHNOM_PENH).astimezone(UTC).replace(tzinfo=None)


def add_month(dt: datetime) -> datetime:
    """One calendar month later, clamped to the month's last day (31 Jan -> 28/29 Feb)."""
    year, month = (dt.year + 1, 1) if dt.month == 12 else (dt.year, dt.month + 1)
    for day in (dt.day, 30, 29, 28):
        try:
            return dt.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    raise AssertionError("unreachable")

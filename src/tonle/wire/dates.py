"""Time at the wire edge: UTC in storage, .NET-style ISO strings on the wire (Bill24 answers in Phnom Penh time)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from tonle.kit.clock import PHNOM_PENH

DOTNET_ZERO = "0001-01-01T00:00:00"


def dotnet_offset(dt: datetime, tz: timezone = PHNOM_PENH) -> str:
    """``2024-06-24T14:46:07.8930774+07:00``: seven fractional digits and an offset, as ASP.NET writes them."""
    local = dt.replace(tzinfo=UTC).astimezone(tz)
    base = local.strftime("%Y-%m-%dT%H:%M:%S")
    offset = local.strftime("%z")
    return f"{base}.{local.microsecond:06d}0{offset[:3]}:{offset[3:]}"


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


def parse_instant(value: str) -> datetime | None:
    """An instant as naive UTC: a written offset (``Z``, ``+07:00``) is honoured, a date without one is Phnom Penh
    time (Hosted's invoice dates, its report's d1/d2). None if invalid."""
    m = _WIRE_DATE.match(value.strip())
    if not m:
        return None
    local = parse_wire_date(value)
    if local is None:
        return None
    tz = m.group(8)
    if not tz:
        zone = PHNOM_PENH
    elif tz == "Z":
        zone = UTC
    else:
        sign = -1 if tz[0] == "-" else 1
        digits = tz[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:])
        if hours > 14 or minutes > 59:
            return None
        zone = timezone(sign * timedelta(hours=hours, minutes=minutes))
    return local.replace(tzinfo=zone).astimezone(UTC).replace(tzinfo=None)


def written_unit(value: str) -> timedelta:
    """The last unit a wire date writes that is not zero (a day, a minute, a second, a fraction): the end of an
    inclusive range ``d2`` is ``d2`` plus this, so ``2024-08-30`` and ``2024-08-30T00:00:00`` take all of that day,
    and ``...T23:59`` or ``...T23:59:00`` (Bill24's example) all of that minute."""
    m = _WIRE_DATE.match(value.strip())
    if not m:
        return timedelta(0)
    _y, _mo, _d, h, mi, s, frac, _tz = m.groups()
    if frac and frac.strip("0"):
        return timedelta(microseconds=max(1, 10 ** (6 - min(len(frac), 6))))
    if s and int(s):
        return timedelta(seconds=1)
    if h is None or (int(h) == 0 and int(mi) == 0):
        return timedelta(days=1)
    return timedelta(minutes=1)

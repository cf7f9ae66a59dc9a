"""Time that knows no product: the one source of "now" (movable by tests and the sandbox), Cambodia's time zone,
and calendar arithmetic."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

# Cambodia's time (UTC+7, no daylight saving).
PHNOM_PENH = timezone(timedelta(hours=7))


def utcnow() -> datetime:
    """Naive UTC, as stored in the database."""
    return datetime.now(UTC).replace(tzinfo=None)


class Clock:
    """The one source of "now". The sandbox and the tests move it; production leaves it alone."""

    def __init__(self) -> None:
        self.offset = timedelta(0)
        self._shared = 0.0  # the offset of the shared sandbox clock last taken in (seconds)

    def now(self) -> datetime:
        return utcnow() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)

    def follow(self, shared_seconds: float) -> None:
        """Take in the shared sandbox clock's offset (kept in the database, moved by any process): only its change
        since the last look is applied, so a test's own in-process moves are kept."""
        self.offset += timedelta(seconds=shared_seconds - self._shared)
        self._shared = shared_seconds

    def reset(self) -> None:
        self.offset = timedelta(0)
        self._shared = 0.0


clock = Clock()


def epoch(dt: datetime) -> int:
    """Unix seconds of a naive-UTC datetime (``datetime.timestamp`` would read it as local time)."""
    return int(dt.replace(tzinfo=UTC).timestamp())


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


_DURATION = re.compile(r"(\d+(?:\.\d+)?)([wdhms])")
_UNIT = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(text: str) -> float:
    """``30d``, ``1d12h``, ``90m``, ``45s``, ``2w`` or a plain number of seconds, as seconds; ValueError otherwise."""
    raw = text.strip().lower().replace(" ", "")
    try:
        return float(raw)
    except ValueError:
        pass
    if not raw or _DURATION.sub("", raw):
        raise ValueError(f"not a duration: {text!r} (e.g. 30d, 12h, 1d6h, 90m, 45s)")
    return float(sum(float(n) * _UNIT[u] for n, u in _DURATION.findall(raw)))

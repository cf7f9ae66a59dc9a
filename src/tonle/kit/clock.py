"""Time that knows no product: the one source of "now" (movable by tests and the sandbox), Cambodia's time zone,
and calendar arithmetic."""

from __future__ import annotations

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

"""Retry schedules. ``standard`` spans a little over three days; ``bill24`` is Bill24's documented five retries."""

from __future__ import annotations

import random
from datetime import timedelta

# Delay before retry n (after failed attempt n).
SCHEDULES: dict[str, list[timedelta]] = {
    "standard": [
        timedelta(seconds=5),
        timedelta(minutes=5),
        timedelta(minutes=30),
        timedelta(hours=2),
        timedelta(hours=5),
        timedelta(hours=10),
        timedelta(hours=14),
        timedelta(hours=20),
        timedelta(hours=24),
    ],
    "bill24": [
        timedelta(minutes=1),
        timedelta(minutes=5),
        timedelta(minutes=15),
        timedelta(minutes=30),
        timedelta(hours=1),
    ],
}
JITTER = 0.1  # each delay is drawn from ±10% of its nominal value, so retries of many events do not stampede


def max_attempts(profile: str) -> int:
    return len(SCHEDULES.get(profile, SCHEDULES["standard"])) + 1


def next_delay(profile: str, failed_attempts: int, rng: random.Random | None = None) -> timedelta | None:
    """The wait after the ``failed_attempts``-th failure, or None when the schedule is exhausted."""
    schedule = SCHEDULES.get(profile, SCHEDULES["standard"])
    if failed_attempts > len(schedule):
        return None
    nominal = schedule[failed_attempts - 1]
    factor = 1 + (rng or random).uniform(-JITTER, JITTER)
    return nominal * factor

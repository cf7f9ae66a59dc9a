"""Failed-attempt limits for the authorize endpoint, in the database so that every API process shares them.

Fixed windows: a bucket (``client:<id>`` or ``addr:<ip>``) counts failures in the current window; once it reaches
its limit, attempts are refused with HTTP 429 and Retry-After until the window ends. Only failures count, so a
merchant that logs in correctly is never slowed down by its own successes.
"""

from __future__ import annotations

from sqlalchemy import delete, select

from tonle.config import Settings
from tonle.db import Database
from tonle.kit.errors import AuthError
from tonle.kit.sql import insert_for
from tonle.kit.timefmt import clock, epoch
from tonle.merchants.models import AuthFailure


def buckets(settings: Settings, client_id: str, address: str) -> list[tuple[str, int]]:
    return [
        (f"client:{client_id[:150]}", settings.auth_fail_limit_per_client),
        (f"addr:{address}", settings.auth_fail_limit_per_address),
    ]


def _window(settings: Settings) -> tuple[int, int]:
    now = epoch(clock.now())
    size = settings.auth_fail_window_seconds
    return now - now % size, now


async def check(db: Database, settings: Settings, client_id: str, address: str) -> None:
    start, now = _window(settings)
    limits = dict(buckets(settings, client_id, address))
    async with db.sessions() as session:
        rows = await session.execute(
            select(AuthFailure.bucket, AuthFailure.failures).where(
                AuthFailure.bucket.in_(list(limits)), AuthFailure.window_start == start
            )
        )
        for bucket, failures in rows:
            if failures >= limits[bucket]:
                retry = max(1, start + settings.auth_fail_window_seconds - now)
                raise AuthError(
                    f"Too many failed attempts. Retry after {retry} seconds.",
                    status=429,
                    retry_after=retry,
                    family="security",
                )


async def record_failure(db: Database, settings: Settings, client_id: str, address: str) -> None:
    """Counted in a transaction of its own: the failed request itself is rolled back."""
    start, _ = _window(settings)
    async with db.sessions() as session, session.begin():
        for bucket, _limit in buckets(settings, client_id, address):
            stmt = insert_for(session, AuthFailure.__table__).values(bucket=bucket, window_start=start, failures=1)
            stmt = stmt.on_conflict_do_update(
                index_elements=["bucket", "window_start"],
                set_={"failures": AuthFailure.__table__.c.failures + 1},
            )
            await session.execute(stmt)
        # Old windows are worthless; drop them as we go (indexed, so cheap).
        await session.execute(
            delete(AuthFailure).where(AuthFailure.window_start < start - settings.auth_fail_window_seconds)
        )

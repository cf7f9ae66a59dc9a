"""Failed-attempt limits, in the database so that every API process shares them: the authorize endpoint (per
client id and per address) and the endpoints that take a bare token header (the SDK's merchant token, the
bank-facing API's bank token, the Supplier API's token: per address), so that nobody can guess tokens at full speed.

Fixed windows: a bucket (``client:<id>``, ``addr:<ip>``, ``sdk:<ip>``, ``bank:<ip>``, ``supplier:<ip>``) counts
failures in the current window; once it reaches its limit, attempts are refused with HTTP 429 and Retry-After until
the window ends. Only failures count, so a caller with the right credentials is never slowed down by its own
successes.
"""

from __future__ import annotations

from fastapi import Request
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from tonle.config import Settings
from tonle.db import Database
from tonle.kit.clock import clock, epoch
from tonle.kit.sql import insert_for
from tonle.merchants.models import AuthFailure
from tonle.wire.errors import AuthError


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
    await check_buckets(db, settings, dict(buckets(settings, client_id, address)), family="security")


async def record_failure(db: Database, settings: Settings, client_id: str, address: str) -> None:
    await record_buckets(db, settings, [b for b, _ in buckets(settings, client_id, address)])


def address_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def refuse_if_blocked(request: Request, kind: str) -> None:
    """Before a token-header check: 429 when this address already failed too often in the window."""
    settings = request.app.state.settings
    bucket = f"{kind}:{address_of(request)}"
    await check_buckets(request.app.state.db, settings, {bucket: settings.auth_fail_limit_per_address})


async def count_failure(request: Request, session: AsyncSession, kind: str) -> None:
    """After a failed token-header check. The request's transaction ends first: on SQLite it holds the only
    connection (and the write lock) that the bookkeeping needs."""
    await session.rollback()
    await record_buckets(request.app.state.db, request.app.state.settings, [f"{kind}:{address_of(request)}"])


async def check_buckets(db: Database, settings: Settings, limits: dict[str, int], family: str = "bearer") -> None:
    start, now = _window(settings)
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
                    family=family,
                )


async def record_buckets(db: Database, settings: Settings, names: list[str]) -> None:
    """Counted in a transaction of its own: the failed request itself is rolled back."""
    start, _ = _window(settings)
    async with db.sessions() as session, session.begin():
        for bucket in names:
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

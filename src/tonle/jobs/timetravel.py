"""The sandbox clock: one offset from real time, kept in the database so that every API process and worker on it
reads the same "now", and moved only in the sandbox.

Moving it forward runs what falls due on the way, in order: the clock stops at each due time that a queue task
reports (a debit retry, a scheduled unsubscribe, a webhook retry), every queue task is run until none finds work,
and then it moves on. The same moves on the same data run the same work in the same order."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from tonle.db import Database
from tonle.jobs.models import SandboxClock
from tonle.jobs.runtime import Context, Task
from tonle.kit.clock import clock, utcnow
from tonle.kit.sql import insert_for

log = logging.getLogger("tonle.clock")
NAME = "sandbox"
MAX_STOPS = 100_000  # a year of daily work for thousands of consumers stops far fewer times
MAX_ROUNDS = 100_000  # rounds of one drain: each round does work, so this only stops a runaway


class ClockRefused(Exception):
    """Production: the sandbox clock cannot be moved."""


@dataclass(frozen=True)
class Moved:
    now: datetime
    offset_seconds: float
    stops: int  # due times the clock stopped at on the way
    work: int  # what the tasks did (their rounds' counts)


async def shared_offset(db: Database) -> float:
    async with db.sessions() as session:
        got = await session.scalar(select(SandboxClock.offset_seconds).where(SandboxClock.name == NAME))
    return float(got or 0.0)


async def take_in(db: Database) -> float:
    """Read the shared clock and follow it in this process."""
    offset = await shared_offset(db)
    clock.follow(offset)
    return offset


async def follow(db: Database, every: float, stop: asyncio.Event) -> None:
    """Keep this process on the shared clock until ``stop`` (a moved clock is seen within ``every`` seconds)."""
    while not stop.is_set():
        try:
            await take_in(db)
        except Exception:  # the database away for a moment: the next look catches up
            log.debug("sandbox clock not read", exc_info=True)
        try:
            await asyncio.wait_for(stop.wait(), timeout=every)
        except TimeoutError:
            pass


async def _set(db: Database, offset: float) -> float:
    async with db.sessions() as session, session.begin():
        await session.execute(
            insert_for(session, SandboxClock.__table__)
            .values(name=NAME, offset_seconds=0.0)
            .on_conflict_do_nothing(index_elements=["name"])
        )
        await session.execute(
            update(SandboxClock).where(SandboxClock.name == NAME).values(offset_seconds=offset, moved_at=utcnow())
        )
    clock.follow(offset)
    return offset


async def _move(db: Database, seconds: float) -> float:
    return await _set(db, await shared_offset(db) + seconds)


async def reset(db: Database, *, sandbox: bool) -> Moved:
    if not sandbox:
        raise ClockRefused()
    offset = await _set(db, 0.0)
    return Moved(clock.now(), offset, 0, 0)


async def drain(ctx: Context, tasks: list[Task]) -> int:
    """Run every queue task until a whole round finds no work; answers how much was done."""
    done = 0
    for _ in range(MAX_ROUNDS):
        round_ = 0
        for task in tasks:
            if task.every is not None:
                round_ += await task.run(ctx)
        done += round_
        if not round_:
            return done
    raise RuntimeError(f"the tasks kept finding work: stopped after {MAX_ROUNDS} rounds")


async def advance(ctx: Context, tasks: list[Task], seconds: float, *, sandbox: bool) -> Moved:
    """Move the shared clock ``seconds`` ahead, stopping at every due time on the way to run what fell due."""
    if not sandbox:
        raise ClockRefused()
    if seconds < 0:
        raise ValueError("the sandbox clock only moves forward (reset takes it back to real time)")
    await take_in(ctx.db)
    target = clock.now() + timedelta(seconds=seconds)
    work = await drain(ctx, tasks)
    stops = 0
    while stops < MAX_STOPS:
        now = clock.now()
        # What is due now was just run (or is held by another worker); the next stop is strictly later.
        dues = [d for t in tasks if t.due is not None and (d := await t.due(ctx)) is not None and d > now]
        nxt = min(dues, default=None)
        if nxt is None or nxt > target:
            break
        await _move(ctx.db, (nxt - now).total_seconds())
        stops += 1
        work += await drain(ctx, tasks)
    rest = (target - clock.now()).total_seconds()
    if rest > 0:
        await _move(ctx.db, rest)
    work += await drain(ctx, tasks)
    return Moved(clock.now(), await shared_offset(ctx.db), stops, work)

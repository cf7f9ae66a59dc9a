"""The worker runtime: every domain's background work as tasks, run by ``tonle worker`` or inside ``tonle serve``.

A task is either a **queue** (``every`` is its idle pause: it runs again at once while it finds work, and waits
``every`` seconds when a round found none) or a **schedule** (``period``: one run per period across every worker
sharing the database, claimed through a leased row of ``job_schedules``). A round that raises is logged and retried
with exponential back-off, so a database that is away is not hammered. Stopping lets the round in progress finish
(the caller bounds that); a worker killed mid-round leaves leases that run out, and its rows are taken again.

Domains declare tasks in their own ``tasks.py``; the composition root (``tonle.worker``) lists them. Later products
add tasks, not loops."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import or_, update

from tonle.config import Settings
from tonle.db import Database
from tonle.jobs.models import JobSchedule
from tonle.kit.clock import clock
from tonle.kit.sql import insert_for

log = logging.getLogger("tonle.jobs")
BACKOFF_FIRST_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 60.0


@dataclass
class Context:
    db: Database
    settings: Settings
    http: httpx.AsyncClient  # one client for every task's outbound calls (webhooks, channels)


@dataclass(frozen=True)
class Task:
    name: str
    run: Callable[[Context], Awaitable[int]]  # one round; answers how much it did (0: nothing to do)
    every: Callable[[Settings], float] | None = None  # a queue: the pause after an idle round
    period: Callable[[Settings], float] | None = None  # a schedule: seconds between runs; 0 turns it off
    lease_seconds: float = 600.0  # a schedule's run must end within this, or another worker may run it again
    # A queue's earliest future work (a retry, a scheduled debit), for the sandbox clock to stop at; None: none.
    due: Callable[[Context], Awaitable[datetime | None]] | None = None

    def __post_init__(self) -> None:
        if (self.every is None) == (self.period is None):
            raise ValueError(f"task {self.name}: give exactly one of every= (a queue) or period= (a schedule)")


_WAKE: dict[str, asyncio.Event] = {}  # a queue task's bell, rung by work queued in this process


def nudge(name: str) -> None:
    """Work for queue task ``name`` was just queued: if a worker of this process waits on it, it looks now instead
    of after its idle pause (other workers find the work at their next round)."""
    bell = _WAKE.get(name)
    if bell is not None:
        bell.set()


def backoff(failures: int) -> float:
    return min(BACKOFF_FIRST_SECONDS * 2 ** (failures - 1), BACKOFF_MAX_SECONDS) if failures else 0.0


async def run(db: Database, settings: Settings, stop: asyncio.Event, tasks: list[Task]) -> None:
    """Run every task until ``stop`` is set; each in a loop of its own, so a slow one never holds another up."""
    async with httpx.AsyncClient(timeout=settings.webhook_timeout_seconds, follow_redirects=False) as http:
        ctx = Context(db, settings, http)
        await asyncio.gather(*(_loop(task, ctx, stop) for task in tasks))


async def _loop(task: Task, ctx: Context, stop: asyncio.Event) -> None:
    if task.period is not None and task.period(ctx.settings) <= 0:
        return  # a schedule turned off in the settings
    bell = _WAKE.setdefault(task.name, asyncio.Event()) if task.every is not None else None
    failures = 0
    while not stop.is_set():
        busy = 0
        try:
            busy = await (_scheduled(task, ctx) if task.period is not None else task.run(ctx))
            failures = 0
        except Exception:  # a database blip, an unreachable host: logged, retried after a pause
            failures += 1
            log.exception("%s round failed (%d in a row); next try in %.0fs", task.name, failures, backoff(failures))
        if failures:
            pause = backoff(failures)
        elif task.period is not None:
            pause = min(ctx.settings.worker_poll_seconds * 5, task.period(ctx.settings))  # look again soon
        else:
            pause = 0.0 if busy else task.every(ctx.settings)  # type: ignore[misc]
        if pause and bell is not None and not failures:
            await _sleep(stop, bell, pause)
        elif pause:
            try:
                await asyncio.wait_for(stop.wait(), timeout=pause)
            except TimeoutError:
                pass
        else:
            await asyncio.sleep(0)  # let the other loops and the stop signal in


async def _sleep(stop: asyncio.Event, bell: asyncio.Event, pause: float) -> None:
    """An idle queue's pause: until ``pause`` has passed, the worker stops, or the bell rings."""
    stopping = asyncio.ensure_future(stop.wait())
    ringing = asyncio.ensure_future(bell.wait())
    try:
        await asyncio.wait((stopping, ringing), timeout=pause, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
        ringing.cancel()
        bell.clear()


async def _scheduled(task: Task, ctx: Context) -> int:
    """Run a schedule's round if its time has come and no other worker holds it; 0 when not run."""
    assert task.period is not None
    token = await claim_schedule(ctx.db, task.name, task.lease_seconds)
    if token is None:
        return 0
    error = None
    try:
        return await task.run(ctx)
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
        raise
    finally:
        await release_schedule(ctx.db, task.name, token, task.period(ctx.settings), error)


async def claim_schedule(db: Database, name: str, lease_seconds: float) -> str | None:
    """The lease of a due schedule, or None when it is not due or another worker holds it."""
    now = clock.now()
    token = str(uuid.uuid4())
    async with db.sessions() as session, session.begin():
        await session.execute(
            insert_for(session, JobSchedule.__table__)
            .values(name=name, next_run_at=now, runs=0)
            .on_conflict_do_nothing(index_elements=["name"])
        )
        won = await session.execute(
            update(JobSchedule)
            .where(
                JobSchedule.name == name,
                JobSchedule.next_run_at <= now,
                or_(JobSchedule.lease_until.is_(None), JobSchedule.lease_until < now),
            )
            .values(lease_until=now + timedelta(seconds=lease_seconds), lease_token=token, last_started_at=now)
        )
        return token if won.rowcount == 1 else None


async def release_schedule(db: Database, name: str, token: str, period: float, error: str | None) -> None:
    now = clock.now()
    async with db.sessions() as session, session.begin():
        await session.execute(
            update(JobSchedule)
            .where(JobSchedule.name == name, JobSchedule.lease_token == token)
            .values(
                lease_until=None,
                lease_token=None,
                last_finished_at=now,
                last_error=error,
                runs=JobSchedule.runs + 1,
                # After a failure the next worker round tries again at once (with its own back-off).
                next_run_at=now if error else now + timedelta(seconds=period),
            )
        )

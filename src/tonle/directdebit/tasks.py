"""Auto Direct Debit's background work: collecting the debts of due consumers (a queue; the sandbox clock stops at
each scheduled retry and pre-debit notice)."""

from __future__ import annotations

from datetime import datetime

from tonle.directdebit import collect
from tonle.jobs.runtime import Context, Task


async def _collect(ctx: Context) -> int:
    return await collect.run_once(ctx.db, ctx.settings, ctx.http)


async def _due(ctx: Context) -> datetime | None:
    return await collect.next_due(ctx.db)


TASKS = [Task(collect.TASK, _collect, every=lambda s: s.worker_poll_seconds, due=_due)]

"""Cards and accounts on file, in the background: giving back charges whose payment was never recorded."""

from __future__ import annotations

from tonle.jobs.runtime import Context, Task
from tonle.methods import service

TASK = "methods.reconcile"


async def _reconcile(ctx: Context) -> int:
    return await service.reconcile(ctx.db, ctx.settings)


TASKS = [Task(TASK, _reconcile, period=lambda s: min(60.0, s.charge_reconcile_after_seconds))]

"""The Supplier API's background work: every pushed queue, applied in chunks by whichever worker holds its lease."""

from __future__ import annotations

from tonle.jobs.runtime import Context, Task
from tonle.supplier import queues


async def _apply_queues(ctx: Context) -> int:
    return await queues.run_once(ctx.db, ctx.settings)


NAME = "supplier queues"
TASKS = [Task(NAME, _apply_queues, every=lambda s: s.worker_poll_seconds)]

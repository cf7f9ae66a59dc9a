"""Notification delivery as a worker task: a queue, drained while it has due deliveries."""

from __future__ import annotations

from tonle.jobs.runtime import Context, Task
from tonle.notifications import service


async def _deliver(ctx: Context) -> int:
    return await service.run_once(ctx.db, ctx.settings, ctx.http)


TASKS = [Task("notification delivery", _deliver, every=lambda s: s.worker_poll_seconds)]

"""Webhook delivery as a worker task: a queue, drained while it has due events."""

from __future__ import annotations

from tonle.jobs.runtime import Context, Task
from tonle.webhooks import worker


async def _deliver(ctx: Context) -> int:
    return await worker.run_once(ctx.db, ctx.settings, ctx.http)


TASKS = [Task("webhook delivery", _deliver, every=lambda s: s.worker_poll_seconds)]

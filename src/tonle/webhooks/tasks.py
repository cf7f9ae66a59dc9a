"""Webhook delivery as a worker task: a queue, drained while it has due events."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from tonle.jobs.runtime import Context, Task
from tonle.webhooks import worker
from tonle.webhooks.models import OutboxEvent


async def _deliver(ctx: Context) -> int:
    return await worker.run_once(ctx.db, ctx.settings, ctx.http)


async def _due(ctx: Context) -> datetime | None:
    """The next retry of an event not yet delivered (the sandbox clock stops there)."""
    async with ctx.db.sessions() as session:
        return await session.scalar(
            select(func.min(OutboxEvent.next_attempt_at)).where(OutboxEvent.status == "pending")
        )


TASKS = [Task("webhook delivery", _deliver, every=lambda s: s.worker_poll_seconds, due=_due)]

"""Hosted's background work: large invoice imports, applied in chunks by whichever worker holds their lease."""

from __future__ import annotations

from tonle.hosted import imports
from tonle.jobs.runtime import Context, Task


async def _apply_imports(ctx: Context) -> int:
    return await imports.run_once(ctx.db, ctx.settings)


NAME = "hosted imports"
TASKS = [Task(NAME, _apply_imports, every=lambda s: s.worker_poll_seconds)]

"""The background work of the whole gateway: every domain's tasks, run by the jobs runtime (``tonle worker``, or
inside ``tonle serve``). A new product adds its tasks here."""

from __future__ import annotations

import asyncio

from tonle.config import Settings
from tonle.db import Database
from tonle.hosted.tasks import TASKS as HOSTED_TASKS
from tonle.jobs import runtime
from tonle.notifications.tasks import TASKS as NOTIFICATION_TASKS
from tonle.subbillers.tasks import TASKS as SUBBILLER_TASKS
from tonle.supplier.tasks import TASKS as SUPPLIER_TASKS
from tonle.webhooks.tasks import TASKS as WEBHOOK_TASKS

TASKS = [*WEBHOOK_TASKS, *NOTIFICATION_TASKS, *SUBBILLER_TASKS, *HOSTED_TASKS, *SUPPLIER_TASKS]


async def run_forever(db: Database, settings: Settings, stop: asyncio.Event) -> None:
    await runtime.run(db, settings, stop, TASKS)

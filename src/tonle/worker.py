"""The background work of the whole gateway: every domain's tasks, run by the jobs runtime (``tonle worker``, or
inside ``tonle serve``). A new product adds its tasks here."""

from __future__ import annotations

import asyncio

from tonle.banks import cards, debits
from tonle.config import Settings
from tonle.db import Database
from tonle.directdebit.tasks import TASKS as DIRECT_DEBIT_TASKS
from tonle.hosted.tasks import TASKS as HOSTED_TASKS
from tonle.jobs import runtime, timetravel
from tonle.methods.tasks import TASKS as METHOD_TASKS
from tonle.notifications.tasks import TASKS as NOTIFICATION_TASKS
from tonle.sandbox.bankcore import SandboxRail
from tonle.sandbox.vault import SandboxVault
from tonle.subbillers.tasks import TASKS as SUBBILLER_TASKS
from tonle.supplier.tasks import TASKS as SUPPLIER_TASKS
from tonle.webhooks.tasks import TASKS as WEBHOOK_TASKS

TASKS = [
    *WEBHOOK_TASKS,
    *NOTIFICATION_TASKS,
    *SUBBILLER_TASKS,
    *HOSTED_TASKS,
    *SUPPLIER_TASKS,
    *DIRECT_DEBIT_TASKS,
    *METHOD_TASKS,
]


async def run_forever(db: Database, settings: Settings, stop: asyncio.Event, *, follow_clock: bool = False) -> None:
    """``follow_clock``: a worker process of its own reads the sandbox clock (``tonle serve`` already does)."""
    debits.install(SandboxRail())  # the banks direct debits are asked of: the sandbox's
    cards.install(SandboxVault())  # and the card vault
    jobs = [runtime.run(db, settings, stop, TASKS)]
    if follow_clock and settings.sandbox:
        jobs.append(timetravel.follow(db, settings.sandbox_clock_follow_seconds, stop))
    await asyncio.gather(*jobs)
